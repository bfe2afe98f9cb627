"""TemporalCoherenceAttention: multi-head attention with temporal coherence
on the projected keys and values (TC-TM).

Axis letters: B=batch, T=queries, S=keys, N=heads, H=key_dim.
"""

import keras
from keras import ops

from yt8m.layers.temporal_coherence import TemporalCoherence


@keras.saving.register_keras_serializable(package="yt8m")
class TemporalCoherenceAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` with `TemporalCoherence` on K and V.

    ```
    K = key W_K,  V = value W_V                  [B, S, N, H]
    K' = TC_K(K), V' = TC_V(V)                   over S, kernels shared by N*H
    out = softmax(Q K'^T / sqrt(H) + mask) V' W_O
    ```
    The paper (section 3.2.2) omits the TC-TM details; Figure 8 shows one
    kernel for K ("Transformer_K") and one for V ("Transformer_V"), so each
    gets its own `TemporalCoherence` layer, applied after the projection
    (on "the parameter K / V"), to all heads at once. The valid keys are
    the columns of `attention_mask` [B, T, S] that some query may attend
    to (the encoder block passes every query the valid keys), so padded
    keys never enter a valid key's neighbourhood. The temporal axis of the
    keys must be the frame order (no class token in between: a `ClassToken`
    at position 0 is a neighbour of frame 1, which we accept and document).

    Overrides `_compute_attention`, the documented customisation point of
    `MultiHeadAttention`.

    Args:
      coherence_kernel_size, coherence_num_feature_maps, coherence_mode: the
        `TemporalCoherence` arguments. Others: as `MultiHeadAttention`.
    """

    def __init__(self, num_heads, key_dim, coherence_kernel_size=5,
                 coherence_num_feature_maps=4, coherence_mode="conv", **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.coherence_kernel_size = coherence_kernel_size
        self.coherence_num_feature_maps = coherence_num_feature_maps
        self.coherence_mode = coherence_mode
        self.key_coherence = TemporalCoherence(
            coherence_kernel_size, coherence_num_feature_maps, coherence_mode,
            name="key_coherence")
        self.value_coherence = TemporalCoherence(
            coherence_kernel_size, coherence_num_feature_maps, coherence_mode,
            name="value_coherence")

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self.key_coherence.build((None, None, self._num_heads * self._key_dim))
        self.value_coherence.build(
            (None, None, self._num_heads * self._value_dim))

    @staticmethod
    def _coherent(layer, x, key_mask):
        shape = ops.shape(x)  # [B, S, N, H]
        flat = ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))
        return ops.reshape(layer(flat, mask=key_mask), shape)

    def _compute_attention(self, query, key, value, attention_mask=None,
                           training=None, return_attention_scores=False,
                           **kwargs):
        if attention_mask is None:
            key_mask = None
        else:
            key_mask = ops.any(ops.cast(attention_mask, "bool"), axis=1)
        key = self._coherent(self.key_coherence, key, key_mask)
        value = self._coherent(self.value_coherence, value, key_mask)
        return super()._compute_attention(
            query, key, value, attention_mask, training,
            return_attention_scores, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({
            "coherence_kernel_size": self.coherence_kernel_size,
            "coherence_num_feature_maps": self.coherence_num_feature_maps,
            "coherence_mode": self.coherence_mode,
        })
        return config
