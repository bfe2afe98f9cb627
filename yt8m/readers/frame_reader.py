"""Reader for frame-level YouTube-8M `tf.train.SequenceExample`s.

Axis names: B=batch, S=segments, T=frames, D=feature size, F=sum of feature
sizes, C=classes.
"""

import tensorflow as tf

from yt8m.readers import errors
from yt8m.readers import features as features_lib
from yt8m.readers import labels as labels_lib


def _first_false(flags):
    """Index of the first False along the last axis of a bool tensor.

    One record ([N]) or a batch ([B, N]). Where every flag is True the
    index is N (unused: the check it reports on passes).
    """
    flags = tf.cast(flags, tf.int32)
    stop = tf.zeros(tf.concat([tf.shape(flags)[:-1], [1]], 0), tf.int32)
    return tf.argmin(
        tf.concat([flags, stop], axis=-1), axis=-1, output_type=tf.int64
    )


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

    Checking: every record is checked (ids, frames, labels; bad input
    raises a DataError naming file, record and field). `build_dataset`
    and `parse_serialized` parse and check a batch of records at once
    (`_parse_batch`: the same checks, vectorised); when skipping bad
    records, in segment mode and in `parse_record` each record is parsed
    and checked alone.

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
        """Ragged [T, None] -> (matrix [T', D], arrays), T' <= max_frames.

        uint8 features stay quantized (uint8) here; floats are float32.
        `arrays` are what `_feature_checks` reads: `num_frames` (int64),
        `per_frame` (values in each frame, [T]) and, for uint8 features,
        `value_bytes` (the length of each bytes value, [N]), for float
        features `finite` (no NaN/Inf in the kept frames).
        """
        arrays = {
            "num_frames": ragged.nrows(),
            "per_frame": ragged.row_lengths(),
        }
        if dtype == "uint8":
            values = ragged.values  # one bytes value per frame when valid
            arrays["value_bytes"] = tf.strings.length(values)
            # fixed_length never fails, so bad records cannot crash here.
            matrix = tf.io.decode_raw(
                values[: self.max_frames], tf.uint8, fixed_length=size
            )  # [T', D] uint8
        else:
            matrix = ragged.to_tensor(shape=[None, size])[: self.max_frames]
            arrays["finite"] = tf.reduce_all(tf.math.is_finite(matrix))
        matrix.set_shape([None, size])
        return matrix, arrays

    @staticmethod
    def _passing_padding(dtype, size):
        """Padding of a feature's check arrays in a batch: values that pass."""
        return {"per_frame": 1 if dtype == "uint8" else size,
                "value_bytes": size}

    def _feature_checks(self, name, size, dtype, arrays):
        """`(ok, text, value)` checks of one feature.

        For one record (`arrays` as `_parse_feature` returns them) or a
        batch ([B, ...], padded with `_passing_padding`; `_parse_batch`).
        A frame is bad when it holds other than one bytes value, or (every
        frame holding one) when that value is not `size` bytes long; the
        first bad frame is reported.
        """
        per_frame = arrays["per_frame"]
        checks = [
            (
                arrays["num_frames"] > 0,
                f"feature_list '{name}' has zero frames (key missing or "
                "empty video)",
                None,
            )
        ]
        if dtype == "uint8":
            one_value = tf.equal(per_frame, 1)  # [..., T]
            right_size = tf.equal(arrays["value_bytes"], size)  # [..., N]
            all_one = tf.reduce_all(one_value, axis=-1)
            checks.append(
                (
                    tf.logical_and(
                        all_one, tf.reduce_all(right_size, axis=-1)
                    ),
                    f"feature_list '{name}' frame {{}} does not hold one "
                    f"bytes value of {size} bytes",
                    tf.where(
                        all_one,
                        _first_false(right_size),
                        _first_false(one_value),
                    ),
                )
            )
        else:
            good = tf.equal(per_frame, size)
            checks.append(
                (
                    tf.reduce_all(good, axis=-1),
                    f"feature_list '{name}' frame {{}} does not hold {size} "
                    "floats",
                    _first_false(good),
                )
            )
            checks.append(
                (
                    arrays["finite"],
                    f"feature_list '{name}' has NaN or Inf values",
                    None,
                )
            )
        return checks

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

    _SEGMENT_KEYS = (
        ("segment_labels", tf.int64),
        ("segment_start_times", tf.int64),
        ("segment_scores", tf.float32),
    )

    def _parse(self, serialized):
        """One serialized SequenceExample -> its parts, nothing checked.

        Returns a dict: `id`, `video_id` (the context values, [None]),
        `matrices` and `arrays` (per feature, `_parse_feature`),
        `num_frames` (int32, the first feature's frames up to max_frames,
        as upstream), and `labels` (ids) or the three segment keys.
        """
        context_spec, sequence_spec = self._specs()
        context, sequences = tf.io.parse_single_sequence_example(
            serialized, context_spec, sequence_spec
        )
        parts = dict(context)
        parts["matrices"], parts["arrays"] = [], []
        for name, size, dtype in zip(
            self.feature_names, self.feature_sizes, self.feature_dtypes
        ):
            matrix, arrays = self._parse_feature(
                name, size, dtype, sequences[name]
            )
            parts["matrices"].append(matrix)
            parts["arrays"].append(arrays)
        parts["num_frames"] = tf.cast(
            tf.minimum(parts["arrays"][0]["num_frames"], self.max_frames),
            tf.int32,
        )
        return parts

    def _checks(self, id_values, video_id_values, arrays, labels):
        """`(video_ids, checks)` of one record or of a batch.

        One record: the context values are [None] tensors, `arrays` as
        `_parse_feature` returns them. A batch: ragged [B, None] values and
        arrays padded with `_passing_padding`. `labels`: the label ids, or
        None in segment mode.
        """
        video_id, id_check = labels_lib.parse_video_id(
            id_values, video_id_values
        )
        checks = [id_check]
        for name, size, dtype, feature_arrays in zip(
            self.feature_names, self.feature_sizes, self.feature_dtypes,
            arrays,
        ):
            checks.extend(self._feature_checks(
                name, size, dtype, feature_arrays
            ))
        if labels is not None:
            checks.append(labels_lib.check_labels(labels, self.num_classes))
        return video_id, checks

    def parse_record(
        self, serialized, path="<serialized input>", index=0,
        skip_bad_records=False, stats=None, pad=True,
    ):
        """Parses one serialized SequenceExample, checking it.

        Returns `(output, valid)`: the unbatched output dict (leading
        segment axis S in segment mode) and a scalar bool. With
        `pad=False` the video matrix keeps only its real frames ([T', F],
        T' <= max_frames) for `padded_batch`.
        """
        path = tf.convert_to_tensor(path, tf.string)
        index = tf.cast(index, tf.int64)
        parts = self._parse(serialized)
        video_id, checks = self._checks(
            parts["id"], parts["video_id"], parts["arrays"],
            parts.get("labels"),
        )
        if self.segment_labels:
            seg_labels = parts["segment_labels"]
            starts = parts["segment_start_times"]
            scores = parts["segment_scores"]
            checks.extend(self._segment_checks(seg_labels, starts, scores))
        valid = errors.check_records(
            path, index, checks, skip_bad_records, stats
        )
        # [max_frames, F], or [T', F] for padded_batch when not `pad`.
        video_matrix = self._video_matrix(
            parts["matrices"], pad or self.segment_labels
        )
        if self.segment_labels:
            output = self._segments(
                video_id, video_matrix, seg_labels, starts, scores, valid
            )
        else:
            labels = parts["labels"]
            output = {
                "video_ids": video_id,
                "video_matrix": video_matrix,
                "num_frames": parts["num_frames"],
                "labels": labels_lib.multi_hot(labels, self.num_classes),
                "has_labels": tf.size(labels) > 0,
            }
        with tf.control_dependencies([valid]):
            output = {key: tf.identity(value) for key, value in output.items()}
        return output, valid

    def _specs(self):
        """`(context_spec, sequence_spec)` of the parse, all ragged."""
        context_spec = {
            "id": tf.io.RaggedFeature(tf.string),
            "video_id": tf.io.RaggedFeature(tf.string),
        }
        if self.segment_labels:
            for key, dtype in self._SEGMENT_KEYS:
                context_spec[key] = tf.io.RaggedFeature(dtype)
        else:
            context_spec["labels"] = tf.io.RaggedFeature(tf.int64)
        sequence_spec = {
            name: tf.io.RaggedFeature(
                tf.string if dtype == "uint8" else tf.float32
            )
            for name, dtype in zip(self.feature_names, self.feature_dtypes)
        }
        return context_spec, sequence_spec

    def _parse_batch(self, paths, indices, serialized):
        """A [B] batch of serialized records -> checked reader output.

        `build_dataset`'s per-batch step (and `parse_serialized`'s): one
        `parse_sequence_example` for the batch, the checks of
        `parse_record` on the whole batch at once (`_checks` on arrays
        padded with values that pass, `_passing_padding`), then the video
        matrix, built only once the checks have passed: the frames of every
        record are decoded as one [N, D] uint8 matrix, dequantized in one
        pass and scattered into [B, max_frames, F] with zero padding.

        In a tf.data map every op costs about 3 us whatever its size, and
        a per-record parse ran ~40 of them; here they run once per batch.
        Raises (InvalidArgumentError carrying a DataError message) naming
        the first bad record of the batch, as `parse_record` does.
        """
        context_spec, sequence_spec = self._specs()
        context, sequences, _ = tf.io.parse_sequence_example(
            serialized, context_features=context_spec,
            sequence_features=sequence_spec,
        )
        arrays = []
        for name, size, dtype in zip(
            self.feature_names, self.feature_sizes, self.feature_dtypes
        ):
            frames = sequences[name]  # ragged [B, (T), (V)]
            passing = self._passing_padding(dtype, size)
            per_frame = frames.with_values(frames.values.row_lengths())
            feature_arrays = {
                "num_frames": frames.row_lengths(),
                "per_frame": per_frame.to_tensor(passing["per_frame"]),
            }
            if dtype == "uint8":
                # Each record's bytes values: [B, (N)].
                value_bytes = tf.RaggedTensor.from_row_splits(
                    tf.strings.length(frames.flat_values),
                    tf.gather(frames.values.row_splits, frames.row_splits),
                    validate=False,
                )
                feature_arrays["value_bytes"] = value_bytes.to_tensor(
                    passing["value_bytes"]
                )
            else:
                # NaN/Inf in the kept frames only, as `parse_record`.
                feature_arrays["finite"] = tf.reduce_all(
                    tf.math.is_finite(frames[:, : self.max_frames]),
                    axis=[1, 2],
                )
            arrays.append(feature_arrays)
        video_ids, checks = self._checks(
            context["id"], context["video_id"], arrays, context["labels"]
        )
        valid = errors.check_records(
            paths, indices, checks, skip_bad_records=False
        )
        with tf.control_dependencies([valid]):
            video_matrix = self._batch_matrix(
                [sequences[name] for name in self.feature_names]
            )
        first_frames = sequences[self.feature_names[0]].row_lengths()
        output = {
            "video_ids": video_ids,
            "video_matrix": video_matrix,
            "num_frames": tf.cast(
                tf.minimum(first_frames, self.max_frames), tf.int32
            ),
            "labels": labels_lib.multi_hot(context["labels"],
                                           self.num_classes),
            "has_labels": context["labels"].row_lengths() > 0,
        }
        with tf.control_dependencies([valid]):
            return {key: tf.identity(value) for key, value in output.items()}

    def _batch_matrix(self, sequences):
        """Checked ragged [B, (T), (V)] features -> float32 [B, T, F].

        Each feature is truncated to `max_frames` and zero-padded to it, as
        `_video_matrix` does per record. When every feature is uint8 and
        has the same number of frames in every record (the YT8M files),
        the features are concatenated as one uint8 [N, F] matrix first, so
        the dequantization and the scatter into the batch run once.
        """
        shape = [None, self.max_frames]
        decoded = []
        for frames, size, dtype in zip(
            sequences, self.feature_sizes, self.feature_dtypes
        ):
            if dtype == "uint8":
                # fixed_length never fails; the checks passed, so each
                # frame is one value of `size` bytes.
                rows = tf.io.decode_raw(
                    frames.flat_values, tf.uint8, fixed_length=size
                )
            else:
                rows = tf.reshape(frames.flat_values, [-1, size])
            rows.set_shape([None, size])
            decoded.append(frames.with_values(rows))  # [B, (T), D]

        def per_feature():
            matrices = []
            for ragged, dtype in zip(decoded, self.feature_dtypes):
                if dtype == "uint8":
                    ragged = ragged.with_values(
                        features_lib.dequantize(ragged.values)
                    )
                matrices.append(ragged.to_tensor(
                    shape=shape + [ragged.values.shape[-1]]
                ))
            if len(matrices) == 1:
                return matrices[0]
            return tf.concat(matrices, axis=2)

        if not all(dtype == "uint8" for dtype in self.feature_dtypes):
            return per_feature()

        def concatenated():
            quantized = decoded[0].with_values(
                tf.concat([ragged.values for ragged in decoded], axis=1)
                if len(decoded) > 1 else decoded[0].values
            )
            # Drop the frames past max_frames before dequantizing them.
            quantized = tf.cond(
                tf.reduce_any(quantized.row_lengths() > self.max_frames),
                lambda: quantized[:, : self.max_frames],
                lambda: quantized,
            )
            matrix = quantized.with_values(
                features_lib.dequantize(quantized.values)
            )
            return matrix.to_tensor(shape=shape + [self.feature_dim])

        if len(decoded) == 1:
            return concatenated()
        lengths = [ragged.row_lengths() for ragged in decoded]
        same = tf.reduce_all(
            [tf.reduce_all(tf.equal(length, lengths[0]))
             for length in lengths[1:]]
        )
        return tf.cond(same, concatenated, per_feature)

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
        serialized = tf.reshape(
            tf.convert_to_tensor(serialized, tf.string), [-1]
        )
        indices = tf.range(tf.size(serialized, out_type=tf.int64))
        paths = tf.fill(tf.shape(serialized), "<serialized input>")
        output = self._parse_batch(paths, indices, serialized)
        output["video_matrix"].set_shape(
            [None, self.max_frames, self.feature_dim]
        )
        return output

    def make_batches(
        self, records, batch_size, drop_remainder=False,
        skip_bad_records=False, stats=None,
    ):
        """(path, index, serialized) records -> batched output dicts.

        Raising on bad input (the default), records are batched serialized
        and parsed and checked a batch at a time (`_parse_batch`). Skipping bad
        records, and in segment mode, each record is checked as it is
        parsed (`parse_record`): a skipped record must leave before the
        batch is formed.
        """
        if self.segment_labels or skip_bad_records:

            @tf.autograph.experimental.do_not_convert
            def parse_checked(path, index, serialized):
                return self.parse_record(
                    serialized, path, index, skip_bad_records, stats,
                    pad=False,
                )

            dataset = records.map(
                parse_checked, num_parallel_calls=tf.data.AUTOTUNE
            )
            if self.segment_labels:
                dataset = dataset.map(lambda output, valid: output).unbatch()
                return dataset.batch(
                    batch_size, drop_remainder=drop_remainder
                )
            dataset = dataset.filter(lambda output, valid: valid)
            dataset = dataset.map(lambda output, valid: output)
            return self._padded_batch(dataset, batch_size, drop_remainder)

        dataset = records.batch(batch_size, drop_remainder=drop_remainder)
        return dataset.map(
            tf.autograph.experimental.do_not_convert(self._parse_batch),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def _padded_batch(self, dataset, batch_size, drop_remainder):
        """Batches records, padding frames to max_frames with zero rows."""
        spec = dataset.element_spec
        padded_shapes = tf.nest.map_structure(lambda x: x.shape, spec)
        padded_shapes["video_matrix"] = tf.TensorShape(
            [self.max_frames, self.feature_dim]
        )
        padding_values = tf.nest.map_structure(
            lambda x: tf.constant(
                "" if x.dtype == tf.string else
                False if x.dtype == tf.bool else 0,
                x.dtype,
            ),
            spec,
        )
        return dataset.padded_batch(
            batch_size,
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
