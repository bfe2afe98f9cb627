"""Video-level classifier heads (lineage: `video_level_models`).

`build_classifier("MoeModel", num_classes, moe_num_mixtures=4)` builds a
head by its upstream class name, taking hyperparameters named as the upstream
CLI flags. Every frame-level model uses it for
`--video_level_classifier_model`.
"""

from yt8m.classifiers.logistic import LogisticClassifier
from yt8m.classifiers.moe import MoeClassifier
from yt8m.hparams import HParam
from yt8m.hparams import declare

# The head's hyperparameters, declared once for every model (the video-level
# LogisticModel / MoeModel and the head of every frame-level model).
VIDEO_LEVEL_CLASSIFIER_MODEL = HParam(
    "video_level_classifier_model", "string", "MoeModel",
    "Classifier head of frame-level models: MoeModel or LogisticModel.")
MOE_NUM_MIXTURES = HParam(
    "moe_num_mixtures", "integer", 2,
    "Number of MoE mixtures (excluding the dummy 'expert' that always "
    "predicts 0).", check="positive")
MOE_L2 = HParam(
    "moe_l2", "float", 1e-8, "L2 penalty (slim scale) on the MoE weights.",
    check="non_negative")
L2_PENALTY = HParam(
    "l2_penalty", "float", 1e-8,
    "L2 penalty (slim scale) on LogisticModel weights.", check="non_negative")
HEAD_HPARAMS = declare(
    VIDEO_LEVEL_CLASSIFIER_MODEL, MOE_NUM_MIXTURES, MOE_L2, L2_PENALTY
)

# upstream name -> (layer class, {hparam name: layer argument}, (HParam, ...))
_CLASSIFIERS = {}


def register_classifier(name, layer_class, flag_to_argument, hparams):
    """Registers a head under an upstream-style name.

    Args:
      name: the `--video_level_classifier_model` value, e.g. "MoeModel".
      layer_class: a Keras layer class taking `num_classes` first.
      flag_to_argument: maps hyperparameter (flag) names to `layer_class`
        arguments.
      hparams: the `HParam` declarations of those names.
    """
    if name in _CLASSIFIERS:
        raise ValueError(f"Classifier {name!r} is already registered.")
    _CLASSIFIERS[name] = (layer_class, dict(flag_to_argument), tuple(hparams))


def list_classifiers():
    """Registered classifier names, sorted."""
    return sorted(_CLASSIFIERS)


def classifier_hparam_defaults():
    """{flag name: default} over every registered classifier."""
    defaults = {}
    for _, _, hparams in _CLASSIFIERS.values():
        defaults.update({h.name: h.default for h in hparams})
    return defaults


def build_classifier(name, num_classes, layer_name="classifier", **hparams):
    """Builds the head registered as `name` ("LogisticModel", "MoeModel").

    Args:
      name: upstream class name of the head.
      num_classes: C.
      layer_name: Keras name of the returned layer.
      **hparams: CLI-named hyperparameters of any registered head (e.g.
        `moe_num_mixtures`, `moe_l2`, `l2_penalty`); those the chosen head
        does not use are ignored, unknown names raise.

    Returns:
      a Keras layer mapping [B, D] to probabilities [B, C].

    Raises:
      ValueError: unknown `name` (the message lists the registered names) or
        an hparam no registered head knows.
    """
    if name not in _CLASSIFIERS:
        raise ValueError(
            "Invalid value for argument `video_level_classifier_model`: "
            f"unknown classifier {name!r}. Registered classifiers: "
            f"{list_classifiers()}."
        )
    known = classifier_hparam_defaults()
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown classifier hyperparameters {unknown}. Known: "
            f"{sorted(known)}."
        )
    layer_class, flag_to_argument, _ = _CLASSIFIERS[name]
    defaults = classifier_hparam_defaults()
    arguments = {
        argument: hparams.get(flag, defaults[flag])
        for flag, argument in flag_to_argument.items()
    }
    return layer_class(num_classes, name=layer_name, **arguments)


register_classifier(
    "LogisticModel",
    LogisticClassifier,
    {"l2_penalty": "l2_penalty"},
    (L2_PENALTY,),
)
register_classifier(
    "MoeModel",
    MoeClassifier,
    {"moe_num_mixtures": "num_mixtures", "moe_l2": "l2_penalty"},
    (MOE_NUM_MIXTURES, MOE_L2),
)

__all__ = [
    "HEAD_HPARAMS",
    "L2_PENALTY",
    "LogisticClassifier",
    "MOE_L2",
    "MOE_NUM_MIXTURES",
    "MoeClassifier",
    "build_classifier",
    "classifier_hparam_defaults",
    "list_classifiers",
    "register_classifier",
]
