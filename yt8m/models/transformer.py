"""TransformerModel: Transformer encoder towers over frames (TM-E / TM-L)."""

import keras

from yt8m.layers.class_token import ClassToken
from yt8m.layers.class_token_mask import ClassTokenMask
from yt8m.layers.positional_encoding import PositionalEncoding
from yt8m.layers.sequence_pooling import SequencePooling
from yt8m.layers.transformer_encoder import TransformerEncoderBlock
from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.models import base
from yt8m.models.fusion import FUSION
from yt8m.models.fusion import LATE_FUSION_HIDDEN_SIZE
from yt8m.models.stages import ATTENTION_HEADS
from yt8m.models.stages import ATTENTION_SIZE
from yt8m.registry import register_model

TRANSFORMER_POOLING = ("mean", "attention", "cls")


@register_model
class TransformerModel(base.FrameLevelModel):
    """Frames -> Transformer encoder per tower -> pooled -> fusion -> head.

    Per tower (one over [rgb; audio] for `fusion="early"`, one per modality
    for `fusion="late"`):
    1. `LayerNorm(x W_p + b_p)` [B, T, d]: projects the L2-normalised frames
       (entries ~ 1/sqrt(F)) to `transformer_hidden_size` with unit-scale
       entries, so they are commensurate with the positional encoding.
    2. `PositionalEncoding` (sinusoidal) if `transformer_positional`.
    3. `ClassToken` if `transformer_pooling="cls"`.
    4. `transformer_layers` `TransformerEncoderBlock(transformer_heads,
       transformer_ff_size, transformer_dropout,
       normalize_first=transformer_pre_norm)` with the `num_frames` mask
       (plus a final LayerNorm when pre-norm).
    5. `SequencePooling`: masked "mean", "attention" (`attention_size`,
       `attention_heads`) or "cls" (the class token's output).
    Late fusion combines the towers' pooled outputs with
    `ReLU(Dense(late_fusion_hidden_size))` (the cross-modal paper's TM-L),
    then the `video_level_classifier_model` head.

    Args:
      num_classes: C.
      feature_sizes: e.g. [1024, 128]; first is rgb, the rest audio.
      max_frames: T, or None. Default 300.
      transformer_layers: encoder blocks per tower. Default 2.
      transformer_heads: attention heads. Default 8.
      transformer_hidden_size: d (model width). Default 512.
      transformer_ff_size: feed-forward width. Default 2048.
      transformer_dropout: dropout in the blocks. Default 0.1.
      transformer_pooling: "mean" (default), "attention" or "cls".
      transformer_positional: add the sinusoidal encoding. Default True.
      transformer_pre_norm: pre-norm blocks. Default False (post-norm).
      attention_size, attention_heads: attention pooling (100, 1).
      fusion: "late" (default) or "early"; None means the default.
      late_fusion_hidden_size: width of the late-fusion ReLU layer.
        Default 1024.
      video_level_classifier_model, moe_num_mixtures, moe_l2, l2_penalty:
        the head (`base.FrameLevelModel`).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = declare(
        HParam("transformer_layers", "integer", 2,
               "Transformer encoder blocks per tower.", check="positive"),
        HParam("transformer_heads", "integer", 8, "Self-attention heads.",
               check="positive"),
        HParam("transformer_hidden_size", "integer", 512,
               "Transformer model width (frames are projected to it).",
               check="positive"),
        HParam("transformer_ff_size", "integer", 2048,
               "Transformer feed-forward width.", check="positive"),
        HParam("transformer_dropout", "float", 0.1,
               "Dropout in the Transformer blocks.", check="rate"),
        HParam("transformer_pooling", "string", "mean",
               "Pooling of the encoded frames: mean, attention or cls.",
               choices=TRANSFORMER_POOLING),
        HParam("transformer_positional", "boolean", True,
               "Add sinusoidal positional encodings."),
        HParam("transformer_pre_norm", "boolean", False,
               "Pre-norm Transformer blocks (default post-norm)."),
        ATTENTION_SIZE,
        ATTENTION_HEADS,
        FUSION,
        LATE_FUSION_HIDDEN_SIZE,
    )
    default_fusion = "late"

    def check_hparams(self, hp, feature_sizes):
        if hp.transformer_hidden_size % hp.transformer_heads:
            raise ValueError(
                "Invalid value for argument `transformer_heads`: expected a "
                "divisor of transformer_hidden_size="
                f"{hp.transformer_hidden_size}. Received: "
                f"transformer_heads={hp.transformer_heads}"
            )

    def encode_frames(self, tower, frames, mask, hp):
        x, mask = self.embed_frames(tower, frames, mask, hp)
        for layer_index in range(hp.transformer_layers):
            x = self.encoder_block(tower, layer_index, hp)(
                x, mask=mask
            )  # [B, T(+1), d]
        return self.final_norm(tower, x, hp), mask

    def final_norm(self, tower, x, hp):
        """The pre-norm stack's last LayerNorm (identity for post-norm)."""
        if hp.transformer_pre_norm:
            x = keras.layers.LayerNormalization(
                epsilon=1e-5, name=f"{tower}_final_norm"
            )(x)
        return x

    def embed_frames(self, tower, frames, mask, hp):
        """Projection, norm, positions, class token -> (x [B, T', d], mask)."""
        x = keras.layers.Dense(
            hp.transformer_hidden_size, name=f"{tower}_projection"
        )(frames)  # [B, T, d]
        x = keras.layers.LayerNormalization(
            epsilon=1e-5, name=f"{tower}_projection_norm"
        )(x)
        if hp.transformer_positional:
            x = PositionalEncoding(name=f"{tower}_positional")(
                x, mask=mask
            )  # [B, T, d], 0 at padding
        if hp.transformer_pooling == "cls":
            x = ClassToken(name=f"{tower}_cls")(x, mask=mask)
            mask = ClassTokenMask(name=f"{tower}_cls_mask")(mask)  # [B, T+1]
        return x, mask

    def encoder_block(self, tower, layer_index, hp):
        """One encoder block (a stage slot: e.g. attention with TC on K/V)."""
        return TransformerEncoderBlock(
            hp.transformer_heads,
            hp.transformer_ff_size,
            dropout=hp.transformer_dropout,
            normalize_first=hp.transformer_pre_norm,
            name=f"{tower}_encoder_{layer_index}",
        )

    def pool_frames(self, tower, frames, mask, hp):
        return SequencePooling(
            "first" if hp.transformer_pooling == "cls"
            else hp.transformer_pooling,
            attention_dim=hp.attention_size,
            num_heads=hp.attention_heads,
            name=f"{tower}_pooling",
        )(frames, mask=mask)  # [B, d] (or [B, heads * d])
