"""The frozen correlation tower of the cross-modal models: given or trained.

A cross-modal model declares the sub-model slot `correlation_tower`
(`yt8m.models.correlation_tower.CORRELATION_TOWER`) and may define the
classmethod `requires_correlation_tower(model_hparams: dict) -> bool`
(e.g. False when `cross_modal_mode == "none"`; without the classmethod a
declared slot means "required"). train.py then:

* `--correlation_tower_dir=DIR` is shorthand for
  `--warm_start=correlation_tower=DIR` (`add_tower_dir`);
* when the model requires a tower and none is given (no flag, and not
  resuming a train_dir whose model_flags.json already holds one),
  `ensure_correlation_tower` first trains a `CorrelationTower` (frame-level
  data) or `VideoCorrelationTower` (video-level) into
  `train_dir/correlation_tower`, with the main run's data pattern, features,
  max_frames, num_classes, batch size and optimizer settings, for
  `--correlation_tower_steps` steps and the tower hyperparameter flags
  (`--taxonomy_file`, `--negative_weight`, ...); then the main model is
  warm-started from it (frozen: `build_frozen_tower`).

Resuming: the tower's spec is in the main train_dir's model_flags.json and
its weights in the main checkpoints, so a resumed run neither retrains it
nor needs `train_dir/correlation_tower`. A run interrupted while training
the tower resumes the tower from its own checkpoints (a finished tower runs
zero steps). `start_new_model` removes the train_dir, tower included, and
trains a new one.
"""

import dataclasses
import os
import shutil

from absl import logging

from yt8m import config as config_lib
from yt8m import models as models_lib

SLOT = "correlation_tower"
TOWER_SUBDIR = "correlation_tower"


def tower_model_for(frame_features):
    """The tower model for frame-level or video-level data."""
    return "CorrelationTower" if frame_features else "VideoCorrelationTower"


def requires_tower(model_name, model_hparams):
    """Does model `model_name` with these hparams need a correlation tower?"""
    cls = models_lib.get_model_class(model_name)
    declaration = cls.hparam_declarations().get(SLOT)
    if declaration is None or declaration.kind != "submodel":
        return False
    decide = getattr(cls, "requires_correlation_tower", None)
    if decide is None:
        return True
    return bool(decide(dict(model_hparams)))


def add_tower_dir(warm_start, correlation_tower_dir):
    """`warm_start` ({slot: dir}) with `--correlation_tower_dir` added.

    Raises:
      ValueError: `--warm_start=correlation_tower=...` names another source.
    """
    if not correlation_tower_dir:
        return dict(warm_start)
    given = warm_start.get(SLOT)
    if given and (os.path.abspath(given)
                  != os.path.abspath(correlation_tower_dir)):
        raise ValueError(
            "Invalid value for flag `--correlation_tower_dir`: expected the "
            f"same source as --warm_start={SLOT}=... (or only one of the "
            f"two). Received: --correlation_tower_dir={correlation_tower_dir}"
            f" and --warm_start={SLOT}={given}"
        )
    out = dict(warm_start)
    out[SLOT] = correlation_tower_dir
    return out


def needs_training(spec, warm_start):
    """True when the model needs a tower and neither flags nor the stored
    model_flags.json (already merged into `spec` by
    `warm_start.add_submodel_specs`) provide one."""
    return (requires_tower(spec.model, spec.model_hparams)
            and SLOT not in warm_start
            and not spec.model_hparams.get(SLOT))


def tower_train_config(cfg, tower_hparams=None, steps=1000):
    """The `TrainConfig` of the tower trained for main run `cfg`."""
    if cfg.segment_labels:
        raise ValueError(
            "train.py cannot train a correlation tower in segment mode: "
            "expected --segment_labels unset, or a trained tower via "
            "--correlation_tower_dir=DIR. Received: --segment_labels"
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(
            "Invalid value for flag `--correlation_tower_steps`: expected a "
            f"positive integer. Received: {steps!r}"
        )
    spec = cfg.spec
    tower_spec = config_lib.ModelSpec(
        model=tower_model_for(spec.frame_features),
        feature_names=list(spec.feature_names),
        feature_sizes=list(spec.feature_sizes),
        frame_features=spec.frame_features,
        label_loss=spec.label_loss,
        num_classes=spec.num_classes,
        max_frames=spec.max_frames,
        model_hparams=dict(tower_hparams or {}),
    )
    return dataclasses.replace(
        cfg,
        train_dir=os.path.join(cfg.train_dir, TOWER_SUBDIR),
        spec=tower_spec,
        max_steps=int(steps),
        start_new_model=False,
        export_model_steps=0,  # warm start reads the latest checkpoint
        warm_start={},
    )


def ensure_correlation_tower(cfg, tower_hparams=None, steps=1000):
    """`cfg`, warm-starting a tower trained first when the model needs one.

    Args:
      cfg: the main run's `TrainConfig` (after `add_submodel_specs`).
      tower_hparams: the tower's hyperparameters (train.py: the tower
        model's flags), e.g. {"taxonomy_file": ..., "negative_weight": 2}.
      steps: the tower's step budget (`--correlation_tower_steps`).

    Returns:
      `cfg` unchanged, or a copy whose spec holds the trained tower and
      whose `warm_start` loads it.
    """
    if not needs_training(cfg.spec, cfg.warm_start):
        return cfg
    tower_hparams = dict(tower_hparams or {})
    if (not tower_hparams.get("taxonomy_file")
            and tower_hparams.get("tower_negatives", "category")
            == "category"):
        # The one-line command (no --taxonomy_file) must work on its own:
        # fall back to label-disjoint negatives, saying so. Training a
        # CorrelationTower directly without a taxonomy stays an error.
        logging.warning(
            "Correlation tower: no --taxonomy_file, so its negatives pair "
            "videos that share no label (--tower_negatives=labels). Pass "
            "--taxonomy_file=vocabulary.csv for the paper's negatives "
            "(videos sharing no top-level category).")
        tower_hparams["tower_negatives"] = "labels"
    tower_cfg = tower_train_config(cfg, tower_hparams, steps)
    if cfg.start_new_model and os.path.isdir(cfg.train_dir):
        # The main loop would remove the train_dir after the tower is in it.
        logging.info("Removing %s (--start_new_model).", cfg.train_dir)
        shutil.rmtree(cfg.train_dir)
    cfg = dataclasses.replace(cfg, start_new_model=False)
    logging.info(
        "Correlation tower: %s needs one and none was given "
        "(--correlation_tower_dir); training a %s into %s for up to %d "
        "steps (--correlation_tower_steps) first.",
        cfg.spec.model, tower_cfg.spec.model, tower_cfg.train_dir, steps)
    from yt8m.training import loop
    from yt8m.training import warm_start as warm_start_lib

    result = loop.train(tower_cfg)
    logging.info(
        "Correlation tower: trained to step %d (%s) in %s; training %s "
        "with it frozen.", result["step"], result["stopped_by"],
        tower_cfg.train_dir, cfg.spec.model)
    spec = dataclasses.replace(cfg.spec,
                               model_hparams=dict(cfg.spec.model_hparams))
    warm = dict(cfg.warm_start)
    warm[SLOT] = tower_cfg.train_dir
    warm_start_lib.add_submodel_specs(spec, {SLOT: tower_cfg.train_dir})
    return dataclasses.replace(cfg, spec=spec, warm_start=warm)
