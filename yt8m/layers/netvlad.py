"""NetVLAD: WILLOW's learnable VLAD pooling over frames.

Axis letters: B=batch, T=frames, D=features, K=clusters.
"""

import math

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.soft_assignment import SoftAssignment


@keras.saving.register_keras_serializable(package="yt8m")
class NetVLAD(keras.layers.Layer):
    """Pools frames [B, T, D] into a VLAD descriptor [B, D * K].

    As implemented in WILLOW's `NetVLAD.forward`:
    `A = softmax_K(BN(x W_c))` (`SoftAssignment`), `a_k = sum_t A_tk`,
    `V_dk = sum_t x_td A_tk - a_k C_dk` with learned centers `C` [D, K]
    separate from (not tied to) `W_c`, intra-normalisation (L2 over D, per
    cluster), flatten in [D, K] order (index `d * K + k`, as upstream), then a
    global L2 normalisation. `W_c` and `C` are initialised `N(0, 1/sqrt(D))`.
    Padded frames have zero assignment and are excluded from the batch-norm
    statistics; an all-padding row gives an all-zero (finite) descriptor.

    Args:
      num_clusters: K, the number of clusters.
      add_batch_norm: batch-normalise the assignment logits (default);
        otherwise the assignment has a learned bias.

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.
      training: Python bool.

    Returns:
      float tensor [B, D * K], unit L2 norm per row (zero if no valid frame).

    Example:
    >>> NetVLAD(num_clusters=4)(np.ones((2, 5, 8)))  # [2, 32]

    Reference:
      Arandjelovic et al., 2016, "NetVLAD"; Miech, Laptev, Sivic, 2017,
      "Learnable pooling with Context Gating for video classification".
    """

    # Subtract `a_k C_k` (the VLAD residual); NetRVLAD turns this off.
    residual = True

    def __init__(self, num_clusters, add_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.num_clusters = layer_utils.check_positive_int(
            "num_clusters", num_clusters
        )
        self.add_batch_norm = layer_utils.check_bool(
            "add_batch_norm", add_batch_norm
        )
        self.supports_masking = True

    def build(self, input_shape):
        feature_size = input_shape[-1]
        self.assignment = SoftAssignment(
            self.num_clusters,
            add_batch_norm=self.add_batch_norm,
            name="assignment",
        )
        self.assignment.build(input_shape)
        if self.residual:
            self.centers = self.add_weight(
                name="centers",
                shape=(feature_size, self.num_clusters),
                initializer=keras.initializers.RandomNormal(
                    stddev=1.0 / math.sqrt(feature_size)
                ),
            )
        self.built = True

    def call(self, frames, mask=None, training=None):
        frames = layer_utils.zero_padded_frames(frames, mask)
        assignment = self.assignment(frames, mask=mask, training=training)
        # assignment: [B, T, K], exactly 0 at padded frames.
        return self.aggregate(frames, assignment)

    def aggregate(self, frames, assignment):
        """The normalised VLAD descriptor [B, D * K] of zero-padded frames
        [B, T, D] under an assignment [B, T, K] (0 at padding); the
        cross-modal NetVLAD calls it with a modified assignment."""
        vlad = ops.einsum("btd,btk->bdk", frames, assignment)  # [B, D, K]
        if self.residual:
            assignment_sum = ops.sum(assignment, axis=1)  # [B, K]
            vlad = vlad - assignment_sum[:, None, :] * self.centers
        vlad = layer_utils.l2_normalize(vlad, axis=1)  # intra-norm over D
        vlad = ops.reshape(vlad, (-1, vlad.shape[1] * self.num_clusters))
        # vlad: [B, D * K]
        return layer_utils.l2_normalize(vlad, axis=-1)

    def compute_mask(self, frames, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * self.num_clusters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_clusters": self.num_clusters,
                "add_batch_norm": self.add_batch_norm,
            }
        )
        return config
