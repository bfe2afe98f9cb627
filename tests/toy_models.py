"""Toy composite models that use each model-shape mechanism (issue 8).

Imported by the binaries with `--model_modules=tests.toy_models` (a user's
own module works the same way) and by tests in-process.

* `ScaledFramesStage`: a stage (a mixin overriding `prepare_frames`) that
  multiplies the normalised frames by `toy_frame_scale`; shared by the two
  toy families below and, in tests/models/test_stages.py, inserted into
  DbofModel and NetVLADModelLF.
* `ToyPairModel`: its own objective. The input pipeline pairs each video's
  rgb with its own audio (target 1) or with the next video's audio
  (target 0, every other video); the model outputs P(pair is real) [B, 1];
  loss: binary cross-entropy; metrics: accuracy, FPR, FNR.
* `ToyGatedModel`: a frozen sub-model. Slot `pair_tower` holds a
  ToyPairModel trained in another train_dir (`--warm_start=pair_tower=DIR`);
  its output is concatenated with the pooled frames before the MoE head.
* `ToyCrossModalModel`: stands in for the cross-modal models (issue 10):
  declares the shared `correlation_tower` slot and
  `requires_correlation_tower` (False when `toy_cross_modal_mode` is
  "none"), so train.py trains a correlation tower first when none is given;
  the frozen tower's P(correlated) is concatenated with the pooled frames.
"""

import keras
import tensorflow as tf

from yt8m.hparams import HParam
from yt8m.layers.frame_pooling import FramePooling
from yt8m.models import base
from yt8m.models import correlation_tower
from yt8m.models import objectives
from yt8m.models.dbof import DbofModel
from yt8m.models.netvlad import NetVLADModelLF
from yt8m.registry import register_model

TOY_FRAME_SCALE = HParam(
    "toy_frame_scale", "float", 1.0,
    "Toy stage: factor applied to the normalised frames.")


class ScaledFramesStage:
    """Stage mixin: frames * toy_frame_scale before the family's own prep."""

    HPARAMS = (TOY_FRAME_SCALE,)

    def prepare_frames(self, frames, mask, inputs, hp):
        frames = keras.layers.Rescaling(
            hp.toy_frame_scale, name="toy_frame_scale"
        )(frames)
        return super().prepare_frames(frames, mask, inputs, hp)


class PairObjective(objectives.Objective):
    """Target: does the audio belong to the rgb's video? (0/1, [B, 1])."""

    name = "pairs"
    metric_keys = ("target",)
    display = {"accuracy": ("Acc", None)}

    def __init__(self, rgb_size):
        self.rgb_size = rgb_size

    def prepare_dataset(self, dataset, training):
        rgb_size = self.rgb_size

        def make_pairs(batch):
            video = batch["video_matrix"]  # [B, T, F]
            rgb, audio = video[..., :rgb_size], video[..., rgb_size:]
            n = tf.shape(video)[0]
            negative = tf.equal(tf.range(n) % 2, 1)  # every other video
            other = tf.roll(audio, shift=1, axis=0)  # the previous video's
            if_negative = negative[:, None, None]
            audio = tf.where(if_negative, other, audio)
            batch = dict(batch)
            batch["video_matrix"] = tf.concat([rgb, audio], axis=-1)
            batch["target"] = tf.cast(~negative, tf.float32)[:, None]
            return batch

        return dataset.map(make_pairs)

    def per_example_loss(self, batch, predictions):
        target = batch["target"]
        p = tf.clip_by_value(predictions, 1e-7, 1.0 - 1e-7)
        loss = -(target * tf.math.log(p) + (1 - target) * tf.math.log(1 - p))
        return tf.reduce_mean(loss, axis=-1)

    def training_metrics(self, batch, predictions):
        counts = objectives.BinaryEvaluator()
        return {"accuracy": counts.accumulate(batch, predictions)["accuracy"]}

    def evaluator(self, num_classes, top_k=20, taxonomy=None):
        return objectives.BinaryEvaluator(title="PairEval")


@register_model
class ToyPairModel(ScaledFramesStage, base.FrameLevelModel):
    """Masked mean per modality, ReLU layer, P(real pair) [B, 1]."""

    HPARAMS = (HParam("toy_hidden_size", "integer", 8,
                      "Toy models: hidden width.", check="positive"),)
    default_fusion = "late"

    def check_hparams(self, hp, feature_sizes):
        if len(feature_sizes) < 2:
            raise ValueError("ToyPairModel needs rgb and audio features.")

    def pool_frames(self, tower, frames, mask, hp):
        return FramePooling("average", name=f"{tower}_mean")(frames, mask=mask)

    def fuse_towers(self, towers, hp):
        joined = keras.layers.Concatenate(name="pair_concat")(towers)
        return keras.layers.Dense(
            hp.toy_hidden_size, activation="relu", name="pair_hidden"
        )(joined)

    def classify(self, video, num_classes, hp):
        return keras.layers.Dense(1, activation="sigmoid", name="pair_prob")(
            video
        )

    def objective(self, label_loss="CrossEntropyLoss", segment_labels=False):
        return PairObjective(self.feature_sizes[0])


@register_model
class ToyGatedModel(ScaledFramesStage, base.FrameLevelModel):
    """Pooled frames + a frozen ToyPairModel's output -> MoE head."""

    HPARAMS = (
        HParam("pair_tower", "submodel", None,
               "A trained ToyPairModel (set by --warm_start=pair_tower=DIR)."),
        HParam("freeze_pair_tower", "boolean", True,
               "Keep the pair tower's weights fixed."),
    )

    def check_hparams(self, hp, feature_sizes):
        if not hp.pair_tower:
            raise ValueError(
                "ToyGatedModel needs a trained pair tower: pass "
                "--warm_start=pair_tower=DIR (a ToyPairModel train_dir)."
            )

    def pool_frames(self, tower, frames, mask, hp):
        return FramePooling("average", name="frame_mean")(frames, mask=mask)

    def embed(self, video, inputs, hp):
        tower = base.build_submodel(
            hp.pair_tower, "pair_tower", trainable=not hp.freeze_pair_tower
        )
        pair = tower(inputs)  # [B, 1]
        return keras.layers.Concatenate(name="with_pair")([video, pair])


@register_model
class ToyScaledDbofModel(ScaledFramesStage, DbofModel):
    """DbofModel with the toy stage inserted."""


@register_model
class ToyScaledNetVLADModel(ScaledFramesStage, NetVLADModelLF):
    """NetVLADModelLF with the toy stage inserted."""


@register_model
class ToyCrossModalModel(base.FrameLevelModel):
    """Pooled frames + a frozen correlation tower's output -> the head."""

    HPARAMS = (
        correlation_tower.CORRELATION_TOWER,
        HParam("toy_cross_modal_mode", "string", "concat",
               "Toy cross-modal model: none (no tower) or concat.",
               choices=("none", "concat")),
    )

    @classmethod
    def requires_correlation_tower(cls, model_hparams):
        return model_hparams.get("toy_cross_modal_mode", "concat") != "none"

    def check_hparams(self, hp, feature_sizes):
        if hp.toy_cross_modal_mode != "none" and not hp.correlation_tower:
            raise ValueError(
                "ToyCrossModalModel needs a correlation tower: pass "
                "--correlation_tower_dir=DIR or let train.py train one."
            )

    def pool_frames(self, tower, frames, mask, hp):
        return FramePooling("average", name="frame_mean")(frames, mask=mask)

    def embed(self, video, inputs, hp):
        if hp.toy_cross_modal_mode == "none":
            return video
        tower = correlation_tower.build_frozen_tower(hp.correlation_tower)
        return keras.layers.Concatenate(name="with_correlation")(
            [video, tower(inputs)])
