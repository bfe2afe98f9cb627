"""DbofCluster: the Deep Bag-of-Frames frame projection (starter DbofModel)."""

import math

import keras
from keras import ops

from yt8m.layers.layer_utils import check_bool
from yt8m.layers.layer_utils import check_choice
from yt8m.layers.layer_utils import check_positive_int
from yt8m.layers.layer_utils import frame_matmul
from yt8m.layers.layer_utils import zero_padded_frames
from yt8m.layers.slim import slim_batch_normalization

DBOF_ACTIVATIONS = ("sigmoid", "relu6")

@keras.saving.register_keras_serializable(package="yt8m")
class DbofCluster(keras.layers.Layer):
    """Projects every frame onto K "clusters": the DBoF frame layer.

    Upstream `DbofModel` steps 2-3, per frame (the starter reshapes to
    [B*T, F]; BatchNormalization over [B, T, F] reduces over the same axes):

        x = BN_input(x)                       if add_batch_norm
        a = x @ W,  W ~ N(0, 1/sqrt(F)),  no bias
        a = BN_cluster(a)                     if add_batch_norm
        a = a + b,  b ~ N(0, 1/sqrt(F))       otherwise
        a = activation(a)                     sigmoid or relu6

    BN layers use slim's defaults: momentum 0.999, epsilon 1e-3. No L2 on
    these weights (as upstream).

    Args:
      cluster_size: K, number of clusters (upstream `dbof_cluster_size`).
      activation: "sigmoid" or "relu6" (upstream `dbof_activation`).
      add_batch_norm: BN on the input and on the cluster activations
        (upstream `dbof_add_batch_norm`).

    Call arguments:
      inputs: float tensor [B, T, F].
      mask: optional bool [B, T]; BN statistics then skip padded frames.
      training: Python bool (BatchNormalization mode).

    Returns:
      float tensor [B, T, K]; padded frames (mask False) are 0 and the
      mask propagates.

    Example:
    >>> DbofCluster(16)(np.zeros((2, 5, 12)))  # [2, 5, 16]

    Reference:
      Abu-El-Haija et al., 2016, "YouTube-8M: A Large-Scale Video
      Classification Benchmark", section 4.2 (Deep Bag of Frame pooling).
    """

    def __init__(
        self, cluster_size, activation="sigmoid", add_batch_norm=True, **kwargs
    ):
        super().__init__(**kwargs)
        check_positive_int("cluster_size", cluster_size)
        check_choice("activation", activation, DBOF_ACTIVATIONS)
        check_bool("add_batch_norm", add_batch_norm)
        self.cluster_size = cluster_size
        self.activation = activation
        self.add_batch_norm = add_batch_norm
        self.supports_masking = True

    def build(self, input_shape):
        feature_size = input_shape[-1]
        stddev = 1.0 / math.sqrt(feature_size)
        if self.add_batch_norm:
            self.input_bn = slim_batch_normalization("input_bn")
            self.input_bn.build(input_shape)
        self.cluster_weights = self.add_weight(
            name="cluster_weights",
            shape=(feature_size, self.cluster_size),
            initializer=keras.initializers.RandomNormal(stddev=stddev),
        )
        if self.add_batch_norm:
            self.cluster_bn = slim_batch_normalization("cluster_bn")
            cluster_shape = tuple(input_shape[:-1]) + (self.cluster_size,)
            self.cluster_bn.build(cluster_shape)
        else:
            self.cluster_biases = self.add_weight(
                name="cluster_biases",
                shape=(self.cluster_size,),
                initializer=keras.initializers.RandomNormal(stddev=stddev),
            )

    def call(self, inputs, mask=None, training=None):
        x = inputs  # [B, T, F]
        if self.add_batch_norm:
            x = self.input_bn(x, training=training, mask=mask)
        x = frame_matmul(x, self.cluster_weights)  # [B, T, K]
        if self.add_batch_norm:
            x = self.cluster_bn(x, training=training, mask=mask)
        else:
            x = x + self.cluster_biases
        if self.activation == "relu6":
            x = ops.relu6(x)
        else:
            x = ops.sigmoid(x)
        return zero_padded_frames(x, mask)  # [B, T, K], padded frames 0

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.cluster_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cluster_size": self.cluster_size,
                "activation": self.activation,
                "add_batch_norm": self.add_batch_norm,
            }
        )
        return config
