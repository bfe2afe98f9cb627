"""Reader for frame-level YouTube-8M `tf.train.SequenceExample`s.

Axis names: B=batch, S=segments, T=frames, D=feature size, F=sum of feature
sizes, C=classes.
"""

import tensorflow as tf

from yt8m.readers import errors
from yt8m.readers import features as features_lib
from yt8m.readers import labels as labels_lib


def _first_false(flags):
    """Index of the first False in a bool vector (0 if none or empty)."""
    return tf.argmin(
        tf.concat([tf.cast(flags, tf.int32), [0]], axis=0), output_type=tf.int64
    ) % tf.maximum(tf.size(flags, out_type=tf.int64), 1)


def _at(vector, index):
    """`vector[index]`, or 0 when `vector` is empty."""
    return tf.concat([vector, tf.zeros([1], vector.dtype)], axis=0)[index]


class YT8MFrameFeatureReader:
    """Parses frame-level `tf.train.SequenceExample` records.

    Context keys: `id` (or 2017 `video_id`) and `labels` (absent in test
    splits). Feature lists: one entry per frame for each feature name, either
    one bytes value of D uint8 (the YT8M wire format; dequantized exactly as
    upstream, `q*4/255 + 4/512 - 2`) or D floats (`feature_dtypes`).
    Each feature is truncated or zero-padded to `max_frames`, then the
    features are concatenated in `feature_names` order; `num_frames` is
    `min(#frames of the first feature, max_frames)`, as upstream.

    Segment mode (`segment_labels=True`, 2019 data) follows upstream: the
    unique `segment_start_times` give segments of `segment_size` frames
    `[start, start + segment_size)` cut from the padded video;
    `labels[s, c] = segment_scores` and `label_weights[s, c] = 1` for each
    rated (segment, class) pair, 0 elsewhere; `num_frames = segment_size`;
    the video id is repeated. The batch dimension is then segments.

    Args:
      num_classes: number of classes C.
      feature_sizes: list of ints, or a comma string. Default [1024, 128].
      feature_names: list of feature-list keys, or a comma string. Default
        ["rgb", "audio"]. Argument order and defaults are upstream's.
      max_frames: frames kept per video (T).
      segment_labels: read 2019 segment labels (see above).
      segment_size: frames per segment.
      feature_dtypes: per feature, `"uint8"` (quantized bytes, default) or
        `"float32"` (one float list per frame); list or comma string.

    Returns (per batch, from `build_dataset`):
      `video_ids` string [B], `video_matrix` float32 [B, T, F] (T =
      `segment_size` in segment mode), `num_frames` int32 [B], `labels`
      float32 [B, C], `has_labels` bool [B], and `label_weights` float32
      [B, C] in segment mode.
    """

    frame_level = True

    def __init__(
        self,
        num_classes=3862,
        feature_sizes=(1024, 128),
        feature_names=("rgb", "audio"),
        max_frames=300,
        segment_labels=False,
        segment_size=5,
        feature_dtypes=None,
    ):
        self.num_classes = features_lib.check_positive_int(
            "num_classes", num_classes
        )
        names, sizes = features_lib.get_list_of_feature_names_and_sizes(
            feature_names, feature_sizes
        )
        self.feature_names = names
        self.feature_sizes = sizes
        self.max_frames = features_lib.check_positive_int(
            "max_frames", max_frames
        )
        self.segment_labels = bool(segment_labels)
        self.segment_size = features_lib.check_positive_int(
            "segment_size", segment_size
        )
        if self.segment_labels and self.segment_size > self.max_frames:
            raise ValueError(
                "Invalid value for argument `segment_size`: expected at most "
                f"max_frames={self.max_frames}. Received: "
                f"segment_size={segment_size}"
            )
        if feature_dtypes is None:
            dtypes = ["uint8"] * len(names)
        elif isinstance(feature_dtypes, str):
            dtypes = [d.strip() for d in feature_dtypes.split(",")]
        else:
            dtypes = [str(d) for d in feature_dtypes]
        if len(dtypes) != len(names) or any(
            d not in features_lib.FEATURE_DTYPES for d in dtypes
        ):
            raise ValueError(
                "Invalid value for argument `feature_dtypes`: expected one "
                f"of {features_lib.FEATURE_DTYPES} per feature name "
                f"({len(names)}). Received: feature_dtypes={feature_dtypes!r}"
            )
        self.feature_dtypes = dtypes

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "feature_names": list(self.feature_names),
            "feature_sizes": list(self.feature_sizes),
            "max_frames": self.max_frames,
            "segment_labels": self.segment_labels,
            "segment_size": self.segment_size,
            "feature_dtypes": list(self.feature_dtypes),
        }

    @property
    def feature_dim(self):
        return sum(self.feature_sizes)

    def _parse_feature(self, name, size, dtype, ragged):
        """Ragged [T, None] -> (matrix [T', D], T, checks), T' <= max_frames.

        uint8 features stay quantized (uint8) here; floats are float32.
        """
        num_frames = ragged.nrows()  # int64
        per_frame = ragged.row_lengths()  # [T]
        checks = [
            (
                num_frames > 0,
                f"feature_list '{name}' has zero frames (key missing or "
                "empty video)",
                None,
            )
        ]
        if dtype == "uint8":
            values = ragged.values  # one bytes value per frame when valid
            lengths = tf.strings.length(values)
            good = tf.logical_and(
                tf.reduce_all(tf.equal(per_frame, 1)),
                tf.reduce_all(tf.equal(lengths, size)),
            )

            frame_bytes = ragged.with_values(lengths)
            total = tf.cast(tf.reduce_sum(frame_bytes, axis=1), tf.int64)
            frame_ok = tf.logical_and(
                tf.equal(per_frame, 1), tf.equal(total, size)
            )
            checks.append(
                (
                    good,
                    f"feature_list '{name}' frame {{}} does not hold one "
                    f"bytes value of {size} bytes",
                    _first_false(frame_ok),
                )
            )
            # fixed_length never fails, so bad records cannot crash here.
            matrix = tf.io.decode_raw(
                values[: self.max_frames], tf.uint8, fixed_length=size
            )  # [T', D] uint8
        else:
            good = tf.equal(per_frame, size)

            checks.append(
                (
                    tf.reduce_all(good),
                    f"feature_list '{name}' frame {{}} does not hold {size} "
                    "floats",
                    _first_false(good),
                )
            )
            matrix = ragged.to_tensor(shape=[None, size])[: self.max_frames]
            checks.append(
                (
                    tf.reduce_all(tf.math.is_finite(matrix)),
                    f"feature_list '{name}' has NaN or Inf values",
                    None,
                )
            )
        matrix.set_shape([None, size])
        return matrix, num_frames, checks

    def _video_matrix(self, matrices, pad):
        """Per-feature [T_k', D_k] -> float32 [T', F] (or [max_frames, F]).

        All-uint8 features (the YT8M format) are concatenated while still
        uint8 and dequantized in one pass; rows past a feature's own length
        are zeroed. Otherwise each feature is dequantized and padded alone.
        """
        if all(dtype == "uint8" for dtype in self.feature_dtypes):
            if len(matrices) == 1:
                return self._pad(features_lib.dequantize(matrices[0]), pad)
            lengths = tf.stack([tf.shape(m)[0] for m in matrices])
            length = tf.reduce_max(lengths)
            quantized = tf.concat(
                [
                    tf.pad(m, [[0, length - tf.shape(m)[0]], [0, 0]])
                    for m in matrices
                ],
                axis=1,
            )  # [T', F] uint8
            matrix = features_lib.dequantize(quantized)

            def zero_short_features():
                rows = tf.range(length)[:, None]  # [T', 1]
                mask = tf.concat(
                    [
                        tf.broadcast_to(
                            rows < tf.shape(m)[0], [length, size]
                        )
                        for m, size in zip(matrices, self.feature_sizes)
                    ],
                    axis=1,
                )
                return tf.where(mask, matrix, 0.0)

            matrix = tf.cond(
                tf.reduce_all(tf.equal(lengths, length)),
                lambda: matrix,
                zero_short_features,
            )
            return self._pad(matrix, pad)
        padded = []
        for matrix, dtype in zip(matrices, self.feature_dtypes):
            if dtype == "uint8":
                matrix = features_lib.dequantize(matrix)
            padded.append(features_lib.resize_axis(matrix, 0, self.max_frames))
        return tf.concat(padded, axis=1) if len(padded) > 1 else padded[0]

    def _pad(self, matrix, pad):
        """[T', F] -> [max_frames, F] with zero rows, when `pad`."""
        if not pad:
            return matrix
        matrix = tf.pad(
            matrix, [[0, self.max_frames - tf.shape(matrix)[0]], [0, 0]]
        )
        matrix.set_shape([self.max_frames, self.feature_dim])
        return matrix

    def parse_record(
        self, serialized, path="<serialized input>", index=0,
        skip_bad_records=False, stats=None, pad=True,
    ):
        """Parses one serialized SequenceExample.

        Returns `(output, valid)`: the unbatched output dict (leading
        segment axis S in segment mode) and a scalar bool. With
        `pad=False` the video matrix keeps only its real frames ([T', F],
        T' <= max_frames) for `padded_batch`.
        """
        path = tf.convert_to_tensor(path, tf.string)
        index = tf.cast(index, tf.int64)
        context_spec = {
            "id": tf.io.RaggedFeature(tf.string),
            "video_id": tf.io.RaggedFeature(tf.string),
        }
        if self.segment_labels:
            context_spec["segment_labels"] = tf.io.RaggedFeature(tf.int64)
            context_spec["segment_start_times"] = tf.io.RaggedFeature(tf.int64)
            context_spec["segment_scores"] = tf.io.RaggedFeature(tf.float32)
        else:
            context_spec["labels"] = tf.io.RaggedFeature(tf.int64)
        sequence_spec = {
            name: tf.io.RaggedFeature(
                tf.string if dtype == "uint8" else tf.float32
            )
            for name, dtype in zip(self.feature_names, self.feature_dtypes)
        }
        context, sequences = tf.io.parse_single_sequence_example(
            serialized, context_spec, sequence_spec
        )
        video_id, id_check = labels_lib.parse_video_id(
            context["id"], context["video_id"]
        )
        checks = [id_check]
        matrices = []
        first_num_frames = None
        for name, size, dtype in zip(
            self.feature_names, self.feature_sizes, self.feature_dtypes
        ):
            matrix, num_frames, feature_checks = self._parse_feature(
                name, size, dtype, sequences[name]
            )
            checks.extend(feature_checks)
            matrices.append(matrix)
            if first_num_frames is None:
                first_num_frames = num_frames
        if self.segment_labels:
            seg_labels = context["segment_labels"]
            starts = context["segment_start_times"]
            scores = context["segment_scores"]
            checks.extend(self._segment_checks(seg_labels, starts, scores))
        else:
            labels = context["labels"]
            checks.append(labels_lib.check_labels(labels, self.num_classes))
        valid = errors.check_records(
            path, index, checks, skip_bad_records, stats
        )
        # [max_frames, F], or [T', F] for padded_batch when not `pad`.
        video_matrix = self._video_matrix(
            matrices, pad or self.segment_labels
        )
        if self.segment_labels:
            output = self._segments(
                video_id, video_matrix, seg_labels, starts, scores, valid
            )
        else:
            num_frames = tf.cast(
                tf.minimum(first_num_frames, self.max_frames), tf.int32
            )
            output = {
                "video_ids": video_id,
                "video_matrix": video_matrix,
                "num_frames": num_frames,
                "labels": labels_lib.multi_hot(labels, self.num_classes),
                "has_labels": tf.size(labels) > 0,
            }
        with tf.control_dependencies([valid]):
            output = {key: tf.identity(value) for key, value in output.items()}
        return output, valid

    def _segment_checks(self, seg_labels, starts, scores):
        num_rated = tf.size(seg_labels)
        same_length = tf.logical_and(
            tf.equal(tf.size(starts), num_rated),
            tf.equal(tf.size(scores), num_rated),
        )
        last_start = self.max_frames - self.segment_size
        low = tf.reduce_min(starts)
        high = tf.reduce_max(starts)
        starts_ok = tf.logical_and(low >= 0, high <= last_start)
        return [
            (
                same_length,
                "keys 'segment_labels', 'segment_start_times' and "
                "'segment_scores' must have equal lengths "
                "('segment_labels' has {})",
                num_rated,
            ),
            labels_lib.check_labels(
                seg_labels, self.num_classes, key="segment_labels"
            ),
            (
                starts_ok,
                "key 'segment_start_times' has a value outside "
                f"[0, {last_start}] (max_frames - segment_size): {{}}",
                tf.where(high > last_start, high, low),
            ),
            (
                tf.reduce_all(tf.math.is_finite(scores)),
                "key 'segment_scores' has NaN or Inf",
                None,
            ),
        ]

    def _segments(self, video_id, video_matrix, seg_labels, starts, scores,
                  valid):
        # A bad record (kept only when skipping) yields no segments.
        num_rated = tf.where(valid, tf.size(seg_labels), 0)
        seg_labels = seg_labels[:num_rated]
        starts = starts[:num_rated]
        scores = scores[:num_rated]
        unique_starts, segment_index = tf.unique(starts, out_idx=tf.int64)
        num_segments = tf.shape(unique_starts, out_type=tf.int64)[0]
        # [S, segment_size] frame indices.
        frame_index = tf.expand_dims(unique_starts, -1) + tf.range(
            self.segment_size, dtype=tf.int64
        )
        segment_matrix = tf.gather(video_matrix, frame_index)  # [S, 5, F]
        label_index = tf.stack([segment_index, seg_labels], axis=1)
        shape = tf.stack([num_segments, self.num_classes])
        labels = tf.tensor_scatter_nd_update(
            tf.zeros(shape, tf.float32), label_index, scores
        )
        label_weights = tf.tensor_scatter_nd_update(
            tf.zeros(shape, tf.float32),
            label_index,
            tf.ones_like(scores),
        )
        return {
            "video_ids": tf.fill([num_segments], video_id),
            "video_matrix": segment_matrix,
            "num_frames": tf.fill([num_segments], self.segment_size),
            "labels": labels,
            "label_weights": label_weights,
            "has_labels": tf.fill([num_segments], True),
        }

    def parse_serialized(self, serialized):
        """Parses a [B] batch of serialized SequenceExamples (not segments).

        For exported models: errors name the input position as the record.
        """
        if self.segment_labels:
            raise ValueError(
                "parse_serialized() does not support segment_labels=True; "
                "use build_dataset()."
            )
        serialized = tf.convert_to_tensor(serialized, tf.string)
        indices = tf.range(tf.size(serialized, out_type=tf.int64))

        @tf.autograph.experimental.do_not_convert
        def parse(args):
            output, _ = self.parse_record(args[0], index=args[1])
            return output

        signature = {
            "video_ids": tf.TensorSpec([], tf.string),
            "video_matrix": tf.TensorSpec(
                [self.max_frames, self.feature_dim], tf.float32
            ),
            "num_frames": tf.TensorSpec([], tf.int32),
            "labels": tf.TensorSpec([self.num_classes], tf.float32),
            "has_labels": tf.TensorSpec([], tf.bool),
        }
        return tf.map_fn(
            parse, (serialized, indices), fn_output_signature=signature
        )

    def make_batches(
        self, records, batch_size, drop_remainder=False,
        skip_bad_records=False, stats=None,
    ):
        """(path, index, serialized) records -> batched output dicts."""

        @tf.autograph.experimental.do_not_convert
        def parse(path, index, serialized):
            return self.parse_record(
                serialized, path, index, skip_bad_records, stats, pad=False
            )

        dataset = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        if self.segment_labels:
            dataset = dataset.map(lambda output, valid: output).unbatch()
        else:
            if skip_bad_records:
                dataset = dataset.filter(lambda output, valid: valid)
            dataset = dataset.map(lambda output, valid: output)
        if self.segment_labels:
            return dataset.batch(batch_size, drop_remainder=drop_remainder)
        # Padding to max_frames happens in the batch copy: zeros.
        padded_shapes = {
            key: spec.shape for key, spec in dataset.element_spec.items()
        }
        padded_shapes["video_matrix"] = tf.TensorShape(
            [self.max_frames, self.feature_dim]
        )
        return dataset.padded_batch(
            batch_size,
            padded_shapes=padded_shapes,
            drop_remainder=drop_remainder,
        )
