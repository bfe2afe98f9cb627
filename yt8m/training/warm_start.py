"""Sub-model warm start: a model's nested model initialised from another run.

A model declares a sub-model slot as an `HParam` of kind "submodel" and
builds it with `yt8m.models.base.build_submodel` (frozen or trainable, as the
model decides, usually by a boolean hyperparameter of its own). Then

    train.py --model=M --warm_start=SLOT=/path/to/other/train_dir ...

1. reads `/path/to/other/train_dir/model_flags.json` and stores that dict
   as the SLOT hyperparameter, so this train_dir's model_flags.json holds
   the sub-model's architecture (`add_submodel_specs`);
2. builds the model, and only when training starts fresh (no checkpoint in
   this train_dir) copies the other run's weights into the sub-model, from
   its latest checkpoint or else its `inference_model/inference_model.keras`
   (`apply`), and records the source in `train_dir/warm_start.json`.

From then on the sub-model's weights are part of this model's checkpoints,
`.keras` files, SavedModel and `.tgz`: eval.py, inference.py and the export
rebuild the same model from model_flags.json without the other train_dir.
Resuming without `--warm_start` keeps the stored sub-model architecture.
"""

import json
import os

import keras
from absl import logging

from yt8m import config as config_lib
from yt8m import models as models_lib
from yt8m.training import checkpoints

WARM_START_FILE = "warm_start.json"


def parse_warm_start_flags(values):
    """{slot: path} from `--warm_start` values `SLOT=PATH`."""
    out = {}
    for value in values or []:
        slot, sep, path = str(value).partition("=")
        slot, path = slot.strip(), path.strip()
        if not sep or not slot or not path:
            raise ValueError(
                "Invalid value for flag `--warm_start`: expected SLOT=DIR "
                f"(e.g. correlation_tower=/tmp/tower). Received: {value!r}"
            )
        if slot in out:
            raise ValueError(
                f"Invalid value for flag `--warm_start`: slot {slot!r} is "
                "given twice."
            )
        out[slot] = path
    return out


def submodel_slots(model_name):
    """Names of the "submodel" hyperparameters of model `model_name`."""
    declarations = models_lib.get_model_class(model_name).hparam_declarations()
    return [n for n, h in declarations.items() if h.kind == "submodel"]


def add_submodel_specs(spec, warm_start, train_dir="", start_new_model=False):
    """Puts each warm-start source's model_flags dict into `spec`.

    Slots not given keep the value stored in `train_dir/model_flags.json`
    when resuming, so a resumed run needs no `--warm_start`.

    Raises:
      ValueError: a slot the model does not declare.
      FileNotFoundError: a source without model_flags.json.
    """
    slots = submodel_slots(spec.model)
    for slot, path in warm_start.items():
        if slot not in slots:
            raise ValueError(
                f"Invalid value for flag `--warm_start`: {spec.model} has no "
                f"sub-model slot {slot!r}. Its slots: {slots or 'none'}."
            )
        source = config_lib.read_model_flags(_source_dir(path))
        spec.model_hparams[slot] = source.to_model_flags()
    stored_path = config_lib.model_flags_path(train_dir) if train_dir else ""
    if start_new_model or not stored_path or not os.path.exists(stored_path):
        return spec
    stored = config_lib.read_model_flags(train_dir)
    for slot in slots:
        if slot not in warm_start and stored.model_hparams.get(slot):
            spec.model_hparams[slot] = stored.model_hparams[slot]
    return spec


def _source_dir(path):
    if path.endswith(".keras"):
        # train_dir/inference_model/inference_model.keras -> train_dir
        return os.path.dirname(os.path.dirname(os.path.abspath(path)))
    return path


def load_source_model(path):
    """(model, description) of a warm-start source (train_dir or .keras)."""
    directory = _source_dir(path)
    if path.endswith(".keras"):
        return keras.models.load_model(path), path
    spec = config_lib.read_model_flags(directory)
    latest = checkpoints.latest_checkpoint(directory)
    if latest:
        model = models_lib.build_model_from_spec(spec)
        checkpoints.restore_model(model, latest)
        return model, latest
    keras_path = os.path.join(
        directory, "inference_model", "inference_model.keras"
    )
    if os.path.exists(keras_path):
        return keras.models.load_model(keras_path), keras_path
    raise FileNotFoundError(
        f"--warm_start: no checkpoint and no {keras_path} in {directory}. "
        "Train that model first (train.py --train_dir=" + directory + ")."
    )


def apply(model, warm_start, train_dir=None):
    """Copies each source's weights into `model`'s sub-model (fresh runs).

    Returns {slot: what was loaded}; writes `train_dir/warm_start.json`.

    Raises:
      ValueError: the source's weights do not fit the sub-model.
    """
    loaded = {}
    for slot, path in warm_start.items():
        target = model.get_layer(slot)
        source, description = load_source_model(path)
        weights = source.get_weights()
        shapes = [tuple(w.shape) for w in weights]
        wanted = [tuple(w.shape) for w in target.get_weights()]
        if shapes != wanted:
            raise ValueError(
                f"--warm_start={slot}={path}: the source's weights "
                f"{shapes[:4]}... do not fit sub-model {slot!r} "
                f"{wanted[:4]}... ({len(shapes)} vs {len(wanted)} arrays)."
            )
        target.set_weights(weights)
        loaded[slot] = {"from": os.path.abspath(path), "loaded": description,
                        "trainable": bool(target.trainable)}
        logging.info("Warm start: sub-model %r from %s (%s).", slot,
                     description, "trainable" if target.trainable
                     else "frozen")
    if train_dir and loaded:
        config_lib.atomic_write_text(
            os.path.join(train_dir, WARM_START_FILE),
            json.dumps(loaded, indent=2) + "\n",
        )
    return loaded
