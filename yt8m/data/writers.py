"""Writers for every YouTube-8M TFRecord format.

The same code is used by the tests, the synthetic-data generator and
`from-video-level`, so what we read is what we write.

Formats (see docs/data_formats.md):
* video-level `tf.train.Example`: `id` (bytes), `labels` (int64 list),
  `mean_rgb` (1024 floats), `mean_audio` (128 floats);
* frame-level `tf.train.SequenceExample`: context `id`, `labels`; feature
  lists `rgb`, `audio`, one uint8 bytes value per frame;
* segment-level (2019): frame-level plus context `segment_labels`,
  `segment_start_times`, `segment_end_times`, `segment_scores`.
"""

import numpy as np
import tensorflow as tf

from yt8m import files

# Quantization range of the YT8M feature extractor.
QUANT_MIN = -2.0
QUANT_MAX = 2.0


def quantize(features):
    """Float features to uint8, as `feature_extractor.quantize` does.

    `q = round((clip(x, -2, 2) + 2) * 255 / 4)`.
    """
    x = np.clip(np.asarray(features, dtype=np.float64), QUANT_MIN, QUANT_MAX)
    scale = 255.0 / (QUANT_MAX - QUANT_MIN)
    return np.round((x - QUANT_MIN) * scale).astype(np.uint8)


def dequantize(quantized):
    """uint8 to float32 exactly as the starter code: `q*4/255 + 4/512 - 2`."""
    q = np.asarray(quantized, dtype=np.float32)
    quantized_range = np.float32(QUANT_MAX - QUANT_MIN)
    scalar = quantized_range / np.float32(255.0)
    bias = (quantized_range / np.float32(512.0)) + np.float32(QUANT_MIN)
    return q * scalar + bias


def _bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _int64_feature(values):
    return tf.train.Feature(
        int64_list=tf.train.Int64List(value=[int(v) for v in values])
    )


def _float_feature(values):
    return tf.train.Feature(
        float_list=tf.train.FloatList(
            value=np.asarray(values, np.float32).ravel().tolist()
        )
    )


def _as_bytes(video_id):
    return video_id if isinstance(video_id, bytes) else str(video_id).encode()


def make_video_example(video_id, labels, features, id_key="id"):
    """A video-level `tf.train.Example`.

    Args:
      video_id: str or bytes.
      labels: iterable of int class ids, or None for an unlabelled record
        (the `labels` key is then absent, as in the 2017 test split).
      features: dict name -> 1-D float array, e.g.
        `{"mean_rgb": [...1024], "mean_audio": [...128]}`.
      id_key: `"id"` (2018+) or `"video_id"` (2017).
    """
    feature = {id_key: _bytes_feature([_as_bytes(video_id)])}
    if labels is not None:
        feature["labels"] = _int64_feature(labels)
    for name, values in features.items():
        feature[name] = _float_feature(values)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def make_frame_example(
    video_id,
    labels,
    frame_features,
    segments=None,
    context_features=None,
    id_key="id",
):
    """A frame-level `tf.train.SequenceExample`.

    Args:
      video_id: str or bytes.
      labels: iterable of int class ids, or None (no `labels` key).
      frame_features: dict name -> array [T, D]. uint8 arrays are written
        as one bytes value per frame (the YT8M wire format); float arrays
        as one float list per frame.
      segments: optional list of `(start_time, label, score)` tuples for the
        2019 segment format; `segment_end_times` is `start + 5`.
      context_features: optional dict name -> 1-D float array written into
        the context (e.g. `mean_rgb`).
      id_key: `"id"` or `"video_id"`.
    """
    context = {id_key: _bytes_feature([_as_bytes(video_id)])}
    if labels is not None:
        context["labels"] = _int64_feature(labels)
    if segments:
        starts, seg_labels, scores = zip(*segments)
        context["segment_start_times"] = _int64_feature(starts)
        context["segment_end_times"] = _int64_feature([s + 5 for s in starts])
        context["segment_labels"] = _int64_feature(seg_labels)
        context["segment_scores"] = _float_feature(scores)
    for name, values in (context_features or {}).items():
        context[name] = _float_feature(values)
    feature_lists = {}
    for name, frames in frame_features.items():
        frames = np.asarray(frames)
        if frames.dtype == np.uint8:
            items = [_bytes_feature([row.tobytes()]) for row in frames]
        else:
            items = [_float_feature(row) for row in frames]
        feature_lists[name] = tf.train.FeatureList(feature=items)
    return tf.train.SequenceExample(
        context=tf.train.Features(feature=context),
        feature_lists=tf.train.FeatureLists(feature_list=feature_lists),
    )


def write_tfrecord(path, examples):
    """Writes protos (or serialized bytes) to `path` atomically.

    The records go to a temporary file in the same directory, which is then
    renamed over `path`, so a reader never sees a half-written shard.
    Returns the number of records written.
    """
    count = 0
    with files.atomic_path(path) as tmp_path:
        with tf.io.TFRecordWriter(tmp_path) as writer:
            for example in examples:
                if not isinstance(example, bytes):
                    example = example.SerializeToString()
                writer.write(example)
                count += 1
    return count
