"""MultiWorkerMirroredStrategy: two train.py workers on loopback via TF_CONFIG."""

import json
import os
import socket
import subprocess
import sys

from tests.training import helpers
from yt8m.training import strategy as strategy_lib


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tf_config_worker_count(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert strategy_lib._num_workers_in_tf_config() == 0
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
         "task": {"type": "worker", "index": 0}}))
    assert strategy_lib._num_workers_in_tf_config() == 3


def test_two_workers_train_together_and_only_the_chief_saves(tmp_path):
    _, video = helpers.write_frame_and_video_shards(
        tmp_path / "data", num_videos=16, num_shards=2
    )
    train_dir = tmp_path / "model"
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=helpers.ROOT,
            TF_CONFIG=json.dumps({"cluster": cluster,
                                  "task": {"type": "worker", "index": index}}),
        )
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(helpers.ROOT, "train.py"),
             f"--train_data_pattern={video}", f"--train_dir={train_dir}",
             "--model=LogisticModel", "--batch_size=4", "--max_steps=3",
             "--export_model_steps=0", "--log_every_steps=1",
             "--feature_names=mean_rgb,mean_audio",
             f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
             f"--num_classes={helpers.NUM_CLASSES}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        ))
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out[-4000:]
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for out in outputs:
        assert "on 2 replica(s), global batch 8" in out
    # The loss is the global one, so both workers log the same values.
    losses = [[line.split("Loss: ")[1].split()[0] for line in out.splitlines()
               if "training step" in line] for out in outputs]
    assert len(losses[0]) == 3 and losses[0] == losses[1]
    files = sorted(os.listdir(train_dir))
    assert "model.ckpt-3.index" in files and "model_flags.json" in files
    assert len([f for f in files if f.startswith("events.out")]) == 1


def _start_workers(train_dir, video, max_steps, log_path):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=helpers.ROOT,
            TF_CONFIG=json.dumps({"cluster": cluster,
                                  "task": {"type": "worker", "index": index}}),
        )
        log = open(f"{log_path}.{index}", "w")
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(helpers.ROOT, "train.py"),
             f"--train_data_pattern={video}", f"--train_dir={train_dir}",
             "--model=LogisticModel", "--batch_size=4",
             f"--max_steps={max_steps}", "--num_epochs=100000",
             "--save_checkpoint_steps=5", "--export_model_steps=0",
             "--log_every_steps=1", "--feature_names=mean_rgb,mean_audio",
             f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
             f"--num_classes={helpers.NUM_CLASSES}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        ))
    return procs


def _logged_steps(path):
    with open(path) as f:
        return [int(line.split("training step ")[1].split()[0])
                for line in f if "training step " in line]


def test_a_worker_killed_mid_run_resumes_from_the_last_checkpoint(tmp_path):
    """A worker is SIGKILLed mid-run; the job is restarted (as a cluster
    manager restarts every task of a MultiWorkerMirroredStrategy job): both
    workers resume from the chief's last checkpoint, with the same weights,
    losing only the steps since it, and finish."""
    import signal
    import time

    from yt8m.training import checkpoints

    _, video = helpers.write_frame_and_video_shards(
        tmp_path / "data", num_videos=16, num_shards=2)
    train_dir = tmp_path / "model"
    logs = str(tmp_path / "run1")
    procs = _start_workers(train_dir, video, 100000, logs)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            latest = checkpoints.latest_checkpoint(str(train_dir))
            if latest and checkpoints.step_of(latest) >= 10:
                break
            time.sleep(0.05)
        assert latest and checkpoints.step_of(latest) >= 10, \
            "the workers did not checkpoint in time"
        procs[1].send_signal(signal.SIGKILL)  # the non-chief worker dies
        procs[1].wait()
    finally:
        for proc in procs:  # the restart takes the whole job down first
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    saved = checkpoints.step_of(checkpoints.latest_checkpoint(str(train_dir)))
    reached = max(_logged_steps(f"{logs}.0"))
    assert saved % 5 == 0 and reached - saved < 5 + 5  # steps since the save

    logs = str(tmp_path / "run2")
    procs = _start_workers(train_dir, video, saved + 4, logs)
    try:
        for proc in procs:
            assert proc.wait(timeout=300) == 0, open(f"{logs}.0").read()[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    outputs = [open(f"{logs}.{i}").read() for i in range(2)]
    for out in outputs:
        assert f"Resumed from step {saved}." in out, out[-3000:]
    # The same global loss on both workers: same weights, same steps.
    losses = [[line.split("Loss: ")[1].split()[0] for line in out.splitlines()
               if "training step" in line] for out in outputs]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    assert checkpoints.step_of(checkpoints.latest_checkpoint(
        str(train_dir))) == saved + 4
