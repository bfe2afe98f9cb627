"""ProjectionFusion: the Bi-RNN paper's `projection` fusion of rgb and audio."""

import keras
from keras import ops

from yt8m.layers import layer_utils


@keras.saving.register_keras_serializable(package="yt8m")
class ProjectionFusion(keras.layers.Layer):
    """Projects rgb and audio to one size; adds an L2 alignment loss.

    `frames` [B, T, F] is split at `split` into rgb [.., :split] and audio
    [.., split:]; `f = rgb W_v`, `g = audio W_a` (no biases, `N(0, 0.01)`);
    returns `[f; g]` [B, T, 2P] (0 at padded frames, mask passed on) and
    adds `loss_weight * mean_b(sum_t m_t ||f_t - g_t||^2 / max(sum_t m_t, 1))`
    to `self.losses`.

    The loss is an auxiliary loss (`auxiliary_loss_name`): the training
    loop logs it on its own and adds it unscaled, not as part of the
    regularization loss that `--regularization_penalty` weights.

    Args:
      split: rgb feature size.
      projection_size: P.
      loss_weight: weight of the alignment loss (>= 0).
    """

    auxiliary_loss_name = "projection_alignment"

    def __init__(self, split, projection_size, loss_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.split = layer_utils.check_positive_int("split", split)
        self.projection_size = layer_utils.check_positive_int(
            "projection_size", projection_size
        )
        if (
            isinstance(loss_weight, bool)
            or not isinstance(loss_weight, (int, float))
            or loss_weight < 0
        ):
            raise ValueError(
                "Invalid value for argument `loss_weight`: expected a "
                f"non-negative number. Received: loss_weight={loss_weight!r}"
            )
        self.loss_weight = float(loss_weight)
        self.supports_masking = True

    def build(self, input_shape):
        feature_size = input_shape[-1]
        if feature_size is not None and feature_size <= self.split:
            raise ValueError(
                f"ProjectionFusion(split={self.split}) needs more than "
                f"{self.split} features; received {feature_size}."
            )
        initializer = keras.initializers.RandomNormal(stddev=0.01)
        self.rgb_kernel = self.add_weight(
            name="rgb_kernel",
            shape=(self.split, self.projection_size),
            initializer=initializer,
        )
        self.audio_kernel = self.add_weight(
            name="audio_kernel",
            shape=(feature_size - self.split, self.projection_size),
            initializer=initializer,
        )

    def call(self, frames, mask=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        frames = layer_utils.zero_padded_frames(frames, mask)
        f = ops.matmul(frames[..., : self.split], self.rgb_kernel)  # [B,T,P]
        g = ops.matmul(frames[..., self.split:], self.audio_kernel)  # [B,T,P]
        if self.loss_weight > 0:
            weights = ops.cast(mask, f.dtype)  # [B, T]
            distance = ops.sum(ops.square(f - g), axis=-1)  # [B, T]
            per_video = ops.sum(distance * weights, axis=1) / ops.maximum(
                ops.sum(weights, axis=1), 1.0
            )  # [B]
            self.add_loss(self.loss_weight * ops.mean(per_video))
        return ops.concatenate([f, g], axis=-1)  # [B, T, 2P]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * self.projection_size,)

    def compute_mask(self, frames, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "split": self.split,
                "projection_size": self.projection_size,
                "loss_weight": self.loss_weight,
            }
        )
        return config
