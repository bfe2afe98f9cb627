"""Model registry keyed by the upstream class names (`--model=DbofModel`).

Registration is explicit (a decorator), unlike the starter code's `getattr`
over modules, so a typo gets an error listing every registered name instead
of an `AttributeError`. Importing `yt8m.models` registers all models.
"""

import keras

_MODELS = {}


def register_model(cls):
    """Class decorator: registers `cls` under `cls.__name__`.

    Also registers it as Keras-serializable (package "yt8m"), so `.keras`
    files load without `custom_objects`.

    Raises:
      ValueError: if the name is already registered, or if the class
        declares a hyperparameter name that another registered model
        declares differently (declare it once and import it).
    """
    name = cls.__name__
    if name in _MODELS:
        raise ValueError(f"Model {name!r} is already registered.")
    # One declaration per hyperparameter name across all models.
    from yt8m import hparams

    hparams.merge(
        [m.hparam_declarations().values() for m in _MODELS.values()]
        + [cls.hparam_declarations().values()],
        owner=f"register_model({name})",
    )
    cls = keras.saving.register_keras_serializable(package="yt8m")(cls)
    _MODELS[name] = cls
    return cls


def get_model_class(name):
    """The model class registered as `name`.

    Raises:
      ValueError: unknown name; the message lists the registered names.
    """
    if name not in _MODELS:
        raise ValueError(
            f"Invalid value for argument `model`: unknown model {name!r}. "
            f"Registered models: {sorted(list_models())}. Is its module "
            "imported in yt8m/models/__init__.py?"
        )
    return _MODELS[name]


def list_models():
    """Registered model names, sorted."""
    return sorted(_MODELS)
