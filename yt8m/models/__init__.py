"""Registered models (lineage: `video_level_models` + `frame_level_models`).

Importing this package registers every model: each module below applies
`@register_model`. To add a model, create `yt8m/models/<name>.py` and import
it here.
"""

from yt8m.models import base
from yt8m.models import dbof  # noqa: F401
from yt8m.models import frame_level_logistic  # noqa: F401
from yt8m.models import logistic  # noqa: F401
from yt8m.models import lstm  # noqa: F401
from yt8m.models import moe  # noqa: F401
from yt8m.models import netvlad  # noqa: F401
from yt8m.models import nextvlad  # noqa: F401
from yt8m.models import rnn_attention  # noqa: F401
from yt8m.models import transformer  # noqa: F401
from yt8m.registry import get_model_class
from yt8m.registry import list_models


def model_hparam_names(name):
    """Constructor hyperparameters of model `name` (CLI flag names).

    Excludes num_classes, feature_sizes and max_frames.
    """
    return base.hparam_names(get_model_class(name))


def build_model(name, num_classes, feature_sizes, max_frames=300, **hparams):
    """Builds registered model `name`, passing only the hparams it accepts.

    Args:
      name: upstream class name, e.g. "DbofModel".
      num_classes: C.
      feature_sizes: list of ints (e.g. [1024, 128]).
      max_frames: T for frame-level models (ignored by video-level ones).
      **hparams: any hyperparameters, e.g. all model flag values; those the
        model's constructor does not name are ignored.

    Returns:
      the Keras model.

    Raises:
      ValueError: unknown `name` (lists registered names) or a bad hparam.
    """
    cls = get_model_class(name)
    accepted = set(base.hparam_names(cls))
    kwargs = {k: v for k, v in hparams.items() if k in accepted}
    if "max_frames" in base.constructor_arguments(cls):
        kwargs["max_frames"] = max_frames
    return cls(num_classes=num_classes, feature_sizes=feature_sizes, **kwargs)


def build_model_from_spec(spec):
    """The model a `ModelSpec` (a train_dir's model_flags.json) describes."""
    return build_model(
        spec.model,
        num_classes=spec.num_classes,
        feature_sizes=spec.feature_sizes,
        max_frames=spec.max_frames,
        **spec.model_hparams,
    )


__all__ = [
    "build_model",
    "build_model_from_spec",
    "get_model_class",
    "list_models",
    "model_hparam_names",
]
