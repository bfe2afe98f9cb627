"""AttentionPooling: Yang et al. (2016) additive attention over frames.

Axis letters: B=batch, T=frames, D=features, A=attention_dim, H=heads.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils

MERGE_MODES = ("concat", "mean")


@keras.saving.register_keras_serializable(package="yt8m")
class AttentionPooling(keras.layers.Layer):
    """Pools frames [B, T, D] by a learned softmax over valid frames.

    ```
    u_t   = tanh(W h_t + b)                 [B, T, A]
    a_t^n = softmax_t(u_t . u_w^n)          [B, T, H]   (valid frames only)
    s^n   = sum_t a_t^n h_t                 [B, H, D]
    ```
    With several heads, each head has its own context vector `u_w^n` (the
    projection `W, b` is shared, as in ffmpbgrnn/yt8m `attn_new.py`); the
    head outputs are concatenated ([B, H * D], upstream) or averaged
    ([B, D]). Padded frames get exactly zero attention; an all-padding row
    pools to zeros.

    Args:
      attention_dim: A, the width of `u_t` (upstream 100).
      num_heads: H, the number of context vectors. Default 1.
      merge_heads: "concat" (default) or "mean".
      kernel_initializer: initializer of `W` and `u_w`.

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.

    Returns:
      float tensor [B, H * D] ("concat") or [B, D] ("mean").

    Example:
    >>> AttentionPooling(attention_dim=4, num_heads=2)(
    ...     np.ones((2, 5, 8)))  # [2, 16]

    Reference:
      Yang et al., 2016, "Hierarchical Attention Networks for Document
      Classification", eqs. 8-10.
    """

    def __init__(
        self,
        attention_dim,
        num_heads=1,
        merge_heads="concat",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_dim = layer_utils.check_positive_int(
            "attention_dim", attention_dim
        )
        self.num_heads = layer_utils.check_positive_int("num_heads", num_heads)
        self.merge_heads = layer_utils.check_choice(
            "merge_heads", merge_heads, MERGE_MODES
        )
        self.kernel_initializer = layer_utils.get_initializer(
            "kernel_initializer", kernel_initializer
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.projection = keras.layers.Dense(
            self.attention_dim,
            activation="tanh",
            kernel_initializer=self.kernel_initializer,
            name="projection",
        )
        self.projection.build(tuple(input_shape))
        self.context = self.add_weight(
            name="context",
            shape=(self.attention_dim, self.num_heads),
            initializer=self.kernel_initializer,
        )
        self.built = True

    def call(self, frames, mask=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        frames = layer_utils.zero_padded_frames(frames, mask)
        return self.pool(frames, self.attention_weights(frames, mask))

    def attention_weights(self, frames, mask):
        """`a` [B, T, H] of zero-padded frames; 0 at padding (bool mask)."""
        hidden = self.projection(frames)  # [B, T, A]
        scores = layer_utils.frame_matmul(hidden, self.context)  # [B, T, H]
        return layer_utils.masked_softmax(
            scores, mask[:, :, None], axis=1
        )  # [B, T, H]

    def pool(self, frames, weights):
        """`sum_t a_t^n h_t`, merged over heads; the cross-modal attention
        pooling calls it with modified weights."""
        pooled = ops.einsum("bth,btd->bhd", weights, frames)  # [B, H, D]
        if self.merge_heads == "mean":
            return ops.mean(pooled, axis=1)  # [B, D]
        return ops.reshape(
            pooled, (-1, self.num_heads * frames.shape[-1])
        )  # [B, H * D]

    def compute_mask(self, frames, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        if self.merge_heads == "mean":
            return (input_shape[0], input_shape[-1])
        return (input_shape[0], self.num_heads * input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "attention_dim": self.attention_dim,
                "num_heads": self.num_heads,
                "merge_heads": self.merge_heads,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
