"""A toy composite model uses each model-shape mechanism through the binaries.

tests/toy_models.py (imported by the binaries via --model_modules):
ToyPairModel owns its objective (pairs built in the input pipeline),
ToyGatedModel holds a frozen ToyPairModel warm-started from another
train_dir, and both share the ScaledFramesStage stage.
"""

import csv
import json
import os
import shutil

import numpy as np
import pytest

from tests.training import helpers

COMMON = [
    "--model_modules=tests.toy_models", "--frame_features",
    "--feature_names=rgb,audio",
    f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
    f"--num_classes={helpers.NUM_CLASSES}",
    f"--max_frames={helpers.MAX_FRAMES}",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("composite")
    frame, _ = helpers.write_frame_and_video_shards(tmp, num_videos=16)
    return tmp, frame


def _weights_of_checkpoint(train_dir, layer=None):
    """A train_dir's latest weights, rebuilt in-process (toys imported)."""
    import tests.toy_models  # noqa: F401
    from yt8m import config as config_lib
    from yt8m import models
    from yt8m.training import checkpoints

    spec = config_lib.read_model_flags(train_dir)
    model = models.build_model_from_spec(spec)
    checkpoints.restore_model(model, checkpoints.latest_checkpoint(train_dir))
    if layer:
        model = model.get_layer(layer)
    return model.get_weights()


def test_own_objective_frozen_submodel_and_shared_stage(data):
    tmp, frame = data
    tower_dir = str(tmp / "tower")
    # 1. Its own objective: a pair target built in the input pipeline.
    proc = helpers.run_binary(
        "train.py", f"--train_data_pattern={frame}",
        f"--train_dir={tower_dir}", "--model=ToyPairModel", *COMMON,
        "--toy_frame_scale=2.0", "--batch_size=8", "--max_steps=20",
        "--base_learning_rate=0.05", "--log_every_steps=5", "--num_epochs=50",
        "--export_model_steps=0",
    )
    assert "Acc:" in proc.stderr  # the objective's own training metric
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={tower_dir}", f"--eval_data_pattern={frame}",
        "--run_once", "--batch_size=8",
    )
    assert "PairEval at step 20" in proc.stdout
    results = json.load(open(os.path.join(tower_dir, "eval",
                                          "eval_results.json")))
    assert set(results) == {"accuracy", "fpr", "fnr", "num_examples"}
    assert results["num_examples"] == 16
    # Every other video of a batch gets another video's audio: with eval
    # batches of 8, half the 16 pairs are negatives. Both error rates are
    # computed from those counts; accuracy ties them together.
    assert results["accuracy"] == pytest.approx(
        1 - 0.5 * (results["fpr"] + results["fnr"]))
    tower_weights = _weights_of_checkpoint(tower_dir)

    # 2. A frozen sub-model initialised from that train_dir.
    gated_dir = str(tmp / "gated")
    helpers.run_binary(
        "train.py", f"--train_data_pattern={frame}",
        f"--train_dir={gated_dir}", "--model=ToyGatedModel", *COMMON,
        f"--warm_start=pair_tower={tower_dir}", "--batch_size=8",
        "--max_steps=6", "--export_model_steps=0",
    )
    flags = json.load(open(os.path.join(gated_dir, "model_flags.json")))
    assert flags["model_modules"] == ["tests.toy_models"]
    assert flags["model_config"]["pair_tower"]["model"] == "ToyPairModel"
    assert flags["model_config"]["pair_tower"]["model_config"][
        "toy_frame_scale"] == 2.0
    warm = json.load(open(os.path.join(gated_dir, "warm_start.json")))
    assert warm["pair_tower"]["trainable"] is False
    # Loaded (not random) and frozen (unchanged after 6 steps).
    after = _weights_of_checkpoint(gated_dir, layer="pair_tower")
    assert len(after) == len(tower_weights)
    for a, b in zip(after, tower_weights):
        np.testing.assert_array_equal(a, b)
    gated_weights = _weights_of_checkpoint(gated_dir)

    # 3. eval.py, inference.py and the .tgz without the tower's train_dir.
    shutil.move(tower_dir, str(tmp / "tower_moved"))
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={gated_dir}", f"--eval_data_pattern={frame}",
        "--run_once", "--batch_size=8",
    )
    assert "GAP" in proc.stdout
    out = tmp / "gated.csv"
    tgz = tmp / "gated.tgz"
    helpers.run_binary(
        "inference.py", f"--train_dir={gated_dir}",
        f"--input_data_pattern={frame}", f"--output_file={out}",
        f"--output_model_tgz={tgz}", "--top_k=3",
    )
    rows = list(csv.reader(open(out, newline="")))
    assert len(rows) == 17 and all(len(r[1].split()) == 6 for r in rows[1:])
    out_tgz = tmp / "gated_tgz.csv"
    helpers.run_binary(
        "inference.py", f"--input_model_tgz={tgz}",
        f"--untar_model_dir={tmp / 'untar'}",
        f"--input_data_pattern={frame}", f"--output_file={out_tgz}",
        "--top_k=3",
    )
    assert open(out_tgz).read() == open(out).read()
    # Resuming without --warm_start keeps the stored sub-model.
    helpers.run_binary(
        "train.py", f"--train_data_pattern={frame}",
        f"--train_dir={gated_dir}", "--model=ToyGatedModel", *COMMON,
        "--batch_size=8", "--max_steps=8", "--export_model_steps=0",
    )
    resumed = _weights_of_checkpoint(gated_dir)
    assert len(resumed) == len(gated_weights)
