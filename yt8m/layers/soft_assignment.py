"""SoftAssignment: the masked soft cluster assignment of the WILLOW poolings.

Axis letters: B=batch, T=frames, D=features, K=clusters.
"""

import math

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.fused_batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="yt8m")
class SoftAssignment(keras.layers.Layer):
    """Soft-assigns every frame to `num_clusters` clusters.

    `A = softmax_K(BN(x W_c))` (or `softmax_K(x W_c + b_c)` without batch
    norm), as in WILLOW's NetVLAD / NetRVLAD / SoftDBoF. `W_c` (and `b_c`) are
    initialised `N(0, 1/sqrt(D))`. Padded frames get an assignment of exactly
    0, and the batch-norm statistics (training) are computed over valid frames
    only (Keras `BatchNormalization` with `mask`), so padding never changes an
    output, in training or inference. BN uses the slim defaults
    (momentum 0.999, epsilon 1e-3).

    Args:
      num_clusters: K, the number of clusters.
      add_batch_norm: batch-normalise the assignment logits (default, as the
        WILLOW README runs); otherwise add a learned bias.

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.
      training: Python bool, batch statistics vs moving averages.

    Returns:
      float tensor [B, T, K]; rows sum to 1 at valid frames, 0 at padding.

    Example:
    >>> SoftAssignment(num_clusters=4)(np.ones((2, 5, 8)))  # [2, 5, 4]

    Reference:
      Miech, Laptev, Sivic, 2017, "Learnable pooling with Context Gating for
      video classification" (antoine77340/Youtube-8M-WILLOW).
    """

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
        initializer = keras.initializers.RandomNormal(
            stddev=1.0 / math.sqrt(feature_size)
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(feature_size, self.num_clusters),
            initializer=initializer,
        )
        if self.add_batch_norm:
            self.batch_norm = FusedBatchNormalization(
                momentum=0.999, epsilon=1e-3, name="batch_norm"
            )
            logits_shape = tuple(input_shape[:-1]) + (self.num_clusters,)
            self.batch_norm.build(logits_shape)
        else:
            self.bias = self.add_weight(
                name="bias", shape=(self.num_clusters,), initializer=initializer
            )
        self.built = True

    def call(self, frames, mask=None, training=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        frames = layer_utils.zero_padded_frames(frames, mask)
        logits = layer_utils.frame_matmul(frames, self.kernel)  # [B, T, K]
        if self.add_batch_norm:
            # Statistics over valid frames only: mask [B, T] for [B, T, K].
            logits = self.batch_norm(logits, training=training, mask=mask)
        else:
            logits = logits + self.bias
        assignment = ops.softmax(logits, axis=-1)  # [B, T, K]
        return ops.where(
            mask[:, :, None], assignment, ops.zeros_like(assignment)
        )

    def compute_mask(self, frames, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_clusters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_clusters": self.num_clusters,
                "add_batch_norm": self.add_batch_norm,
            }
        )
        return config
