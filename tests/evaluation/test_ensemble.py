"""yt8m-ensemble and the prediction files eval.py / inference.py write.

* End to end on generated data: an rgb-only and an audio-only model (each
  modality carries the labels of half the classes), trained, evaluated
  with `--predictions_file` on a validation split and run through
  inference with `--predictions_file` on a test split; the GAP-weighted
  ensemble of the test predictions (weights from the validation files)
  scores at least the best member, and `yt8m-score` on the ensemble's CSV
  gives the GAP the tool reports.
* Algorithm 2 on hand-made CSVs: weights = validation GAP / sum, checked
  against GAPs computed by hand; the combined top-k.
* Weights from the data being scored are refused; members with different
  videos are refused; the prediction file round trip and its checks.
"""

import csv
import json
import os

import numpy as np
import pytest

from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import inference
from yt8m.data import writers
from yt8m.evaluation import ensemble
from yt8m.evaluation import ensemble_cli
from yt8m.evaluation import predictions as predictions_lib
from yt8m.evaluation import scoring
from yt8m.training import loop

RGB, AUDIO, CLASSES = 6, 6, 6


def write_split(path, prefix, num_videos, seed):
    """Video i has label a (from rgb, classes 0-2) and b (audio, 3-5)."""
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(num_videos):
        a, b = int(rng.integers(3)), 3 + int(rng.integers(3))
        rgb = np.eye(RGB)[a] * 1.5 + 0.6 * rng.normal(size=RGB)
        audio = np.eye(AUDIO)[b] * 1.5 + 0.6 * rng.normal(size=AUDIO)
        examples.append(writers.make_video_example(
            f"{prefix}{i:03d}", [a, b],
            {"mean_rgb": np.clip(rgb, -2, 2), "mean_audio": np.clip(audio, -2, 2)}))
    writers.write_tfrecord(str(path), examples)
    return str(path)


def train_member(tmp, name, feature, data):
    spec = config_lib.ModelSpec(
        model="LogisticModel", feature_names=[feature],
        feature_sizes=[RGB if feature == "mean_rgb" else AUDIO],
        frame_features=False, num_classes=CLASSES,
    )
    train_dir = str(tmp / name)
    loop.train(config_lib.TrainConfig(
        train_dir=train_dir, train_data_pattern=data["train"], spec=spec,
        batch_size=16, max_steps=40, base_learning_rate=0.1,
        progress_bar=False, num_readers=1, shuffle_seed=0,
        export_model_steps=0,
    ))
    validation = str(tmp / f"{name}_validation.npz")
    evaluation.evaluate(config_lib.EvalConfig(
        train_dir=train_dir, eval_data_pattern=data["validation"],
        run_once=True, batch_size=64, predictions_file=validation))
    test_npz = str(tmp / f"{name}_test.npz")
    test_csv = str(tmp / f"{name}_test.csv")
    inference.run_inference(config_lib.InferenceConfig(
        input_data_pattern=data["test"], output_file=test_csv,
        train_dir=train_dir, top_k=3, predictions_file=test_npz))
    return {"validation": validation, "npz": test_npz, "csv": test_csv}


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble")
    data = {
        "train": write_split(tmp / "train.tfrecord", "t", 96, 0),
        "validation": write_split(tmp / "validation.tfrecord", "v", 40, 1),
        "test": write_split(tmp / "test.tfrecord", "s", 40, 2),
    }
    return tmp, data, {
        "rgb": train_member(tmp, "rgb", "mean_rgb", data),
        "audio": train_member(tmp, "audio", "mean_audio", data),
    }


def test_prediction_files_hold_every_score(members):
    tmp, data, m = members
    ids, scores = predictions_lib.read_predictions(m["rgb"]["npz"], CLASSES)
    assert ids == [f"s{i:03d}" for i in range(40)]  # file order
    assert scores.shape == (40, CLASSES)
    # The CSV inference.py wrote beside it is its top 3 ("%g").
    rows = list(csv.reader(open(m["rgb"]["csv"], newline="")))[1:]
    for row, video_scores in zip(rows, scores):
        values = row[1].split()
        assert [int(v) for v in values[0::2]] == list(
            np.argsort(-video_scores, kind="stable")[:3])
    val_ids, _ = predictions_lib.read_predictions(m["rgb"]["validation"])
    assert val_ids == [f"v{i:03d}" for i in range(40)]


@pytest.mark.parametrize("method", ["gap", "average"])
def test_ensemble_scores_at_least_the_best_member(members, method):
    tmp, data, m = members
    out = str(tmp / f"ensemble_{method}.csv")
    result_json = str(tmp / f"ensemble_{method}.json")
    argv = [
        f"--inputs={m['rgb']['npz']},{m['audio']['npz']}",
        f"--output_file={out}", f"--method={method}",
        f"--data_pattern={data['test']}", f"--num_classes={CLASSES}",
        "--top_k=3", f"--output_json={result_json}",
    ]
    if method == "gap":
        argv += [
            f"--validation_files={m['rgb']['validation']},"
            f"{m['audio']['validation']}",
            f"--validation_data_pattern={data['validation']}",
        ]
    assert ensemble_cli.main(argv) == 0
    result = json.load(open(result_json))
    member_gaps = [r["gap"] for r in result["members"]]
    assert result["ensemble"]["gap"] >= max(member_gaps)
    assert result["ensemble"]["gap"] > max(member_gaps) + 0.05  # complementary
    assert {"map", "hit_at_one", "perr"} <= set(result["ensemble"])
    # yt8m-score on the written CSV agrees with the reported GAP.
    scored = scoring.score_submission(out, data["test"],
                                      num_classes=CLASSES, top_k=3)
    assert scored["gap"] == pytest.approx(result["ensemble"]["gap"], abs=1e-6)
    if method == "gap":
        gaps = np.array(result["validation_gap"])
        np.testing.assert_allclose(result["weights"], gaps / gaps.sum())
    else:
        assert result["weights"] == [0.5, 0.5]


def test_csv_members_combine(members):
    tmp, data, m = members
    out = str(tmp / "from_csv.csv")
    result = ensemble.run([m["rgb"]["csv"], m["audio"]["csv"]], out,
                          data_pattern=data["test"], num_classes=CLASSES,
                          top_k=3)
    assert "map" not in result["ensemble"]  # top-k only: GAP and Hit@1
    scored = scoring.score_submission(out, data["test"],
                                      num_classes=CLASSES, top_k=3)
    assert scored["gap"] == pytest.approx(result["ensemble"]["gap"], abs=1e-6)


def test_weights_never_from_the_scored_data(members):
    tmp, data, m = members
    with pytest.raises(ensemble.EnsembleError,
                       match="never from the data being scored"):
        ensemble.run(
            [m["rgb"]["npz"], m["audio"]["npz"]], str(tmp / "bad.csv"),
            method="gap", validation_files=[m["rgb"]["npz"],
                                            m["audio"]["npz"]],
            validation_data_pattern=data["test"], num_classes=CLASSES,
            top_k=3)
    assert not os.path.exists(tmp / "bad.csv")
    # The CLI says so in one line and exits 1.
    assert ensemble_cli.main([
        f"--inputs={m['rgb']['npz']}", f"--output_file={tmp / 'bad.csv'}",
        "--method=gap", f"--validation_files={m['rgb']['npz']}",
        f"--validation_data_pattern={data['test']}",
        f"--num_classes={CLASSES}"]) == 1


def _write_csv(path, rows):
    with open(path, "w") as f:
        f.write("VideoId,LabelConfidencePairs\n")
        for video_id, pairs in rows.items():
            f.write(video_id + "," + " ".join(f"{c} {s}" for c, s in pairs)
                    + "\n")
    return str(path)


def test_algorithm_2_on_hand_made_members(tmp_path):
    labels = {"v0": [0], "v1": [1]}
    validation = str(tmp_path / "validation.tfrecord")
    writers.write_tfrecord(validation, [
        writers.make_video_example(v, ls, {"mean_rgb": np.zeros(2)})
        for v, ls in labels.items()])
    test = str(tmp_path / "test.tfrecord")
    writers.write_tfrecord(test, [
        writers.make_video_example(v, ls, {"mean_rgb": np.zeros(2)})
        for v, ls in {"s0": [2], "s1": [0]}.items()])
    # Validation: member A ranks both positives first: GAP 1. Member B
    # pooled list: v1:0 (0.9, miss), v0:0 (0.8, hit), v1:1 (0.2, hit):
    # AP = (1/2 + 2/3) / 2 = 7/12.
    a_val = _write_csv(tmp_path / "a_val.csv",
                       {"v0": [(0, 0.9)], "v1": [(1, 0.8)]})
    b_val = _write_csv(tmp_path / "b_val.csv",
                       {"v0": [(0, 0.8)], "v1": [(0, 0.9), (1, 0.2)]})
    a = _write_csv(tmp_path / "a.csv", {"s0": [(2, 0.6), (1, 0.5)],
                                        "s1": [(0, 0.1)]})
    b = _write_csv(tmp_path / "b.csv", {"s0": [(1, 1.0)],
                                        "s1": [(0, 0.4), (2, 0.3)]})
    out = str(tmp_path / "ensemble.csv")
    result = ensemble.run([a, b], out, method="gap",
                          validation_files=[a_val, b_val],
                          validation_data_pattern=validation,
                          num_classes=3, top_k=2)
    alpha = np.array([1.0, 7.0 / 12.0]) / (1.0 + 7.0 / 12.0)
    np.testing.assert_allclose(result["validation_gap"], [1.0, 7.0 / 12.0])
    np.testing.assert_allclose(result["weights"], alpha)
    rows = {r[0]: r[1].split() for r in
            list(csv.reader(open(out, newline="")))[1:]}
    # s0: class 1 = a 0.5 + b 1.0, class 2 = a 0.6 only (b did not list it).
    s0 = {1: alpha[0] * 0.5 + alpha[1] * 1.0, 2: alpha[0] * 0.6}
    assert [int(c) for c in rows["s0"][0::2]] == sorted(
        s0, key=lambda c: -s0[c])
    np.testing.assert_allclose([float(v) for v in rows["s0"][1::2]],
                               sorted(s0.values(), reverse=True), rtol=1e-5)
    s1 = {0: alpha[0] * 0.1 + alpha[1] * 0.4, 2: alpha[1] * 0.3}
    assert [int(c) for c in rows["s1"][0::2]] == sorted(
        s1, key=lambda c: -s1[c])


def test_members_must_cover_the_same_videos(tmp_path):
    a = _write_csv(tmp_path / "a.csv", {"s0": [(0, 0.5)], "s1": [(1, 0.5)]})
    b = _write_csv(tmp_path / "b.csv", {"s0": [(0, 0.5)]})
    with pytest.raises(ensemble.EnsembleError, match="1 missing"):
        ensemble.run([a, b], str(tmp_path / "e.csv"), num_classes=3)


def test_prediction_file_round_trip_and_checks(tmp_path):
    path = str(tmp_path / "p.any")  # no .npz suffix is added
    scores = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    predictions_lib.write_predictions(path, ["x", "y"], scores)
    assert os.listdir(tmp_path) == ["p.any"]
    ids, got = predictions_lib.read_predictions(path, num_classes=3)
    assert ids == ["x", "y"]
    np.testing.assert_array_equal(got, scores)
    with pytest.raises(predictions_lib.PredictionsError, match="expected 4"):
        predictions_lib.read_predictions(path, num_classes=4)
    with pytest.raises(ValueError, match="duplicate video ids"):
        predictions_lib.write_predictions(path, ["x", "x"], scores)
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(2))
    with pytest.raises(predictions_lib.PredictionsError,
                       match="expected the keys"):
        predictions_lib.read_predictions(str(bad))


def test_members_in_another_video_order_are_aligned(tmp_path):
    a = _write_csv(tmp_path / "a.csv", {"s0": [(0, 0.8)], "s1": [(1, 0.6)]})
    b = _write_csv(tmp_path / "b.csv", {"s1": [(1, 0.2)], "s0": [(2, 0.4)]})
    out = str(tmp_path / "e.csv")
    ensemble.run([a, b], out, num_classes=3, top_k=2)
    rows = {r[0]: r[1] for r in list(csv.reader(open(out, newline="")))[1:]}
    assert rows == {"s0": "0 0.4 2 0.2", "s1": "1 0.4"}


def test_reported_gap_is_that_of_the_written_csv(tmp_path):
    # The CSV holds scores to 6 significant digits ("%g"). s1's positive
    # (0.12345699) outranks s0's negative (0.12345651) before rounding
    # (GAP 1/2: one hit at rank 1 of 2 positives); written, both read
    # 0.123457, and a tie ranks the negative first (GAP 1/4). The GAP
    # reported must be the written file's, as yt8m-score computes it.
    data = str(tmp_path / "test.tfrecord")
    writers.write_tfrecord(data, [
        writers.make_video_example(v, ls, {"mean_rgb": np.zeros(2)})
        for v, ls in {"s0": [2], "s1": [1]}.items()])
    member = _write_csv(tmp_path / "a.csv", {"s0": [(0, "0.12345651")],
                                             "s1": [(1, "0.12345699")]})
    out = str(tmp_path / "e.csv")
    result = ensemble.run([member], out, data_pattern=data, num_classes=3,
                          top_k=1)
    rows = {r[0]: r[1] for r in list(csv.reader(open(out, newline="")))[1:]}
    assert rows == {"s0": "0 0.123457", "s1": "1 0.123457"}
    scored = scoring.score_submission(out, data, num_classes=3, top_k=1)
    assert scored["gap"] == pytest.approx(0.25)
    assert result["ensemble"]["gap"] == pytest.approx(0.25)
