"""Benchmark: `loop.train` end to end against the bare training step.

Target (performance issue): `train.py` end to end (TFRecords in, logs,
checkpoints) runs at >= 0.9x the bare training step of the same model, i.e.
the loop and the input pipeline cost under 10%.

For each model in `--models`, in one process and one run:

1. Synthetic shards are written to a temp dir with the library writers:
   uint8-quantized random features (rgb 1024 + audio 128), 3862 classes,
   1-5 labels per video (3 on average); frame-level videos have 1 to
   `--max_frames` frames (uniform). There are enough videos for the warm-up
   and the timed steps plus the shuffle buffer, so no epoch ends inside the
   timed window (`num_epochs` is set large anyway).
2. LOOP: `yt8m.training.loop.train(cfg)` runs in this process with a fresh
   train_dir, `max_steps = warmup + steps`, `log_every_steps` (default 10),
   `save_checkpoint_steps` so large that the only checkpoint is the final
   one, `export_model_steps=0`, `num_readers` (TrainConfig default 8),
   `progress_bar=False`, `--mixed_precision`, `--jit_compile`; everything
   else at TrainConfig defaults (Adam, lr schedule, clip 1.0, summaries).
   TIMING: a handler on the absl logger timestamps the loop's own
   "training step %d | ... Examples/sec" lines. The loop syncs with the
   device on every log step (it reads every pending loss before logging),
   so the wall time between the log lines of step `warmup` and of step
   `warmup + steps` is exactly `steps` steady-state steps, including
   everything the loop does in them: reading and parsing the TFRecords,
   the distributed step, the per-step Python, one host sync, the training
   metrics (Hit@1, PERR, GAP) and the TensorBoard summaries per
   `log_every_steps` steps. Not in the window, reported separately: the
   start (strategy, model build, tracing, the first steps), and the final
   checkpoint (`final_checkpoint_s`: from the last log line to the return
   of `train`, essentially `ckpt.save` + close); `..._incl_checkpoints`
   amortises that checkpoint at TrainConfig's default
   `save_checkpoint_steps` (1000).
   The loop's step: `next(iterator)` inside one `tf.function`, a
   one-replica MirroredStrategy `strategy.run`, forward (training=True),
   per-example CrossEntropyLoss summed / global batch + penalty(1.0) *
   regularization losses, backward, an all-reduce, per-variable
   `clip_by_norm(1.0)`, Adam (TF1 defaults, staircase lr schedule); the
   forward/backward is XLA-compiled with `--jit_compile`.
3. BARE: `bench_train.make_train_step(model, features, labels)` of the same
   model (same spec, hyperparameters, dtype policy and device), fed ONE
   batch read from the same shards by the same reader and kept as constant
   tensors: forward (training=True), mean CrossEntropyLoss +
   sum(model.losses), backward, per-variable `clip_by_norm(1.0)`, Adam
   (lr 1e-3), in one `tf.function`, `.numpy()` of the loss every step.
   No reader, no strategy, no logging. With `--jit_compile` the forward and
   backward are XLA-compiled (as in the loop); with `mixed_float16` it
   scales the loss (LossScaleOptimizer) as the loop does. The bare steps run half before and half after the loop (load
   drift on a shared machine hits both sides); their combined rate counts.
4. INPUT PIPELINE ALONE (diagnostic, `--no_pipeline` skips it): the loop's
   dataset (`readers.build_dataset` with the loop's arguments +
   `objective.prepare_dataset`), iterated without a model for `steps`
   batches after `warmup` batches.
5. LOOP ON CONSTANT INPUT (diagnostic, `--constant_input`): the loop again,
   with `yt8m.readers.build_dataset` patched to repeat the bare step's
   batch from memory: the loop's own machinery without the reader, so
   loop/bare splits into (constant-input loop / bare) x (real / constant).

The machine's float32 matmul GFLOP/s (`bench_train.matmul_gflops`) at
the start and the end, with the load average, shows how busy it was.

Reported per model: examples/s of loop and bare, `ratio = loop / bare`,
`met = ratio >= --target` (0.9), and `cpu_ratio` (process CPU-seconds per
step, bare / loop); the process CPU time per step of each side and of the
pipeline alone, with the loop's CPU per step split into bare step + input
pipeline + rest (estimated from the parts measured alone); on Linux, the
CPU seconds of the loop's timed window per thread group (the Python main
thread, TensorFlow's named `tf_*` pools, and the unnamed threads: tf.data
and Eigen intra-op work, which Linux cannot tell apart by name).

On a shared machine read `ratio` with the load average and the matmul
GFLOP/s: the loop runs more threads than the bare step (the reader's), so
it can win a larger CPU share from other users' processes and even beat
the bare step; `cpu_ratio` is steadier, and the wall ratio tends to it
when the step keeps every core busy.

    python bench/bench_loop.py                     # MoeModel + DbofModel
    python bench/bench_loop.py --models=MoeModel --steps=50
    python bench/bench_loop.py --hparams='{"dbof_cluster_size": 8192}'
    python bench/bench_loop.py --device=gpu --mixed_precision=mixed_bfloat16

Prints ONE JSON object on stdout (progress on stderr).
"""

import argparse
import collections
import gc
import json
import logging as std_logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NUM_CLASSES = 3862
FEATURE_SIZES = [1024, 128]
DEFAULT_MODELS = "MoeModel,DbofModel"
# Modest frame-level hyperparameters: a DbofModel step of ~0.1-0.5 s at
# batch 64 on a 2-core CPU. Merged under --hparams.
DEFAULT_HPARAMS = {"DbofModel": {"dbof_cluster_size": 1024,
                                 "dbof_hidden_size": 512}}
TARGET = 0.9
# TrainConfig's default checkpoint period, to amortise the final checkpoint.
DEFAULT_SAVE_CHECKPOINT_STEPS = 1000
LOG_PREFIX = "training step"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help="comma-separated registered model names")
    parser.add_argument("--hparams", default="",
                        help="JSON: {model: {name: value}} or {name: value} "
                             "(applied to every selected model declaring "
                             "it); merged over the defaults "
                             f"{json.dumps(DEFAULT_HPARAMS)}")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--num_classes", type=int, default=NUM_CLASSES,
                        help="label vocabulary (smaller only for quick "
                             "checks)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed loop steps (a multiple of "
                             "--log_every_steps)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed loop steps and bare steps (a multiple "
                             "of --log_every_steps)")
    parser.add_argument("--bare_warmup", type=int, default=3,
                        help="untimed bare steps (the first one traces)")
    parser.add_argument("--log_every_steps", type=int, default=10)
    parser.add_argument("--num_readers", type=int, default=None,
                        help="default: TrainConfig's (8)")
    parser.add_argument("--num_shards", type=int, default=8)
    parser.add_argument("--num_videos", type=int, default=None,
                        help="default: (warmup + steps + 6) * batch_size")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--mixed_precision", default="float32",
                        help="float32, mixed_bfloat16 or mixed_float16")
    parser.add_argument("--jit_compile", action="store_true")
    parser.add_argument("--no_pipeline", action="store_true",
                        help="skip the input-pipeline-alone measurement")
    parser.add_argument("--constant_input", action="store_true",
                        help="also run the loop on the bare step's batch "
                             "repeated in memory (no reader): splits the "
                             "loop's overhead into loop vs reader")
    parser.add_argument("--target", type=float, default=TARGET)
    parser.add_argument("--matmul_n", type=int, default=2048,
                        help="size of the float32 matmul measured at the "
                             "start and the end (bench_train.matmul_gflops) "
                             "to show how loaded the machine was")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("batch_size", "max_frames", "num_classes", "steps",
                 "log_every_steps", "num_shards", "matmul_n"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    for name in ("warmup", "bare_warmup"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0")
    for name in ("warmup", "steps"):
        if getattr(args, name) % args.log_every_steps:
            parser.error(
                f"--{name}={getattr(args, name)} must be a multiple of "
                f"--log_every_steps={args.log_every_steps}: the timed window "
                "runs from one log line (a host sync) to another")
    if args.warmup == 0:
        # The first log is at step 1 (after tracing): not a steady state.
        parser.error("--warmup must be positive (step 1 traces the step)")
    if args.num_readers is not None and args.num_readers <= 0:
        parser.error("--num_readers must be positive")
    if args.num_videos is not None and args.num_videos <= 0:
        parser.error("--num_videos must be positive")
    args.model_names = [m.strip() for m in args.models.split(",")
                        if m.strip()]
    if not args.model_names:
        parser.error("--models is empty")
    try:
        args.hparams_json = json.loads(args.hparams) if args.hparams else {}
    except json.JSONDecodeError as e:
        parser.error(f"--hparams is not valid JSON: {e}")
    if not isinstance(args.hparams_json, dict):
        parser.error("--hparams must be a JSON object")
    return args


def fail(message):
    print(f"bench_loop.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def resolve_hparams(models, names, overrides):
    """{model: hparams}: DEFAULT_HPARAMS, then `overrides` (see --hparams)."""
    result = {n: dict(DEFAULT_HPARAMS.get(n, {})) for n in names}
    declared = {n: set(models.model_hparam_names(n)) for n in names}
    registered = set(models.list_models())
    model_keys = [k for k in overrides if k in registered]
    if model_keys and len(model_keys) != len(overrides):
        fail("--hparams mixes model names and hyperparameter names: "
             f"{sorted(overrides)}")
    if model_keys:
        for name, values in overrides.items():
            if name not in result:
                fail(f"--hparams names {name}, which is not in --models")
            if not isinstance(values, dict):
                fail(f"--hparams[{name!r}] must be a JSON object")
            unknown = sorted(set(values) - declared[name])
            if unknown:
                fail(f"--hparams: {name} does not declare {unknown}; it "
                     f"declares {sorted(declared[name])}")
            result[name].update(values)
    else:
        for key, value in overrides.items():
            owners = [n for n in names if key in declared[n]]
            if not owners:
                fail(f"--hparams: no model in --models declares {key!r}")
            for n in owners:
                result[n][key] = value
    return result


def select_device(tf, device):
    """Hides GPUs for `cpu`; for `gpu` returns '/GPU:0' or fails clearly."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu":
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return "/CPU:0"
    if not gpus:
        build = tf.sysconfig.get_build_info()
        fail(
            "--device=gpu, but TensorFlow finds no GPU "
            "(tf.config.list_physical_devices('GPU') is empty; tensorflow "
            f"{tf.__version__}, built with CUDA: "
            f"{bool(build.get('is_cuda_build'))}). Install the GPU build "
            "(pip install -e '.[gpu]', see README Install) or run with "
            "--device=cpu.")
    return "/GPU:0"


def machine_info(tf, device):
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "device": device,
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if device == "gpu":
        info["gpus"] = [
            tf.config.experimental.get_device_details(g).get("device_name",
                                                             g.name)
            for g in tf.config.list_physical_devices("GPU")]
    return info


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- per-thread CPU time (Linux /proc) ---

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_cpu():
    """{tid: (group, cpu_seconds)} of this process's threads; {} off Linux.

    TensorFlow names only some of its threads (`tf_Compute`: the inter-op
    pool); tf.data's and Eigen's intra-op threads inherit the process name,
    so they cannot be told apart by name: they form `other_threads`.
    """
    result = {}
    base = "/proc/self/task"
    try:
        tids = os.listdir(base)
    except OSError:
        return result
    main_tid = str(os.getpid())
    for tid in tids:
        try:
            with open(f"{base}/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"{base}/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rfind(")") + 2:].split()
        # stat fields 14 and 15 (utime, stime) are 11 and 12 after comm.
        cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK
        if tid == main_tid:
            group = "python_main_thread"
        elif name.startswith("tf_"):
            group = name  # tf_Compute, tf_graph_runner, ...
        else:
            group = "other_threads"
        result[tid] = (group, cpu)
    return result


def cpu_split(before, after, wall):
    """CPU seconds per thread group between two `thread_cpu()` snapshots
    (threads that ended in between are not counted)."""
    by_group = collections.Counter()
    for tid, (group, cpu) in after.items():
        delta = cpu - before.get(tid, (group, 0.0))[1]
        if delta > 0:
            by_group[group] += delta
    total = sum(by_group.values())
    return {
        "cpu_s_by_thread_group": {k: round(v, 3)
                                  for k, v in by_group.most_common()},
        "cpu_s_threads_total": round(total, 3),
        "cores_busy": round(total / wall, 2) if wall > 0 else None,
    }


# --- data ---

def write_shards(writers, np, directory, frame_level, num_videos, num_shards,
                 max_frames, num_classes, seed):
    """uint8-quantized random videos in `num_shards` files; returns a glob
    and the mean frame count (frame-level) or None."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    total_frames = 0
    for shard, videos in enumerate(
            np.array_split(np.arange(num_videos), num_shards)):

        def examples(videos=videos):
            nonlocal total_frames
            for v in videos:
                labels = sorted(rng.choice(
                    num_classes, min(int(rng.integers(1, 6)), num_classes),
                    replace=False).tolist())
                if frame_level:
                    n = int(rng.integers(1, max_frames + 1))
                    total_frames += n
                    yield writers.make_frame_example(
                        f"v{v:06d}", labels,
                        {"rgb": rng.integers(0, 256, (n, FEATURE_SIZES[0]),
                                             dtype=np.uint8),
                         "audio": rng.integers(0, 256, (n, FEATURE_SIZES[1]),
                                               dtype=np.uint8)})
                else:
                    yield writers.make_video_example(
                        f"v{v:06d}", labels,
                        {"mean_rgb": writers.dequantize(rng.integers(
                            0, 256, FEATURE_SIZES[0], dtype=np.uint8)),
                         "mean_audio": writers.dequantize(rng.integers(
                             0, 256, FEATURE_SIZES[1], dtype=np.uint8))})

        writers.write_tfrecord(
            os.path.join(directory, f"train-{shard:04d}.tfrecord"),
            examples())
    mean_frames = total_frames / num_videos if frame_level else None
    return os.path.join(directory, "train-*.tfrecord"), mean_frames


# --- the loop ---

class _LogTimes(std_logging.Handler):
    """Timestamps the loop's 'training step %d | ...' records."""

    def __init__(self, snapshot_steps):
        super().__init__(level=std_logging.INFO)
        self.snapshot_steps = set(snapshot_steps)
        self.steps = {}     # step -> (perf_counter, process_time)
        self.logged_eps = {}
        self.threads = {}   # step -> thread_cpu()
        self.stopped = None

    def emit(self, record):
        now, cpu = time.perf_counter(), time.process_time()
        msg = str(record.msg)
        if msg.startswith(LOG_PREFIX) and record.args:
            step = int(record.args[0])
            self.steps[step] = (now, cpu)
            self.logged_eps[step] = float(record.args[2])
            if step in self.snapshot_steps:
                self.threads[step] = thread_cpu()
        elif msg.startswith("Training stopped"):
            self.stopped = now


def run_loop(tf, config_lib, loop, spec, pattern, train_dir, args):
    from absl import logging as absl_logging

    first, last = args.warmup, args.warmup + args.steps
    kwargs = dict(
        train_dir=train_dir,
        train_data_pattern=pattern,
        spec=spec,
        batch_size=args.batch_size,
        num_epochs=10**6,
        max_steps=last,
        log_every_steps=args.log_every_steps,
        save_checkpoint_steps=10**9,
        export_model_steps=0,
        progress_bar=False,
        shuffle_seed=args.seed,
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        start_new_model=True,
    )
    if args.num_readers is not None:
        kwargs["num_readers"] = args.num_readers
    cfg = config_lib.TrainConfig(**kwargs)
    handler = _LogTimes((first, last))
    absl_logger = std_logging.getLogger("absl")
    old_verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger.addHandler(handler)
    try:
        start = time.perf_counter()
        summary = loop.train(cfg)
        end = time.perf_counter()
    finally:
        absl_logger.removeHandler(handler)
        absl_logging.set_verbosity(old_verbosity)
    model = summary.pop("model")
    if summary["step"] != last or summary["stopped_by"] != "max_steps":
        raise AssertionError(f"the loop stopped early: {summary}")
    if summary["examples"] != last * args.batch_size:
        raise AssertionError(
            f"the loop counted {summary['examples']} examples, expected "
            f"{last * args.batch_size}")
    missing = [s for s in (1, first, last) if s not in handler.steps]
    if missing:
        raise AssertionError(
            f"no 'training step' log line for steps {missing}: does loop.py "
            f"still log '{LOG_PREFIX} %d | Loss: %.2f Examples/sec: %.2f'?")
    (t0, c0), (t1, c1) = handler.steps[first], handler.steps[last]
    wall = t1 - t0
    examples = args.steps * args.batch_size
    rate = examples / wall
    # The last log line to "Training stopped" (written after the final
    # ckpt.save, ckpt.close and the summary flush).
    ckpt_s = (handler.stopped or end) - t1
    per_step = wall / args.steps
    amortised = examples / (wall + ckpt_s * args.steps
                            / DEFAULT_SAVE_CHECKPOINT_STEPS)
    window_logs = [s for s in handler.logged_eps if first < s <= last]
    result = {
        "examples_per_sec": rate,
        "seconds_per_step": round(per_step, 6),
        "loop_logged_examples_per_sec": [
            round(handler.logged_eps[s], 2) for s in sorted(window_logs)],
        "process_cpu_s_per_step": round((c1 - c0) / args.steps, 4),
        "startup_s_to_step_1_incl_trace": round(
            handler.steps[1][0] - start, 2),
        "warmup_s_step_1_to_warmup": round(t0 - handler.steps[1][0], 2),
        "final_checkpoint_s": round(ckpt_s, 3),
        f"examples_per_sec_incl_checkpoints_every_"
        f"{DEFAULT_SAVE_CHECKPOINT_STEPS}_steps": round(amortised, 2),
        "train_call_s": round(end - start, 2),
        "final_loss": round(float(summary["loss"]), 4),
    }
    if first in handler.threads and last in handler.threads:
        result["cpu_split_timed_window"] = cpu_split(
            handler.threads[first], handler.threads[last], wall)
    return result, rate, model


def run_loop_constant_input(tf, libs, spec, pattern, batch, train_dir,
                            args):
    """`run_loop` with the reader replaced by `batch` repeated in memory:
    the loop's own cost (strategy, clipping, logging, metrics, summaries)
    without the input pipeline's. Patches `yt8m.readers.build_dataset`
    for the duration of the call (diagnostic only)."""
    readers = libs["readers"]
    real = readers.build_dataset
    calls = []
    batch = {k: tf.identity(v) for k, v in batch.items()}

    def constant_dataset(*unused_args, **unused_kwargs):
        calls.append(1)
        return tf.data.Dataset.from_tensors(batch).repeat()

    readers.build_dataset = constant_dataset
    try:
        result, rate, model = run_loop(tf, libs["config"], libs["loop"], spec,
                                       pattern, train_dir, args)
    finally:
        readers.build_dataset = real
    del model
    if not calls:
        raise AssertionError(
            "--constant_input: loop.train did not call "
            "yt8m.readers.build_dataset, so the patch did not apply")
    keep = ("examples_per_sec", "seconds_per_step", "process_cpu_s_per_step")
    return {k: result[k] for k in keep}, rate


# --- the bare step ---

def one_batch(tf, readers, reader, objective, pattern, batch_size):
    """A batch of the training data, as the loop's step would get it."""
    dataset = readers.build_dataset(pattern, reader, batch_size,
                                    training=False, num_readers=1,
                                    drop_remainder=True)
    dataset = objective.prepare_dataset(dataset, training=True)
    return next(iter(dataset))


def run_bare(tf, models, bench_train, precision, inputs, spec, batch,
             device_name, args):
    """(step callable, model): bench_train.make_train_step on `batch`."""
    with tf.device(device_name), precision.policy_scope(args.mixed_precision):
        model = models.build_model_from_spec(spec)
    with tf.device(device_name):
        features = {k: tf.identity(batch[k])
                    for k in inputs.input_names(model)}
        labels = tf.identity(batch["labels"])
        step = bench_train.make_train_step(
            model, features, labels, jit_compile=args.jit_compile,
            mixed_precision=args.mixed_precision)
    return step, model


def time_bare(tf, step, count, device_name):
    with tf.device(device_name):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            step().numpy()
        return time.perf_counter() - start, time.process_time() - cpu


# --- the input pipeline alone ---

def time_pipeline(tf, readers, reader, objective, pattern, args, num_readers):
    """The loop's dataset without a model: examples/s after warm-up."""
    dataset = readers.build_dataset(
        pattern, reader, batch_size=args.batch_size, training=True,
        num_epochs=10**6, shuffle_seed=args.seed,
        shuffle_buffer=5 * args.batch_size, num_readers=num_readers)
    dataset = objective.prepare_dataset(dataset, training=True)
    iterator = iter(dataset)
    for _ in range(args.warmup):
        next(iterator)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        batch = next(iterator)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    del batch, iterator
    examples = args.steps * args.batch_size
    result = {
        "examples_per_sec": round(examples / wall, 2),
        "process_cpu_ms_per_example": round(1000 * cpu / examples, 3),
        "cores_busy": round(cpu / wall, 2),
    }
    return result, examples / wall


# --- main ---

def bench_model(name, hparams, args, libs, directory, device_name):
    tf, np = libs["tf"], libs["np"]
    models = libs["models"]
    frame_level = bool(getattr(models.get_model_class(name), "frame_level",
                               False))
    spec = libs["config"].ModelSpec(
        model=name,
        feature_names=["rgb", "audio"] if frame_level
        else ["mean_rgb", "mean_audio"],
        feature_sizes=list(FEATURE_SIZES),
        frame_features=frame_level,
        num_classes=args.num_classes,
        max_frames=args.max_frames,
        model_hparams=dict(hparams),
    )
    num_videos = args.num_videos or (
        (args.warmup + args.steps + 6) * args.batch_size)
    data_dir = os.path.join(directory, name, "data")
    start = time.perf_counter()
    pattern, mean_frames = write_shards(
        libs["writers"], np, data_dir, frame_level, num_videos,
        args.num_shards, args.max_frames, args.num_classes, args.seed)
    write_s = time.perf_counter() - start
    data_mb = sum(os.path.getsize(os.path.join(data_dir, f))
                  for f in os.listdir(data_dir)) / 2**20
    inputs, readers = libs["inputs"], libs["readers"]
    reader = inputs.make_reader(spec)
    objective = models.build_model_from_spec(spec).objective(
        spec.label_loss, False)
    keras = libs["keras"]
    keras.backend.clear_session()
    batch = one_batch(tf, readers, reader, objective, pattern,
                      args.batch_size)

    print(f"# {name}: bare step (first half)", file=sys.stderr, flush=True)
    step, bare_model = run_bare(tf, models, libs["bench_train"],
                                libs["precision"], inputs, spec, batch,
                                device_name, args)
    start = time.perf_counter()
    time_bare(tf, step, 1, device_name)
    bare_first_s = time.perf_counter() - start
    time_bare(tf, step, max(args.bare_warmup - 1, 0), device_name)
    half = args.steps // 2
    w1, c1 = time_bare(tf, step, half, device_name)

    print(f"# {name}: loop.train, {args.warmup}+{args.steps} steps",
          file=sys.stderr, flush=True)
    loop_result, loop_rate, loop_model = run_loop(
        tf, libs["config"], libs["loop"], spec, pattern,
        os.path.join(directory, name, "train_dir"), args)
    del loop_model
    constant = None
    if args.constant_input:
        print(f"# {name}: loop.train on a constant in-memory batch",
              file=sys.stderr, flush=True)
        constant, constant_rate = run_loop_constant_input(
            tf, libs, spec, pattern, batch,
            os.path.join(directory, name, "train_dir_constant"), args)

    print(f"# {name}: bare step (second half)", file=sys.stderr, flush=True)
    w2, c2 = time_bare(tf, step, args.steps - half, device_name)
    bare_wall, bare_cpu = w1 + w2, c1 + c2
    examples = args.steps * args.batch_size
    bare_rate = examples / bare_wall
    halves = [round(half * args.batch_size / w1, 2) if half else None,
              round((args.steps - half) * args.batch_size / w2, 2)]
    bare_result = {
        "examples_per_sec": bare_rate,
        "seconds_per_step": round(bare_wall / args.steps, 6),
        "examples_per_sec_before_after_loop": halves,
        "process_cpu_s_per_step": round(bare_cpu / args.steps, 4),
        "first_step_s_incl_trace": round(bare_first_s, 2),
        "params": int(bare_model.count_params()),
        "variable_device": bare_model.trainable_variables[0].value.device,
    }
    del step, bare_model, batch
    gc.collect()
    keras.backend.clear_session()

    pipeline = None
    if not args.no_pipeline:
        print(f"# {name}: input pipeline alone", file=sys.stderr, flush=True)
        num_readers = args.num_readers or \
            libs["config"].TrainConfig.__dataclass_fields__[
                "num_readers"].default
        pipeline, pipe_rate = time_pipeline(
            tf, readers, reader, objective, pattern, args, num_readers)
        pipeline["examples_per_sec_over_bare"] = round(pipe_rate / bare_rate,
                                                       3)
        gc.collect()

    ratio = loop_rate / bare_rate
    result = {
        "frame_level": frame_level,
        "hparams": dict(hparams),
        "data": {"num_videos": num_videos, "num_shards": args.num_shards,
                 "mean_frames_per_video": round(mean_frames, 1)
                 if mean_frames else None,
                 "mb": round(data_mb, 1), "write_s": round(write_s, 1)},
        "loop": loop_result,
        "bare_step": bare_result,
        "ratio": round(ratio, 4),
        "target": args.target,
        "met": bool(ratio >= args.target),
        # CPU-seconds per step, bare / loop: steadier than the wall ratio
        # on a shared machine; the wall ratio tends to it when the step
        # keeps every core busy (nothing left for the reader to use).
        "cpu_ratio": round(bare_result["process_cpu_s_per_step"]
                           / loop_result["process_cpu_s_per_step"], 4),
    }
    if constant is not None:
        constant["ratio_to_bare"] = round(constant_rate / bare_rate, 4)
        constant["real_input_over_constant_input"] = round(
            loop_rate / constant_rate, 4)
        result["loop_constant_input"] = constant
    if pipeline is not None:
        result["input_pipeline_alone"] = pipeline
        # Where the loop's CPU goes per step, estimated from the two parts
        # measured alone (the rest: strategy, per-step Python, metrics,
        # summaries, and any cost of running both at once).
        total = loop_result["process_cpu_s_per_step"]
        bare_cpu_step = bare_result["process_cpu_s_per_step"]
        pipe_cpu_step = (pipeline["process_cpu_ms_per_example"]
                         * args.batch_size / 1000)
        result["loop_cpu_s_per_step_estimate"] = {
            "total_measured": total,
            "bare_step_alone": round(bare_cpu_step, 4),
            "input_pipeline_alone": round(pipe_cpu_step, 4),
            "rest": round(total - bare_cpu_step - pipe_cpu_step, 4),
        }
    print(f"# {name}: loop {loop_rate:.1f} / bare {bare_rate:.1f} examples/s"
          f" = {ratio:.3f}", file=sys.stderr, flush=True)
    return result


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for path in (ROOT, HERE):
        if path not in sys.path:
            sys.path.insert(0, path)

    import numpy as np
    import tensorflow as tf

    import keras

    import bench_train
    from yt8m import config as config_lib
    from yt8m import models
    from yt8m import readers
    from yt8m.data import writers
    from yt8m.readers import model_inputs as inputs
    from yt8m.training import loop
    from yt8m.training import precision

    try:
        precision.check_policy(args.mixed_precision)
    except ValueError as e:
        fail(f"--mixed_precision: {e}")
    available = models.list_models()
    for name in args.model_names:
        if name not in available:
            fail(f"--models: unknown model {name!r}; registered: "
                 f"{', '.join(available)}")
    hparams = resolve_hparams(models, args.model_names, args.hparams_json)
    device_name = select_device(tf, args.device)
    machine = machine_info(tf, args.device)
    libs = dict(tf=tf, np=np, keras=keras, bench_train=bench_train,
                config=config_lib, models=models, readers=readers,
                writers=writers, inputs=inputs, loop=loop,
                precision=precision)
    with tf.device(device_name):
        gflops_start = bench_train.matmul_gflops(n=args.matmul_n)
    directory = tempfile.mkdtemp(prefix="bench_loop_")
    results = {}
    try:
        for name in args.model_names:
            results[name] = bench_model(name, hparams[name], args, libs,
                                        directory, device_name)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    with tf.device(device_name):
        gflops_end = bench_train.matmul_gflops(n=args.matmul_n)
    machine["matmul_float32_gflops_start_end"] = [round(gflops_start, 1),
                                                  round(gflops_end, 1)]
    print(json.dumps({
        "benchmark": "bench_loop",
        "goal": "loop.train end to end (TFRecords in, logs, checkpoints) "
                f">= {args.target}x the bare training step",
        "machine": machine,
        "settings": {
            "batch_size": args.batch_size,
            "max_frames": args.max_frames,
            "feature_sizes": FEATURE_SIZES,
            "num_classes": args.num_classes,
            "warmup_steps": args.warmup,
            "timed_steps": args.steps,
            "bare_warmup_steps": args.bare_warmup,
            "log_every_steps": args.log_every_steps,
            "num_readers": args.num_readers or config_lib.TrainConfig
            .__dataclass_fields__["num_readers"].default,
            "mixed_precision": args.mixed_precision,
            "jit_compile": args.jit_compile,
        },
        "method": {
            "loop": "wall time between the loop's own log lines at steps "
                    "warmup and warmup+steps (each follows a host sync): "
                    "reader + distributed step (clip_by_norm per variable, "
                    "Adam, lr schedule) + per-step Python + metrics and "
                    "summaries every log_every_steps; start and final "
                    "checkpoint reported separately",
            "bare_step": "bench_train.make_train_step on one constant "
                         "reader batch: forward, loss, backward, "
                         "clip_by_norm per variable, Adam, .numpy() per step; half the "
                         "timed steps before the loop, half after",
            "ratio": "loop.examples_per_sec / bare_step.examples_per_sec",
            "cpu_ratio": "bare_step / loop process CPU-seconds per step "
                         "(steadier on a shared machine)",
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "models": results,
        "met": all(r["met"] for r in results.values()),
    }, indent=2))


if __name__ == "__main__":
    main()
