"""Training throughput of every registered model, next to the machine's matmul peak.

For each model: training examples/s after warm-up (default batch 128; 300
frames for frame-level models, rgb+audio 1024+128, 3862 classes, default
hyperparameters), peak RSS, and the dense float32 matmul GFLOP/s measured in
the same run: the reference each model's throughput is divided by
(`examples_per_sec_per_peak_gflops`), so figures from different machines or
loads can be compared. Each model runs in its own process. Prints one JSON
object. This is the baseline later performance work is measured from.

    python bench/bench_train.py [--models=DbofModel,MoeModel] [--steps=5]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yt8m import losses  # noqa: E402
from yt8m import models  # noqa: E402
from yt8m.training import optimizers  # noqa: E402


def matmul_gflops(n=2048, repeats=5):
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))

    @tf.function
    def mm(x, y):
        return tf.matmul(x, y)

    mm(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mm(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / np.median(times) / 1e9


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_train_step(model, features, labels):
    """The benchmarked step, a `tf.function`: forward, cross-entropy plus
    the model's regularization losses, backward, clipping, Adam."""
    loss_fn = losses.get_loss("CrossEntropyLoss")
    optimizer = optimizers.build_optimizer("AdamOptimizer", 1e-3, 1.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            predictions = model(features, training=True)
            loss = tf.reduce_mean(loss_fn(labels, predictions))
            if model.losses:
                loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def bench_model(name, batch_size, max_frames, num_classes, feature_sizes,
                warmup, steps, hparams):
    model = models.build_model(name, num_classes=num_classes,
                               feature_sizes=feature_sizes,
                               max_frames=max_frames, **hparams)
    frame_level = getattr(model, "frame_level", False)
    rng = np.random.default_rng(0)
    dim = sum(feature_sizes)
    if frame_level:
        video = rng.uniform(-2, 2, (batch_size, max_frames, dim))
        num_frames = rng.integers(1, max_frames + 1, batch_size)
        video[np.arange(max_frames)[None, :] >= num_frames[:, None]] = 0
        batch = {"video_matrix": tf.constant(video, tf.float32),
                 "num_frames": tf.constant(num_frames, tf.int32)}
    else:
        batch = {"video_matrix": tf.constant(
            rng.uniform(-2, 2, (batch_size, dim)), tf.float32)}
    labels = np.zeros((batch_size, num_classes), np.float32)
    labels[np.arange(batch_size)[:, None],
           rng.integers(0, num_classes, (batch_size, 3))] = 1
    labels = tf.constant(labels)
    keys = sorted(model.input) if isinstance(model.input, dict) else \
        ["video_matrix"]
    features = {k: batch[k] for k in keys}
    step = make_train_step(model, features, labels)
    for _ in range(warmup):
        step().numpy()
    start = time.perf_counter()
    for _ in range(steps):
        step().numpy()
    elapsed = time.perf_counter() - start
    return {
        "frame_level": bool(frame_level),
        "params": int(model.count_params()),
        "examples_per_sec": batch_size * steps / elapsed,
        "seconds_per_step": elapsed / steps,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=",".join(models.list_models()))
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--num_classes", type=int, default=3862)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--single", default=None,
                        help="internal: benchmark one model in this process "
                             "and print its JSON")
    args = parser.parse_args()
    shape_args = [f"--batch_size={args.batch_size}",
                  f"--max_frames={args.max_frames}",
                  f"--num_classes={args.num_classes}",
                  f"--warmup={args.warmup}", f"--steps={args.steps}"]
    if args.single:
        r = bench_model(args.single, args.batch_size, args.max_frames,
                        args.num_classes, [1024, 128], args.warmup,
                        args.steps, {})
        r["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(r))
        return
    gflops = matmul_gflops()
    results = {}
    for name in [m for m in args.models.split(",") if m]:
        # One process per model: its own peak RSS, and no model's memory
        # is still held while the next one runs.
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), f"--single={name}",
             *shape_args],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            results[name] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        # Machine-normalised throughput: examples/s per GFLOP/s of the
        # float32 matmul peak measured at the start of this run.
        r["examples_per_sec_per_peak_gflops"] = r["examples_per_sec"] / gflops
        results[name] = r
        print(f"# {name}: {r['examples_per_sec']:.1f} examples/s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", file=sys.stderr,
              flush=True)
    print(json.dumps({
        "benchmark": "train_step_throughput",
        "machine": {"platform": platform.platform(),
                    "processor": platform.processor(),
                    "cpu_count": os.cpu_count(),
                    "tensorflow": tf.__version__},
        "shapes": {"batch_size": args.batch_size,
                   "max_frames": args.max_frames,
                   "feature_sizes": [1024, 128],
                   "num_classes": args.num_classes,
                   "hyperparameters": "model defaults (upstream/published)"},
        "reference_matmul_float32_gflops": gflops,
        "warmup_steps": args.warmup,
        "measured_steps": args.steps,
        "models": results,
    }, indent=2))


if __name__ == "__main__":
    main()
