"""MFBFusion: multi-modal factorized bilinear pooling of two vectors.

Axis letters: B=batch, C=visual features, M=audio features, k=factor,
o=output size.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils

MFB_NORMALIZATIONS = ("relu_l2", "signed_sqrt_l2", "relu", "l2", "none")


@keras.saving.register_keras_serializable(package="yt8m")
class MFBFusion(keras.layers.Layer):
    """Fuses a visual vector `l` [B, C] and an audio vector `a` [B, M].

    Liu, Yuan, Wang (2018), eq. (2), the MFB of Yu et al. (2017):

        f_i = 1^T (U_i^T l + b_U,i) ⊙ (V_i^T a + b_V,i),   i = 1..o

    with `U_i` [C, k], `V_i` [M, k]. Computed as one product
    `z = (l U) ⊙ (a V)`, `U` [C, k*o], `V` [M, k*o], whose entries
    `i*k .. i*k + k - 1` belong to output `i`; sum pooling over those
    windows of `k` is the all-ones `1^T`. Then, as Yu et al.'s MFB module:

        z = Dropout(z)                  (before the sum pooling, Yu et al.)
        f = SumPool_k(z)                [B, o]
        f = normalisation(f)

    `normalization`:
      * "relu_l2" (default, the paper: "the power normalization layer is
        replaced with a ReLU layer"): `f = relu(f) / ||relu(f)||_2`;
      * "signed_sqrt_l2" (Yu et al.): `f = sign(f) sqrt(|f|)`, then L2;
        the square root is `sqrt(|f| + 1e-12) - 1e-6`, so its gradient at 0
        is finite (the value differs from `sqrt(|f|)` by under 1e-6);
      * "relu", "l2", "none": the parts alone, for the study in docs/mfb.md.

    Readings of the paper (also in docs/mfb.md): eq. (2) has no bias; Yu et
    al.'s projections are fully connected layers with a bias, which is what
    `use_bias=True` (default) gives (with `use_bias=False`, eq. (2) exactly).
    The paper says only "dropout rate of MFB module is set to 0.1"; it is
    applied where Yu et al. apply it (after the product).

    Args:
      factor_k: k, the rank of each `W_i = U_i V_i^T`. Yu et al.: 5.
      output_dim: o, the number of outputs.
      dropout: dropout rate on the k*o product, in [0, 1). Paper: 0.1.
      normalization: one of `MFB_NORMALIZATIONS`.
      use_bias: biases on the two projections. Default True.
      kernel_initializer: for `U` and `V`. Default "glorot_uniform".
      bias_initializer: for the two biases. Default "zeros". A non-zero
        constant `c` gives `f` linear terms at initialisation:
        `(U_i^T l + c)(V_i^T a + c)` contains `c (U_i^T l + V_i^T a)`; with
        zero biases and centred inputs (YT8M's PCA features) `f` starts
        purely bilinear (docs/mfb.md).

    Call arguments:
      visual: l, float tensor [B, C].
      audio: a, float tensor [B, M].
      training: Python bool (dropout).

    Returns:
      float tensor [B, o].

    Example:
    >>> MFBFusion(factor_k=5, output_dim=16)(np.ones((2, 8)),
    ...                                      np.ones((2, 4)))  # [2, 16]

    Reference:
      Liu, Yuan, Wang, 2018, "Towards Good Practices for Multi-modal Fusion
      in Large-scale Video Classification", eq. (1)-(2); Yu, Yu, Fan, Tao,
      2017, "Multi-modal Factorized Bilinear Pooling with Co-Attention
      Learning for Visual Question Answering".
    """

    def __init__(
        self,
        factor_k=5,
        output_dim=1024,
        dropout=0.1,
        normalization="relu_l2",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.factor_k = layer_utils.check_positive_int("factor_k", factor_k)
        self.output_dim = layer_utils.check_positive_int(
            "output_dim", output_dim
        )
        self.dropout = layer_utils.check_rate("dropout", dropout)
        self.normalization = layer_utils.check_choice(
            "normalization", normalization, MFB_NORMALIZATIONS
        )
        self.use_bias = layer_utils.check_bool("use_bias", use_bias)
        self.kernel_initializer = layer_utils.get_initializer(
            "kernel_initializer", kernel_initializer
        )
        self.bias_initializer = layer_utils.get_initializer(
            "bias_initializer", bias_initializer
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout)

    def _check_shapes(self, visual_shape, audio_shape):
        if (
            visual_shape is None or audio_shape is None
            or len(visual_shape) != 2 or len(audio_shape) != 2
        ):
            raise ValueError(
                f"{type(self).__name__} expects two inputs of shape [B, C] "
                f"and [B, M]. Received: visual_shape={visual_shape}, "
                f"audio_shape={audio_shape}"
            )

    def build(self, visual_shape, audio_shape=None):
        self._check_shapes(visual_shape, audio_shape)
        visual_size, audio_size = visual_shape[-1], audio_shape[-1]
        width = self.factor_k * self.output_dim
        self.visual_kernel = self.add_weight(
            name="visual_kernel", shape=(visual_size, width),
            initializer=self.kernel_initializer,
        )  # U [C, k*o]
        self.audio_kernel = self.add_weight(
            name="audio_kernel", shape=(audio_size, width),
            initializer=self.kernel_initializer,
        )  # V [M, k*o]
        if self.use_bias:
            self.visual_bias = self.add_weight(
                name="visual_bias", shape=(width,),
                initializer=self.bias_initializer,
            )
            self.audio_bias = self.add_weight(
                name="audio_bias", shape=(width,),
                initializer=self.bias_initializer,
            )
        self.built = True

    def call(self, visual, audio=None, training=None):
        projected_visual = ops.matmul(visual, self.visual_kernel)  # [B, k*o]
        projected_audio = ops.matmul(audio, self.audio_kernel)  # [B, k*o]
        if self.use_bias:
            projected_visual = projected_visual + self.visual_bias
            projected_audio = projected_audio + self.audio_bias
        product = projected_visual * projected_audio  # [B, k*o]
        product = self.dropout_layer(product, training=training)
        pooled = ops.sum(
            ops.reshape(product, (-1, self.output_dim, self.factor_k)),
            axis=-1,
        )  # [B, o]
        return self.normalize(pooled)

    def normalize(self, pooled):
        """The `normalization` of the sum-pooled vector [B, o]."""
        if self.normalization in ("relu_l2", "relu"):
            pooled = ops.relu(pooled)
        elif self.normalization == "signed_sqrt_l2":
            pooled = ops.sign(pooled) * (
                ops.sqrt(ops.abs(pooled) + 1e-12) - 1e-6
            )
        if self.normalization in ("relu_l2", "signed_sqrt_l2", "l2"):
            pooled = layer_utils.l2_normalize(pooled, axis=-1)
        return pooled

    def compute_output_shape(self, visual_shape, audio_shape=None):
        self._check_shapes(visual_shape, audio_shape)
        return (visual_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "factor_k": self.factor_k,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "normalization": self.normalization,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
