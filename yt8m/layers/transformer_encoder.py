"""TransformerEncoderBlock: one self-attention block over frames.

Axis letters: B=batch, T=frames, D=features (model width), I=intermediate.
"""

import math

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers import remat


@keras.saving.register_keras_serializable(package="yt8m")
class TransformerEncoderBlock(keras.layers.Layer):
    """Multi-head self-attention + feed-forward, each with a residual.

    Post-norm (default, Vaswani et al.):
    ```
    y = LN(x + Dropout(MHA(x, x, mask)))
    z = LN(y + Dropout(W2 Dropout(act(W1 y + b1)) + b2))
    ```
    Pre-norm (`normalize_first=True`, more stable for deep stacks):
    `y = x + Dropout(MHA(LN(x)))`, `z = y + Dropout(FFN(LN(y)))`.
    `keras.layers.MultiHeadAttention` uses `key_dim = D // num_heads` and an
    attention mask [B, T, T] that lets every query see valid keys only, so
    valid frames give exactly the output of the unpadded sequence. Padded
    frames are zeroed on the way in and on the way out, and the mask is
    passed on, so blocks can be stacked.

    Args:
      num_heads: number of attention heads; must divide D.
      intermediate_dim: I, the width of the feed-forward hidden layer.
      dropout: rate of the attention-weight, residual-branch and
        feed-forward dropouts. Default 0.
      activation: feed-forward activation. Default "relu".
      normalize_first: pre-norm instead of post-norm. Default False.
      layer_norm_epsilon: LayerNormalization epsilon. Default 1e-5.
      kernel_initializer: initializer of every kernel.

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.
      training: Python bool (dropout).

    Built inside `yt8m.layers.remat.remat_scope()`, the block recomputes its
    attention and feed-forward branches in the backward pass instead of
    storing their activations.

    Returns:
      float tensor [B, T, D]; 0 at padded frames.

    Example:
    >>> TransformerEncoderBlock(num_heads=2, intermediate_dim=16)(
    ...     np.ones((2, 5, 8)))  # [2, 5, 8]

    Reference:
      Vaswani et al., 2017, "Attention Is All You Need"; Xiong et al., 2020,
      "On Layer Normalization in the Transformer Architecture" (pre-norm).
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="relu",
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = layer_utils.check_positive_int("num_heads", num_heads)
        self.intermediate_dim = layer_utils.check_positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.dropout = layer_utils.check_rate("dropout", dropout)
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "Invalid value for argument `activation`: expected the name "
                f"of a Keras activation. Received: activation={activation!r}"
            ) from error
        self.normalize_first = layer_utils.check_bool(
            "normalize_first", normalize_first
        )
        if (
            isinstance(layer_norm_epsilon, bool)
            or not isinstance(layer_norm_epsilon, (int, float))
            or layer_norm_epsilon <= 0
        ):
            raise ValueError(
                "Invalid value for argument `layer_norm_epsilon`: expected a "
                "positive number. Received: "
                f"layer_norm_epsilon={layer_norm_epsilon!r}"
            )
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = layer_utils.get_initializer(
            "kernel_initializer", kernel_initializer
        )
        self.supports_masking = True
        # A training setting, not config (yt8m.layers.remat).
        self._rematerialize = remat.enabled()

    def build(self, input_shape):
        feature_size = input_shape[-1]
        if feature_size % self.num_heads:
            raise ValueError(
                "Invalid value for argument `num_heads`: expected a divisor "
                f"of the feature size ({feature_size}). Received: "
                f"num_heads={self.num_heads}"
            )
        input_shape = tuple(input_shape)
        self.self_attention = self._make_attention(feature_size)
        self.self_attention.build(input_shape, input_shape)
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="attention_layer_norm"
        )
        self.attention_layer_norm.build(input_shape)
        self.attention_dropout = keras.layers.Dropout(
            self.dropout, name="attention_dropout"
        )
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            kernel_initializer=self._clone_initializer(),
            name="intermediate_dense",
        )
        self.intermediate_dense.build(input_shape)
        self.intermediate_dropout = keras.layers.Dropout(
            self.dropout, name="intermediate_dropout"
        )
        self.output_dense = keras.layers.Dense(
            feature_size,
            kernel_initializer=self._clone_initializer(),
            name="output_dense",
        )
        self.output_dense.build(input_shape[:-1] + (self.intermediate_dim,))
        self.feedforward_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="feedforward_layer_norm"
        )
        self.feedforward_layer_norm.build(input_shape)
        self.feedforward_dropout = keras.layers.Dropout(
            self.dropout, name="feedforward_dropout"
        )
        self.built = True

    def _make_attention(self, feature_size):
        """The self-attention sublayer (a subclass may return another)."""
        return keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=feature_size // self.num_heads,
            dropout=self.dropout,
            kernel_initializer=self._clone_initializer(),
            name="self_attention",
        )

    def _clone_initializer(self):
        # A fresh instance per sublayer, so a seeded initializer does not
        # give every kernel the same values.
        return self.kernel_initializer.__class__.from_config(
            self.kernel_initializer.get_config()
        )

    def call(self, frames, mask=None, training=None):
        return self.forward(frames, mask=mask, training=training)

    def forward(self, frames, mask=None, training=None, attend=None):
        """The block, with `attend(x, attention_mask, training)` in place of
        the self-attention when given (the cross-modal Transformer adds its
        cross-modal logits there). `x` is the attention's input (after the
        layer norm in pre-norm blocks), `attention_mask` [B, T, T] bool."""
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        x = layer_utils.zero_padded_frames(frames, mask)  # [B, T, D]

        def attention_branch(x):
            if self.normalize_first:
                x = self.attention_layer_norm(x)
            if attend is None and (
                type(self.self_attention) is keras.layers.MultiHeadAttention
            ):
                x = self._self_attention(x, mask, training)  # [B, T, D]
                return self.attention_dropout(x, training=training)
            # Every query may attend to every valid key: [B, T, T].
            attention_mask = ops.logical_and(
                ops.ones_like(mask)[:, :, None], mask[:, None, :]
            )
            if attend is None:
                x = self.self_attention(
                    x, x, attention_mask=attention_mask, training=training
                )  # [B, T, D]
            else:
                x = attend(x, attention_mask, training)  # [B, T, D]
            return self.attention_dropout(x, training=training)

        def feedforward_branch(x):
            if self.normalize_first:
                x = self.feedforward_layer_norm(x)
            x = self.intermediate_dense(x)  # [B, T, I]
            x = self.intermediate_dropout(x, training=training)
            x = self.output_dense(x)  # [B, T, D]
            return self.feedforward_dropout(x, training=training)

        # Rematerialised per branch (attend's closure may capture tensors
        # that need a gradient: the cross-modal block rematerialises whole).
        if self._rematerialize and training and attend is None:
            x = x + remat.rematerialize(
                [self.self_attention, self.attention_dropout],
                attention_branch, x)
        else:
            x = x + attention_branch(x)
        if not self.normalize_first:
            x = self.attention_layer_norm(x)
        if self._rematerialize and training:
            x = x + remat.rematerialize(
                [self.intermediate_dropout, self.feedforward_dropout],
                feedforward_branch, x)
        else:
            x = x + feedforward_branch(x)
        if not self.normalize_first:
            x = self.feedforward_layer_norm(x)
        return layer_utils.zero_padded_frames(x, mask)

    def _self_attention(self, x, mask, training):
        """`self.self_attention(x, x, attention_mask)`'s math on its weights,
        leaner for training: 2-D projection matmuls (`layer_utils.project`:
        no per-example [B, D, H*K] kernel gradients) and one key bias instead
        of a broadcast [B, T, T] mask (`layer_utils.key_masked_softmax`).
        The same outputs and gradients to float rounding (tested against the
        Keras layer). Measured on the TransformerModel step's allocator
        peak, the change is within noise (the peak is elsewhere:
        docs/training.md, rematerialisation)."""
        mha = self.self_attention
        scale = 1.0 / math.sqrt(mha._key_dim)
        query = layer_utils.project(mha._query_dense, x, 1)  # [B, T, H, K]
        key = layer_utils.project(mha._key_dense, x, 1)
        value = layer_utils.project(mha._value_dense, x, 1)
        logits = ops.einsum("bqhk,bthk->bhqt",
                            query * ops.cast(scale, query.dtype), key)
        weights = layer_utils.key_masked_softmax(logits, mask)  # [B,H,T,T]
        weights = mha._dropout_layer(weights, training=training)
        out = ops.einsum("bhqt,bthk->bqhk", weights, value)  # [B, T, H, K]
        return layer_utils.project(mha._output_dense, out, 2)  # [B, T, D]

    def compute_mask(self, frames, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="yt8m")
class TemporalCoherenceEncoderBlock(TransformerEncoderBlock):
    """`TransformerEncoderBlock` whose attention applies temporal coherence
    to its keys and values (TC-TM, the temporal-coherence paper's Figure 8).

    The self-attention is `TemporalCoherenceAttention`: after the K and V
    projections, `K' = TC_K(K)` and `V' = TC_V(V)` over the valid frames
    (two `TemporalCoherence` layers, kernels shared across heads and
    dimensions), then `softmax(Q K'^T / sqrt(d_k)) V'`. Everything else is
    the parent block.

    Args:
      coherence_kernel_size, coherence_num_feature_maps, coherence_mode:
        the `TemporalCoherence` arguments (kernel_size, num_feature_maps,
        mode).
      The others: as `TransformerEncoderBlock`.
    """

    def __init__(self, num_heads, intermediate_dim, coherence_kernel_size=5,
                 coherence_num_feature_maps=4, coherence_mode="conv", **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        from yt8m.layers.temporal_coherence import TemporalCoherence

        # Checks the arguments now (a ValueError naming the argument).
        try:
            TemporalCoherence(coherence_kernel_size,
                              coherence_num_feature_maps, coherence_mode)
        except ValueError as error:
            raise ValueError(str(error).replace(
                "argument `", "argument `coherence_")) from None
        self.coherence_kernel_size = int(coherence_kernel_size)
        self.coherence_num_feature_maps = int(coherence_num_feature_maps)
        self.coherence_mode = coherence_mode

    def _make_attention(self, feature_size):
        from yt8m.layers.temporal_coherence_attention import (
            TemporalCoherenceAttention,
        )

        return TemporalCoherenceAttention(
            num_heads=self.num_heads,
            key_dim=feature_size // self.num_heads,
            dropout=self.dropout,
            kernel_initializer=self._clone_initializer(),
            coherence_kernel_size=self.coherence_kernel_size,
            coherence_num_feature_maps=self.coherence_num_feature_maps,
            coherence_mode=self.coherence_mode,
            name="self_attention",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "coherence_kernel_size": self.coherence_kernel_size,
                "coherence_num_feature_maps": self.coherence_num_feature_maps,
                "coherence_mode": self.coherence_mode,
            }
        )
        return config
