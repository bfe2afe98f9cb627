"""ContextGating: WILLOW's learned self-gating of a feature vector.

Axis letters: B=batch, D=features.
"""

import math

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.fused_batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="yt8m")
class ContextGating(keras.layers.Layer):
    """Re-weights each feature by a sigmoid gate computed from all features.

    `y = x * sigmoid(BN(x W))` with `W` [D, D] initialised `N(0, 1/sqrt(D))`
    (WILLOW `context_gating`, applied after the hidden FC). Without batch
    norm the gate has a bias instead: `sigmoid(x W + b)`. With
    `remove_diagonal` the diagonal of `W` is not used (upstream
    `--gating_remove_diag`), so a feature cannot gate itself.

    Args:
      add_batch_norm: batch-normalise the gate logits (default, upstream).
      remove_diagonal: drop `W`'s diagonal. Default False.

    Call arguments:
      inputs: float tensor [B, D] (a pooled video vector).
      training: Python bool.

    Returns:
      float tensor [B, D].

    Example:
    >>> ContextGating()(np.ones((2, 8)))  # [2, 8]

    Reference:
      Miech, Laptev, Sivic, 2017, "Learnable pooling with Context Gating for
      video classification", eq. 2.
    """

    def __init__(self, add_batch_norm=True, remove_diagonal=False, **kwargs):
        super().__init__(**kwargs)
        self.add_batch_norm = layer_utils.check_bool(
            "add_batch_norm", add_batch_norm
        )
        self.remove_diagonal = layer_utils.check_bool(
            "remove_diagonal", remove_diagonal
        )

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [B, D]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        feature_size = input_shape[-1]
        initializer = keras.initializers.RandomNormal(
            stddev=1.0 / math.sqrt(feature_size)
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(feature_size, feature_size),
            initializer=initializer,
        )
        if self.add_batch_norm:
            self.batch_norm = FusedBatchNormalization(
                momentum=0.999, epsilon=1e-3, name="batch_norm"
            )
            self.batch_norm.build(tuple(input_shape))
        else:
            self.bias = self.add_weight(
                name="bias", shape=(feature_size,), initializer=initializer
            )
        self.built = True

    def call(self, inputs, training=None):
        kernel = self.kernel  # [D, D]
        if self.remove_diagonal:
            diagonal = ops.eye(kernel.shape[0], dtype=kernel.dtype)  # [D, D]
            kernel = kernel * (1.0 - diagonal)
        gates = ops.matmul(inputs, kernel)  # [B, D]
        if self.add_batch_norm:
            gates = self.batch_norm(gates, training=training)
        else:
            gates = gates + self.bias
        return inputs * ops.sigmoid(gates)  # [B, D]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "add_batch_norm": self.add_batch_norm,
                "remove_diagonal": self.remove_diagonal,
            }
        )
        return config
