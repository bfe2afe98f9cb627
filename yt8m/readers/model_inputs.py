"""The reader for a `ModelSpec`, and model inputs: shared by train/eval/inference/export."""

import dataclasses

import numpy as np

from yt8m.readers.frame_reader import YT8MFrameFeatureReader
from yt8m.readers.video_reader import YT8MAggregatedFeatureReader


# Frames per 2019 segment: a segment-mode model takes [B, 5, F] inputs.
SEGMENT_SIZE = 5
# Upstream's reader frame budget (YT8MFrameFeatureReader(max_frames=300)).
DEFAULT_MAX_FRAMES = 300


def model_max_frames(spec, segment_labels=False):
    """The model's input length T: THE place that decides it.

    Two different settings share the name `max_frames`: the reader's frame
    budget (`spec.max_frames`, 300 by default: whole videos are read) and
    the model's input length. They are equal except in segment mode
    (`--segment_labels`), where the reader cuts `SEGMENT_SIZE`-frame
    segments out of whole videos and the model is built for 5 frames.
    """
    return SEGMENT_SIZE if segment_labels else spec.max_frames


def reader_max_frames(spec, segment_labels=False):
    """The reader's frame budget: `spec.max_frames` (the whole video).

    A segment-mode `model_flags.json` written before the two settings were
    told apart stores `max_frames=5` (the segment size); in segment mode
    that value means upstream's 300-frame budget, since a 5-frame budget
    would refuse every segment that starts after frame 0.
    """
    if segment_labels and spec.max_frames <= SEGMENT_SIZE:
        return DEFAULT_MAX_FRAMES
    return spec.max_frames


def model_spec(spec, segment_labels=False):
    """`spec` with the model's input length (`model_max_frames`).

    Build models from this, never from the stored spec directly: in segment
    mode it is a frame-level spec with `max_frames=SEGMENT_SIZE`.
    """
    max_frames = model_max_frames(spec, segment_labels)
    frame_features = spec.frame_features or segment_labels
    if (max_frames == spec.max_frames
            and frame_features == spec.frame_features):
        return spec
    return dataclasses.replace(spec, max_frames=max_frames,
                               frame_features=frame_features)


def make_reader(spec, segment_labels=False, max_frames=None):
    """The reader upstream would pick for these model flags.

    Frame-level readers read `max_frames` frames (default
    `reader_max_frames(spec, segment_labels)`), not the model's input
    length: in segment mode they cut 5-frame segments from whole videos.
    """
    if spec.frame_features or segment_labels:
        if max_frames is None:
            max_frames = reader_max_frames(spec, segment_labels)
        return YT8MFrameFeatureReader(
            num_classes=spec.num_classes,
            feature_names=spec.feature_names,
            feature_sizes=spec.feature_sizes,
            max_frames=max_frames,
            segment_labels=segment_labels,
        )
    return YT8MAggregatedFeatureReader(
        num_classes=spec.num_classes,
        feature_names=spec.feature_names,
        feature_sizes=spec.feature_sizes,
    )


def input_names(model):
    """The reader-batch keys a model takes (every model has dict inputs)."""
    return sorted(model.input)


def decode_ids(video_ids):
    """tf.string ids (bytes) to str, as the CSV writers need."""
    values = np.asarray(video_ids).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v)
            for v in values]
