"""Reader for video-level (aggregated) YouTube-8M `tf.train.Example`s.

Axis names: B=batch, C=classes, F=sum of feature sizes.
"""

import tensorflow as tf

from yt8m.readers import errors
from yt8m.readers import features as features_lib
from yt8m.readers import labels as labels_lib


class YT8MAggregatedFeatureReader:
    """Parses video-level `tf.train.Example` records in batches.

    Keys: `id` (or the 2017 key `video_id`; whichever is present), `labels`
    (int64 list, any order; absent in test splits) and one float list per
    feature name (`mean_rgb` [1024], `mean_audio` [128]). Features are
    concatenated in `feature_names` order. Nothing is normalised: models
    L2-normalise their input themselves.

    Args:
      num_classes: number of classes C (3862 for 2018+, 4716 for 2017).
      feature_sizes: list of ints, or a comma string (`"1024,128"`).
        Default [1024, 128] (upstream).
      feature_names: list of keys, or a comma string (`"mean_rgb,mean_audio"`).
        Default ["mean_rgb", "mean_audio"] (upstream).

    Returns (per batch, from `build_dataset`):
      `video_ids` string [B], `video_matrix` float32 [B, F], `num_frames`
      int32 [B] (ones), `labels` float32 [B, C] multi-hot, `has_labels`
      bool [B] (False when the record has no labels).

    Example:
      reader = YT8MAggregatedFeatureReader(
          feature_names="mean_rgb,mean_audio", feature_sizes="1024,128")
      dataset = build_dataset("train*.tfrecord", reader, batch_size=1024)
    """

    frame_level = False

    def __init__(
        self,
        num_classes=3862,
        feature_sizes=(1024, 128),
        feature_names=("mean_rgb", "mean_audio"),
    ):
        self.num_classes = features_lib.check_positive_int(
            "num_classes", num_classes
        )
        names, sizes = features_lib.get_list_of_feature_names_and_sizes(
            feature_names, feature_sizes
        )
        self.feature_names = names
        self.feature_sizes = sizes

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "feature_names": list(self.feature_names),
            "feature_sizes": list(self.feature_sizes),
        }

    @property
    def feature_dim(self):
        return sum(self.feature_sizes)

    def parse_serialized(self, serialized):
        """Parses a [B] batch of serialized Examples into the output dict.

        For exported models: errors name the input position as the record.
        Same contract as `YT8MFrameFeatureReader.parse_serialized`.
        """
        batch, _ = self.parse_records(serialized)
        return batch

    def parse_records(
        self, serialized, paths=None, indices=None, skip_bad_records=False,
        stats=None,
    ):
        """Parses a [B] batch of serialized Examples.

        `paths`/`indices` name each record in error messages (default: the
        input position). Returns `(batch, valid)`: the output dict and a
        bool [B] validity flag (all True unless `skip_bad_records`).
        """
        serialized = tf.convert_to_tensor(serialized, tf.string)
        batch_size = tf.shape(serialized)[0]
        if paths is None:
            paths = tf.fill([batch_size], "<serialized input>")
        if indices is None:
            indices = tf.range(tf.cast(batch_size, tf.int64), dtype=tf.int64)
        spec = {
            "id": tf.io.RaggedFeature(tf.string),
            "video_id": tf.io.RaggedFeature(tf.string),
            "labels": tf.io.RaggedFeature(tf.int64),
        }
        for name in self.feature_names:
            spec[name] = tf.io.RaggedFeature(tf.float32)
        parsed = tf.io.parse_example(serialized, spec)

        video_ids, id_check = labels_lib.parse_video_id(
            parsed["id"], parsed["video_id"]
        )
        checks = [id_check]
        matrices = []
        for name, size in zip(self.feature_names, self.feature_sizes):
            ragged = parsed[name]
            counts = ragged.row_lengths()
            dense = ragged.to_tensor(shape=[None, size])  # [B, D]
            checks.append(
                (
                    tf.equal(counts, size),
                    f"key '{name}' has {{}} values, expected {size} "
                    "(0: key missing)",
                    counts,
                )
            )
            finite = tf.reduce_all(tf.math.is_finite(dense), axis=1)
            checks.append((finite, f"key '{name}' has NaN or Inf values",
                           None))
            matrices.append(dense)
        labels = parsed["labels"]
        checks.append(labels_lib.check_labels(labels, self.num_classes))
        valid = errors.check_records(
            paths, indices, checks, skip_bad_records, stats
        )
        if len(matrices) > 1:
            video_matrix = tf.concat(matrices, axis=1)  # [B, F]
        else:
            video_matrix = matrices[0]
        batch = {
            "video_ids": video_ids,
            "video_matrix": video_matrix,
            "num_frames": tf.ones([batch_size], tf.int32),
            "labels": labels_lib.multi_hot(labels, self.num_classes),
            "has_labels": labels.row_lengths() > 0,
        }
        with tf.control_dependencies([valid]):
            batch = {key: tf.identity(value) for key, value in batch.items()}
        return batch, valid

    def make_batches(
        self, records, batch_size, drop_remainder=False,
        skip_bad_records=False, stats=None,
    ):
        """(path, index, serialized) records -> batched output dicts."""

        @tf.autograph.experimental.do_not_convert
        def parse(paths, indices, serialized):
            return self.parse_records(
                serialized, paths, indices, skip_bad_records, stats
            )

        if not skip_bad_records:
            dataset = records.batch(batch_size, drop_remainder=drop_remainder)
            dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
            return dataset.map(lambda batch, valid: batch)
        dataset = records.batch(batch_size)
        dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.unbatch().filter(lambda batch, valid: valid)
        dataset = dataset.map(lambda batch, valid: batch)
        return dataset.batch(batch_size, drop_remainder=drop_remainder)
