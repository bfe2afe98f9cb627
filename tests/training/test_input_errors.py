"""Input the binaries must refuse with one clear line (exit 1): empty input,
unlabelled records for eval.py, and the wrong kind of file (frame-level vs
video-level)."""

import logging
import os

import numpy as np
import pytest

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import evaluation
from yt8m.data import writers
from yt8m.readers import DataError
from yt8m.training import loop

DATA = os.path.join(helpers.ROOT, "tests", "data")
VIDEO_FLAGS = [
    "--feature_names=mean_rgb,mean_audio",
    f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
    f"--num_classes={helpers.NUM_CLASSES}",
]


def _video_spec(num_classes=helpers.NUM_CLASSES, sizes=None):
    return config_lib.ModelSpec(
        model="LogisticModel", feature_names=["mean_rgb", "mean_audio"],
        feature_sizes=sizes or [helpers.RGB, helpers.AUDIO],
        frame_features=False, num_classes=num_classes,
    )


def _train(train_dir, pattern, spec, max_steps=1, batch_size=4):
    return loop.train(config_lib.TrainConfig(
        train_dir=str(train_dir), train_data_pattern=pattern, spec=spec,
        batch_size=batch_size, max_steps=max_steps, progress_bar=False,
        num_readers=1, shuffle_seed=0,
    ))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("input_errors")
    frame, video = helpers.write_frame_and_video_shards(
        tmp / "data", num_videos=8)
    empty_dir = tmp / "empty"
    empty_dir.mkdir()
    for i in range(2):
        writers.write_tfrecord(str(empty_dir / f"part-{i}.tfrecord"), [])
    train_dir = tmp / "model"
    _train(train_dir, video, _video_spec())
    return {"tmp": tmp, "frame": frame, "video": video,
            "empty": str(empty_dir / "part-*.tfrecord"),
            "train_dir": str(train_dir)}


def _assert_one_line_error(proc, *needles):
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "DataError" in line]
    assert lines, proc.stderr[-3000:]
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


# ---------------------------------------------------------------- empty input


def test_train_on_files_without_records_fails(setup, tmp_path):
    proc = helpers.run_binary(
        "train.py", f"--train_data_pattern={setup['empty']}",
        f"--train_dir={tmp_path / 'model'}", "--model=LogisticModel",
        "--batch_size=4", "--max_steps=3", "--export_model_steps=0",
        *VIDEO_FLAGS, check=False,
    )
    line = _assert_one_line_error(
        proc, "No records were read", f"--train_data_pattern={setup['empty']!r}",
        "part-0.tfrecord (0 bytes)", "part-1.tfrecord (0 bytes)",
    )
    assert "received 0" in line


def test_resume_with_nothing_left_to_read_is_not_an_error(setup, tmp_path):
    # A resumed run that reads nothing ends (as at the end of an epoch
    # budget); only a fresh run that reads nothing is an error.
    train_dir = tmp_path / "model"
    assert _train(train_dir, setup["video"], _video_spec())["step"] == 1
    result = _train(train_dir, setup["empty"], _video_spec(), max_steps=5)
    assert (result["step"], result["stopped_by"]) == (1, "end_of_data")


def test_eval_on_files_without_records_fails(setup):
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={setup['train_dir']}",
        f"--eval_data_pattern={setup['empty']}", "--run_once",
        check=False,
    )
    _assert_one_line_error(
        proc, "No records were read",
        f"--eval_data_pattern={setup['empty']!r}", "part-0.tfrecord",
    )


def test_inference_on_files_without_records_fails(setup, tmp_path):
    out = tmp_path / "submission.csv"
    out.write_text("previous submission\n")
    proc = helpers.run_binary(
        "inference.py", f"--train_dir={setup['train_dir']}",
        f"--input_data_pattern={setup['empty']}", f"--output_file={out}",
        check=False,
    )
    _assert_one_line_error(
        proc, "No records were read",
        f"--input_data_pattern={setup['empty']!r}", "part-1.tfrecord",
    )
    assert out.read_text() == "previous submission\n"
    assert os.listdir(tmp_path) == ["submission.csv"]


# ------------------------------------------------------------ unlabelled eval


@pytest.fixture(scope="module")
def model_2017(tmp_path_factory):
    """A 2017-shaped model (4716 classes, 1024+128 features), 1 step."""
    train_dir = tmp_path_factory.mktemp("model_2017")
    _train(train_dir, os.path.join(DATA, "validatea0.tfrecord"),
           _video_spec(4716, [1024, 128]), batch_size=32)
    return str(train_dir)


def test_eval_refuses_the_unlabelled_2017_test_split(model_2017):
    test_shard = os.path.join(DATA, "testa0.tfrecord")
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={model_2017}",
        f"--eval_data_pattern={test_shard}", "--run_once", check=False,
    )
    line = _assert_one_line_error(
        proc, "None of the 163 records", repr(test_shard), "has labels",
        "inference.py",
    )
    assert "GAP" not in proc.stdout and "GAP" not in line


def test_eval_warns_about_a_mix_of_labelled_and_unlabelled(model_2017,
                                                          caplog):
    pattern = ",".join(os.path.join(DATA, name) for name in
                       ("validatea0.tfrecord", "testa0.tfrecord"))
    with caplog.at_level(logging.WARNING):
        (_, result), = evaluation.evaluate(config_lib.EvalConfig(
            train_dir=model_2017, eval_data_pattern=pattern, run_once=True,
            batch_size=128,
        ))
    assert result.num_examples == 368 + 163
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and "no labels" in
                r.getMessage()]
    assert len(warnings) == 1
    assert "163 of 531 records" in warnings[0]


# -------------------------------------------------------- wrong kind of file


def test_frame_level_model_on_video_level_files(setup, tmp_path):
    proc = helpers.run_binary(
        "train.py", f"--train_data_pattern={setup['video']}",
        f"--train_dir={tmp_path / 'model'}", "--model=FrameLevelLogisticModel",
        "--frame_features", "--feature_names=rgb,audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        f"--num_classes={helpers.NUM_CLASSES}", "--batch_size=4",
        "--max_steps=2", "--export_model_steps=0", check=False,
    )
    _assert_one_line_error(
        proc, ".tfrecord, record ", "feature_list 'rgb'",
        "received a video-level tf.train.Example",
        "without --frame_features",
        f"--feature_names=mean_rgb,mean_audio "
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
    )
