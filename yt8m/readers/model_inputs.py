"""The reader for a `ModelSpec`, and model inputs: shared by train/eval/inference/export."""

import numpy as np

from yt8m.readers.frame_reader import YT8MFrameFeatureReader
from yt8m.readers.video_reader import YT8MAggregatedFeatureReader


def make_reader(spec, segment_labels=False):
    """The reader upstream would pick for these model flags."""
    if spec.frame_features or segment_labels:
        return YT8MFrameFeatureReader(
            num_classes=spec.num_classes,
            feature_names=spec.feature_names,
            feature_sizes=spec.feature_sizes,
            max_frames=spec.max_frames,
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
