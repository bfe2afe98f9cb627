"""Scores a Kaggle submission CSV against labelled TFRecords (`yt8m-score`).

Two formats, told apart by the header (see docs/scoring.md):

* video-level, Kaggle 2017/2018 (`VideoId,LabelConfidencePairs`): GAP@k,
  k = 20, from the CSV alone. Each video's `top_k` highest-scored pairs
  (a stable sort by descending score: ties keep the line order) are pooled
  into one list over all videos; the list is sorted by descending score and

      GAP = sum_i P@i * rel(i) / N_pos

  where rel(i) = 1 if the label at rank i is one of the video's labels,
  P@i is the precision of the first i entries, and N_pos is the number of
  (video, label) positives in the labelled data, all videos included. This
  is `yt8m.metrics.calculate_gap` (upstream `eval_util.calculate_gap`) on
  the CSV's top-k. Labelled videos missing from the CSV are misses (their
  positives count in N_pos only). A CSV video id that is not in the labels
  is an error: it means the CSV and the labels do not belong together.
  Tied scores rank negatives first (the project's tie rule, see
  `yt8m.metrics.average_precision_calculator`): the lowest GAP over the
  orders of the ties, which never overestimates.

* segment-level, Kaggle 2019 (`Class,Segments`, entries `<video_id>:<start>`):
  MAP@K, K = 100,000, as upstream `segment_eval_inference.py` computes it
  (with its header and last-token bugs fixed). For a class c, its line is
  cut to its first K entries, then the entries with no rating for class c
  are dropped (all labels are not exhaustively rated; Kaggle ignored
  unrated pairs), and, with rel(i) = 1 for a positive rating (score > 0),

      AP_c = sum_i P@i * rel(i) / N_c

  over the remaining ranks, N_c = the number of positive ratings of class c
  in the labels (not min(N_c, K): upstream's calculator has no cap, and
  Kaggle's formula divides by "the number of positively-labeled segments";
  the two agree whenever N_c <= K, which holds for all 2019 classes).
  MAP is the mean of AP_c over the classes with at least one positive
  rating (restricted to `segment_label_ids` when given); such a class with
  no CSV line has AP 0, as on Kaggle (upstream averaged only the classes
  present in the CSV, and crashed on a CSV class without positives; such
  classes are ignored here).

A CSV that does not follow its format is refused with a `SubmissionError`
naming the file, the line and what is wrong; bad labelled data raises a
`LabelsError` naming the file, the record and the key.
"""

import math
import os
import re

import numpy as np

VIDEO_FORMAT = "video"
SEGMENT_FORMAT = "segment"
VIDEO_HEADER = "VideoId,LabelConfidencePairs"
SEGMENT_HEADER = "Class,Segments"
HEADERS = {VIDEO_FORMAT: VIDEO_HEADER, SEGMENT_FORMAT: SEGMENT_HEADER}
DEFAULT_TOP_K = 20
DEFAULT_SEGMENT_K = 100000
DEFAULT_NUM_CLASSES = 3862
SEGMENT_SIZE = 5
_BATCH = 256  # records parsed at once when reading labels

# A well-formed `Segments` field: space-separated `<vid>:<start>` entries
# with start a multiple of 5 (checked in C; the slow path says what is
# wrong where it fails).
_SEGMENTS_RE = re.compile(r"(?:[^\s:,]+:\d*[05](?: (?=\S)|$))*")
_ENTRY_RE = re.compile(r"([^\s:,]+):(\d+)")


class SubmissionError(ValueError):
    """A submission CSV that does not follow its format (file, line, what)."""


class LabelsError(ValueError):
    """Labelled TFRecords that cannot be scored against (file, record, key)."""


# --------------------------------------------------------------------------
# Reading the submission
# --------------------------------------------------------------------------


def _error(path, line_number, text):
    return SubmissionError(f"{path}:{line_number}: {text}")


def _lines(path):
    """Yields `(line_number, text)` without the line ending (1-based)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such submission file: {path}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        for number, line in enumerate(f, 1):
            if line.endswith("\n"):
                line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
            yield number, line


def detect_format(path):
    """`"video"` or `"segment"`, from the CSV header (line 1)."""
    for number, header in _lines(path):
        for kind, expected in HEADERS.items():
            if header == expected:
                return kind
        raise _error(
            path, number,
            f"bad header: expected {VIDEO_HEADER!r} or {SEGMENT_HEADER!r}, "
            f"received {header[:100]!r}",
        )
    raise _error(path, 1, "empty file: expected a header line, received "
                          "nothing")


def _rows(path, kind):
    """Yields `(line_number, first_field, second_field)` after the header."""
    expected = HEADERS[kind]
    lines = _lines(path)
    try:
        number, header = next(lines)
    except StopIteration:
        raise _error(path, 1, f"empty file: expected the header "
                              f"{expected!r}, received nothing") from None
    if header != expected:
        raise _error(path, number, f"bad header: expected {expected!r}, "
                                   f"received {header[:100]!r}")
    for number, line in lines:
        if not line.strip():
            continue  # blank lines (e.g. a trailing one) carry nothing
        fields = line.split(",")
        if len(fields) != 2:
            raise _error(
                path, number,
                f"wrong number of fields: expected 2 ({expected}), "
                f"received {len(fields)}",
            )
        yield number, fields[0], fields[1]


def _parse_class(path, number, text, num_classes, what):
    try:
        value = int(text)
    except ValueError:
        raise _error(path, number, f"non-integer {what}: expected an integer "
                                   f"class id, received {text[:50]!r}") from None
    if not 0 <= value < num_classes:
        raise _error(path, number, f"{what} outside [0, {num_classes}) "
                                   f"(num_classes): received {value}")
    return value


def read_video_submission(path, num_classes=DEFAULT_NUM_CLASSES):
    """`{video_id: [(label, score), ...]}` in line order, validated."""
    submission = {}
    first_line = {}
    for number, video_id, pairs_text in _rows(path, VIDEO_FORMAT):
        if not video_id or video_id != video_id.strip():
            raise _error(path, number, f"bad video id: expected a non-empty "
                                       f"id without spaces, received "
                                       f"{video_id!r}")
        if video_id in first_line:
            raise _error(path, number, f"duplicate video id {video_id!r}: "
                                       f"expected each video once, first on "
                                       f"line {first_line[video_id]}")
        tokens = pairs_text.split()
        if len(tokens) % 2:
            raise _error(path, number, f"odd number of label/score tokens: "
                                       f"expected '<label> <score>' pairs, "
                                       f"received {len(tokens)} tokens")
        pairs = []
        seen = set()
        for i in range(0, len(tokens), 2):
            label = _parse_class(path, number, tokens[i], num_classes,
                                 "label")
            if label in seen:
                raise _error(path, number, f"duplicate label {label}: "
                                           "expected each label once per "
                                           "video")
            seen.add(label)
            try:
                score = float(tokens[i + 1])
            except ValueError:
                raise _error(path, number, f"non-numeric score for label "
                                           f"{label}: expected a number, "
                                           f"received {tokens[i + 1][:50]!r}"
                             ) from None
            if not math.isfinite(score):
                raise _error(path, number, f"non-finite score for label "
                                           f"{label}: expected a finite "
                                           f"number, received "
                                           f"{tokens[i + 1]!r}")
            pairs.append((label, score))
        first_line[video_id] = number
        submission[video_id] = pairs
    return submission


def _bad_segment_entry(path, number, class_id, entries):
    """The error for the first malformed entry of a `Segments` field."""
    if entries and not entries.strip():
        return _error(path, number, f"class {class_id}: bad segment entry: "
                                    "expected '<video_id>:<start>' entries, "
                                    "received only spaces")
    for position, entry in enumerate(entries.split(" "), 1):
        match = _ENTRY_RE.fullmatch(entry)
        if match is None:
            return _error(path, number, f"class {class_id}: bad segment entry "
                                        f"{position}: expected "
                                        f"'<video_id>:<start>', received "
                                        f"{entry[:60]!r}")
        start = int(match.group(2))
        if start % SEGMENT_SIZE:
            return _error(path, number, f"class {class_id}: segment entry "
                                        f"{position} ({entry!r}): start not "
                                        f"a multiple of {SEGMENT_SIZE}: "
                                        f"received {start}")
    return _error(path, number, f"class {class_id}: bad segment entries")


def read_segment_submission(path, num_classes=DEFAULT_NUM_CLASSES):
    """`{class_id: [segment_id, ...]}` in line order, validated.

    Segment ids are `"<video_id>:<start>"` with start a multiple of 5, as
    in the labels (`read_segment_labels`).
    """
    submission = {}
    first_line = {}
    for number, class_text, entries in _rows(path, SEGMENT_FORMAT):
        class_id = _parse_class(path, number, class_text, num_classes,
                                "class")
        if class_id in first_line:
            raise _error(path, number, f"duplicate class {class_id}: "
                                       f"expected each class once, first on "
                                       f"line {first_line[class_id]}")
        if _SEGMENTS_RE.fullmatch(entries) is None:
            raise _bad_segment_entry(path, number, class_id, entries)
        segment_ids = entries.split(" ") if entries else []
        # Normalise "vid:05" style starts to the label spelling "vid:5".
        if any(":0" in s for s in segment_ids):
            segment_ids = [
                f"{s.rsplit(':', 1)[0]}:{int(s.rsplit(':', 1)[1])}"
                for s in segment_ids
            ]
        if len(set(segment_ids)) != len(segment_ids):
            seen = set()
            for position, s in enumerate(segment_ids, 1):
                if s in seen:
                    raise _error(path, number, f"class {class_id}: duplicate "
                                               f"segment {s!r} (entry "
                                               f"{position}): expected each "
                                               "segment once per class")
                seen.add(s)
        first_line[class_id] = number
        submission[class_id] = segment_ids
    return submission


def read_segment_label_ids(path, num_classes=DEFAULT_NUM_CLASSES):
    """Class ids of a `segment_label_ids.csv` (header `Index`), validated."""
    ids = []
    for number, line in _lines(path):
        text = line.strip()
        if number == 1 and text == "Index":
            continue
        if not text:
            continue
        ids.append(_parse_class(path, number, text, num_classes, "class id"))
    if not ids:
        raise _error(path, 1, "no class ids: expected a header 'Index' and "
                              "one class id a line, received none")
    return sorted(set(ids))


# --------------------------------------------------------------------------
# Reading the labels
# --------------------------------------------------------------------------


def _records(data_pattern, keys):
    """Yields `(path, index, context_dict_of_numpy)` for every record.

    Parses video-level Examples and frame-level SequenceExamples alike
    (an Example's `features` is a SequenceExample's `context`), context
    only.
    """
    import tensorflow as tf

    from yt8m import readers

    spec = {
        "id": tf.io.RaggedFeature(tf.string),
        "video_id": tf.io.RaggedFeature(tf.string),
    }
    for key in keys:
        dtype = tf.float32 if key == "segment_scores" else tf.int64
        spec[key] = tf.io.RaggedFeature(dtype)

    def parse(serialized):
        context, _, _ = tf.io.parse_sequence_example(
            serialized, context_features=spec)
        return context

    def first_line(error):
        return str(getattr(error, "message", error)).splitlines()[0]

    def locate(path, start):
        """The exact bad record of the batch starting at record `start`."""
        records = tf.data.TFRecordDataset(path).skip(start).take(_BATCH)
        for offset, serialized in enumerate(records):
            try:
                tf.io.parse_single_sequence_example(
                    serialized, context_features=spec)
            except tf.errors.InvalidArgumentError as e:
                return start + offset, first_line(e)
        return start, "unreadable batch"

    for path in readers.list_files(data_pattern):
        dataset = tf.data.TFRecordDataset(path).batch(_BATCH).map(parse)
        index = 0
        try:
            for batch in dataset:
                batch = {k: v.numpy() for k, v in batch.items()}
                for row in range(len(batch["id"])):
                    yield path, index, {k: np.asarray(v[row])
                                        for k, v in batch.items()}
                    index += 1
        except tf.errors.DataLossError as e:
            raise LabelsError(
                f"{path}: corrupt TFRecord framing after record {index}: "
                f"{first_line(e)}") from None
        except tf.errors.InvalidArgumentError:
            bad, message = locate(path, index)
            raise LabelsError(
                f"{path}: record {bad}: expected a tf.train.Example or "
                f"SequenceExample with the keys {sorted(spec)} of the "
                f"right types, received one that fails to parse: "
                f"{message}") from None


def _video_id(path, index, context):
    ids = context["id"] if len(context["id"]) else context["video_id"]
    if len(ids) != 1:
        raise LabelsError(
            f"{path}: record {index}: key 'id' (or 2017 'video_id'): "
            f"expected exactly one value, received {len(ids)}")
    value = ids[0]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_range(path, index, key, values, num_classes):
    if len(values) and (values.min() < 0 or values.max() >= num_classes):
        bad = values[(values < 0) | (values >= num_classes)][0]
        raise LabelsError(
            f"{path}: record {index}: key '{key}': expected values in "
            f"[0, {num_classes}) (num_classes), received {int(bad)}")


def read_video_labels(data_pattern, num_classes=DEFAULT_NUM_CLASSES):
    """`{video_id: set(labels)}` from video- or frame-level TFRecords."""
    labels = {}
    where = {}
    for path, index, context in _records(data_pattern, ["labels"]):
        video_id = _video_id(path, index, context)
        if video_id in labels:
            first = where[video_id]
            raise LabelsError(
                f"{path}: record {index}: duplicate video id {video_id!r}: "
                f"expected each video once, first in {first[0]} record "
                f"{first[1]}")
        values = context["labels"]
        _check_range(path, index, "labels", values, num_classes)
        labels[video_id] = set(int(v) for v in values)
        where[video_id] = (path, index)
    if not labels:
        raise LabelsError(f"{data_pattern}: no records: expected labelled "
                          "Examples or SequenceExamples")
    if not any(labels.values()):
        raise LabelsError(
            f"{data_pattern}: key 'labels': expected labelled records, "
            f"received {len(labels)} records without any label (a test "
            "split?)")
    return labels


def read_segment_labels(data_pattern, num_classes=DEFAULT_NUM_CLASSES):
    """`{(segment_id, class_id): score}` from 2019 frame-level records.

    `segment_id` is `"<video_id>:<start>"`, as in the submission; a
    positive rating has score > 0.
    """
    keys = ["segment_labels", "segment_start_times", "segment_scores"]
    ratings = {}
    num_records = 0
    for path, index, context in _records(data_pattern, keys):
        num_records += 1
        video_id = _video_id(path, index, context)
        seg_labels = context["segment_labels"]
        starts = context["segment_start_times"]
        scores = context["segment_scores"]
        if not len(seg_labels) == len(starts) == len(scores):
            raise LabelsError(
                f"{path}: record {index}: keys 'segment_labels', "
                "'segment_start_times', 'segment_scores': expected equal "
                f"lengths, received {len(seg_labels)}, {len(starts)}, "
                f"{len(scores)}")
        _check_range(path, index, "segment_labels", seg_labels, num_classes)
        if len(starts) and (starts.min() < 0
                            or (starts % SEGMENT_SIZE).any()):
            bad = starts[(starts < 0) | (starts % SEGMENT_SIZE != 0)][0]
            raise LabelsError(
                f"{path}: record {index}: key 'segment_start_times': "
                f"expected non-negative multiples of {SEGMENT_SIZE}, "
                f"received {int(bad)}")
        if not np.isfinite(scores).all():
            raise LabelsError(f"{path}: record {index}: key "
                              "'segment_scores': expected finite values, "
                              "received NaN or Inf")
        for label, start, score in zip(seg_labels, starts, scores):
            key = (f"{video_id}:{int(start)}", int(label))
            if key in ratings and ratings[key] != float(score):
                raise LabelsError(
                    f"{path}: record {index}: segment {key[0]} class "
                    f"{key[1]} rated twice: {ratings[key]} and {score}")
            ratings[key] = float(score)
    if not num_records:
        raise LabelsError(f"{data_pattern}: no records: expected 2019 "
                          "frame-level SequenceExamples")
    if not ratings:
        raise LabelsError(
            f"{data_pattern}: keys 'segment_labels', 'segment_start_times', "
            f"'segment_scores': expected rated segments (2019 validate "
            f"data), received {num_records} records without any")
    return ratings


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def _ap_sum(scores, relevant):
    """Sum of P@i over relevant ranks; ties rank negatives first."""
    from yt8m.metrics.average_precision_calculator import segment_ap_sums

    scores = np.asarray(scores, np.float64)
    relevant = np.asarray(relevant, bool)
    order = np.argsort(-scores, kind="stable")
    return float(segment_ap_sums(scores[order], relevant[order])[0])


def video_gap(submission, labels, top_k=DEFAULT_TOP_K, path="<submission>"):
    """GAP@top_k of a video submission; returns a result dict."""
    if top_k < 1:
        raise ValueError(f"Invalid value for `top_k`: expected >= 1, "
                         f"received {top_k}")
    unknown = [v for v in submission if v not in labels]
    if unknown:
        raise SubmissionError(
            f"{path}: {len(unknown)} video id(s) not in the labels, e.g. "
            f"{unknown[0]!r}: expected ids of the labelled data")
    scores, relevant = [], []
    for video_id, pairs in submission.items():
        positives = labels[video_id]
        ranked = sorted(pairs, key=lambda pair: -pair[1])[:top_k]
        scores.extend(score for _, score in ranked)
        relevant.extend(label in positives for label, _ in ranked)
    num_positives = sum(len(v) for v in labels.values())
    gap = _ap_sum(scores, relevant) / num_positives if scores else 0.0
    return {
        "format": VIDEO_FORMAT,
        "metric": f"GAP@{top_k}",
        "value": gap,
        "gap": gap,
        "top_k": top_k,
        "num_videos": len(labels),
        "num_videos_in_submission": len(submission),
        "num_videos_missing": len(labels) - len(submission),
        "num_positives": num_positives,
        "num_hits": int(sum(relevant)),
    }


def segment_map(submission, ratings, k=DEFAULT_SEGMENT_K, classes=None):
    """MAP@k of a segment submission; returns a result dict.

    Args:
      submission: `{class_id: [segment_id, ...]}` (best first).
      ratings: `{(segment_id, class_id): score}`; score > 0 is positive.
      k: entries of each class line that count (the first k).
      classes: class ids to average over (e.g. the 1000-class whitelist);
        default all classes. Only those with a positive rating count.
    """
    if k < 1:
        raise ValueError(f"Invalid value for `k`: expected >= 1, "
                         f"received {k}")
    rated = {}  # class -> {segment_id: positive}
    for (segment_id, class_id), score in ratings.items():
        rated.setdefault(class_id, {})[segment_id] = score > 0
    allowed = None if classes is None else set(classes)
    positives = {
        c: sum(v.values()) for c, v in rated.items()
        if allowed is None or c in allowed
    }
    scored = sorted(c for c, n in positives.items() if n > 0)
    per_class = {}
    for c in scored:
        class_rated = rated[c]
        relevant = [class_rated[s] for s in submission.get(c, [])[:k]
                    if s in class_rated]
        hits = 0
        total = 0.0
        for rank, positive in enumerate(relevant, 1):
            if positive:
                hits += 1
                total += hits / rank
        per_class[c] = total / positives[c]
    value = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return {
        "format": SEGMENT_FORMAT,
        "metric": f"MAP@{k}",
        "value": value,
        "map": value,
        "k": k,
        "num_classes": len(per_class),
        "num_classes_in_submission": len(submission),
        "num_classes_missing": sum(c not in submission for c in per_class),
        "num_ratings": len(ratings),
        "num_positive_ratings": int(sum(positives[c] for c in scored)),
        "per_class_ap": {str(c): ap for c, ap in per_class.items()},
    }


def score_submission(
    submission_file,
    data_pattern,
    kind=None,
    num_classes=DEFAULT_NUM_CLASSES,
    top_k=DEFAULT_TOP_K,
    segment_k=DEFAULT_SEGMENT_K,
    segment_label_ids_file=None,
):
    """Scores `submission_file` against the TFRecords of `data_pattern`.

    Args:
      kind: "video", "segment" or None (from the header).
    Returns:
      the result dict of `video_gap` or `segment_map`, plus the paths.
    """
    detected = detect_format(submission_file)
    if kind not in (None, "auto", VIDEO_FORMAT, SEGMENT_FORMAT):
        raise ValueError(f"Invalid value for `format`: expected 'auto', "
                         f"'video' or 'segment', received {kind!r}")
    if kind in (VIDEO_FORMAT, SEGMENT_FORMAT) and kind != detected:
        raise _error(submission_file, 1,
                     f"bad header for format={kind}: expected "
                     f"{HEADERS[kind]!r}, received {HEADERS[detected]!r}")
    if detected == VIDEO_FORMAT:
        submission = read_video_submission(submission_file, num_classes)
        labels = read_video_labels(data_pattern, num_classes)
        result = video_gap(submission, labels, top_k, path=submission_file)
    else:
        submission = read_segment_submission(submission_file, num_classes)
        classes = None
        if segment_label_ids_file:
            classes = read_segment_label_ids(segment_label_ids_file,
                                             num_classes)
        ratings = read_segment_labels(data_pattern, num_classes)
        result = segment_map(submission, ratings, segment_k, classes)
    result["submission_file"] = submission_file
    result["data_pattern"] = data_pattern
    return result


def summary_line(result):
    """One printable line with the metric and the counts behind it."""
    if result["format"] == VIDEO_FORMAT:
        return (
            f"{result['metric']}: {result['value']:.6f} | videos: "
            f"{result['num_videos']} labelled, "
            f"{result['num_videos_in_submission']} in the submission, "
            f"{result['num_videos_missing']} missing | positives: "
            f"{result['num_positives']}"
        )
    return (
        f"{result['metric']}: {result['value']:.6f} | classes: "
        f"{result['num_classes']} with positive ratings, "
        f"{result['num_classes_missing']} of them missing from the "
        f"submission | ratings: {result['num_ratings']} "
        f"({result['num_positive_ratings']} positive)"
    )
