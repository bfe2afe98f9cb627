"""Modality splitting and early/late fusion shared by the model families.

Modalities: the first entry of `feature_sizes` is rgb, the remaining entries
together are audio (YT8M: [1024, 128]). Models L2-normalise the concatenated
frames first (as every model does), then split them back with
`FeatureSlice`, a registered layer (a `Lambda` or raw `keras.ops` slicing is
not safe to serialise).

* `fusion="early"`: one tower over the per-frame concatenation [rgb; audio].
* `fusion="late"`: one tower per modality; the tower outputs are
  concatenated and combined by a ReLU DNN (`late_fusion_dnn`) before the
  classifier (the cross-modal paper's NV-L / TM-L baselines).
* With a single feature there is nothing to fuse: both options build one
  tower and no fusion DNN (a documented fall-back, not an error), so
  `--feature_names=rgb` keeps working with every default.
"""

import keras

from yt8m.hparams import HParam
from yt8m.layers import layer_utils
from yt8m.layers.feature_slice import FeatureSlice

FUSION_MODES = ("early", "late")

FUSION = HParam(
    "fusion", "string", None,
    "early: one tower over per-frame [rgb; audio]; late: a tower per "
    "modality combined before the classifier. Unset: the model's default "
    "(NetVLADModelLF/TransformerModel late, Bi-RNNs early).",
    choices=FUSION_MODES)
LATE_FUSION_HIDDEN_SIZE = HParam(
    "late_fusion_hidden_size", "integer", 1024,
    "Width of the ReLU layer combining the per-modality towers in late "
    "fusion (Bi-RNN, Transformer).", check="positive")


def modality_sizes(feature_sizes):
    """[rgb_size, audio_size] (audio = sum of the rest), or [size] if one."""
    if len(feature_sizes) == 1:
        return [feature_sizes[0]]
    return [feature_sizes[0], sum(feature_sizes[1:])]


def modality_names(feature_sizes):
    return ["rgb", "audio"][: len(modality_sizes(feature_sizes))]


def check_two_modalities(feature_sizes, what):
    """Refuses a single feature where `what` (a model or an argument value,
    e.g. "CrossModalNetVLAD" or "mfb_fusion='mfb'") needs rgb and audio."""
    if len(feature_sizes) < 2:
        raise ValueError(
            f"{what} needs two modalities. Invalid value for argument "
            "`feature_sizes`: expected sizes for rgb and audio (e.g. "
            f"1024,128). Received: feature_sizes={list(feature_sizes)}"
        )


def check_fusion(fusion):
    return layer_utils.check_choice("fusion", fusion, FUSION_MODES)


def split_modalities(frames, feature_sizes, prefix=""):
    """[(name, frames_of_that_modality)] from concatenated frames [.., F]."""
    sizes = modality_sizes(feature_sizes)
    if len(sizes) == 1:
        return [("rgb", frames)]
    outputs = []
    start = 0
    for name, size in zip(modality_names(feature_sizes), sizes):
        outputs.append(
            (
                name,
                FeatureSlice(start, start + size, name=f"{prefix}{name}_slice")(
                    frames
                ),
            )
        )
        start += size
    return outputs


def towers_inputs(frames, feature_sizes, fusion, prefix=""):
    """The tower inputs for `fusion`: [("all", frames)] or one per modality."""
    if fusion == "early" or len(feature_sizes) == 1:
        return [("all", frames)]
    return split_modalities(frames, feature_sizes, prefix=prefix)


def late_fusion_dnn(embeddings, hidden_size, name="late_fusion"):
    """`ReLU(concat(embeddings) W + b)` [B, hidden_size]; identity for one."""
    if len(embeddings) == 1:
        return embeddings[0]
    joined = keras.layers.Concatenate(name=f"{name}_concat")(embeddings)
    return keras.layers.Dense(
        hidden_size, activation="relu", name=f"{name}_dense"
    )(joined)
