"""Atomic writes (yt8m/files.py): umask-respecting modes, no partial files,
the previous file survives a failure, and no module calls os.umask."""

import contextlib
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from yt8m import config as config_lib
from yt8m import files
from yt8m import inference
from yt8m import metrics
from yt8m.data import writers
from yt8m.models import build_model_from_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CLASSES = 3
SPEC = config_lib.ModelSpec(
    model="LogisticModel", feature_names=["mean_rgb", "mean_audio"],
    feature_sizes=[4, 2], frame_features=False, num_classes=NUM_CLASSES,
)


@contextlib.contextmanager
def _umask(mask):
    old = os.umask(mask)  # the test sets it; the library never does
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _video_shard(path):
    rng = np.random.default_rng(0)
    examples = [
        writers.make_video_example(
            f"v{i}", [i % NUM_CLASSES],
            {"mean_rgb": rng.normal(size=4), "mean_audio": rng.normal(size=2)},
        )
        for i in range(3)
    ]
    writers.write_tfrecord(str(path), examples)
    return str(path)


@pytest.mark.parametrize("mask", [0o022, 0o077],
                         ids=["umask022", "umask077"])
def test_output_files_get_the_users_umask(mask, tmp_path):
    expected = 0o666 & ~mask
    model = build_model_from_spec(SPEC)
    with _umask(mask):
        config_lib.write_model_flags(str(tmp_path / "train"), SPEC)
        shard = _video_shard(tmp_path / "data" / "part-0.tfrecord")
        csv_path = tmp_path / "out" / "predictions.csv"
        inference.write_video_predictions(
            model, SPEC,
            config_lib.InferenceConfig(input_data_pattern=shard,
                                       output_file=str(csv_path), top_k=2),
        )
        tgz = tmp_path / "out" / "model.tgz"
        inference.write_model_tgz(model, SPEC, str(tgz))
        calculator = metrics.EvaluationMetrics(NUM_CLASSES, top_k=2)
        calculator.accumulate(np.full((2, NUM_CLASSES), 0.5),
                              np.eye(NUM_CLASSES)[:2], 0.1)
        results = tmp_path / "eval" / "eval_results.json"
        calculator.get().write_json(str(results))
    written = {
        "model_flags.json": tmp_path / "train" / "model_flags.json",
        "tfrecord": shard,
        "video CSV": csv_path,
        ".tgz": tgz,
        "eval_results.json": results,
    }
    modes = {name: oct(_mode(path)) for name, path in written.items()}
    assert modes == {name: oct(expected) for name in written}
    # Nothing but the outputs is left behind.
    assert sorted(os.listdir(tmp_path / "out")) == ["model.tgz",
                                                    "predictions.csv"]


def test_atomic_file_modes_text_and_binary(tmp_path):
    with _umask(0o027):
        files.atomic_write_text(tmp_path / "a.txt", "héllo\n")
        files.atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "b.bin") == 0o640


def test_failing_writes_keep_the_previous_file(tmp_path):
    target = tmp_path / "sub.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_file(target) as f:
            f.write("new, half-written")
            f.flush()
            # Not visible at the final path while being written.
            assert target.read_text() == "old\n"
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"

    shard = tmp_path / "part-0.tfrecord"
    writers.write_tfrecord(str(shard), [b"old record"])
    before = shard.read_bytes()

    def records():
        yield b"new record"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        writers.write_tfrecord(str(shard), records())
    assert shard.read_bytes() == before

    # A directory (SavedModel / export) is replaced only when complete.
    export = tmp_path / "export"
    export.mkdir()
    (export / "old.pb").write_text("old")
    with pytest.raises(ValueError):
        with files.atomic_path(export) as tmp:
            os.makedirs(tmp)
            open(os.path.join(tmp, "new.pb"), "w").close()
            raise ValueError("save failed")
    assert os.listdir(export) == ["old.pb"]
    with files.atomic_path(export) as tmp:
        os.makedirs(tmp)
        open(os.path.join(tmp, "new.pb"), "w").close()
    assert os.listdir(export) == ["new.pb"]
    assert sorted(os.listdir(tmp_path)) == ["export", "part-0.tfrecord",
                                           "sub.csv"]


def test_importing_every_module_never_calls_umask():
    script = textwrap.dedent("""
        import importlib, os, pkgutil, sys
        calls = []
        real = os.umask
        def spy(mask):
            calls.append(sys._getframe(1).f_code.co_filename)
            return real(mask)
        os.umask = spy
        import yt8m
        names = [m.name for m in pkgutil.walk_packages(yt8m.__path__, "yt8m.")
                 if not m.name.endswith("__main__")]
        from absl import flags
        for name in names:
            if name.startswith("yt8m.bin."):
                # Each binary defines its own flags; drop the previous one's.
                for flag in list(flags.FLAGS):
                    owner = flags.FLAGS.find_module_defining_flag(flag) or ""
                    if owner.startswith("yt8m.bin.") and owner != name:
                        delattr(flags.FLAGS, flag)
            importlib.import_module(name)
        root = os.path.dirname(yt8m.__file__)
        print(len(names), [c for c in calls if c.startswith(root)])
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    count, callers = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 40  # really imported the package
    assert callers == "[]"
