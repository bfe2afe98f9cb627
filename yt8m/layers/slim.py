"""slim-equivalent building blocks shared by the starter-code models.

Not a layer module: two small factories that pin the TF1 slim defaults the
starter code trained with, so every model (ours and later ones) uses them.

* `slim.l2_regularizer(s)` adds `s * sum(w**2) / 2`; the Keras equivalent
  is `keras.regularizers.L2(s / 2)`, computed here by `SlimL2` with slim's
  own op, `tf.nn.l2_loss` (one pass over the weights, and a one-multiply
  gradient).
* `slim.batch_norm` uses decay 0.999 and epsilon 1e-3; Keras defaults to
  momentum 0.99, so we set it explicitly.
"""

import keras
from keras import ops

from yt8m.layers.fused_batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="yt8m")
class SlimL2(keras.regularizers.L2):
    """`keras.regularizers.L2(l2)`: `l2 * sum(w**2)`, as slim computed it.

    On TensorFlow, `2 * l2 * tf.nn.l2_loss(w)`: `L2Loss` reads the weights
    once and its gradient is one multiply, where `l2 * sum(square(w))` is
    two passes forward and two backward. For the MoE head's 85M weights at
    Model Garden's configuration that was about 20 ms per step
    (`bench/profile_dbof.py`). Same value up to float rounding; same config
    as `keras.regularizers.L2`.
    """

    def __call__(self, x):
        if keras.backend.backend() != "tensorflow":
            return super().__call__(x)
        import tensorflow as tf

        x = ops.convert_to_tensor(x)
        return ops.cast(2.0 * self.l2, x.dtype) * tf.nn.l2_loss(x)

BATCH_NORM_MOMENTUM = 0.999
BATCH_NORM_EPSILON = 1e-3


def slim_l2_regularizer(l2_penalty):
    """`SlimL2(l2_penalty / 2)` (Keras's L2), or None when the penalty is 0.

    Raises:
      ValueError: if `l2_penalty` is negative or not a number.
    """
    if isinstance(l2_penalty, bool) or not isinstance(
        l2_penalty, (int, float)
    ):
        raise ValueError(
            "Invalid value for argument `l2_penalty`: expected a non-negative "
            f"number. Received: l2_penalty={l2_penalty!r}"
        )
    if l2_penalty < 0:
        raise ValueError(
            "Invalid value for argument `l2_penalty`: expected a non-negative "
            f"number. Received: l2_penalty={l2_penalty!r}"
        )
    if l2_penalty == 0:
        return None
    return SlimL2(float(l2_penalty) / 2.0)


def slim_batch_normalization(name=None, **kwargs):
    """A `BatchNormalization` with slim's decay 0.999 and epsilon 1e-3.

    center and scale are on (the starter code passes `scale=True`). The
    layer is `FusedBatchNormalization` (Keras's layer on TF's fused kernel).
    """
    kwargs.setdefault("momentum", BATCH_NORM_MOMENTUM)
    kwargs.setdefault("epsilon", BATCH_NORM_EPSILON)
    kwargs.setdefault("center", True)
    kwargs.setdefault("scale", True)
    return FusedBatchNormalization(name=name, **kwargs)
