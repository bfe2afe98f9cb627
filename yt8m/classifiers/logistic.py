"""LogisticClassifier: the starter `LogisticModel` as a reusable head."""

import keras
from keras import ops

from yt8m.layers.slim import slim_l2_regularizer


@keras.saving.register_keras_serializable(package="yt8m")
class LogisticClassifier(keras.layers.Layer):
    """One sigmoid unit per class: `p = sigmoid(x W + b)`.

    Upstream `video_level_models.LogisticModel`:
    `slim.fully_connected(x, C, sigmoid, weights_regularizer=l2(l2_penalty))`
    with glorot-uniform weights and zero bias (the Keras `Dense` defaults).
    The L2 is slim's `l2_penalty * sum(W**2) / 2` on the kernel only.

    Args:
      num_classes: C.
      l2_penalty: slim L2 weight on the kernel. Default 1e-8.

    Call arguments:
      inputs: float tensor [B, D].

    Returns:
      float tensor [B, C] of probabilities.

    Example:
    >>> LogisticClassifier(6)(np.zeros((2, 12)))  # [2, 6], all 0.5
    """

    def __init__(self, num_classes, l2_penalty=1e-8, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(
                "Invalid value for argument `num_classes`: expected a positive "
                f"integer. Received: num_classes={num_classes}"
            )
        slim_l2_regularizer(l2_penalty)  # validates
        self.num_classes = num_classes
        self.l2_penalty = l2_penalty

    def build(self, input_shape):
        self.logistic = keras.layers.Dense(
            self.num_classes,
            kernel_regularizer=slim_l2_regularizer(self.l2_penalty),
            name="logistic",
        )
        self.logistic.build(input_shape)

    def call(self, inputs):
        # Sigmoid in float32 under mixed precision (float32 predictions).
        return ops.sigmoid(ops.cast(self.logistic(inputs), "float32"))  # [B, C]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "l2_penalty": self.l2_penalty}
        )
        return config
