"""--microbatch_size: gradient accumulation gives the batch's step.

The reference is the same step without micro-batches. The cases are chosen
so that each part of the combination shows: an uneven last micro-batch
(8 = 3 + 3 + 2), weight regularization (added once per batch, not once per
micro-batch), an auxiliary mean loss (the Bi-GRU projection-fusion
alignment loss), clipping after accumulation, and two replicas.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import models
from yt8m.training import loop
from yt8m.training import microbatch


def _spec(model, frame, **hparams):
    names = ["rgb", "audio"] if frame else ["mean_rgb", "mean_audio"]
    return config_lib.ModelSpec(
        model=model, feature_names=names,
        feature_sizes=[helpers.RGB, helpers.AUDIO], frame_features=frame,
        num_classes=helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
        model_hparams=hparams)


def _train(tmp_path, name, pattern, spec, **kw):
    tf.keras.utils.set_random_seed(3)
    base = dict(
        train_dir=str(tmp_path / name), train_data_pattern=pattern,
        spec=spec, batch_size=8, max_steps=1, shuffle_seed=7, num_readers=1,
        progress_bar=False, optimizer="GradientDescentOptimizer",
        base_learning_rate=0.5, devices=["/cpu:0"])
    base.update(kw)
    return loop.train(config_lib.TrainConfig(**base))


def _updates(spec, result):
    tf.keras.utils.set_random_seed(3)
    start = models.build_model_from_spec(spec).get_weights()
    return [w - s for w, s in zip(result["model"].get_weights(), start)]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return helpers.write_frame_and_video_shards(
        tmp_path_factory.mktemp("microbatch"), num_videos=8, num_shards=1)


TRANSFORMER = dict(moe_num_mixtures=2, transformer_layers=1,
                   transformer_heads=2, transformer_hidden_size=8,
                   transformer_ff_size=16, transformer_dropout=0.0)
BIGRU = dict(moe_num_mixtures=2, rnn_cells=4, rnn_layers=1,
             rnn_fusion="projection", rnn_fusion_size=4,
             rnn_projection_weight=5.0)


@pytest.mark.parametrize("model,frame,hparams,extra", [
    # Regularization: a large penalty, so a regularizer counted once per
    # micro-batch (3x) would show in the update.
    ("MoeModel", False, dict(moe_num_mixtures=2),
     dict(regularization_penalty=50.0)),
    ("TransformerModel", True, TRANSFORMER, {}),
    # Clipping after accumulation: a clip norm that is active.
    ("BiGRUAttentionModel", True, BIGRU, dict(clip_gradient_norm=0.05)),
])
def test_microbatch_step_matches_full_batch_step(tmp_path, shards, model,
                                                 frame, hparams, extra):
    pattern = shards[0] if frame else shards[1]
    spec = _spec(model, frame, **hparams)
    whole = _train(tmp_path, "whole", pattern, spec, **extra)
    micro = _train(tmp_path, "micro", pattern, spec, microbatch_size=3,
                   **extra)
    np.testing.assert_allclose(micro["loss"], whole["loss"], rtol=1e-5)
    updates = list(zip(_updates(spec, whole), _updates(spec, micro)))
    assert any(np.abs(a).max() > 1e-4 for a, _ in updates)
    for a, b in updates:
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-7)


def test_auxiliary_loss_is_the_batch_mean(tmp_path, shards):
    spec = _spec("BiGRUAttentionModel", True, **BIGRU)
    whole = _train(tmp_path, "whole", shards[0], spec, log_every_steps=1)
    micro = _train(tmp_path, "micro", shards[0], spec, log_every_steps=1,
                   microbatch_size=3)
    key = "auxiliary_loss/projection_alignment"
    assert whole[key] > 0
    np.testing.assert_allclose(micro[key], whole[key],
                               rtol=1e-5)


def test_microbatches_on_two_replicas_match_one_device(tmp_path, shards):
    spec = _spec("TransformerModel", True, **TRANSFORMER)
    one = _train(tmp_path, "one", shards[0], spec)
    two = _train(tmp_path, "two", shards[0], spec, batch_size=4,
                 devices=["/cpu:0", "/cpu:1"], microbatch_size=3)
    assert two["num_replicas"] == 2
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    for a, b in zip(_updates(spec, one), _updates(spec, two)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-7)


def test_accumulate_combines_like_one_call():
    """Sums, batch-order predictions and None gradients, for batch sizes
    that do and do not divide by the micro-batch."""
    w = tf.Variable([1.5, -2.0])
    unused = tf.Variable(1.0)

    def fn(batch, scale, share, first):
        with tf.GradientTape() as tape:
            y = batch["x"] * w
            loss = tf.reduce_sum(y) * scale
            if first:
                loss += tf.reduce_sum(w * w)
        return (loss, {"mean": share * tf.reduce_mean(y)},
                {"y": y, "i": batch["i"]},
                tape.gradient(loss, [w, unused]))

    for n, size in ((7, 3), (6, 2), (5, 8), (1, 1)):
        batch = {"x": tf.random.normal([n, 2], seed=n),
                 "i": tf.range(n)}
        expected = fn(batch, 0.25, 1.0, True)
        got = tf.function(lambda b: microbatch.accumulate(
            fn, b, size, 0.25))(batch)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
        np.testing.assert_allclose(got[1]["mean"], expected[1]["mean"],
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[2]["y"], expected[2]["y"])
        np.testing.assert_array_equal(got[2]["i"], np.arange(n))
        assert got[2]["y"].shape == (n, 2)
        np.testing.assert_allclose(got[3][0], expected[3][0], rtol=1e-6)
        assert got[3][1] is None


@pytest.mark.parametrize("bad", [-1, 2.0, True, "4"])
def test_bad_microbatch_size_is_refused(tmp_path, shards, bad):
    spec = _spec("MoeModel", False, moe_num_mixtures=2)
    with pytest.raises(ValueError, match="microbatch_size: expected an int"):
        _train(tmp_path, "bad", shards[1], spec, microbatch_size=bad)


_OVERLAP_SCRIPT = r"""
import json
import sys
import tensorflow as tf
from yt8m.training import microbatch

# Activations dominate: a slice's 8 layers save [1024, 512] tensors (2 MB
# each) for the backward pass; the two weight matrices are 1 MB each.
tf.random.set_seed(0)
weights = [tf.Variable(tf.random.normal([512, 512], stddev=0.05))
           for _ in range(2)]
micro = 1024
batch = tf.random.normal([micro * int(sys.argv[1]), 512])


def fn(x, share, first):
    with tf.GradientTape() as tape:
        h = x
        for i in range(8):
            h = tf.tanh(tf.matmul(h, weights[i % 2]))
        loss = tf.reduce_sum(h) * share
    return loss, {}, h[:, :1], tape.gradient(loss, weights)


@tf.function
def step():
    return microbatch.accumulate(fn, batch, micro)[0]


step()
tf.config.experimental.reset_memory_stats("CPU:0")
before = tf.config.experimental.get_memory_info("CPU:0")["current"]
step()
peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
print(json.dumps({"transient": peak - before}))
"""


def _transient(slices):
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true",
               TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", _OVERLAP_SCRIPT,
                          str(slices)], env=env, capture_output=True,
                         text=True, check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])["transient"]


def test_one_micro_batch_is_alive_at_a_time():
    """The step's transient memory (allocator peak, BFC) with 6 slices stays
    near that of one slice: the loop starts after the first slice and runs
    one iteration at a time. TensorFlow lowers the loop to dataflow in
    which the second slice's forward pass can start beside the first
    slice's backward pass; without the control dependency on the first
    slice (yt8m.training.microbatch) this measured 57.7 MB against 19.9 MB
    for one slice, and 23.1 MB with it."""
    one, six = _transient(1), _transient(6)
    assert six < 1.5 * one, (one, six)
