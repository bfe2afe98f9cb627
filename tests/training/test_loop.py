"""The training loop: replicas, resuming, SIGKILL, segment weights, export."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import models
from yt8m.training import checkpoints
from yt8m.training import loop


def _spec(model="MoeModel", frame=False, **hparams):
    names = ["rgb", "audio"] if frame else ["mean_rgb", "mean_audio"]
    return config_lib.ModelSpec(
        model=model,
        feature_names=names,
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        frame_features=frame,
        num_classes=helpers.NUM_CLASSES,
        max_frames=helpers.MAX_FRAMES,
        model_hparams=hparams,
    )


def _cfg(train_dir, pattern, spec, **kw):
    base = dict(
        train_dir=str(train_dir),
        train_data_pattern=pattern,
        spec=spec,
        batch_size=8,
        max_steps=1,
        shuffle_seed=7,
        num_readers=1,
        progress_bar=False,
        base_learning_rate=0.05,
    )
    base.update(kw)
    return config_lib.TrainConfig(**base)


def test_two_replicas_match_one_device(tmp_path):
    """One step, global batch 8: 2 replicas x 4 == 1 device x 8."""
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=16,
                                                    num_shards=1)
    spec = _spec("MoeModel", moe_num_mixtures=2)
    # A tiny clip norm makes clipping active, so clipping after the
    # all-reduce (and not per replica) is part of what is checked.
    common = dict(max_steps=1, clip_gradient_norm=0.05)
    tf.keras.utils.set_random_seed(1)
    one = loop.train(_cfg(tmp_path / "one", video, spec, batch_size=8,
                          devices=["/cpu:0"], **common))
    tf.keras.utils.set_random_seed(1)
    two = loop.train(_cfg(tmp_path / "two", video, spec, batch_size=4,
                          devices=["/cpu:0", "/cpu:1"], **common))
    assert one["num_replicas"] == 1 and two["num_replicas"] == 2
    np.testing.assert_allclose(one["loss"], two["loss"], rtol=1e-5)
    w1 = one["model"].get_weights()
    w2 = two["model"].get_weights()
    moved = False
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # The step really changed the weights (not a no-op comparison).
    tf.keras.utils.set_random_seed(1)
    fresh = models.build_model_from_spec(spec).get_weights()
    moved = any(not np.allclose(a, b) for a, b in zip(fresh, w1))
    assert moved


def test_resume_continues_with_optimizer_state(tmp_path):
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=16)
    spec = _spec("LogisticModel")
    train_dir = tmp_path / "m"
    first = loop.train(_cfg(train_dir, video, spec, max_steps=3,
                            save_checkpoint_steps=2))
    assert first["step"] == 3
    ckpt = checkpoints.latest_checkpoint(str(train_dir))
    assert ckpt.endswith("model.ckpt-3")
    iterations_before = int(first["model"].optimizer.iterations.numpy()) \
        if getattr(first["model"], "optimizer", None) is not None else None
    second = loop.train(_cfg(train_dir, video, spec, max_steps=5))
    assert second["start_step"] == 3 and second["step"] == 5
    assert checkpoints.latest_checkpoint(str(train_dir)).endswith(
        "model.ckpt-5")
    # The optimizer's step counter was restored, not restarted.
    reader = tf.train.load_checkpoint(
        checkpoints.latest_checkpoint(str(train_dir)))
    names = [n for n in reader.get_variable_to_shape_map()
             if "optimizer" in n and "iteration" in n]
    assert names, reader.get_variable_to_shape_map().keys()
    assert int(reader.get_tensor(names[0])) == 5
    del iterations_before


def test_max_steps_reached_already_trains_nothing(tmp_path):
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=8)
    spec = _spec("LogisticModel")
    loop.train(_cfg(tmp_path / "m", video, spec, max_steps=2))
    again = loop.train(_cfg(tmp_path / "m", video, spec, max_steps=2))
    assert again["start_step"] == 2 and again["step"] == 2


def test_num_epochs_stops_at_end_of_data(tmp_path):
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=16)
    spec = _spec("LogisticModel")
    result = loop.train(_cfg(tmp_path / "m", video, spec, max_steps=None,
                             num_epochs=2, batch_size=8))
    assert result["stopped_by"] == "end_of_data"
    assert result["step"] == 4  # 16 videos x 2 epochs / 8


def test_sigkill_mid_training_loses_only_unsaved_steps(tmp_path):
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=32)
    train_dir = tmp_path / "m"
    args = [
        sys.executable, os.path.join(helpers.ROOT, "train.py"),
        f"--train_data_pattern={video}", f"--train_dir={train_dir}",
        "--model=LogisticModel", "--batch_size=4", "--max_steps=100000",
        "--num_epochs=100000", "--save_checkpoint_steps=3",
        "--export_model_steps=0", "--log_every_steps=1000",
        "--feature_names=mean_rgb,mean_audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        f"--num_classes={helpers.NUM_CLASSES}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=helpers.ROOT)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        seen = set()
        # Wait until several checkpoints were written, then kill at once.
        while time.time() < deadline and len(seen) < 3:
            seen = {f for f in os.listdir(train_dir)
                    if f.endswith(".index")} if train_dir.exists() else set()
            time.sleep(0.05)
        assert len(seen) >= 3, "training did not checkpoint in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    latest = checkpoints.latest_checkpoint(str(train_dir))
    assert latest is not None
    saved_step = checkpoints.step_of(latest)
    assert saved_step >= 3 and saved_step % 3 == 0
    # The latest checkpoint is complete and readable.
    reader = tf.train.load_checkpoint(latest)
    assert reader.get_variable_to_shape_map()
    # Restarting resumes from it (same model flags as train.py wrote).
    spec = _spec("LogisticModel", l2_penalty=1e-8)
    spec.max_frames = 300
    result = loop.train(_cfg(train_dir, video, spec,
                             max_steps=saved_step + 2, batch_size=4))
    assert result["start_step"] == saved_step
    assert result["step"] == saved_step + 2


def test_segment_training_ignores_unrated_pairs(tmp_path):
    """Loss weights: a prediction on an unrated class costs nothing."""
    from yt8m import losses

    loss = losses.get_loss("CrossEntropyLoss")
    labels = np.array([[1.0, 0.0, 0.0]], np.float32)
    preds_a = np.array([[0.9, 0.1, 0.99]], np.float32)
    preds_b = np.array([[0.9, 0.1, 0.01]], np.float32)
    weights = np.array([[1.0, 1.0, 0.0]], np.float32)
    la = float(np.asarray(loss(labels, preds_a, label_weights=weights))[0])
    lb = float(np.asarray(loss(labels, preds_b, label_weights=weights))[0])
    assert la == pytest.approx(lb)
    unweighted = float(np.asarray(loss(labels, preds_a))[0])
    assert unweighted > la + 1.0

    frame, _ = helpers.write_frame_and_video_shards(
        tmp_path / "d", num_videos=8, segments=True
    )
    spec = _spec("FrameLevelLogisticModel", frame=True)
    spec.max_frames = 5
    result = loop.train(_cfg(tmp_path / "m", frame, spec, max_steps=2,
                             segment_labels=True, batch_size=4))
    assert result["step"] == 2 and np.isfinite(result["loss"])


def test_export_saved_model_signature(tmp_path):
    from yt8m.data import writers
    from yt8m.export import export_saved_model
    from yt8m.readers import model_inputs as inputs

    spec = _spec("DbofModel", frame=True, dbof_cluster_size=8,
                 dbof_hidden_size=8, iterations=4)
    model = models.build_model_from_spec(spec)
    reader = inputs.make_reader(spec)
    path = export_saved_model(model, reader, str(tmp_path / "export"))
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["example_bytes"]
    rng = np.random.default_rng(0)
    records = []
    for i in range(3):
        rgb = rng.integers(0, 256, size=(4 + i, helpers.RGB), dtype=np.uint8)
        audio = rng.integers(0, 256, size=(4 + i, helpers.AUDIO),
                             dtype=np.uint8)
        records.append(writers.make_frame_example(
            f"x{i}", [1], {"rgb": rgb, "audio": audio}).SerializeToString())
    out = serve(example_bytes=tf.constant(records))
    assert set(out) == {"video_id", "class_indexes", "predictions"}
    assert [v.decode() for v in out["video_id"].numpy()] == ["x0", "x1", "x2"]
    assert out["class_indexes"].dtype == tf.int32
    k = min(20, helpers.NUM_CLASSES)
    assert out["predictions"].shape == (3, k)
    # Same numbers as the Keras model on the same parsed batch, which
    # includes the batch-norm moving statistics (an upstream export bug).
    batch = reader.parse_serialized(tf.constant(records))
    expected = model({"video_matrix": batch["video_matrix"],
                      "num_frames": batch["num_frames"]}, training=False)
    top = tf.nn.top_k(expected, k=k)
    np.testing.assert_allclose(out["predictions"].numpy(), top.values.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_batch_norm_momentum_setting_changes_every_bn_layer(tmp_path):
    import keras

    spec = _spec("DbofModel", frame=True, dbof_cluster_size=8,
                 dbof_hidden_size=8, iterations=4)
    model = models.build_model_from_spec(spec)
    bns = [l for l in model._flatten_layers(include_self=False)
           if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) >= 3 and all(l.momentum == 0.999 for l in bns)
    assert loop.set_batch_norm_momentum(model, 0.9) == len(bns)
    assert all(l.momentum == 0.9 for l in bns)
    with pytest.raises(ValueError, match="batch_norm_momentum"):
        loop.set_batch_norm_momentum(model, 1.0)
    # Applied in training: the moving mean moves by (1 - momentum) per step.
    frame, _ = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=8)
    moved = {}
    for momentum in (0.999, 0.5):
        result = loop.train(_cfg(tmp_path / f"m{momentum}", frame, spec,
                                 max_steps=1, batch_norm_momentum=momentum))
        layer = result["model"].get_layer("hidden1_bn")
        moved[momentum] = float(np.abs(layer.moving_mean.numpy()).max())
    assert moved[0.5] > 50 * moved[0.999] > 0


def test_export_video_level_model(tmp_path):
    from yt8m.data import writers
    from yt8m.export import export_saved_model
    from yt8m.readers import model_inputs as inputs

    spec = _spec("MoeModel")
    model = models.build_model_from_spec(spec)
    path = export_saved_model(model, inputs.make_reader(spec),
                              str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    records = [writers.make_video_example(
        f"v{i}", None, {"mean_rgb": np.full(helpers.RGB, 0.1 * i),
                        "mean_audio": np.ones(helpers.AUDIO)}
    ).SerializeToString() for i in range(2)]
    out = serve(example_bytes=tf.constant(records))
    assert [v.decode() for v in out["video_id"].numpy()] == ["v0", "v1"]
    assert out["class_indexes"].shape == (2, min(20, helpers.NUM_CLASSES))


def test_a_diverging_loss_stops_at_its_first_step_between_log_steps(tmp_path):
    """The host reads losses only on log / checkpoint steps, but every
    step's loss is checked: the error names the first non-finite step, the
    same as when every step is a log step, and no checkpoint is written at
    or after it."""
    _, video = helpers.write_frame_and_video_shards(tmp_path / "d",
                                                    num_videos=16)
    spec = _spec("LogisticModel")
    failures = {}
    for log_every in (1, 1000):
        train_dir = tmp_path / f"log{log_every}"
        tf.keras.utils.set_random_seed(3)
        # Adam moves each weight by ~lr per step: float32 overflows to inf
        # after a few steps and the logits become inf - inf = nan.
        with pytest.raises(FloatingPointError) as error:
            loop.train(_cfg(train_dir, video, spec, max_steps=40,
                            base_learning_rate=1e38,
                            log_every_steps=log_every,
                            save_checkpoint_steps=3, num_epochs=100))
        message = str(error.value)
        assert "the last good checkpoint is kept" in message
        failed_at = int(message.split(" at step ")[1].split(";")[0])
        failures[log_every] = failed_at
        latest = checkpoints.latest_checkpoint(str(train_dir))
        if latest:
            assert int(latest.rsplit("-", 1)[1]) < failed_at
    assert failures[1] == failures[1000] and failures[1] > 1
