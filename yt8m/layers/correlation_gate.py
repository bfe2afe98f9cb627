"""CorrelationGate: the correlation tower's output as a soft or hard gate."""

import keras
from keras import ops

from yt8m.layers import layer_utils


@keras.saving.register_keras_serializable(package="yt8m")
class CorrelationGate(keras.layers.Layer):
    """`g` = P(rgb and audio correlated) [B, 1], optionally hard at inference.

    The paper (section 3) uses the tower's prediction as a 0/1 gate at
    inference ("if the prediction is 1 ... activated ... if 0 ...
    de-activated"). With `hard_at_inference`, `g = 1[p >= threshold]` when
    `training` is False; training always uses the soft `p` (a hard gate has
    no gradient, and the tower is frozen anyway).

    Args:
      hard_at_inference: bool. Default False (soft everywhere).
      threshold: float in (0, 1). Default 0.5.
    """

    def __init__(self, hard_at_inference=False, threshold=0.5, **kwargs):
        super().__init__(**kwargs)
        self.hard_at_inference = layer_utils.check_bool(
            "hard_at_inference", hard_at_inference
        )
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(
                "Invalid value for argument `threshold`: expected a number "
                f"in (0, 1). Received: threshold={threshold!r}"
            )
        self.threshold = float(threshold)

    def call(self, probability, training=None):
        if self.hard_at_inference and not training:
            return ops.cast(probability >= self.threshold, probability.dtype)
        return probability

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"hard_at_inference": self.hard_at_inference,
                       "threshold": self.threshold})
        return config
