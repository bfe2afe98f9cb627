"""Training throughput of every registered model, next to the machine's peak.

For each model, in its own process (its own peak RSS): one training step in
one `tf.function` (forward, cross-entropy plus the model's regularization
losses, backward, per-variable clipping to 1.0, Adam: the training loop's
math, without the input pipeline) on random inputs of batch 128, 300 frames
for frame-level models, rgb+audio 1024+128, 3862 classes, default
hyperparameters. Reported per model:

* `examples_per_sec` (after warm-up; median step time, min and max too);
* `train_flops_per_example`: dense-algebra FLOPs (matmul, einsum, conv) of
  the traced step, counted op by op from the graph, backward included
  (bench/flop_count.py; recurrent time loops counted x frames);
* `achieved_gflops` and `achieved_over_peak`: against the dense float32
  matmul peak measured at the start of the same run (and the bfloat16 peak
  under `--mixed_precision=mixed_bfloat16`, reported separately);
* `peak_rss_mb`, and with `--rss_steps=200,1000` the resident set size at
  those steps (a second, small-batch phase: a leak per step shows whatever
  the batch; see `--rss_batch_size`).

`--config=starter|mg_default` sets DbofModel to the two Model Garden
configurations of `../shared/peer/bench_modelgarden_dbof.py` (all 300
frames through the cluster layer, batch 32 there): its output lines up
with that script's. `--mixed_precision`, `--jit_compile` and `--device=gpu`
run the same steps under those settings. Prints one JSON object.

    python bench/bench_train.py [--models=DbofModel,MoeModel] [--steps=5]
    python bench/bench_train.py --models=DbofModel --config=starter --batch_size=32
    python bench/bench_train.py --device=gpu --mixed_precision=mixed_float16 --jit_compile
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flop_count import graph_flops  # noqa: E402  (same folder)
from yt8m import losses  # noqa: E402
from yt8m import models  # noqa: E402
from yt8m.layers import remat  # noqa: E402
from yt8m.training import microbatch  # noqa: E402
from yt8m.training import optimizers  # noqa: E402
from yt8m.training import precision  # noqa: E402

# DbofModel at the peer's two configurations (../shared/peer/README.md):
# all 300 frames through the cluster layer, as Model Garden samples 300.
CONFIGS = {
    "starter": {"dbof_cluster_size": 8192, "dbof_hidden_size": 1024,
                "dbof_pooling_method": "max", "dbof_activation": "sigmoid",
                "dbof_add_batch_norm": True, "moe_num_mixtures": 2,
                "iterations": 300},
    "mg_default": {"dbof_cluster_size": 3000, "dbof_hidden_size": 2000,
                   "dbof_pooling_method": "average",
                   "dbof_activation": "relu6", "dbof_add_batch_norm": True,
                   "moe_num_mixtures": 5, "iterations": 300},
}


def matmul_gflops(n=2048, repeats=5, dtype=tf.float32, device=None):
    """Median dense matmul rate, GFLOP/s, of an n x n x n product."""
    with tf.device(device or ("/GPU:0" if tf.config.list_physical_devices(
            "GPU") else "/CPU:0")):
        a = tf.cast(tf.random.normal((n, n)), dtype)
        b = tf.cast(tf.random.normal((n, n)), dtype)

    @tf.function
    def mm(x, y):
        return tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32))

    mm(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mm(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / np.median(times) / 1e9


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_train_step(model, features, labels, jit_compile=False,
                    mixed_precision="float32", clip_gradient_norm=1.0,
                    microbatch_size=0):
    """The benchmarked step, a `tf.function`: forward, cross-entropy plus
    the model's regularization losses, backward, per-variable clipping (as
    the training loop), Adam (in a LossScaleOptimizer for float16); with
    `microbatch_size`, the gradient accumulated over micro-batches as
    `train.py --microbatch_size` does. `step.flop_graph()` traces (never
    runs) the step's forward and backward pass without micro-batches, the
    graph whose FLOPs are the step's."""
    loss_fn = losses.get_loss("CrossEntropyLoss")
    optimizer = precision.wrap_optimizer(
        optimizers.build_optimizer("AdamOptimizer", 1e-3, 0.0),
        mixed_precision)
    scaling = precision.needs_loss_scaling(mixed_precision)
    batch_size = float(labels.shape[0])

    def forward_backward(batch, share, first=True):
        features, labels = batch
        with tf.GradientTape() as tape:
            predictions = tf.cast(model(features, training=True), tf.float32)
            loss = tf.reduce_sum(loss_fn(labels, predictions)) / batch_size
            # As train.py: the regularization whole in the first
            # micro-batch, each micro-batch's share of the auxiliary means
            # (yt8m.training.microbatch).
            regularization, auxiliary = model.split_losses()
            extra = [share * tf.cast(x, tf.float32)
                     for x in auxiliary.values()]
            if first:
                extra += [tf.cast(x, tf.float32) for x in regularization]
            if extra:
                loss += tf.add_n(extra)
            scaled = optimizer.scale_loss(loss) if scaling else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        return loss, {}, predictions, grads

    def clipped(grads):
        if not clip_gradient_norm:
            return grads
        return [optimizers.clip_by_norm(g, clip_gradient_norm)
                for g in grads]

    def compute():
        loss, _, _, grads = forward_backward((features, labels), 1.0)
        return loss, clipped(grads)

    if microbatch_size:
        micro = forward_backward
        if jit_compile:
            micro = tf.function(micro, jit_compile=True)

        def compute():  # noqa: F811  (the accumulated variant)
            loss, _, _, grads = microbatch.accumulate(
                micro, (features, labels), microbatch_size)
            return loss, clipped(grads)
    elif jit_compile:
        compute = tf.function(compute, jit_compile=True)

    @tf.function
    def step():
        loss, grads = compute()
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def flop_graph():
        if not microbatch_size:
            return step.get_concrete_function().graph
        return tf.function(lambda: forward_backward(
            (features, labels), 1.0)[3]).get_concrete_function().graph

    step.flop_graph = flop_graph
    return step


def random_batch(model, batch_size, max_frames, num_classes, feature_sizes,
                 seed=0):
    rng = np.random.default_rng(seed)
    dim = sum(feature_sizes)
    if getattr(model, "frame_level", False):
        # Drawn in float32: a float64 draw at 128 x 300 x 1152 held 354 MB
        # more for a moment.
        video = rng.random((batch_size, max_frames, dim), np.float32) * 4 - 2
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
    keys = sorted(model.input) if isinstance(model.input, dict) else \
        ["video_matrix"]
    return {k: batch[k] for k in keys}, tf.constant(labels)


def build_train_step(name, batch_size, max_frames, hparams):
    """`make_train_step` of model `name` at the benchmark's shapes (rgb +
    audio 1024 + 128, 3862 classes) on a `random_batch`, in float32."""
    model = models.build_model(name, num_classes=3862,
                               feature_sizes=[1024, 128],
                               max_frames=max_frames, **hparams)
    features, labels = random_batch(model, batch_size, max_frames, 3862,
                                    [1024, 128])
    return make_train_step(model, features, labels)


def _timed(step, warmup, steps):
    for _ in range(warmup):
        step().numpy()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    return times


def bench_model(name, batch_size, max_frames, num_classes, feature_sizes,
                warmup, steps, hparams, mixed_precision="float32",
                jit_compile=False, rss_steps=(), rss_batch_size=8,
                rematerialize=False, microbatch_size=0):
    with precision.policy_scope(mixed_precision), \
            remat.remat_scope(rematerialize):
        model = models.build_model(name, num_classes=num_classes,
                                   feature_sizes=feature_sizes,
                                   max_frames=max_frames, **hparams)
    frame_level = bool(getattr(model, "frame_level", False))
    features, labels = random_batch(model, batch_size, max_frames,
                                    num_classes, feature_sizes)
    step = make_train_step(model, features, labels, jit_compile,
                           mixed_precision, microbatch_size=microbatch_size)
    flops = graph_flops(step.flop_graph(),
                        loop_trips=max_frames if frame_level else 1)
    times = _timed(step, warmup, steps)
    median = float(np.median(times))
    result = {
        "frame_level": frame_level,
        "params": int(model.count_params()),
        "examples_per_sec": batch_size / median,
        "step_seconds_median": median,
        "step_seconds_min": float(min(times)),
        "step_seconds_max": float(max(times)),
        "train_flops_per_example": flops["flops"] / batch_size,
        "flops_unknown_ops": flops["unknown_ops"],
        "peak_rss_mb": peak_rss_mb(),
    }
    if rss_steps:
        # Leak check: the same model on a small batch for max(rss_steps)
        # steps; the resident set at each of rss_steps.
        features, labels = random_batch(model, rss_batch_size, max_frames,
                                        num_classes, feature_sizes, seed=1)
        small = make_train_step(model, features, labels, jit_compile,
                                mixed_precision,
                                microbatch_size=microbatch_size)
        rss = {}
        for i in range(1, max(rss_steps) + 1):
            small().numpy()
            if i in rss_steps:
                rss[str(i)] = round(current_rss_mb(), 1)
        result["rss_mb_at_step"] = rss
        result["rss_batch_size"] = rss_batch_size
    return result


def model_hparams(name, config, max_frames=300):
    if not config:
        return _tower_hparams(name, max_frames)
    if name != "DbofModel":
        raise ValueError(
            f"--config={config} is a DbofModel configuration; received "
            f"model {name!r}.")
    return dict(CONFIGS[config])


def _tower_hparams(name, max_frames):
    """A cross-modal model's `correlation_tower` slot: an untrained tower
    of the benchmark's shapes (its weights do not change the step's cost)."""
    cls = models.get_model_class(name)
    requires = getattr(cls, "requires_correlation_tower", None)
    if requires is None or not requires({}):
        return {}
    from yt8m.models.cross_modal import correlation_tower_spec
    return {"correlation_tower": correlation_tower_spec(
        ["rgb", "audio"], [1024, 128], 3862, max_frames=max_frames)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(models.list_models()))
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--num_classes", type=int, default=3862)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--config", choices=sorted(CONFIGS), default=None,
                        help="DbofModel at a Model Garden configuration")
    parser.add_argument("--hparams", default="{}",
                        help="JSON hyperparameters for every model")
    parser.add_argument("--mixed_precision", default="float32",
                        choices=precision.POLICIES)
    parser.add_argument("--jit_compile", action="store_true")
    parser.add_argument("--remat", action="store_true",
                        help="train.py --remat (the FLOP count then includes "
                             "the recomputation)")
    parser.add_argument("--microbatch_size", type=int, default=0,
                        help="train.py --microbatch_size: the gradient "
                             "accumulated over micro-batches of this size")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--rss_steps", default="",
                        help="e.g. 200,1000: resident set at these steps")
    parser.add_argument("--rss_batch_size", type=int, default=8)
    parser.add_argument("--output", default=None,
                        help="also write the JSON to this file")
    parser.add_argument("--single", default=None,
                        help="internal: benchmark one model in this process "
                             "and print its JSON")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    if args.device == "gpu" and not gpus:
        sys.exit("bench_train.py --device=gpu: TensorFlow sees no GPU "
                 "(install with `make install DEVICE=gpu`).")
    if args.device == "cpu" and gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # children: CPU only
    rss_steps = tuple(int(x) for x in args.rss_steps.split(",") if x)
    if args.single:
        hparams = {**model_hparams(args.single, args.config,
                                   args.max_frames),
                   **json.loads(args.hparams)}
        r = bench_model(args.single, args.batch_size, args.max_frames,
                        args.num_classes, [1024, 128], args.warmup,
                        args.steps, hparams, args.mixed_precision,
                        args.jit_compile, rss_steps, args.rss_batch_size,
                        args.remat, args.microbatch_size)
        r["hparams"] = hparams
        print(json.dumps(r))
        return
    if args.device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    peak = matmul_gflops(4096 if args.device == "gpu" else 2048)
    peak_bf16 = matmul_gflops(4096 if args.device == "gpu" else 2048,
                              dtype=tf.bfloat16)
    peak_f16 = (matmul_gflops(4096, dtype=tf.float16)
                if args.device == "gpu" else None)
    passed = [a for a in sys.argv[1:]
              if not a.startswith(("--models", "--output", "--single"))]
    results = {}
    for name in [m for m in args.models.split(",") if m]:
        # One process per model: its own peak RSS, and no model's memory
        # is still held while the next one runs.
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), f"--single={name}",
             *passed],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            results[name] = {"error": proc.stderr.strip().splitlines()[-3:]}
            print(f"# {name}: FAILED {results[name]['error']}",
                  file=sys.stderr, flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        achieved = r["train_flops_per_example"] * r["examples_per_sec"] / 1e9
        r["achieved_gflops"] = achieved
        r["achieved_over_float32_peak"] = achieved / peak
        if args.mixed_precision == "mixed_bfloat16":
            r["achieved_over_bfloat16_peak"] = achieved / peak_bf16
        if args.mixed_precision == "mixed_float16" and peak_f16:
            r["achieved_over_float16_peak"] = achieved / peak_f16
        r["examples_per_sec_per_peak_gflops"] = r["examples_per_sec"] / peak
        results[name] = r
        print(f"# {name}: {r['examples_per_sec']:.1f} examples/s, "
              f"{r['train_flops_per_example'] / 1e9:.2f} GFLOP/example, "
              f"{r['achieved_over_float32_peak']:.2f} of peak, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", file=sys.stderr,
              flush=True)
    out = {
        "benchmark": "train_step_throughput",
        "machine": {"platform": platform.platform(),
                    "processor": platform.processor(),
                    "cpu_count": os.cpu_count(),
                    "device": args.device,
                    "gpus": [g.name for g in gpus],
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "tensorflow": tf.__version__},
        "shapes": {"batch_size": args.batch_size,
                   "max_frames": args.max_frames,
                   "feature_sizes": [1024, 128],
                   "num_classes": args.num_classes},
        "hyperparameters": (f"DbofModel --config={args.config}"
                            if args.config else
                            "model defaults (upstream/published)"),
        "extra_hparams": json.loads(args.hparams),
        "mixed_precision": args.mixed_precision,
        "jit_compile": args.jit_compile,
        "remat": args.remat,
        "microbatch_size": args.microbatch_size,
        "flops_counted": "dense-algebra ops of the traced training step "
                         "(bench/flop_count.py), backward included",
        "reference_matmul_float32_gflops": peak,
        "reference_matmul_bfloat16_gflops": peak_bf16,
        "reference_matmul_float16_gflops": peak_f16,
        "warmup_steps": args.warmup,
        "measured_steps": args.steps,
        "models": results,
    }
    text = json.dumps(out, indent=2)
    if args.output:
        with open(args.output + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.output + ".tmp", args.output)
    print(text)


if __name__ == "__main__":
    main()
