"""MFB fusion models (Liu, Yuan, Wang 2018) and their fusion baselines.

`MFBModel` (frame-level): per modality a temporal aggregation
(`--mfb_aggregation`: avgpooling | dbof | netvlad), then a fusion
(`--mfb_fusion`: audio_only | video_only | concat | fc_concat | mfb), then
the 2-mixture MoE head (the shared `--video_level_classifier_model` head;
its default is MoeModel with `moe_num_mixtures=2`).

`MFBVideoModel` (video-level): the Avgpooling row of the paper on
video-level records: `mean_rgb` and `mean_audio` already are the average
pooled frame features (eq. 3), so the model takes `{"video_matrix":
[B, 1024 + 128]}` (`--feature_names=mean_rgb,mean_audio`), L2-normalises it
as every video-level model does, splits the modalities back and fuses them
the same way. Use it with video-level data; `MFBModel
--mfb_aggregation=avgpooling` is the same model on `--frame_features` data.

Readings of the paper (also in docs/mfb.md):

* "FC + Concatenation ... with the same number of parameters as MFB": each
  modality goes through a fully connected layer (+ ReLU, + the MFB
  dropout) and the two are concatenated. Its width `h` is chosen so the
  *whole model* has as many parameters as the same model with `mfb`
  (equal up to the rounding of `h`; both counts are logged when a model
  with either fusion is built). The literal alternative (the two FC layers
  shaped like MFB's U and V, k*o wide) gives the MoE head a 2*k*o-wide
  input and about 2k times MFB's head parameters, so it would not test
  "the improvement does not come from increasing parameters".
  `--mfb_fc_concat_size` overrides `h`.
* DBoF: "fc to increase dimension, max pooling, ReLU and BN": the starter
  DBoF cluster layer (`DbofCluster`: input BN, fc, BN, activation) and
  `FramePooling`, per modality, without DbofModel's hidden layer; ReLU is
  `--dbof_activation=relu6` (the cluster layer offers sigmoid or ReLU6).
* NetVLAD: `NetVLAD` per modality, audio with half the clusters as in
  NetVLADModelLF (the paper uses K = 8 for both; a shared flag keeps one
  meaning).
* DBoF and NetVLAD pool `--iterations` sampled frames ("300 frames are
  sampled before aggregation"); Avgpooling averages all valid frames.
"""

import keras
from absl import logging

from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.layers.dbof import DbofCluster
from yt8m.layers.frame_pooling import FramePooling
from yt8m.layers.mfb_fusion import MFB_NORMALIZATIONS
from yt8m.layers.mfb_fusion import MFBFusion
from yt8m.layers.netvlad import NetVLAD
from yt8m.layers.slim import slim_batch_normalization
from yt8m.models import base
from yt8m.models import fusion as fusion_lib
from yt8m.models.dbof import DBOF_HPARAMS
from yt8m.models.dbof import DbofModel
from yt8m.models.netvlad import NetVLADModelLF
from yt8m.models.stages import ITERATIONS
from yt8m.registry import register_model

MFB_FUSIONS = ("audio_only", "video_only", "concat", "fc_concat", "mfb")
MFB_AGGREGATIONS = ("avgpooling", "dbof", "netvlad")
# Fusions that use both modalities.
TWO_MODALITY_FUSIONS = ("concat", "fc_concat", "mfb")

MFB_FUSION_HPARAMS = declare(
    HParam("mfb_fusion", "string", "mfb",
           "How MFB models fuse the aggregated rgb and audio vectors: "
           "audio_only, video_only, concat, fc_concat (an FC layer per "
           "modality, then concat; as many parameters as mfb) or mfb.",
           choices=MFB_FUSIONS),
    HParam("mfb_factor_k", "integer", 5,
           "MFB factor k (rank of each bilinear map; sum-pooling window).",
           check="positive"),
    HParam("mfb_output_dim", "integer", 1024,
           "MFB output size o.", check="positive"),
    HParam("mfb_dropout", "float", 0.1,
           "Dropout in the MFB module (and after fc_concat's FC layers).",
           check="rate"),
    HParam("mfb_normalization", "string", "relu_l2",
           "MFB output normalisation: relu_l2 (the paper), signed_sqrt_l2 "
           "(Yu et al.), relu, l2 or none.", choices=MFB_NORMALIZATIONS),
    HParam("mfb_bias_init", "float", 0.0,
           "Constant initial value of the MFB projection biases (0: Yu et "
           "al.; see docs/mfb.md).", check="non_negative"),
    HParam("mfb_fc_concat_size", "integer", None,
           "Width of each FC layer of fc_concat; unset: chosen so the model "
           "has as many parameters as with mfb.", check="positive"),
)
MFB_AGGREGATION = HParam(
    "mfb_aggregation", "string", "avgpooling",
    "Temporal aggregation of MFBModel, per modality: avgpooling, dbof or "
    "netvlad.", choices=MFB_AGGREGATIONS)

_DBOF = {h.name: h for h in DBOF_HPARAMS}
_NETVLAD = NetVLADModelLF.hparam_declarations()


def check_modalities(hp, feature_sizes):
    """Fusions of two modalities need two features (rgb first, audio)."""
    if hp.mfb_fusion != "video_only":
        fusion_lib.check_two_modalities(
            feature_sizes, f"mfb_fusion={hp.mfb_fusion!r} (all but "
            "video_only)")


def used_modalities(fusion):
    if fusion == "audio_only":
        return ("audio",)
    if fusion == "video_only":
        return ("rgb",)
    return ("rgb", "audio")


def head_parameter_line(hp, num_classes):
    """(intercept, slope): the head's parameters are `a + b * D` for an
    input width D (measured by building the head at D = 1 and 2)."""
    counts = []
    for width in (1, 2):
        head = base.classifier_head(hp, num_classes)
        head.build((None, width))
        counts.append(head.count_params())
    return counts[0] - (counts[1] - counts[0]), counts[1] - counts[0]


def fusion_parameter_counts(visual_size, audio_size, hp, num_classes):
    """{"mfb", "fc_concat": parameters of fusion + head, "fc_size": h}.

    MFB: `(C + 1 + M + 1) k o + head(o)`; FC-concat: `(C + 1 + M + 1) h +
    head(2 h)`; `h` is `--mfb_fc_concat_size` or the integer that makes the
    two equal most nearly.
    """
    intercept, slope = head_parameter_line(hp, num_classes)
    inputs = visual_size + audio_size + 2  # kernels + biases per unit
    width = hp.mfb_factor_k * hp.mfb_output_dim
    mfb = inputs * width + intercept + slope * hp.mfb_output_dim
    fc_size = hp.mfb_fc_concat_size
    if fc_size is None:
        fc_size = max(1, round((mfb - intercept) / (inputs + 2 * slope)))
    fc_concat = inputs * fc_size + intercept + slope * 2 * fc_size
    return {"mfb": int(mfb), "fc_concat": int(fc_concat),
            "fc_size": int(fc_size)}


def fuse(towers, hp, num_classes):
    """{"rgb": l [B, C], "audio": a [B, M]} (as used) -> fused [B, D].

    Notes `hp.mfb_parameter_counts` for mfb / fc_concat.
    """
    fusion = hp.mfb_fusion
    if fusion == "audio_only":
        return towers["audio"]
    if fusion == "video_only":
        return towers["rgb"]
    if fusion == "concat":
        return keras.layers.Concatenate(name="mfb_concat")(
            [towers["rgb"], towers["audio"]]
        )  # [B, C + M]
    counts = fusion_parameter_counts(
        towers["rgb"].shape[-1], towers["audio"].shape[-1], hp, num_classes
    )
    hp.mfb_parameter_counts = counts
    if fusion == "mfb":
        return MFBFusion(
            factor_k=hp.mfb_factor_k,
            output_dim=hp.mfb_output_dim,
            dropout=hp.mfb_dropout,
            normalization=hp.mfb_normalization,
            bias_initializer=keras.initializers.Constant(hp.mfb_bias_init),
            name="mfb",
        )(towers["rgb"], towers["audio"])  # [B, o]
    projected = []
    for name in ("rgb", "audio"):
        x = keras.layers.Dense(
            counts["fc_size"], activation="relu", name=f"{name}_fc"
        )(towers[name])  # [B, h]
        projected.append(
            keras.layers.Dropout(hp.mfb_dropout, name=f"{name}_fc_dropout")(x)
        )
    return keras.layers.Concatenate(name="fc_concat")(projected)  # [B, 2h]


def log_parameter_counts(model, hp):
    counts = getattr(hp, "mfb_parameter_counts", None)
    if counts is None:
        return
    total = model.count_params()
    own = counts[hp.mfb_fusion]
    other = "fc_concat" if hp.mfb_fusion == "mfb" else "mfb"
    logging.info(
        "%s (mfb_fusion=%s): %d parameters; with mfb_fusion=%s: %d "
        "(fusion + head: mfb %d, fc_concat %d with FC width %d).",
        type(model).__name__, hp.mfb_fusion, total, other,
        total - own + counts[other], counts["mfb"], counts["fc_concat"],
        counts["fc_size"],
    )


@register_model
class MFBModel(base.FrameLevelModel):
    """Temporal aggregation per modality, a fusion, the MoE head.

    1. L2-normalised frames (every frame-level model). With
       `mfb_aggregation` dbof or netvlad, `iterations` frames are sampled
       (`FrameSampling`, as DbofModel: `sample_random_frames`,
       `dbof_sample_at_eval`); netvlad then batch-normalises the input
       (`netvlad_add_batch_norm`, as NetVLADModelLF).
    2. Per modality (rgb = the first feature, audio = the rest), only those
       the fusion uses:
       * avgpooling: the masked mean over valid frames (eq. 3);
       * dbof: `DbofCluster(dbof_cluster_size, dbof_activation,
         dbof_add_batch_norm)` + `FramePooling(dbof_pooling_method)`;
       * netvlad: `NetVLAD(netvlad_cluster_size)` (audio: half).
    3. Fusion (`mfb_fusion`): audio_only / video_only: that vector;
       concat: `[l; a]`; fc_concat: `[drop(relu(l W_l + b_l));
       drop(relu(a W_a + b_a))]`, width matched to mfb's parameter count
       (module docstring); mfb: `MFBFusion(mfb_factor_k, mfb_output_dim,
       mfb_dropout, mfb_normalization)`.
    4. The `video_level_classifier_model` head (MoE, 2 mixtures).

    Building a model with mfb or fc_concat logs both variants' parameter
    counts.

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (MFB_AGGREGATION,) + MFB_FUSION_HPARAMS + (
        ITERATIONS,
        _DBOF["dbof_cluster_size"], _DBOF["dbof_pooling_method"],
        _DBOF["dbof_activation"], _DBOF["dbof_add_batch_norm"],
        _DBOF["sample_random_frames"], _DBOF["dbof_sample_at_eval"],
        _NETVLAD["netvlad_cluster_size"], _NETVLAD["netvlad_add_batch_norm"],
    )

    def check_hparams(self, hp, feature_sizes):
        check_modalities(hp, feature_sizes)

    def prepare_frames(self, frames, mask, inputs, hp):
        if hp.mfb_aggregation == "avgpooling":
            return frames, mask
        # DbofModel's sampling stage, for both frame-sampling aggregations.
        frames, mask = DbofModel.prepare_frames(self, frames, mask, inputs, hp)
        if hp.mfb_aggregation == "netvlad" and hp.netvlad_add_batch_norm:
            frames = slim_batch_normalization("input_bn")(frames)
        return frames, mask

    def split_towers(self, frames, feature_sizes, hp):
        wanted = used_modalities(hp.mfb_fusion)
        towers = [
            (name, x)
            for name, x in fusion_lib.split_modalities(frames, feature_sizes)
            if name in wanted
        ]
        hp.mfb_towers = [name for name, _ in towers]
        return towers

    def encode_frames(self, tower, frames, mask, hp):
        if hp.mfb_aggregation != "dbof":
            return frames, mask
        return DbofCluster(
            hp.dbof_cluster_size,
            activation=hp.dbof_activation,
            add_batch_norm=hp.dbof_add_batch_norm,
            name=f"{tower}_dbof_cluster",
        )(frames, mask=mask), mask  # [B, S, K]

    def pool_frames(self, tower, frames, mask, hp):
        if hp.mfb_aggregation == "avgpooling":
            return FramePooling("average", name=f"{tower}_avgpooling")(
                frames, mask=mask
            )  # [B, D_m]
        if hp.mfb_aggregation == "dbof":
            return FramePooling(
                hp.dbof_pooling_method, name=f"{tower}_dbof_pooling"
            )(frames, mask=mask)  # [B, K]
        return NetVLAD(
            NetVLADModelLF.netvlad_clusters(self, tower, hp),
            add_batch_norm=hp.netvlad_add_batch_norm,
            name=f"{tower}_netvlad",
        )(frames, mask=mask)  # [B, D_m * K_m]

    def fuse_towers(self, towers, hp):
        # fc_concat's width depends on the head's size, i.e. on C.
        return fuse(dict(zip(hp.mfb_towers, towers)), hp, hp.num_classes)

    def _store_config(self, num_classes, feature_sizes, max_frames, hp):
        super()._store_config(num_classes, feature_sizes, max_frames, hp)
        log_parameter_counts(self, hp)


@register_model
class MFBVideoModel(base.VideoLevelModel):
    """MFBModel's Avgpooling variants on video-level records.

    `{"video_matrix": [B, sum(feature_sizes)]}` (`mean_rgb,mean_audio`)
    -> L2 normalisation (every video-level model) -> split into rgb (first
    feature) and audio (the rest) -> the `mfb_fusion` of MFBModel -> the
    `video_level_classifier_model` head (MoE, 2 mixtures). With
    `mfb_fusion=concat` it is MoeModel.

    Inputs: {"video_matrix": [B, sum(feature_sizes)]}.
    Returns: probabilities [B, C].
    """

    HPARAMS = MFB_FUSION_HPARAMS + base.HEAD_HPARAMS

    def embed_features(self, video, feature_sizes, hp):
        check_modalities(hp, feature_sizes)
        wanted = used_modalities(hp.mfb_fusion)
        towers = {
            name: x
            for name, x in fusion_lib.split_modalities(video, feature_sizes)
            if name in wanted
        }
        return fuse(towers, hp, hp.num_classes)

    def classify(self, video, num_classes, hp):
        return base.classifier_head(hp, num_classes)(video)

    def _store_config(self, num_classes, feature_sizes, max_frames, hp):
        super()._store_config(num_classes, feature_sizes, max_frames, hp)
        log_parameter_counts(self, hp)
