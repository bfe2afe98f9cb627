"""Every weight of every registered model is in train.py's checkpoints.

tf.train.Checkpoint follows a Keras layer's attributes but not the layers
or variables it keeps in a list or dict attribute: such weights would be
silently left out of checkpoints (resume, eval.py, inference.py), while
`.keras` files, which Keras saves by layer path, still hold them.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.training.test_all_models import PACKAGE_MODELS
from tests.training.test_all_models import TINY
from yt8m import models
from yt8m.models.cross_modal import correlation_tower_spec


@pytest.mark.parametrize("name", PACKAGE_MODELS)
def test_a_checkpoint_restores_every_weight(name, tmp_path):
    cls = models.get_model_class(name)
    hparams = {k: v for k, v in TINY.items()
               if k in models.model_hparam_names(name)}
    if getattr(cls, "requires_correlation_tower", lambda h: False)(hparams):
        hparams["correlation_tower"] = correlation_tower_spec(
            ["rgb", "audio"], [8, 4], 6, max_frames=10, tower_hidden_size=4,
            tower_layers=1)
    saved = models.build_model(name, 6, [8, 4], max_frames=10, **hparams)
    fresh = models.build_model(name, 6, [8, 4], max_frames=10, **hparams)
    path = os.path.join(str(tmp_path), "ckpt")
    tf.train.Checkpoint(model=saved).write(path)
    tf.train.Checkpoint(model=fresh).read(path).assert_existing_objects_matched()
    missing = [a.path for a, b in zip(saved.weights, fresh.weights)
               if not np.array_equal(np.asarray(a), np.asarray(b))]
    assert not missing, f"not in the checkpoint: {missing}"
