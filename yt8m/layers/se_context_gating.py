"""SEContextGating: NeXtVLAD's squeeze-and-excitation context gating.

Axis letters: B=batch, D=features, R=D // reduction.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.fused_batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="yt8m")
class SEContextGating(keras.layers.Layer):
    """Context gating through a reduced bottleneck.

    `g = sigmoid(ReLU(BN(h W1)) W2)`, `h' = h * g`, with `W1` [D, D // r]
    and `W2` [D // r, D], both without bias and initialised with slim's
    `variance_scaling_initializer` (He normal, truncated), as in
    linrongc/youtube-8m `NeXtVLADModel`. It has `2 D^2 / r` weights instead of
    `D^2` for `ContextGating`.

    Args:
      reduction: r, the bottleneck reduction (upstream `--gating_reduction`,
        8 locally, 16 in the final submission).

    Call arguments:
      inputs: float tensor [B, D].
      training: Python bool.

    Returns:
      float tensor [B, D].

    Example:
    >>> SEContextGating(reduction=4)(np.ones((2, 8)))  # [2, 8]

    Reference:
      Lin, Xiao, Fan, 2018, "NeXtVLAD: An Efficient Neural Network to
      Aggregate Frame-level Features for Large-scale Video Classification";
      Hu et al., 2018, "Squeeze-and-Excitation Networks".
    """

    def __init__(self, reduction=8, **kwargs):
        super().__init__(**kwargs)
        self.reduction = layer_utils.check_positive_int("reduction", reduction)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "SEContextGating expects inputs of shape [B, D]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        feature_size = input_shape[-1]
        bottleneck = feature_size // self.reduction
        if bottleneck < 1:
            raise ValueError(
                "Invalid value for argument `reduction`: expected at most the "
                f"feature size ({feature_size}). Received: "
                f"reduction={self.reduction}"
            )
        initializer = keras.initializers.VarianceScaling(
            scale=2.0, mode="fan_in", distribution="truncated_normal"
        )
        self.squeeze = keras.layers.Dense(
            bottleneck,
            use_bias=False,
            kernel_initializer=initializer,
            name="squeeze",
        )
        self.squeeze.build(tuple(input_shape))
        self.batch_norm = FusedBatchNormalization(
            momentum=0.999, epsilon=1e-3, name="batch_norm"
        )
        self.batch_norm.build((input_shape[0], bottleneck))
        self.excite = keras.layers.Dense(
            feature_size,
            use_bias=False,
            kernel_initializer=initializer,
            name="excite",
        )
        self.excite.build((input_shape[0], bottleneck))
        self.built = True

    def call(self, inputs, training=None):
        gates = self.squeeze(inputs)  # [B, R]
        gates = ops.relu(self.batch_norm(gates, training=training))  # [B, R]
        gates = ops.sigmoid(self.excite(gates))  # [B, D]
        return inputs * gates

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"reduction": self.reduction})
        return config
