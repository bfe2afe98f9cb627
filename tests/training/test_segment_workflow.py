"""The 2019 segment workflow through the binaries, on 2019-like segments.

Rated segments start at multiples of 5 up to 295 (as in the 2019 release),
so the reader must read whole videos (max_frames 300) while the model takes
5-frame segments: train.py / eval.py --segment_labels, inference.py
--segment_labels (eval.py's segment_inference_model.keras), yt8m-score.
"""

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.evaluation import reference
from tests.training import helpers

NUM_VIDEOS = 12
COMMON = [
    "--feature_names=rgb,audio",
    f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
    f"--num_classes={helpers.NUM_CLASSES}",
]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segment_workflow")
    frame, _ = helpers.write_frame_and_video_shards(
        tmp / "data", num_videos=NUM_VIDEOS, segments=True)
    train_dir = str(tmp / "model")
    train = helpers.run_binary(
        "train.py", f"--train_data_pattern={frame}",
        f"--train_dir={train_dir}", "--segment_labels",
        "--model=FrameLevelLogisticModel", "--batch_size=8",
        "--max_steps=3", "--export_model_steps=0", "--num_readers=1",
        "--log_every_steps=1", "--shuffle_seed=1", *COMMON,
        check=False)
    evaluate = None
    if train.returncode == 0:
        evaluate = helpers.run_binary(
            "eval.py", f"--eval_data_pattern={frame}",
            f"--train_dir={train_dir}", "--segment_labels", "--run_once",
            "--batch_size=16", "--num_readers=1", check=False)
    return {"tmp": tmp, "frame": frame, "train_dir": train_dir,
            "train": train, "eval": evaluate}


def _ok(proc):
    assert proc is not None and proc.returncode == 0, (
        f"{proc.args if proc else 'not run'}\n"
        f"{proc.stdout[-2000:] if proc else ''}\n"
        f"{proc.stderr[-4000:] if proc else ''}")


def test_segment_train_and_eval_read_starts_up_to_295(workflow):
    """The reader reads 300 frames and cuts segments; the model takes 5."""
    _ok(workflow["train"])
    flags = json.load(open(os.path.join(workflow["train_dir"],
                                        "model_flags.json")))
    assert flags["max_frames"] == 300  # the reader's budget, not 5
    assert flags["frame_features"] is True
    _ok(workflow["eval"])
    results = json.load(open(os.path.join(workflow["train_dir"], "eval",
                                          "eval_results.json")))
    starts = [helpers.segment_starts(i) for i in range(NUM_VIDEOS)]
    assert max(max(s) for s in starts) == 295
    # Every rated segment was evaluated, the late ones included.
    assert results["num_examples"] == sum(len(s) for s in starts)
    segment_model = os.path.join(workflow["train_dir"], "inference_model",
                                 "segment_inference_model.keras")
    assert os.path.exists(segment_model)


def _read_segment_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["Class", "Segments"]
    return text, {int(c): s.split(" ") for c, s in rows[1:]}


def test_segment_inference_uses_segment_inference_model(workflow, tmp_path):
    """A train_dir holding only eval.py's segment model still infers."""
    _ok(workflow["eval"])
    from yt8m import config as config_lib
    from yt8m import inference

    only_segment = tmp_path / "only_segment_model"
    os.makedirs(only_segment / "inference_model")
    shutil.copy(os.path.join(workflow["train_dir"], "model_flags.json"),
                only_segment)
    shutil.copy(os.path.join(workflow["train_dir"], "inference_model",
                             "segment_inference_model.keras"),
                only_segment / "inference_model")
    out = tmp_path / "segments.csv"
    cfg = config_lib.InferenceConfig(
        input_data_pattern=workflow["frame"], output_file=str(out),
        train_dir=str(only_segment), segment_labels=True, top_k=3,
        batch_size=8)
    count = inference.run_inference(cfg)
    # Whole videos cut into 5-frame segments: 300 frames give 60.
    assert count == sum(-(-helpers.segment_video_frames(i) // 5)
                        for i in range(NUM_VIDEOS))
    _, lines = _read_segment_csv(out)
    assert lines and all(len(v) >= 1 for v in lines.values())
    # Without --segment_labels the segment model is not used.
    with pytest.raises(FileNotFoundError, match="inference_model.keras"):
        inference.load_inference_model(str(only_segment))


def test_segment_workflow_end_to_end_score(workflow, tmp_path):
    """inference.py --segment_labels writes the CSV; yt8m-score scores it."""
    _ok(workflow["eval"])
    whitelist = tmp_path / "segment_label_ids.csv"
    whitelist.write_text("Index\n0\n1\n2\n3\n4\n5\n")
    out = tmp_path / "segments.csv"
    proc = helpers.run_binary(
        "inference.py", f"--input_data_pattern={workflow['frame']}",
        f"--train_dir={workflow['train_dir']}", "--segment_labels",
        f"--segment_label_ids_file={whitelist}", f"--output_file={out}",
        "--batch_size=8", "--top_k=6")
    assert "segments" in proc.stdout
    text, lines = _read_segment_csv(out)
    for entries in lines.values():
        for entry in entries:
            video_id, start = entry.split(":")
            assert int(start) % 5 == 0 and 0 <= int(start) <= 295
    score_json = tmp_path / "score.json"
    env = dict(os.environ, PYTHONPATH=helpers.ROOT)
    score = subprocess.run(
        [sys.executable, "-m", "yt8m.evaluation.score_cli",
         f"--submission_file={out}", f"--data_pattern={workflow['frame']}",
         f"--num_classes={helpers.NUM_CLASSES}",
         f"--output_json={score_json}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert score.returncode == 0, score.stderr[-3000:]
    assert score.stdout.startswith("MAP@100000: ")
    result = json.load(open(score_json))
    expected = reference.segment_map(
        text, helpers.segment_ratings(NUM_VIDEOS), k=100000)
    assert abs(result["value"] - expected) < 1e-9
    assert result["num_classes"] == helpers.NUM_CLASSES
    assert np.isfinite(result["value"]) and 0.0 < result["value"] <= 1.0


def test_reader_reads_whole_videos_model_takes_segments():
    """One function decides the model's input length; the reader's differs."""
    from yt8m import config as config_lib
    from yt8m.readers import model_inputs as inputs

    spec = config_lib.ModelSpec(model="FrameLevelLogisticModel",
                                frame_features=True, max_frames=300)
    assert inputs.model_max_frames(spec) == 300
    assert inputs.model_max_frames(spec, segment_labels=True) == 5
    assert inputs.model_spec(spec, segment_labels=True).max_frames == 5
    assert spec.max_frames == 300  # not modified
    assert inputs.make_reader(spec, segment_labels=True).max_frames == 300
    # A train_dir written before the fix stored the segment size.
    legacy = config_lib.ModelSpec(model="FrameLevelLogisticModel",
                                  frame_features=True, max_frames=5)
    assert inputs.make_reader(legacy, segment_labels=True).max_frames == 300
    assert inputs.model_spec(legacy, segment_labels=True).max_frames == 5
    video = config_lib.ModelSpec(model="LogisticModel")
    assert inputs.model_spec(video, segment_labels=True).frame_features
