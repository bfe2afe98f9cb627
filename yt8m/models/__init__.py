"""Registered models (lineage: `video_level_models` + `frame_level_models`).

Importing this package registers every model: each module below applies
`@register_model`. To add a model, create `yt8m/models/<name>.py` and import
it here.
"""

from yt8m.models import base
from yt8m.models import correlation_tower  # noqa: F401
from yt8m.models import cross_modal  # noqa: F401
from yt8m.models import dbof  # noqa: F401
from yt8m.models import frame_level_logistic  # noqa: F401
from yt8m.models import logistic  # noqa: F401
from yt8m.models import lstm  # noqa: F401
from yt8m.models import mfb  # noqa: F401
from yt8m.models import moe  # noqa: F401
from yt8m.models import netvlad  # noqa: F401
from yt8m.models import nextvlad  # noqa: F401
from yt8m.models import rnn_attention  # noqa: F401
from yt8m.models import temporal_coherence  # noqa: F401
from yt8m.models import transformer  # noqa: F401
from yt8m.registry import get_model_class
from yt8m.registry import list_models


def model_hparam_names(name):
    """Declared hyperparameters of model `name` (also its flag names).

    Excludes num_classes, feature_sizes and max_frames.
    """
    return base.hparam_names(get_model_class(name))


def all_hparam_declarations():
    """{name: HParam} over every registered model (one declaration each)."""
    from yt8m import hparams

    return hparams.merge(
        [get_model_class(n).hparam_declarations().values()
         for n in list_models()],
        owner="yt8m.models",
    )


def build_model(model_name, num_classes, feature_sizes, max_frames=300,
                **hparams):
    """Builds registered model `model_name` with the given hyperparameters.

    Args:
      model_name: upstream class name, e.g. "DbofModel".
      num_classes: C.
      feature_sizes: list of ints (e.g. [1024, 128]).
      max_frames: T for frame-level models (ignored by video-level ones).
      **hparams: the model's declared hyperparameters (missing ones take
        their defaults). Keras arguments (`name`) pass through.

    Returns:
      the Keras model.

    Raises:
      ValueError: unknown `model_name` (lists registered names), a key the model
        does not declare (a stale or renamed model_flags.json key: named in
        the message), or a bad value.
    """
    cls = get_model_class(model_name)
    kwargs = dict(hparams)
    if cls.frame_level:
        kwargs["max_frames"] = max_frames
    return cls(num_classes=num_classes, feature_sizes=feature_sizes, **kwargs)


def build_model_from_spec(spec, **overrides):
    """The model a `ModelSpec` (a train_dir's model_flags.json) describes.

    `overrides` replace spec fields for this build (e.g. `max_frames=5` for
    a segment model). A `model_config` key the model does not declare (a
    stale or renamed key) is refused, naming the key and the file.
    """
    spec.import_model_modules()
    max_frames = overrides.pop("max_frames", spec.max_frames)
    if overrides:
        raise TypeError(f"unexpected overrides {sorted(overrides)}")
    try:
        return build_model(
            spec.model,
            num_classes=spec.num_classes,
            feature_sizes=spec.feature_sizes,
            max_frames=max_frames,
            **spec.model_hparams,
        )
    except ValueError as e:
        if spec.source and "has no hyperparameter" in str(e):
            raise ValueError(
                f"{spec.source}: model_config does not match the model: {e} "
                "Remove or rename the key (it may come from an older "
                "version), or retrain with --start_new_model."
            ) from e
        raise


__all__ = [
    "build_model",
    "build_model_from_spec",
    "all_hparam_declarations",
    "get_model_class",
    "list_models",
    "model_hparam_names",
]
