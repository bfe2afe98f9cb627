"""train.py trains a correlation tower first for a cross-modal model.

The headline command, `train.py --model=CrossModalNetVLAD ...` with no
tower given (tiny sizes). Through the real binaries: the tower is
trained into train_dir/correlation_tower, frozen inside the main model,
evaluated by eval.py (accuracy / FPR / FNR), and the main model's eval,
inference and .tgz work after the tower's directory is moved away; a resumed
run does not retrain it; `--correlation_tower_dir` uses a given tower.
"""

import csv
import json
import os
import shutil

import numpy as np

from tests.training import helpers

COMMON = [
    "--model_modules=tests.toy_models", "--frame_features",
    "--feature_names=rgb,audio",
    f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
    f"--num_classes={helpers.NUM_CLASSES}",
    f"--max_frames={helpers.MAX_FRAMES}", "--batch_size=8",
    "--export_model_steps=0", "--num_epochs=50", "--num_readers=1",
]
TOWER_FLAGS = ["--tower_hidden_size=4", "--tower_layers=1"]
TRAINING_TOWER = "Correlation tower: CrossModalNetVLAD needs one"
MODEL = ["--model=CrossModalNetVLAD", "--netvlad_cluster_size=4",
         "--netvlad_hidden_size=8", "--iterations=4"]


def _taxonomy(directory):
    # Classes 0,1 -> A; 2,3 -> B; 4,5 -> C (helpers: labels {k, k + 1}).
    path = os.path.join(directory, "taxonomy.csv")
    with open(path, "w") as f:
        f.write("Index,Name,Path\n")
        for i in range(helpers.NUM_CLASSES):
            f.write(f"{i},c{i},{'ABC'[i // 2]}:c{i}\n")
    return path


def _weights(train_dir, layer=None):
    import tests.toy_models  # noqa: F401
    from yt8m import config as config_lib
    from yt8m import models
    from yt8m.training import checkpoints

    model = models.build_model_from_spec(config_lib.read_model_flags(
        train_dir))
    checkpoints.restore_model(model, checkpoints.latest_checkpoint(train_dir))
    return (model.get_layer(layer) if layer else model).get_weights()


def _assert_saved_model_serves(path, pattern):
    import glob

    import tensorflow as tf

    served = tf.saved_model.load(path).signatures["serving_default"]
    records = [r.numpy() for f in sorted(glob.glob(pattern))
               for r in tf.data.TFRecordDataset(f)]
    out = served(example_bytes=tf.constant(records))
    assert out["class_indexes"].shape[0] == len(records) == 16
    scores = out["predictions"].numpy()
    assert np.all(np.diff(scores, axis=1) <= 0) and np.all(scores >= 0)


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_train_py_trains_a_tower_first_and_freezes_it(tmp_path):
    frame, _ = helpers.write_frame_and_video_shards(tmp_path, num_videos=16)
    taxonomy = _taxonomy(tmp_path)
    main_dir = str(tmp_path / "main")
    tower_dir = os.path.join(main_dir, "correlation_tower")
    data = [f"--train_data_pattern={frame}", *COMMON]

    # 1. No tower given: one is trained first (logged), then frozen.
    proc = helpers.run_binary(
        "train.py", *data, f"--train_dir={main_dir}",
        *MODEL, f"--taxonomy_file={taxonomy}",
        *TOWER_FLAGS, "--negative_weight=3", "--correlation_tower_steps=4",
        "--max_steps=3", "--export_model_steps=3",
    )
    assert TRAINING_TOWER in proc.stderr
    assert "--correlation_tower_steps" in proc.stderr
    tower_flags = json.load(open(os.path.join(tower_dir, "model_flags.json")))
    assert tower_flags["model"] == "CorrelationTower"
    assert tower_flags["model_config"]["negative_weight"] == 3.0
    assert tower_flags["max_frames"] == helpers.MAX_FRAMES
    assert os.path.exists(os.path.join(tower_dir, "model.ckpt-4.index"))
    flags = json.load(open(os.path.join(main_dir, "model_flags.json")))
    assert flags["model_config"]["correlation_tower"]["model"] == (
        "CorrelationTower")
    warm = json.load(open(os.path.join(main_dir, "warm_start.json")))
    assert warm["correlation_tower"]["trainable"] is False
    assert warm["correlation_tower"]["loaded"].endswith("model.ckpt-4")
    tower_weights = _weights(tower_dir)
    _assert_same(_weights(main_dir, "correlation_tower"), tower_weights)
    # The periodic SavedModel export serves the model, tower included.
    _assert_saved_model_serves(os.path.join(main_dir, "export", "step_3"),
                               frame)

    # 2. eval.py on the tower: accuracy / FPR / FNR, negatives included.
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={tower_dir}", f"--eval_data_pattern={frame}",
        "--run_once", "--batch_size=8",
    )
    assert "CorrelationEval at step 4" in proc.stdout
    results = json.load(open(os.path.join(tower_dir, "eval",
                                          "eval_results.json")))
    assert set(results) == {"accuracy", "fpr", "fnr",
                            "uncorrelated_fraction", "num_examples"}
    assert results["num_examples"] == 16
    assert 0 < results["uncorrelated_fraction"] <= 0.5

    # 3. Without the tower's directory: resume (not retrained, still
    # frozen), eval, inference and the .tgz.
    shutil.move(tower_dir, str(tmp_path / "tower_moved"))
    proc = helpers.run_binary(
        "train.py", *data, f"--train_dir={main_dir}",
        *MODEL, f"--taxonomy_file={taxonomy}",
        *TOWER_FLAGS, "--correlation_tower_steps=4", "--max_steps=5",
    )
    assert TRAINING_TOWER not in proc.stderr
    assert "Resumed from step 3" in proc.stderr
    assert not os.path.exists(tower_dir)
    _assert_same(_weights(main_dir, "correlation_tower"), tower_weights)
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={main_dir}", f"--eval_data_pattern={frame}",
        "--run_once", "--batch_size=8",
    )
    assert "GAP" in proc.stdout
    out, tgz = tmp_path / "sub.csv", tmp_path / "main.tgz"
    helpers.run_binary(
        "inference.py", f"--train_dir={main_dir}",
        f"--input_data_pattern={frame}", f"--output_file={out}",
        f"--output_model_tgz={tgz}", "--top_k=3",
    )
    rows = list(csv.reader(open(out, newline="")))
    assert len(rows) == 17
    out_tgz = tmp_path / "sub_tgz.csv"
    helpers.run_binary(
        "inference.py", f"--input_model_tgz={tgz}",
        f"--untar_model_dir={tmp_path / 'untar'}",
        f"--input_data_pattern={frame}", f"--output_file={out_tgz}",
        "--top_k=3",
    )
    assert open(out_tgz).read() == open(out).read()

    # 4. --correlation_tower_dir: that tower, nothing trained first.
    given_dir = str(tmp_path / "given")
    proc = helpers.run_binary(
        "train.py", *data, f"--train_dir={given_dir}",
        *MODEL, f"--correlation_tower_dir={tmp_path / 'tower_moved'}",
        "--max_steps=2",
    )
    assert TRAINING_TOWER not in proc.stderr
    assert not os.path.exists(os.path.join(given_dir, "correlation_tower"))
    warm = json.load(open(os.path.join(given_dir, "warm_start.json")))
    assert warm["correlation_tower"]["from"] == str(tmp_path / "tower_moved")
    _assert_same(_weights(given_dir, "correlation_tower"), tower_weights)


def test_without_a_taxonomy_the_auto_tower_uses_label_disjoint_negatives(
        tmp_path):
    # The one-line command has no --taxonomy_file: it must work.
    from yt8m import config as config_lib
    from yt8m.training import correlation

    frame, _ = helpers.write_frame_and_video_shards(tmp_path, num_videos=8)
    spec = config_lib.ModelSpec(
        model="CrossModalNetVLAD", feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO], frame_features=True,
        num_classes=helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
        model_hparams={"netvlad_cluster_size": 4, "netvlad_hidden_size": 8},
    )
    cfg = config_lib.TrainConfig(
        train_dir=str(tmp_path / "main"), train_data_pattern=frame,
        spec=spec, batch_size=4, progress_bar=False, num_readers=1,
        export_model_steps=0)
    cfg = correlation.ensure_correlation_tower(
        cfg, {"tower_hidden_size": 4, "tower_layers": 1}, steps=1)
    tower = cfg.spec.model_hparams["correlation_tower"]
    assert tower["model"] == "CorrelationTower"
    assert tower["model_config"]["tower_negatives"] == "labels"
    assert cfg.warm_start["correlation_tower"].endswith("correlation_tower")
