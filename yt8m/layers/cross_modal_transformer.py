"""CrossModalTransformerBlock: one block of the cross-modal Transformer.

Axis letters: B=batch, T=frames, D=model width, H=heads, K=key dim.
"""

import math

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers import remat
from yt8m.layers.cross_modal_transform import CROSS_MODAL_MODES
from yt8m.layers.transformer_encoder import TransformerEncoderBlock

# Hidden width of the pointwise logit transform when it has 2+ layers.
_LOGIT_HIDDEN = 4


@keras.saving.register_keras_serializable(package="yt8m")
class CrossModalTransformerBlock(keras.layers.Layer):
    """Two Transformer encoder blocks (video, audio) with cross-modal logits.

    The paper's section 2 (Figure 3), for head i of the video stream:

        h_i = softmax(Q_iv W^Q_iv (K_iv W^K_iv)^T
                      + F_ia(Q_ia W^Q_ia (K_ia W^K_iv)^T)) V W^V_iv

    and symmetrically for audio: the other stream's queries under ITS query
    projection, its keys under THIS stream's key projection, transformed by
    `F` and added to this stream's attention logits (both scaled by
    1/sqrt(K), as Vaswani's logits are). Readings (docs/cross_modal.md):
    `F_ia` is applied to each logit (a pointwise ReLU DNN with per-head
    weights: `ReLU(w z + b)` for one layer, a hidden width of 4 for more),
    since the logits of both streams are [T, T] maps and the paper calls it
    "the ReLU / DNN transform"; with the tower's output `g` [B, 1]: "gate"
    multiplies the term by `g`, "concat" feeds `[z; g]` to F. Padding:
    padded keys are masked after the sum (both terms), padded query rows
    are zeroed by the blocks. Both streams must have the model width D and
    the same frames (aligned, one mask).

    Everything else is `TransformerEncoderBlock` (sublayers `rgb_block`,
    `audio_block`: attention projections, residuals, norms, feed-forward).
    With F's weights at zero, each stream's output equals its plain block's
    (tested).

    Args:
      num_heads, intermediate_dim, dropout, normalize_first: as
        `TransformerEncoderBlock`.
      transform_layers: layers of the pointwise F (>= 1).
      mode: "none", "gate" or "concat".

    Call arguments:
      rgb, audio: float [B, T, D]; gate: [B, 1] (unless "none");
      mask: optional bool [B, T]; training: bool.

    Returns:
      (rgb [B, T, D], audio [B, T, D]), 0 at padded frames.
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0,
                 normalize_first=False, transform_layers=1, mode="concat",
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads = layer_utils.check_positive_int("num_heads", num_heads)
        self.intermediate_dim = layer_utils.check_positive_int(
            "intermediate_dim", intermediate_dim)
        self.dropout = layer_utils.check_rate("dropout", dropout)
        self.normalize_first = layer_utils.check_bool(
            "normalize_first", normalize_first)
        self.transform_layers = layer_utils.check_positive_int(
            "transform_layers", transform_layers)
        self.mode = layer_utils.check_choice("mode", mode, CROSS_MODAL_MODES)
        self.supports_masking = True
        # A training setting, not config (yt8m.layers.remat). The block is
        # rematerialised whole (the cross-modal logits couple the streams),
        # not per branch in its sub-blocks.
        self._rematerialize = remat.enabled()
        self.rgb_block = TransformerEncoderBlock(
            num_heads, intermediate_dim, dropout=dropout,
            normalize_first=normalize_first, name="rgb_block")
        self.audio_block = TransformerEncoderBlock(
            num_heads, intermediate_dim, dropout=dropout,
            normalize_first=normalize_first, name="audio_block")
        self.rgb_block._rematerialize = False
        self.audio_block._rematerialize = False

    def build(self, rgb_shape, audio_shape=None, gate_shape=None,
              mask_shape=None):
        rgb_shape = tuple(rgb_shape)
        self.rgb_block.build(rgb_shape)
        self.audio_block.build(tuple(audio_shape or rgb_shape))
        inputs = 2 if self.mode == "concat" else 1
        widths = [inputs] + [_LOGIT_HIDDEN] * (self.transform_layers - 1) + [1]
        for stream in ("rgb", "audio"):
            for i in range(self.transform_layers):
                # Attributes, not a dict: tf.train.Checkpoint does not track
                # a Keras layer's container attributes.
                setattr(self, f"{stream}_logit_kernel_{i}", self.add_weight(
                    name=f"{stream}_logit_kernel_{i}",
                    shape=(self.num_heads, widths[i], widths[i + 1]),
                    initializer=keras.initializers.RandomNormal(stddev=0.1)))
                setattr(self, f"{stream}_logit_bias_{i}", self.add_weight(
                    name=f"{stream}_logit_bias_{i}",
                    shape=(self.num_heads, widths[i + 1]),
                    initializer="zeros"))
        self.built = True

    @property
    def logit_kernels(self):
        """{stream: [(kernel [H, in, out], bias [H, out]) per layer]}."""
        return {
            stream: [(getattr(self, f"{stream}_logit_kernel_{i}"),
                      getattr(self, f"{stream}_logit_bias_{i}"))
                     for i in range(self.transform_layers)]
            for stream in ("rgb", "audio")
        }

    def _logit_transform(self, stream, z, gate):
        """F over logits z [B, H, T, T] -> [B, H, T, T]."""
        x = z[..., None]  # [B, H, T, T, 1]
        if self.mode == "concat":
            g = ops.cast(gate, z.dtype)[:, :, None, None, None]  # [B,1,1,1,1]
            x = ops.concatenate([x, ops.broadcast_to(g, ops.shape(x))], -1)
        for w, b in self.logit_kernels[stream]:
            x = ops.relu(ops.einsum("bhqki,hij->bhqkj", x, w)
                         + b[None, :, None, None, :])
        x = x[..., 0]
        if self.mode == "gate":
            x = x * ops.cast(gate, z.dtype)[:, :, None, None]
        return x

    @staticmethod
    def _attention_input(block, x, mask):
        x = layer_utils.zero_padded_frames(x, mask)
        if block.normalize_first:
            x = block.attention_layer_norm(x)
        return x

    def _attend(self, stream, block, other, other_x, gate):
        mha = block.self_attention
        other_mha = other.self_attention
        scale = 1.0 / math.sqrt(mha._key_dim)

        def attend(x, attention_mask, training):
            query = mha._query_dense(x)  # [B, T, H, K]
            key = mha._key_dense(x)
            value = mha._value_dense(x)
            logits = ops.einsum("bqhk,bthk->bhqt", query, key) * scale
            # The cross-modal term, in every mode ("none": without a tower).
            cross_q = other_mha._query_dense(other_x)  # other's W^Q
            cross_k = mha._key_dense(other_x)  # this stream's W^K
            cross = ops.einsum("bqhk,bthk->bhqt", cross_q, cross_k) * scale
            logits = logits + self._logit_transform(stream, cross, gate)
            weights = layer_utils.masked_softmax(
                logits, attention_mask[:, None, :, :], axis=-1)  # [B,H,T,T]
            weights = mha._dropout_layer(weights, training=training)
            out = ops.einsum("bhqt,bthk->bqhk", weights, value)
            return mha._output_dense(out)  # [B, T, D]

        return attend

    def call(self, rgb, audio, gate=None, mask=None, training=None):
        if self.mode != "none" and gate is None:
            raise ValueError(
                f"CrossModalTransformerBlock(mode={self.mode!r}) needs the "
                "correlation tower's output `gate` [B, 1].")
        if mask is None:
            mask = layer_utils.all_valid_mask(rgb)
        mask = ops.cast(mask, "bool")
        if self._rematerialize and training:
            # The gate is an input too (it needs its gradient); absent in
            # mode "none".
            tensors = (rgb, audio) if gate is None else (rgb, audio, gate)
            return remat.rematerialize(
                self, lambda r, a, g=None: self._streams(r, a, g, mask,
                                                         training), *tensors)
        return self._streams(rgb, audio, gate, mask, training)

    def _streams(self, rgb, audio, gate, mask, training):
        rgb_in = self._attention_input(self.rgb_block, rgb, mask)
        audio_in = self._attention_input(self.audio_block, audio, mask)
        new_rgb = self.rgb_block.forward(
            rgb, mask=mask, training=training,
            attend=self._attend("rgb", self.rgb_block, self.audio_block,
                                audio_in, gate))
        new_audio = self.audio_block.forward(
            audio, mask=mask, training=training,
            attend=self._attend("audio", self.audio_block, self.rgb_block,
                                rgb_in, gate))
        return new_rgb, new_audio

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_shape(self, rgb_shape, audio_shape=None,
                             gate_shape=None, mask_shape=None):
        return tuple(rgb_shape), tuple(audio_shape or rgb_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "normalize_first": self.normalize_first,
            "transform_layers": self.transform_layers,
            "mode": self.mode,
        })
        return config
