"""Benchmark: inference.py / eval.py end to end next to the bare forward pass.

In one run:
  1. writes --num_videos synthetic videos: frame-level shards
     (`bench_readers.write_shards`: rgb 1024 + audio 128 uint8, random frame
     counts up to --max_frames) for a frame-level --model, video-level
     shards (mean_rgb + mean_audio floats) for a video-level one;
  2. trains a checkpoint of --model in a subprocess (`train.py
     --max_steps=--train_steps --export_model_steps=0`; the weights do not
     matter here, only the architecture and its cost);
  3. runs `eval.py --run_once`, then `inference.py` (which loads the
     `inference_model.keras` eval.py exports, as in the usual workflow),
     each in its own interpreter, unmodified, behind a small bootstrap that
     notes when TensorFlow + yt8m are imported and when each batch comes
     out of `yt8m.evaluation.predict_batches` (the loop both binaries run);
  4. before the binaries and after each of them, loads the same model
     in-process the way inference.py does
     (`yt8m.inference.load_inference_model`: the checkpoint, then eval.py's
     export) and times the bare forward pass, `model(features,
     training=False)` in a `tf.function` plus `.numpy()` (as
     `predict_batches` does), over pre-built reader batches of the same
     shape. Each binary is compared with the mean of the two passes around
     it, so a machine shared with other jobs drifts less into the ratio.

Per binary: wall time and end-to-end videos/s; the fixed start-up cost
(time to the first batch: interpreter, TensorFlow/yt8m import, flags,
model load, tracing, pipeline start; the import part separately); the
steady-state videos/s after the first batch (reader, forward, and the
binary's per-batch work: CSV lines or metric accumulation, all on the same
cores), also as CPU ms per video (less sensitive to other jobs); and the
tail after the last batch (CSV rename, eval's metrics,
summaries and model export, interpreter exit). Target: steady-state / bare
forward >= 0.8 for each binary. Prints ONE JSON object.

The tail can hold an idle wait of up to tens of seconds: with TF 2.21 on
CPU the tf.data iterator's teardown after the last batch sometimes waits
(no CPU used) until a later tf.data autotuning wake-up; it did not happen
with `tf.data.Options().autotune.enabled = False`. The steady state leaves
it out; the end-to-end figures include it.

  python bench/bench_infer.py                   # DbofModel, ~3 min on 2 cores
  python bench/bench_infer.py --model=MoeModel  # video-level
  python bench/bench_infer.py --hparams=dbof_cluster_size=1024,moe_l2=1e-6
  python bench/bench_infer.py --binaries=inference  # skip eval.py
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NUM_CLASSES = 3862
TARGET_BINARY_TO_BARE_FORWARD = 0.8
MARK = "bench_infer-mark: "
# Runs a binary as `python <binary> <flags>` would, noting (on stderr, as
# MARK + JSON, wall-clock times) when the imports are done and when the
# first and the last batch left `evaluation.predict_batches`.
BOOTSTRAP = r"""
import json, runpy, sys, time
MARK = %r
def mark(**kw):
    sys.stderr.write(MARK + json.dumps(kw) + "\n")
    sys.stderr.flush()
import tensorflow
import keras
from yt8m import evaluation
mark(event="imports_done", t=time.time())
_predict_batches = evaluation.predict_batches
def predict_batches(model, dataset):
    times, cpus, videos = [], [], []
    for batch, predictions in _predict_batches(model, dataset):
        times.append(time.time())
        cpus.append(time.process_time())
        videos.append(int(predictions.shape[0]))
        if len(times) == 1:
            mark(event="first_batch", t=times[0], videos=videos[0])
        yield batch, predictions
    if times:
        mark(event="batches", first_t=times[0], last_t=times[-1],
             cpu_s=cpus[-1] - cpus[0], batches=len(times),
             videos=sum(videos),
             first_videos=videos[0], last_videos=videos[-1])
evaluation.predict_batches = predict_batches
binary = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(binary, run_name="__main__")
""" % MARK
# train.py: TensorFlow is imported while the parent imports it and writes
# the data (training time is no figure here); train.py starts when its argv
# (a JSON list) arrives on stdin.
TRAIN_BOOTSTRAP = r"""
import json, runpy, sys, time
import tensorflow
import keras
import yt8m.models
argv = json.loads(sys.stdin.readline() or "null")
if not argv:
    sys.exit(0)
sys.stderr.write(%r + json.dumps({"event": "go", "t": time.time()}) + "\n")
sys.stderr.flush()
sys.argv = argv
runpy.run_path(argv[0], run_name="__main__")
""" % MARK


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument("--model", default="DbofModel")
    parser.add_argument("--hparams", default="",
                        help="name=value,... passed to train.py as "
                             "--name=value (model hyperparameter flags)")
    parser.add_argument("--num_videos", type=int, default=512,
                        help="videos read by each binary (a multiple of "
                             "--batch_size avoids a retrace on a last "
                             "partial batch)")
    parser.add_argument("--num_shards", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=128,
                        help="eval.py / inference.py / bare forward batch")
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--train_steps", type=int, default=2)
    parser.add_argument("--forward_batches", type=int, default=2,
                        help="distinct pre-built batches the bare forward "
                             "cycles through")
    parser.add_argument("--forward_steps", type=int, default=3,
                        help="timed batches per bare-forward pass (a "
                             "pass before the binaries and after each)")
    parser.add_argument("--binaries", default="eval,inference",
                        help="which of eval, inference to run")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="cpu hides any GPU from every process; gpu "
                             "checks that TensorFlow finds one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep_dir", default=None,
                        help="work in this directory and keep it (data, "
                             "train_dir, CSV, logs/ with per-line times)")
    args = parser.parse_args(argv)
    for name in ("num_videos", "num_shards", "batch_size", "max_frames",
                 "train_batch_size", "train_steps", "forward_batches",
                 "forward_steps"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.num_videos < 2 * args.batch_size:
        parser.error("--num_videos must be at least 2 * --batch_size (the "
                     "steady state is measured after the first batch)")
    binaries = [b.strip() for b in args.binaries.split(",") if b.strip()]
    if not binaries or set(binaries) - {"eval", "inference"}:
        parser.error("--binaries: a comma list of eval, inference")
    args.binaries = [b for b in ("eval", "inference") if b in binaries]
    return args


def fail(message):
    print(f"bench_infer.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def child_env(device):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    return env


class Child:
    """A subprocess whose output lines are collected with arrival times.

    `marks`: the bootstraps' MARK events by name, times in seconds after
    the start. With `log_path`, every line is written there with its time.
    """

    def __init__(self, cmd, env, log_path=None, stdin=False):
        self.cmd, self.log_path = cmd, log_path
        self.marks, self.timeline = {}, []
        self.out = {"stdout": [], "stderr": []}
        self.launched = time.time()
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=ROOT)
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout,
                                                      "stdout")),
            threading.Thread(target=self._pump, args=(self.proc.stderr,
                                                      "stderr"))]
        for t in self.threads:
            t.start()

    def _pump(self, stream, key):
        for line in stream:
            now = time.perf_counter() - self.start
            self.out[key].append(line)
            self.timeline.append(f"{now:9.3f} {key}: {line}")
            if line.startswith(MARK):
                event = json.loads(line[len(MARK):])
                for k in [k for k in event if k == "t" or k.endswith("_t")]:
                    event[k] = event[k] - self.launched
                self.marks[event.pop("event")] = event

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait(self, timeout=1800):
        """(wall_s, marks, stdout, stderr); fails if the exit code is not 0."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        for t in self.threads:
            t.join()
        wall = time.perf_counter() - self.start
        stdout = "".join(self.out["stdout"])
        stderr = "".join(self.out["stderr"])
        if self.log_path:
            with open(self.log_path, "w", encoding="utf-8") as f:
                f.write(" ".join(self.cmd) + "\n" + "".join(self.timeline)
                        + f"{wall:9.3f} exit {self.proc.returncode}\n")
        if self.proc.returncode != 0:
            # Not the bootstrap source.
            shown = " ".join(c for c in self.cmd if "\n" not in c)
            fail(f"{shown} exited {self.proc.returncode}:\n"
                 f"{stdout[-2000:]}\n{stderr[-4000:]}")
        return wall, self.marks, stdout, stderr


def run_timed(cmd, env, log_path=None):
    return Child(cmd, env, log_path).wait()


def write_video_level(writers, np, directory, num_videos, num_shards, seed):
    rng = np.random.default_rng(seed)
    for shard, videos in enumerate(np.array_split(np.arange(num_videos),
                                                  num_shards)):
        examples = (
            writers.make_video_example(
                f"{v:06d}",
                rng.choice(NUM_CLASSES, rng.integers(1, 6), replace=False),
                {"mean_rgb": rng.uniform(-2, 2, 1024).astype(np.float32),
                 "mean_audio": rng.uniform(-2, 2, 128).astype(np.float32)})
            for v in videos)
        writers.write_tfrecord(
            os.path.join(directory, f"train{shard:04d}.tfrecord"), examples)


def ratio(numerator, denominator, target, num_name, den_name):
    value = numerator / denominator
    return {"value": round(value, 4), "target": target,
            "met": bool(value >= target), "numerator": num_name,
            "denominator": den_name}


def binary_result(wall, marks, num_videos):
    """Figures of one binary run from its wall time and bootstrap marks."""
    batches = marks.get("batches")
    if "imports_done" not in marks or batches is None:
        fail(f"the bootstrap marks are missing ({sorted(marks)}): did the "
             "binary stop using yt8m.evaluation.predict_batches?")
    if batches["videos"] != num_videos:
        fail(f"the binary predicted {batches['videos']} videos; "
             f"{num_videos} were written")
    window = batches["last_t"] - batches["first_t"]
    if window <= 0:
        fail(f"no time between the first and the last batch ({window} s)")
    # Batches 2..n were produced in the window, and batches 1..n-1 consumed.
    steady_videos = batches["videos"] - batches["first_videos"]
    steady = steady_videos / window
    return {
        "wall_s": round(wall, 3),
        "videos": batches["videos"],
        "batches": batches["batches"],
        "end_to_end_videos_per_s": round(num_videos / wall, 3),
        "imports_s": round(marks["imports_done"]["t"], 3),
        "time_to_first_batch_s": round(batches["first_t"], 3),
        "steady_videos_per_s": round(steady, 3),
        "steady_window_s": round(window, 3),
        "steady_cpu_ms_per_video": round(
            1000 * batches["cpu_s"] / steady_videos, 3),
        "tail_after_last_batch_s": round(wall - batches["last_t"], 3),
    }, steady


def bare_forward(tf, inference, readers, inputs, train_dir, pattern, args):
    """One bare-forward pass: the model as inference.py loads it, then
    `model(features, training=False)` + `.numpy()` in a tf.function over
    pre-built reader batches; the first (tracing) call is not timed."""
    import gc

    start = time.perf_counter()
    model, spec = inference.load_inference_model(train_dir)
    load_s = time.perf_counter() - start
    keys = inputs.input_names(model)
    batches = []
    for batch in readers.build_dataset(
            pattern, inputs.make_reader(spec), args.batch_size):
        if int(batch["labels"].shape[0]) != args.batch_size:
            break
        batches.append({k: batch[k] for k in keys})
        if len(batches) == args.forward_batches:
            break

    @tf.function
    def predict(features):
        return model(features, training=False)

    start = time.perf_counter()
    predict(batches[0]).numpy()
    first_call_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(args.forward_steps):
        predict(batches[i % len(batches)]).numpy()
    seconds = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    videos = args.forward_steps * args.batch_size
    figures = {
        "model_loaded_from": (
            "inference_model.keras" if os.path.exists(
                inference.evaluation.inference_model_path(train_dir))
            else "checkpoint"),
        "params": int(model.count_params()),
        "model_load_s": round(load_s, 3),
        "first_call_incl_trace_s": round(first_call_s, 3),
        "videos": videos,
        "distinct_batches": len(batches),
        "seconds": round(seconds, 3),
        "videos_per_s": round(videos / seconds, 3),
        "cpu_ms_per_video": round(1000 * cpu_s / videos, 3),
    }
    del model, predict, batches
    gc.collect()
    return figures


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before TensorFlow loads
    for path in (ROOT, HERE):
        if path not in sys.path:
            sys.path.insert(0, path)
    env = child_env(args.device)
    started = time.perf_counter()
    directory = args.keep_dir or tempfile.mkdtemp(prefix="bench_infer_")
    log_dir = os.path.join(directory, "logs")
    shutil.rmtree(log_dir, ignore_errors=True)
    os.makedirs(log_dir)
    trainer = Child([sys.executable, "-c", TRAIN_BOOTSTRAP], env,
                    os.path.join(log_dir, "train.log"), stdin=True)
    try:
        print(json.dumps(measure(args, env, directory, log_dir, trainer,
                                 started)))
    finally:
        trainer.kill()
        if not args.keep_dir:
            shutil.rmtree(directory, ignore_errors=True)


def measure(args, env, directory, log_dir, trainer, started):
    import numpy as np
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if args.device == "gpu" and not gpus:
        build = tf.sysconfig.get_build_info()
        fail("--device=gpu, but TensorFlow finds no GPU "
             "(tf.config.list_physical_devices('GPU') is empty; tensorflow "
             f"{tf.__version__}, built with CUDA: "
             f"{bool(build.get('is_cuda_build'))}). Install the GPU build "
             "(pip install -e '.[gpu]', see README Install) or run with "
             "--device=cpu.")

    import bench_readers
    from yt8m import inference
    from yt8m import models
    from yt8m import readers
    from yt8m.data import writers
    from yt8m.readers import model_inputs as inputs

    if args.model not in models.list_models():
        fail(f"--model: unknown model {args.model!r}; registered: "
             f"{', '.join(models.list_models())}")
    frame_level = bool(getattr(models.get_model_class(args.model),
                               "frame_level", False))
    declared = set(models.model_hparam_names(args.model))
    hparam_flags = []
    for item in [i.strip() for i in args.hparams.split(",") if i.strip()]:
        name, sep, value = item.partition("=")
        if not sep or name not in declared:
            fail(f"--hparams: {item!r} is not name=value with a "
                 f"hyperparameter {args.model} declares "
                 f"({', '.join(sorted(declared))})")
        hparam_flags.append(f"--{name}={value}")

    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "device": args.device,
        "gpus": [g.name for g in gpus],
    }
    if hasattr(os, "sched_getaffinity"):
        machine["cpus_usable"] = len(os.sched_getaffinity(0))

    data_dir = os.path.join(directory, "data")
    train_dir = os.path.join(directory, "model")
    for d in (data_dir, train_dir):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(data_dir)
    start = time.perf_counter()
    if frame_level:
        total_frames = bench_readers.write_shards(
            data_dir, args.num_videos, args.num_shards, args.max_frames,
            args.seed)
        feature_flags = ["--frame_features", "--feature_names=rgb,audio",
                         f"--max_frames={args.max_frames}"]
    else:
        total_frames = None
        write_video_level(writers, np, data_dir, args.num_videos,
                          args.num_shards, args.seed)
        feature_flags = ["--feature_names=mean_rgb,mean_audio"]
    write_s = time.perf_counter() - start
    pattern = os.path.join(data_dir, "train*.tfrecord")
    total_mb = sum(os.path.getsize(os.path.join(data_dir, f))
                   for f in os.listdir(data_dir)) / 2**20

    py = sys.executable
    trainer.send(json.dumps([
        os.path.join(ROOT, "train.py"),
        f"--train_data_pattern={pattern}", f"--train_dir={train_dir}",
        f"--model={args.model}", *feature_flags,
        "--feature_sizes=1024,128", f"--num_classes={NUM_CLASSES}",
        f"--batch_size={args.train_batch_size}",
        f"--max_steps={args.train_steps}", "--export_model_steps=0",
        "--num_readers=1", "--start_new_model", "--progress_bar=false",
        f"--shuffle_seed={args.seed}", *hparam_flags,
    ]))
    train_wall, train_marks, _, _ = trainer.wait()
    train_s = train_wall - train_marks["go"]["t"]

    # Bare forward passes bracket every binary run (before the first: the
    # checkpoint; after eval.py: its export, as inference.py loads it), so
    # each binary is compared with the machine as it was around its run.
    passes = [dict(when="before the binaries", **bare_forward(
        tf, inference, readers, inputs, train_dir, pattern, args))]
    common = [f"--train_dir={train_dir}", f"--batch_size={args.batch_size}"]
    runs = {}
    if "eval" in args.binaries:
        wall, marks, _, _ = run_timed([
            py, "-c", BOOTSTRAP, os.path.join(ROOT, "eval.py"), *common,
            f"--eval_data_pattern={pattern}", "--run_once",
        ], env, os.path.join(log_dir, "eval.log"))
        runs["eval_py"] = binary_result(wall, marks, args.num_videos)
        passes.append(dict(when="after eval.py", **bare_forward(
            tf, inference, readers, inputs, train_dir, pattern, args)))
    if "inference" in args.binaries:
        csv_path = os.path.join(directory, "predictions.csv")
        wall, marks, stdout, stderr = run_timed([
            py, "-c", BOOTSTRAP, os.path.join(ROOT, "inference.py"),
            *common, f"--input_data_pattern={pattern}",
            f"--output_file={csv_path}",
        ], env, os.path.join(log_dir, "inference.log"))
        figures, rate = binary_result(wall, marks, args.num_videos)
        with open(csv_path, encoding="utf-8") as f:
            figures["csv_rows"] = sum(1 for _ in f) - 1  # header
        if figures["csv_rows"] != args.num_videos:
            fail(f"inference.py wrote {figures['csv_rows']} rows for "
                 f"{args.num_videos} videos")
        loaded = re.search(r"Loaded (?:checkpoint )?(\S+)", stderr)
        figures["model_loaded_from"] = loaded.group(1) if loaded else None
        runs["inference_py"] = (figures, rate)
        passes.append(dict(when="after inference.py", **bare_forward(
            tf, inference, readers, inputs, train_dir, pattern, args)))

    result = {
        "benchmark": "bench_infer",
        "machine": machine,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "model": args.model,
        "frame_level": frame_level,
        "hparams": hparam_flags,
        "params": passes[-1]["params"],
        "data": {
            "num_videos": args.num_videos,
            "num_shards": args.num_shards,
            "mean_frames_per_video": (
                round(total_frames / args.num_videos, 1)
                if total_frames else None),
            "total_mb": round(total_mb, 1),
            "write_seconds": round(write_s, 1),
        },
        "batch_size": args.batch_size,
        "max_frames": args.max_frames if frame_level else None,
        "train": {"steps": args.train_steps,
                  "batch_size": args.train_batch_size,
                  "wall_s": round(train_s, 1)},
        "bare_forward": {
            "best_videos_per_s": max(p["videos_per_s"] for p in passes),
            "passes": passes,
        },
        "ratios": {},
        "informational_ratios": {},
    }
    for i, (key, (figures, rate)) in enumerate(runs.items()):
        around = passes[i:i + 2]  # the passes just before and after it
        reference = sum(p["videos_per_s"] for p in around) / 2
        reference_cpu = sum(p["cpu_ms_per_video"] for p in around) / 2
        figures["bare_forward_reference_videos_per_s"] = round(reference, 3)
        figures["bare_forward_reference_cpu_ms_per_video"] = round(
            reference_cpu, 3)
        result[key] = figures
        result["ratios"][f"{key}_steady_to_bare_forward"] = ratio(
            rate, reference, TARGET_BINARY_TO_BARE_FORWARD,
            f"{key}.steady_videos_per_s",
            f"{key}.bare_forward_reference_videos_per_s")
        informational = result["informational_ratios"]
        informational[f"{key}_end_to_end_to_bare_forward"] = round(
            figures["end_to_end_videos_per_s"] / reference, 4)
        # CPU time per video is less sensitive to other jobs than wall time.
        informational[f"{key}_steady_cpu_bare_forward_to_binary"] = round(
            reference_cpu / figures["steady_cpu_ms_per_video"], 4)
    result["total_wall_s"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    main()
