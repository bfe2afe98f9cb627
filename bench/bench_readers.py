"""Benchmark: our frame-level reader against raw TFRecord reading.

Writes synthetic frame-level data with the library writers (random frame
counts up to 300, uint8 rgb 1024 + audio 128, in shards in a temp dir), then
in the same run measures
  (a) the raw TFRecord read rate (`tf.data.TFRecordDataset`, bytes only), and
  (b) `build_dataset` + `YT8MFrameFeatureReader` videos/s into padded float
      batches [128, 300, 1152], in eval mode (ordered) and training mode
      (shuffled, `num_readers` files in parallel), one pass each, and
  (c) a minimal upstream-style pipeline (parse, dequantize, pad; no checks,
      no file/record tracking) as a same-run lower bound on the work,
and prints ONE JSON object (machine info, shapes, rates, ratios).
Each timed pass follows an untimed warm-up pass (page cache, tracing).

  python bench/bench_readers.py                    # 2,000 videos, 8 shards
  python bench/bench_readers.py --num_videos=500   # quick run
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from yt8m.data import writers  # noqa: E402
from yt8m.readers import YT8MFrameFeatureReader  # noqa: E402
from yt8m.readers import build_dataset  # noqa: E402

NUM_CLASSES = 3862


def write_shards(directory, num_videos, num_shards, max_frames, seed):
    rng = np.random.default_rng(seed)
    per_shard = np.array_split(np.arange(num_videos), num_shards)
    total_frames = 0
    for shard, videos in enumerate(per_shard):

        def examples(videos=videos):
            nonlocal total_frames
            for v in videos:
                num_frames = int(rng.integers(1, max_frames + 1))
                total_frames += num_frames
                yield writers.make_frame_example(
                    f"{v:06d}",
                    rng.choice(NUM_CLASSES, rng.integers(1, 6), replace=False),
                    {
                        "rgb": rng.integers(
                            0, 256, (num_frames, 1024), dtype=np.uint8
                        ),
                        "audio": rng.integers(
                            0, 256, (num_frames, 128), dtype=np.uint8
                        ),
                    },
                )

        writers.write_tfrecord(
            os.path.join(directory, f"train{shard:04d}.tfrecord"), examples()
        )
    return total_frames


def time_pass(make_iterable, count):
    """(items, wall seconds, process CPU seconds, build seconds) of one
    timed pass.

    The pipeline is built once, outside the timed pass (build seconds, wall,
    times that: tracing its map functions is a one-time cost, 0.27 s for
    our frame reader against 0.02 s for the bare parse, that a 2,000-video
    pass would otherwise charge as a quarter of the reader's time), then
    iterated twice: a warm-up pass and the timed pass. A `tf.data`
    dataset iterated again starts a new epoch without tracing again.
    """
    start = time.perf_counter()
    iterable = make_iterable()
    build = time.perf_counter() - start
    for item in iterable:  # warm-up pass
        pass
    start, cpu_start = time.perf_counter(), time.process_time()
    total = 0
    for item in iterable:
        total += count(item)
    return (
        total,
        time.perf_counter() - start,
        time.process_time() - cpu_start,
        build,
    )


def minimal_pipeline(files, batch_size, max_frames):
    """Lower bound: upstream-style parse + dequantize + pad, no checks."""
    scale = np.float32(4.0) / np.float32(255.0)
    bias = np.float32(4.0) / np.float32(512.0) - np.float32(2.0)

    def parse(serialized):
        context, sequences = tf.io.parse_single_sequence_example(
            serialized,
            {"id": tf.io.FixedLenFeature([], tf.string)},
            {
                "rgb": tf.io.FixedLenSequenceFeature([], tf.string),
                "audio": tf.io.FixedLenSequenceFeature([], tf.string),
            },
        )
        quantized = tf.concat(
            [
                tf.io.decode_raw(sequences[k][:max_frames], tf.uint8)
                for k in ("rgb", "audio")
            ],
            axis=1,
        )
        return context["id"], tf.cast(quantized, tf.float32) * scale + bias

    return (
        tf.data.TFRecordDataset(files)
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        .padded_batch(batch_size, padded_shapes=([], [max_frames, 1152]))
        .prefetch(tf.data.AUTOTUNE)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num_videos", type=int, default=2000)
    parser.add_argument("--num_shards", type=int, default=8)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--num_readers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="bench_readers_")
    try:
        start = time.perf_counter()
        total_frames = write_shards(
            directory, args.num_videos, args.num_shards, args.max_frames,
            args.seed,
        )
        write_seconds = time.perf_counter() - start
        files = sorted(tf.io.gfile.glob(os.path.join(directory, "*")))
        total_bytes = sum(os.path.getsize(f) for f in files)
        pattern = os.path.join(directory, "train*.tfrecord")

        raw_records, raw_seconds, raw_cpu, _ = time_pass(
            lambda: tf.data.TFRecordDataset(files), lambda record: 1
        )
        minimal_videos, minimal_seconds, minimal_cpu, _ = time_pass(
            lambda: minimal_pipeline(files, args.batch_size, args.max_frames),
            lambda batch: int(batch[1].shape[0]),
        )
        reader = YT8MFrameFeatureReader(
            num_classes=NUM_CLASSES,
            feature_names="rgb,audio",
            feature_sizes="1024,128",
            max_frames=args.max_frames,
        )
        shapes = build_dataset(pattern, reader, args.batch_size).element_spec
        eval_videos, eval_seconds, eval_cpu, _ = time_pass(
            lambda: build_dataset(pattern, reader, args.batch_size),
            lambda batch: int(batch["num_frames"].shape[0]),
        )
        train_videos, train_seconds, train_cpu, _ = time_pass(
            lambda: build_dataset(
                pattern, reader, args.batch_size, training=True,
                num_epochs=1, num_readers=args.num_readers,
            ),
            lambda batch: int(batch["num_frames"].shape[0]),
        )
        assert raw_records == eval_videos == train_videos == args.num_videos
        assert minimal_videos == args.num_videos
        raw_rate = raw_records / raw_seconds
        minimal_rate = minimal_videos / minimal_seconds
        eval_rate = eval_videos / eval_seconds
        train_rate = train_videos / train_seconds
        n = args.num_videos
        result = {
            "benchmark": "bench_readers",
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "load_average_1min": round(os.getloadavg()[0], 2),
            },
            "data": {
                "num_videos": args.num_videos,
                "num_shards": args.num_shards,
                "mean_frames_per_video": round(
                    total_frames / args.num_videos, 1
                ),
                "total_mb": round(total_bytes / 2**20, 1),
                "write_seconds": round(write_seconds, 1),
            },
            "shapes": {
                key: spec.shape.as_list() for key, spec in shapes.items()
            },
            "batch_size": args.batch_size,
            "raw_tfrecord_records_per_s": round(raw_rate, 1),
            "raw_tfrecord_mb_per_s": round(
                total_bytes / 2**20 / raw_seconds, 1
            ),
            "minimal_pipeline_videos_per_s": round(minimal_rate, 1),
            "reader_eval_videos_per_s": round(eval_rate, 1),
            "reader_training_videos_per_s": round(train_rate, 1),
            "ratio_eval_reader_to_raw": round(eval_rate / raw_rate, 4),
            "ratio_training_reader_to_raw": round(train_rate / raw_rate, 4),
            "ratio_eval_reader_to_minimal_pipeline": round(
                eval_rate / minimal_rate, 4
            ),
            # Process CPU time per video: less sensitive to machine load.
            "cpu_ms_per_video": {
                "raw_tfrecord": round(1000 * raw_cpu / n, 3),
                "minimal_pipeline": round(1000 * minimal_cpu / n, 3),
                "reader_eval": round(1000 * eval_cpu / n, 3),
                "reader_training": round(1000 * train_cpu / n, 3),
            },
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
