"""Benchmark: the training reader against the fastest frame-level model.

Can the reader keep the cheapest models fed? In one run, on the same
synthetic frame-level shards (`bench_readers.write_shards`: random frame
counts up to `--max_frames`, uint8 rgb 1024 + audio 128):

  (0) raw read: the TFRecord bytes batched, unparsed (the upper bound of
      any reader on these files), records/s;
  (a) bare parse: `bench_readers.minimal_pipeline` (upstream-style parse,
      dequantize, pad; no checks, no file/record tracking), videos/s;
  (b) our reader in training mode: `build_dataset(..., training=True,
      num_epochs=1, num_readers=N)` + `YT8MFrameFeatureReader` (shuffled,
      files interleaved, every bad-input check), videos/s;
  (c) the training-step consumption rate (examples/s) of frame-level models
      (`bench_train.make_train_step`: forward, loss, backward, clipping,
      Adam) on random inputs of the reader's batch shape
      [batch_size, max_frames, 1152], model defaults unless `--hparams`.

and the ratios reader/bare_parse (target >= 0.6) and
reader/fastest_model (target >= 3: the reader should have CPU to spare
while feeding the fastest model). Each pipeline is built once, untimed
(its `build_seconds`, tracing included, is reported apart: a one-time
cost, as the model's traced first step is); its passes follow an untimed
warm-up pass and are repeated `--repeats` times, interleaved; the best
pass counts.
Reader and model are measured one after the other, each with the whole
machine: in training they share it. With `--device=gpu` the model step
runs on /GPU:0 (the reader always runs on the CPU). The same ratios in CPU
time per video (`informational_ratios`) move less when other jobs share
the machine. Prints ONE JSON object.

  python bench/bench_pipeline.py               # ~2 min on 2 quiet cores
  python bench/bench_pipeline.py --models=FrameLevelLogisticModel
  python bench/bench_pipeline.py --device=gpu
"""

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NUM_CLASSES = 3862
FEATURE_SIZES = [1024, 128]
# The cheapest frame-level models at their default hyperparameters
# (README "Training" table: 1439 and 58 examples/s on 2 cores).
DEFAULT_MODELS = "FrameLevelLogisticModel,DbofModel"
TARGET_READER_TO_BARE_PARSE = 0.6
TARGET_READER_TO_FASTEST_MODEL = 3.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument("--num_videos", type=int, default=2000)
    parser.add_argument("--num_shards", type=int, default=8)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--num_readers", type=int, default=8)
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help="comma-separated; frame-level models only")
    parser.add_argument("--hparams", default="",
                        help="name=value,... applied to each model that "
                             "declares it, e.g. dbof_cluster_size=1024")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed train steps per model")
    parser.add_argument("--steps", type=int, default=3,
                        help="timed train steps per model")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed reader passes (interleaved; best counts)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="where the model step runs (reader: CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("num_videos", "num_shards", "batch_size", "max_frames",
                 "num_readers", "steps", "repeats"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if not [m for m in args.models.split(",") if m.strip()]:
        parser.error("--models is empty")
    return args


def fail(message):
    print(f"bench_pipeline.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


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
            "--device=cpu."
        )
    return "/GPU:0"


def parse_hparams(text, declarations):
    """'a=1,b=x' -> {name: typed value} using the models' declarations."""
    values = {}
    for item in [i.strip() for i in text.split(",") if i.strip()]:
        name, sep, raw = item.partition("=")
        if not sep or name not in declarations:
            fail(f"--hparams: {item!r} is not name=value with a declared "
                 "model hyperparameter name")
        kind = declarations[name].kind
        if kind == "integer":
            value = int(raw)
        elif kind == "float":
            value = float(raw)
        elif kind == "boolean":
            if raw.lower() not in ("true", "false", "1", "0"):
                fail(f"--hparams: {name} expects true or false, got {raw!r}")
            value = raw.lower() in ("true", "1")
        elif kind == "string":
            value = raw
        else:
            fail(f"--hparams: {name} ({kind}) cannot be set here")
        values[name] = value
    return values


def machine_info(tf, device):
    load = os.getloadavg()
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "load_average": [round(x, 2) for x in load],
        "device": device,
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if device == "gpu":
        info["gpus"] = [
            tf.config.experimental.get_device_details(g).get("device_name",
                                                             g.name)
            for g in tf.config.list_physical_devices("GPU")
        ]
    return info


def bench_train_step(tf, np, bench_train, models, name, hparams, args,
                     device_name):
    """Training examples/s of `name` on random [B, T, 1152] inputs."""
    declared = set(models.model_hparam_names(name))
    kwargs = {k: v for k, v in hparams.items() if k in declared}
    rng = np.random.default_rng(args.seed)
    b, t, dim = args.batch_size, args.max_frames, sum(FEATURE_SIZES)
    with tf.device(device_name):
        model = models.build_model(
            name, num_classes=NUM_CLASSES, feature_sizes=FEATURE_SIZES,
            max_frames=t, **kwargs)
        video = rng.uniform(-2, 2, (b, t, dim)).astype(np.float32)
        num_frames = rng.integers(1, t + 1, b)
        video[np.arange(t)[None, :] >= num_frames[:, None]] = 0
        batch = {"video_matrix": tf.constant(video),
                 "num_frames": tf.constant(num_frames, tf.int32)}
        labels = np.zeros((b, NUM_CLASSES), np.float32)
        labels[np.arange(b)[:, None],
               rng.integers(0, NUM_CLASSES, (b, 3))] = 1
        labels = tf.constant(labels)
        features = {k: batch[k] for k in sorted(model.input)}
        step = bench_train.make_train_step(model, features, labels)
        start = time.perf_counter()
        step().numpy()  # traces
        first_step_s = time.perf_counter() - start
        for _ in range(max(args.warmup - 1, 0)):
            step().numpy()
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step().numpy()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    examples = b * args.steps
    result = {
        "params": int(model.count_params()),
        "hparams": kwargs,
        "variable_device": model.trainable_variables[0].value.device,
        "first_step_s_incl_trace": round(first_step_s, 3),
        "seconds_per_step": round(seconds / args.steps, 4),
        "examples_per_s": round(examples / seconds, 2),
        "cpu_ms_per_example": round(1000 * cpu_seconds / examples, 3),
    }
    del model, step, features, batch
    gc.collect()
    import keras

    keras.backend.clear_session()
    return result, examples / seconds


def ratio(numerator, denominator, target, num_name, den_name):
    value = numerator / denominator
    return {
        "value": round(value, 4),
        "target": target,
        "met": bool(value >= target),
        "numerator": num_name,
        "denominator": den_name,
    }


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for path in (ROOT, HERE):
        if path not in sys.path:
            sys.path.insert(0, path)

    import numpy as np
    import tensorflow as tf

    device_name = select_device(tf, args.device)

    import bench_readers
    import bench_train
    from yt8m import models
    from yt8m.readers import YT8MFrameFeatureReader
    from yt8m.readers import build_dataset

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    available = models.list_models()
    for name in names:
        if name not in available:
            fail(f"--models: unknown model {name!r}; registered: "
                 f"{', '.join(available)}")
        if not getattr(models.get_model_class(name), "frame_level", False):
            frame = [m for m in available if getattr(
                models.get_model_class(m), "frame_level", False)]
            fail(f"--models: {name} is not a frame-level model (this "
                 f"benchmark feeds frames); frame-level: {', '.join(frame)}")
    hparams = parse_hparams(args.hparams, models.all_hparam_declarations())
    machine = machine_info(tf, args.device)

    directory = tempfile.mkdtemp(prefix="bench_pipeline_")
    try:
        start = time.perf_counter()
        total_frames = bench_readers.write_shards(
            directory, args.num_videos, args.num_shards, args.max_frames,
            args.seed)
        write_seconds = time.perf_counter() - start
        files = sorted(tf.io.gfile.glob(os.path.join(directory, "*")))
        pattern = os.path.join(directory, "train*.tfrecord")
        total_bytes = sum(os.path.getsize(f) for f in files)

        reader = YT8MFrameFeatureReader(
            num_classes=NUM_CLASSES, feature_names="rgb,audio",
            feature_sizes="1024,128", max_frames=args.max_frames)

        def bare():
            return bench_readers.minimal_pipeline(
                files, args.batch_size, args.max_frames)

        def ours():
            return build_dataset(
                pattern, reader, args.batch_size, training=True,
                num_epochs=1, num_readers=args.num_readers)

        def raw():
            # The bytes alone: TFRecord framing and CRCs, no parsing. No
            # reader can hand over videos faster than this.
            return tf.data.TFRecordDataset(files).batch(args.batch_size)

        spec = ours().element_spec
        passes = {"raw_read": [], "bare_parse": [], "reader_training": []}
        for _ in range(args.repeats):  # interleaved: load drifts hit all
            passes["raw_read"].append(bench_readers.time_pass(
                raw, lambda batch: int(batch.shape[0])))
            passes["bare_parse"].append(bench_readers.time_pass(
                bare, lambda batch: int(batch[1].shape[0])))
            passes["reader_training"].append(bench_readers.time_pass(
                ours, lambda batch: int(batch["num_frames"].shape[0])))
        pipelines = {}
        rates = {}
        for key, runs in passes.items():
            for videos, *_ in runs:
                if videos != args.num_videos:
                    raise AssertionError(
                        f"{key} read {videos} videos, wrote "
                        f"{args.num_videos}")
            best = min(runs, key=lambda run: run[1])
            rates[key] = args.num_videos / best[1]
            pipelines[key] = {
                "videos_per_s": round(rates[key], 2),
                "videos_per_s_each_pass": [
                    round(v / s, 2) for v, s, *_ in runs],
                "seconds": round(best[1], 3),
                "cpu_ms_per_video": round(1000 * best[2] / args.num_videos,
                                          3),
                # One-time, outside the timed passes: building the
                # pipeline (tracing its functions), fastest of the passes.
                "build_seconds": round(min(run[3] for run in runs), 3),
            }
        pipelines["reader_training"]["num_readers"] = args.num_readers

        model_results = {}
        model_rates = {}
        for name in names:
            result, rate = bench_train_step(
                tf, np, bench_train, models, name, hparams, args,
                device_name)
            model_results[name] = result
            model_rates[name] = rate
            print(f"# {name}: {rate:.1f} examples/s", file=sys.stderr,
                  flush=True)
        fastest = max(model_rates, key=model_rates.get)

        result = {
            "benchmark": "bench_pipeline",
            "machine": machine,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "data": {
                "num_videos": args.num_videos,
                "num_shards": args.num_shards,
                "mean_frames_per_video": round(
                    total_frames / args.num_videos, 1),
                "total_mb": round(total_bytes / 2**20, 1),
                "write_seconds": round(write_seconds, 1),
            },
            "batch_size": args.batch_size,
            "max_frames": args.max_frames,
            "feature_sizes": FEATURE_SIZES,
            "num_classes": NUM_CLASSES,
            "reader_shapes": {
                key: s.shape.as_list() for key, s in spec.items()},
            "model_device": device_name,
            "pipelines": pipelines,
            "models": model_results,
            "fastest_model": fastest,
            "fastest_model_examples_per_s": round(model_rates[fastest], 2),
            "ratios": {
                "reader_to_bare_parse": ratio(
                    rates["reader_training"], rates["bare_parse"],
                    TARGET_READER_TO_BARE_PARSE,
                    "pipelines.reader_training.videos_per_s",
                    "pipelines.bare_parse.videos_per_s"),
                "reader_to_fastest_model": ratio(
                    rates["reader_training"], model_rates[fastest],
                    TARGET_READER_TO_FASTEST_MODEL,
                    "pipelines.reader_training.videos_per_s",
                    "fastest_model_examples_per_s"),
            },
            # What bounds reader_to_fastest_model: the same ratio for the
            # bare parse and for reading the bytes without parsing them.
            "bounds": {
                "raw_read_to_fastest_model": round(
                    rates["raw_read"] / model_rates[fastest], 4),
                "bare_parse_to_fastest_model": round(
                    rates["bare_parse"] / model_rates[fastest], 4),
            },
            # CPU time per video, less sensitive to other jobs than wall
            # time: bare parse CPU / reader CPU (1 = as cheap as the bare
            # parse), and model CPU per example / reader CPU per video.
            "informational_ratios": {
                "reader_to_bare_parse_cpu": round(
                    pipelines["bare_parse"]["cpu_ms_per_video"]
                    / pipelines["reader_training"]["cpu_ms_per_video"], 4),
                "reader_to_fastest_model_cpu": round(
                    model_results[fastest]["cpu_ms_per_example"]
                    / pipelines["reader_training"]["cpu_ms_per_video"], 4),
            },
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
