"""FramePooling: masked pooling of frame features over the time axis."""

import keras
from keras import ops

from yt8m.layers.layer_utils import check_choice

POOLING_METHODS = ("average", "max", "swap", "none")


@keras.saving.register_keras_serializable(package="yt8m")
class FramePooling(keras.layers.Layer):
    """Pools [B, T, D] frame features over valid frames into [B, D].

    The starter code's `utils.FramePooling` (average / max / none) and the
    Model Garden's `frame_pooling` (adds "swap"), with a mask instead of
    relying on zero padding:

    * `average`: `sum_t m_t x_t / sum_t m_t`.
    * `max`: `max_t` over frames with `m_t` True.
    * `swap`: `sum_t m_t x_t |x_t| / sum_t m_t |x_t|` (an
      absolute-value-weighted mean, Model Garden).
    * `none`: returns the frames unchanged ([B, T, D]) and propagates the
      mask. (Upstream reshapes to [B*T, D]; a per-frame head can reshape.)

    A row whose frames are all padding pools to zeros (finite, no 0/0).
    Without a mask every frame counts as valid.

    Args:
      method: one of "average", "max", "swap", "none". Default "average".

    Call arguments:
      inputs: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.

    Returns:
      float tensor [B, D] ([B, T, D] for "none").

    Example:
    >>> FramePooling("max")(np.array([[[0., 0, 0], [0, 1, -1]]]))  # [[0,1,0]]
    """

    def __init__(self, method="average", **kwargs):
        super().__init__(**kwargs)
        check_choice("method", method, POOLING_METHODS)
        self.method = method
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if self.method == "none":
            return inputs
        if mask is None:
            # Every frame valid (e.g. DbofModel's sampled frames): plain
            # reductions, no select over [B, T, D] forward and backward.
            return self._unmasked(inputs)
        mask = ops.cast(mask, "bool")[:, :, None]  # [B, T, 1]
        float_mask = ops.cast(mask, inputs.dtype)  # [B, T, 1]
        if self.method == "average":
            total = ops.sum(ops.where(mask, inputs, 0), axis=1)  # [B, D]
            count = ops.sum(float_mask, axis=1)  # [B, 1]
            return total / ops.maximum(count, 1.0)
        if self.method == "max":
            pooled = ops.max(ops.where(mask, inputs, float("-inf")), axis=1)
            any_valid = ops.any(mask, axis=1)  # [B, 1]; pooled is [B, D]
            return ops.where(any_valid, pooled, ops.zeros_like(pooled))
        # swap
        weights = ops.where(mask, ops.abs(inputs), 0)  # [B, T, D]
        numerator = ops.sum(inputs * weights, axis=1)  # [B, D]
        denominator = ops.sum(weights, axis=1)  # [B, D]
        safe = ops.where(denominator > 0, denominator, 1.0)
        return ops.where(denominator > 0, numerator / safe, 0.0)

    def _unmasked(self, inputs):
        if self.method == "average":
            return ops.mean(inputs, axis=1)
        if self.method == "max":
            return ops.max(inputs, axis=1)
        weights = ops.abs(inputs)  # swap
        numerator = ops.sum(inputs * weights, axis=1)
        denominator = ops.sum(weights, axis=1)
        safe = ops.where(denominator > 0, denominator, 1.0)
        return ops.where(denominator > 0, numerator / safe, 0.0)

    def compute_mask(self, inputs, mask=None):
        return mask if self.method == "none" else None

    def compute_output_shape(self, input_shape):
        if self.method == "none":
            return tuple(input_shape)
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"method": self.method})
        return config
