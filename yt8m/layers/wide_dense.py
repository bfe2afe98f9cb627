"""WideDense: a Dense layer for very wide inputs (the VLAD hidden layers)."""

import keras
from keras import ops


def wide_matmul(x, kernel):
    """`x @ kernel` for x [B, K], kernel [K, H], with K >> B, whose input
    gradient is computed as `(kernel @ dy^T)^T`.

    TensorFlow's gradient of `matmul(x, kernel)` with respect to x is
    `matmul(dy, kernel, transpose_b=True)`, which reads the [K, H] kernel
    transposed; for the NetVLAD hidden layer (K = 278,528, H = 1,024, B = 128)
    that product took 455-477 ms against 231-292 ms for `kernel @ dy^T` read
    in its stored order plus the transpose of the [K, B] result (2 vCPU,
    oneDNN; the forward product took 235-271 ms). Same values up to float
    rounding (the same sums in another order).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def product(x, kernel):
        def grad(dy):
            dx = tf.transpose(tf.matmul(kernel, dy, transpose_b=True))
            dkernel = tf.matmul(x, dy, transpose_a=True)
            return dx, dkernel

        return tf.matmul(x, kernel), grad

    return product(x, kernel)


@keras.saving.register_keras_serializable(package="yt8m")
class WideDense(keras.layers.Dense):
    """`keras.layers.Dense` whose 2-D product uses `wide_matmul`.

    For layers whose input is far wider than the batch (the hidden layer
    after NetVLAD / NeXtVLAD, [B, D * K] inputs). Same weights, config and
    outputs as `keras.layers.Dense` (a `.keras` file written with Dense loads
    into Dense, one written with WideDense into WideDense); inputs of another
    rank, LoRA, quantized kernels and non-TensorFlow backends take Dense's
    own call.
    """

    def call(self, inputs, training=None):
        if (
            keras.backend.backend() != "tensorflow"
            or len(inputs.shape) != 2
            or getattr(self, "lora_enabled", False)
            or getattr(self, "quantization_mode", None)
        ):
            return super().call(inputs, training=training)
        x = wide_matmul(inputs, ops.cast(self.kernel, inputs.dtype))
        if self.bias is not None:
            x = ops.add(x, ops.cast(self.bias, x.dtype))
        if self.activation is not None:
            x = self.activation(x)
        return x
