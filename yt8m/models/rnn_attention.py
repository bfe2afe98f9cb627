"""BiGRUAttentionModel / BiLSTMAttentionModel (Deep Multimodal Learning).

Stacked bidirectional RNNs with Yang et al. (2016) attention pooling, and
the paper's three ways to fuse rgb and audio per frame (`rnn_fusion`):

* `concat`: `x_t = [rgb_t; audio_t]` (the paper's best, 0.84022 GAP).
* `shared_space`: `x_t = tanh([rgb_t; audio_t] W + b)`, one map of both
  modalities into a common space of size `rnn_fusion_size`.
* `projection`: `f_t = rgb_t W_v`, `g_t = audio_t W_a` (both of size
  `rnn_fusion_size`), `x_t = [f_t; g_t]`, and an auxiliary loss
  `rnn_projection_weight * mean_b(mean_t ||f_t - g_t||^2)` over valid frames
  pulls the two projections together ("close under the L2 norm").

The mapping weights are `N(0, 0.01)` as in the paper. These options shape the
single tower of `fusion="early"`; with `fusion="late"` each modality has its
own tower and only `rnn_fusion="concat"` is accepted.
"""

import keras

from yt8m.layers.attention_pooling import AttentionPooling
from yt8m.layers.birnn import Bidirectional
from yt8m.layers.projection_fusion import ProjectionFusion
from yt8m.layers import recurrent
from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.models import base
from yt8m.models import fusion as fusion_lib
from yt8m.models.fusion import FUSION
from yt8m.models.fusion import LATE_FUSION_HIDDEN_SIZE
from yt8m.models.stages import ATTENTION_HEADS
from yt8m.models.stages import ATTENTION_SIZE
from yt8m.registry import register_model

RNN_FUSION_MODES = ("concat", "shared_space", "projection")


class _BiRNNAttentionModel(base.FrameLevelModel):
    """Stacked bidirectional RNN + attention pooling + head (see module doc).

    Per tower: `rnn_layers` `Bidirectional(RNN(rnn_cells))` returning
    sequences (forward and backward outputs concatenated, 2U per frame),
    masked by `num_frames`, then `AttentionPooling(attention_size,
    attention_heads)`: `u_t = tanh(W h_t + b)`, `a = softmax_t(u_t . u_w)`,
    `s = sum_t a_t h_t` ([B, heads * 2U]). Early fusion: one tower over the
    `rnn_fusion` of the frames. Late fusion: an rgb and an audio tower whose
    pooled outputs are combined by `ReLU(Dense(late_fusion_hidden_size))`.
    Then the `video_level_classifier_model` head.

    Args:
      num_classes: C.
      feature_sizes: e.g. [1024, 128]; first is rgb, the rest audio.
      max_frames: T, or None. Default 300.
      rnn_cells: U, units per direction. Default 1024.
      rnn_layers: stacked bidirectional layers. Default 2 (paper).
      attention_size: A, attention MLP width. Default 100.
      attention_heads: context vectors (heads concatenated). Default 1.
      rnn_fusion: "concat" (default), "shared_space" or "projection".
      rnn_fusion_size: P for shared_space / projection. Default 1024.
      rnn_projection_weight: weight of the projection alignment loss.
        Default 1.0.
      fusion: "early" (default) or "late"; None means the default.
      late_fusion_hidden_size: width of the late-fusion ReLU layer.
        Default 1024.
      video_level_classifier_model, moe_num_mixtures, moe_l2, l2_penalty:
        the head (`base.FrameLevelModel`).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    _rnn_layer = None  # yt8m.layers.recurrent.GRU or .LSTM
    HPARAMS = declare(
        HParam("rnn_cells", "integer", 1024,
               "Units per direction of each bidirectional RNN layer.",
               check="positive"),
        HParam("rnn_layers", "integer", 2,
               "Stacked bidirectional RNN layers.", check="positive"),
        ATTENTION_SIZE,
        ATTENTION_HEADS,
        HParam("rnn_fusion", "string", "concat",
               "Per-frame modality fusion of the early-fusion tower: concat, "
               "shared_space or projection.", choices=RNN_FUSION_MODES),
        HParam("rnn_fusion_size", "integer", 1024,
               "Size of the shared space / of each projection for "
               "rnn_fusion.", check="positive"),
        HParam("rnn_projection_weight", "float", 1.0,
               "Weight of the L2 alignment loss of rnn_fusion=projection "
               "(an auxiliary loss, logged as projection_alignment).",
               check="non_negative"),
        FUSION,
        LATE_FUSION_HIDDEN_SIZE,
    )
    default_fusion = "early"

    def check_hparams(self, hp, feature_sizes):
        multimodal = len(feature_sizes) > 1
        if hp.fusion == "late" and hp.rnn_fusion != "concat" and multimodal:
            raise ValueError(
                "Invalid value for argument `rnn_fusion`: "
                f"rnn_fusion={hp.rnn_fusion!r} fuses the modalities inside "
                "one tower, so it needs fusion='early' (late fusion has a "
                "tower per modality). Received: fusion='late'."
            )
        if hp.rnn_fusion == "projection":
            fusion_lib.check_two_modalities(
                feature_sizes, "rnn_fusion='projection' (it aligns rgb with "
                "audio)")
        # The projection split point (rgb size) for ProjectionFusion.
        hp.rgb_size = feature_sizes[0]

    def encode_frames(self, tower, frames, mask, hp):
        x = frames
        if tower == "all" and hp.rnn_fusion == "shared_space":
            x = keras.layers.Dense(
                hp.rnn_fusion_size,
                activation="tanh",
                kernel_initializer=keras.initializers.RandomNormal(
                    stddev=0.01
                ),
                name="shared_space",
            )(x)  # [B, T, P]
        elif tower == "all" and hp.rnn_fusion == "projection":
            x = ProjectionFusion(
                hp.rgb_size,
                hp.rnn_fusion_size,
                loss_weight=hp.rnn_projection_weight,
                name="projection",
            )(x, mask=mask)  # [B, T, 2P]
        rnn = type(self)._rnn_layer
        for layer_index in range(hp.rnn_layers):
            name = f"{tower}_rnn_{layer_index}"
            # The backward layer is built here, not by Bidirectional: its
            # serialize/deserialize copy can come back as the forward layer
            # under Keras' object-sharing scope while a .keras file loads
            # ("Forward layer and backward layer should have different
            # `go_backwards` value"), depending on object ids.
            x = Bidirectional(
                rnn(hp.rnn_cells, return_sequences=True, name=name),
                backward_layer=rnn(hp.rnn_cells, return_sequences=True,
                                   go_backwards=True,
                                   name=f"backward_{name}"),
                name=f"{tower}_birnn_{layer_index}",
            )(x, mask=mask)  # [B, T, 2U]
        return x, mask

    def pool_frames(self, tower, frames, mask, hp):
        return AttentionPooling(
            hp.attention_size,
            num_heads=hp.attention_heads,
            kernel_initializer="glorot_normal",
            name=f"{tower}_attention",
        )(frames, mask=mask)  # [B, heads * 2U]


@register_model
class BiGRUAttentionModel(_BiRNNAttentionModel):
    __doc__ = "Bidirectional GRUs. " + _BiRNNAttentionModel.__doc__
    _rnn_layer = recurrent.GRU


@register_model
class BiLSTMAttentionModel(_BiRNNAttentionModel):
    __doc__ = "Bidirectional LSTMs. " + _BiRNNAttentionModel.__doc__
    _rnn_layer = recurrent.LSTM
