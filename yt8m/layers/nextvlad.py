"""NeXtVLAD: grouped, attention-weighted NetVLAD (Lin et al., 2018).

Axis letters: B=batch, T=frames, D=features, E=expansion * D, G=groups,
F=E // G (the grouped feature size), K=clusters.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.fused_batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="yt8m")
class NeXtVLAD(keras.layers.Layer):
    """Pools frames [B, T, D] into a NeXtVLAD descriptor [B, F * K].

    As implemented in linrongc/youtube-8m `NeXtVLAD.forward`:
    ```
    x_e   = x W_e + b_e                              [B, T, E]
    alpha = sigmoid(x_e W_a + b_a) * mask            [B, T, G]
    A     = softmax_K(BN(x_e W_c)) * alpha           [B, T, G, K]
    x_g   = reshape(x_e, [B, T, G, F])
    V_fk  = sum_{t,g} A_tgk x_g_tgf - (sum_{t,g} A_tgk) C_fk     [B, F, K]
    out   = BN(flatten(l2norm_F(V)))                 [B, F * K]
    ```
    `W_c` has no bias (it is batch-normalised); the centers `C` [F, K] are
    separate weights. All weights use slim's `variance_scaling_initializer`
    (He normal, truncated), biases start at 0. Output is flattened in [F, K]
    order as upstream. There is no global L2: the final batch norm replaces
    it. Padded frames have zero attention and assignment, and the assignment
    batch norm uses valid frames only (Keras `BatchNormalization` with a
    mask); upstream's includes padded frames. BN: momentum 0.999, eps 1e-3.

    Args:
      num_clusters: K (upstream `--nextvlad_cluster_size`, 128 / 112).
      expansion: lambda, the width multiplier of the first FC (upstream
        `--expansion`, 2).
      groups: G (upstream `--groups`, 8). `expansion * D` must be divisible
        by `groups`.

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.
      training: Python bool.

    Returns:
      float tensor [B, F * K] with `F = expansion * D // groups`.

    Example:
    >>> NeXtVLAD(num_clusters=4, expansion=2, groups=4)(
    ...     np.ones((2, 5, 8)))  # [2, 16]: F = 2 * 8 // 4 = 4, K = 4

    Reference:
      Lin, Xiao, Fan, 2018, "NeXtVLAD: An Efficient Neural Network to
      Aggregate Frame-level Features for Large-scale Video Classification",
      eqs. 5-8.
    """

    def __init__(self, num_clusters, expansion=2, groups=8, **kwargs):
        super().__init__(**kwargs)
        self.num_clusters = layer_utils.check_positive_int(
            "num_clusters", num_clusters
        )
        self.expansion = layer_utils.check_positive_int("expansion", expansion)
        self.groups = layer_utils.check_positive_int("groups", groups)
        self.supports_masking = True

    def _group_feature_size(self, feature_size):
        expanded = self.expansion * feature_size
        if expanded % self.groups:
            raise ValueError(
                "Invalid value for argument `groups`: expected a divisor of "
                f"expansion * feature size ({expanded}). Received: "
                f"groups={self.groups}"
            )
        return expanded // self.groups

    def build(self, input_shape):
        feature_size = input_shape[-1]
        group_size = self._group_feature_size(feature_size)  # F
        expanded = self.expansion * feature_size  # E
        frames_shape = tuple(input_shape[:-1])  # (B, T)
        initializer = keras.initializers.VarianceScaling(
            scale=2.0, mode="fan_in", distribution="truncated_normal"
        )
        self.expansion_dense = keras.layers.Dense(
            expanded, kernel_initializer=initializer, name="expansion_dense"
        )
        self.expansion_dense.build(tuple(input_shape))
        self.attention_dense = keras.layers.Dense(
            self.groups,
            activation="sigmoid",
            kernel_initializer=initializer,
            name="attention_dense",
        )
        self.attention_dense.build(frames_shape + (expanded,))
        self.cluster_kernel = self.add_weight(
            name="cluster_kernel",
            shape=(expanded, self.groups * self.num_clusters),
            initializer=initializer,
        )
        self.cluster_batch_norm = FusedBatchNormalization(
            momentum=0.999, epsilon=1e-3, name="cluster_batch_norm"
        )
        self.cluster_batch_norm.build(
            frames_shape + (self.groups * self.num_clusters,)
        )
        self.centers = self.add_weight(
            name="centers",
            shape=(group_size, self.num_clusters),
            initializer=initializer,
        )
        self.vlad_batch_norm = FusedBatchNormalization(
            momentum=0.999, epsilon=1e-3, name="vlad_batch_norm"
        )
        self.vlad_batch_norm.build(
            (input_shape[0], group_size * self.num_clusters)
        )
        self.built = True

    def call(self, frames, mask=None, training=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        frames = layer_utils.zero_padded_frames(frames, mask)
        steps = ops.shape(frames)[1]
        group_size = self._group_feature_size(frames.shape[-1])  # F
        expanded = self.expansion_dense(frames)  # [B, T, E]
        attention = self.attention_dense(expanded)  # [B, T, G]
        attention = ops.where(
            mask[:, :, None], attention, ops.zeros_like(attention)
        )
        logits = layer_utils.frame_matmul(
            expanded, self.cluster_kernel
        )  # [B, T, G * K]
        logits = self.cluster_batch_norm(logits, training=training, mask=mask)
        logits = ops.reshape(
            logits, (-1, steps, self.groups, self.num_clusters)
        )  # [B, T, G, K]
        assignment = ops.softmax(logits, axis=-1) * attention[..., None]
        # assignment: [B, T, G, K], exactly 0 at padded frames.
        grouped = ops.reshape(
            expanded, (-1, steps, self.groups, group_size)
        )  # [B, T, G, F]
        assignment_sum = ops.sum(assignment, axis=(1, 2))  # [B, K]
        vlad = ops.einsum("btgk,btgf->bfk", assignment, grouped)  # [B, F, K]
        vlad = vlad - assignment_sum[:, None, :] * self.centers  # [B, F, K]
        vlad = layer_utils.l2_normalize(vlad, axis=1)  # intra-norm over F
        vlad = ops.reshape(vlad, (-1, group_size * self.num_clusters))
        # vlad: [B, F * K]
        return self.vlad_batch_norm(vlad, training=training)

    def compute_mask(self, frames, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        group_size = self._group_feature_size(input_shape[-1])
        return (input_shape[0], group_size * self.num_clusters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_clusters": self.num_clusters,
                "expansion": self.expansion,
                "groups": self.groups,
            }
        )
        return config
