"""Tiny YT8M-format datasets for training/eval/inference tests."""

import os
import subprocess
import sys

import numpy as np

from yt8m.data import writers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RGB, AUDIO = 8, 4
NUM_CLASSES = 6
MAX_FRAMES = 10
# Segment data (`segments=True`): 2019-like long videos, rated 5-frame
# segments starting at multiples of 5 up to 295 (video 0 is 300 frames long
# and has a rated segment at 295).
SEGMENT_SIZE = 5
SEGMENT_VIDEO_FRAMES = 300


def segment_video_frames(index):
    """Frames of video `index` in segment data: 300, 293, 286, ... 104."""
    return SEGMENT_VIDEO_FRAMES - 7 * (index % 29)


def segment_starts(index):
    """Rated segment starts of video `index` (multiples of 5, sorted).

    Always 0 and the last whole segment (295 for a 300-frame video), plus
    one in between.
    """
    last = (segment_video_frames(index) - SEGMENT_SIZE) // 5 * 5
    return sorted({0, last, 5 * ((37 * index) % (last // 5 + 1))})


def _video(rng, label, num_frames=None):
    """Frames near a class prototype so models can learn something."""
    proto_rgb = np.linspace(-1.5, 1.5, RGB) * (1 if label % 2 else -1)
    proto_rgb = np.roll(proto_rgb, label)
    proto_audio = np.roll(np.linspace(-1, 1, AUDIO), label)
    drawn = int(rng.integers(1, MAX_FRAMES + 3))
    num_frames = drawn if num_frames is None else num_frames
    rgb = proto_rgb + 0.3 * rng.normal(size=(num_frames, RGB))
    audio = proto_audio + 0.3 * rng.normal(size=(num_frames, AUDIO))
    return writers.quantize(rgb), writers.quantize(audio)


def write_frame_and_video_shards(directory, num_videos=24, num_shards=2,
                                 seed=0, labelled=True, segments=False):
    """Frame-level and matching video-level shards; returns (frame, video) globs.

    With `segments=True` the frame shards also carry 2019 segment ratings:
    video i has `segment_video_frames(i)` frames and, at each start of
    `segment_starts(i)`, its class rated 1.0 and class + 2 rated 0.0.
    """
    rng = np.random.default_rng(seed)
    frame_examples = [[] for _ in range(num_shards)]
    video_examples = [[] for _ in range(num_shards)]
    for i in range(num_videos):
        label = i % NUM_CLASSES
        labels = sorted({label, (label + 1) % NUM_CLASSES}) if labelled else None
        rgb, audio = _video(
            rng, label, segment_video_frames(i) if segments else None)
        segs = None
        if segments:
            segs = []
            for start in segment_starts(i):
                segs += [(start, label, 1.0),
                         (start, (label + 2) % NUM_CLASSES, 0.0)]
        frame_examples[i % num_shards].append(
            writers.make_frame_example(
                f"v{i:03d}", labels, {"rgb": rgb, "audio": audio},
                segments=segs,
            )
        )
        video_examples[i % num_shards].append(
            writers.make_video_example(
                f"v{i:03d}", labels,
                {
                    "mean_rgb": writers.dequantize(rgb).mean(0),
                    "mean_audio": writers.dequantize(audio).mean(0),
                },
            )
        )
    for s in range(num_shards):
        writers.write_tfrecord(
            os.path.join(directory, "frame", f"part-{s}.tfrecord"),
            frame_examples[s],
        )
        writers.write_tfrecord(
            os.path.join(directory, "video", f"part-{s}.tfrecord"),
            video_examples[s],
        )
    return (
        os.path.join(directory, "frame", "part-*.tfrecord"),
        os.path.join(directory, "video", "part-*.tfrecord"),
    )


def run_binary(name, *args, check=True, timeout=600):
    """Runs train.py / eval.py / inference.py in a fresh interpreter."""
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{name} {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def segment_ratings(num_videos):
    """`{("v000:<start>", class): score}` that `segments=True` writes."""
    ratings = {}
    for i in range(num_videos):
        label = i % NUM_CLASSES
        for start in segment_starts(i):
            ratings[(f"v{i:03d}:{start}", label)] = 1.0
            ratings[(f"v{i:03d}:{start}", (label + 2) % NUM_CLASSES)] = 0.0
    return ratings
