"""bench/bench_train.py and its FLOP counter (bench/flop_count.py).

The FLOP oracles are written out by hand from the shapes, not taken from
the counter.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from flop_count import graph_flops  # noqa: E402


def test_counts_matmul_einsum_and_while_bodies_times_trips():
    x = tf.zeros((4, 6))
    w = tf.zeros((6, 5))
    seq = tf.zeros((2, 7, 6))

    @tf.function
    def f():
        y = tf.matmul(x, w)                                  # 2*4*5*6
        z = tf.einsum("btd,de->bte", seq, w)                 # 2*2*7*6*5
        h = tf.zeros((4, 5))
        u = tf.zeros((5, 5))

        def body(i, h):
            return i + 1, tf.matmul(h, u)                    # 2*4*5*5 / trip

        _, h = tf.while_loop(lambda i, h: i < 3, body, (0, h))
        return y, z, h

    counted = graph_flops(f.get_concrete_function().graph, loop_trips=3)
    expected = 2 * 4 * 5 * 6 + 2 * 2 * 7 * 6 * 5 + 3 * 2 * 4 * 5 * 5
    assert counted["flops"] == expected
    assert counted["unknown_ops"] == 0


# With micro-batches (4 = 3 + 1) the FLOPs are the batch's, counted on the
# step without them: the accumulating loop's slices have no static shape.
@pytest.mark.parametrize("extra", [[], ["--microbatch_size=3"]])
def test_bench_train_reports_flops_and_peak_ratio_for_moe(extra):
    b, d, c, m = 4, 1024 + 128, 10, 2
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_train.py"),
         "--models=MoeModel", f"--batch_size={b}", f"--num_classes={c}",
         "--warmup=1", "--steps=2", '--hparams={"moe_num_mixtures": 2}',
         "--rss_steps=2,4", "--rss_batch_size=2", *extra],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    r = out["models"]["MoeModel"]
    # Gates D x C(M+1) and experts D x CM: forward 2*D*C*(2M+1) per example;
    # backward only the weight gradients (the input needs none): as much.
    assert r["train_flops_per_example"] == 4 * d * c * (2 * m + 1)
    assert r["examples_per_sec"] > 0
    np.testing.assert_allclose(
        r["achieved_gflops"],
        r["train_flops_per_example"] * r["examples_per_sec"] / 1e9)
    np.testing.assert_allclose(
        r["achieved_over_float32_peak"],
        r["achieved_gflops"] / out["reference_matmul_float32_gflops"])
    assert set(r["rss_mb_at_step"]) == {"2", "4"}
    assert out["reference_matmul_float32_gflops"] > 0


def test_bench_peer_without_the_peer_venv_says_skipped(tmp_path):
    # A user's clone has no ../shared/peer: the benchmark says so as JSON.
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_peer.py"),
         f"--peer_dir={tmp_path}"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["skipped"] is True and "setup_peer_venv.sh" in out["reason"]


def test_bench_train_gives_a_cross_modal_model_an_untrained_tower():
    # `bench_train.py` covers every registered model: the cross-modal ones
    # need a correlation tower, which the benchmark builds untrained.
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_train.py"),
         "--models=CrossModalTransformer", "--batch_size=2",
         "--max_frames=8", "--num_classes=10", "--warmup=0", "--steps=1",
         '--hparams={"transformer_layers": 1, "transformer_hidden_size":'
         ' 16, "transformer_heads": 2, "transformer_ff_size": 32}'],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)["models"]["CrossModalTransformer"]
    assert "error" not in r, r
    assert r["hparams"]["correlation_tower"]["model"] == "CorrelationTower"
    assert r["examples_per_sec"] > 0


def test_bench_train_microbatch_step_is_the_batch_step():
    """`make_train_step(microbatch_size=...)` updates the weights as the
    whole-batch step does (uneven 5 = 2 + 2 + 1, regularizers included)."""
    import bench_train
    from yt8m import models

    def run(size):
        tf.keras.utils.set_random_seed(4)
        model = models.build_model("MoeModel", num_classes=6,
                                   feature_sizes=[8, 4], moe_num_mixtures=2)
        features, labels = bench_train.random_batch(model, 5, 1, 6, [8, 4])
        step = bench_train.make_train_step(model, features, labels,
                                           microbatch_size=size)
        start = [w.copy() for w in model.get_weights()]
        loss = float(step())
        return loss, [w - s for w, s in zip(model.get_weights(), start)]

    loss, whole = run(0)
    micro_loss, micro = run(2)
    np.testing.assert_allclose(micro_loss, loss, rtol=1e-6)
    assert any(np.abs(a).max() > 1e-5 for a in whole)
    for a, b in zip(whole, micro):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-8)
