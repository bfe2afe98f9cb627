"""MoeClassifier: the starter `MoeModel` (mixture of experts) as a head."""

import keras
from keras import ops

from yt8m.layers.slim import slim_l2_regularizer


@keras.saving.register_keras_serializable(package="yt8m")
class MoeClassifier(keras.layers.Layer):
    """Per-class mixture of M logistic experts plus a dummy "always 0" expert.

    Upstream `video_level_models.MoeModel`, kept exactly:

        g = x W_g              W_g [D, C*(M+1)], NO bias, L2
        e = x W_e + b_e        W_e [D, C*M], bias, L2
        G = softmax(reshape(g, [B*C, M+1]))   # class-major: c*(M+1)+m
        E = sigmoid(reshape(e, [B*C, M]))
        p = reshape(sum_{m<M} G[:, m] * E[:, m], [B, C])

    The (M+1)-th gate belongs to the dummy expert that predicts 0, so a
    class can be switched off. L2 is slim's `l2_penalty * sum(W**2) / 2` on
    both kernels (not on the expert bias).

    Args:
      num_classes: C.
      num_mixtures: M (upstream `--moe_num_mixtures`). Default 2.
      l2_penalty: slim L2 weight on the gate and expert kernels
        (upstream `l2_penalty` / WILLOW's `--moe_l2`). Default 1e-8.

    Call arguments:
      inputs: float tensor [B, D].

    Returns:
      float tensor [B, C] of probabilities.

    Example:
    >>> MoeClassifier(6, num_mixtures=3)(np.zeros((2, 12)))  # [2, 6]

    Reference:
      Jordan & Jacobs, 1994, "Hierarchical mixtures of experts and the EM
      algorithm"; Abu-El-Haija et al., 2016, YouTube-8M, section 4.3.
    """

    def __init__(self, num_classes, num_mixtures=2, l2_penalty=1e-8, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(
                "Invalid value for argument `num_classes`: expected a positive "
                f"integer. Received: num_classes={num_classes}"
            )
        if (
            isinstance(num_mixtures, bool)
            or not isinstance(num_mixtures, int)
            or num_mixtures <= 0
        ):
            raise ValueError(
                "Invalid value for argument `num_mixtures`: expected a "
                f"positive integer. Received: num_mixtures={num_mixtures}"
            )
        slim_l2_regularizer(l2_penalty)  # validates
        self.num_classes = num_classes
        self.num_mixtures = num_mixtures
        self.l2_penalty = l2_penalty

    def build(self, input_shape):
        c, m = self.num_classes, self.num_mixtures
        self.gates = keras.layers.Dense(
            c * (m + 1),
            use_bias=False,
            kernel_regularizer=slim_l2_regularizer(self.l2_penalty),
            name="gates",
        )
        self.gates.build(input_shape)
        self.experts = keras.layers.Dense(
            c * m,
            kernel_regularizer=slim_l2_regularizer(self.l2_penalty),
            name="experts",
        )
        self.experts.build(input_shape)

    def call(self, inputs):
        m = self.num_mixtures
        gate_activations = self.gates(inputs)  # [B, C*(M+1)]
        expert_activations = self.experts(inputs)  # [B, C*M]
        # Softmax and sigmoid in float32 under mixed precision: the
        # predictions (and so the loss and metrics) are always float32.
        gating = ops.softmax(
            ops.reshape(ops.cast(gate_activations, "float32"), (-1, m + 1)),
            axis=-1,
        )  # [B*C, M+1]
        experts = ops.sigmoid(
            ops.reshape(ops.cast(expert_activations, "float32"), (-1, m))
        )  # [B*C, M]
        probabilities = ops.sum(gating[:, :m] * experts, axis=1)  # [B*C]
        return ops.reshape(probabilities, (-1, self.num_classes))  # [B, C]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "num_mixtures": self.num_mixtures,
                "l2_penalty": self.l2_penalty,
            }
        )
        return config
