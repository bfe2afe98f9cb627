"""Bad-input handling shared by the readers.

Checks run inside the tf.data graph (no `tf.py_function`). A failing check
either stops the pipeline with an `InvalidArgumentError` whose message starts
with `yt8m.readers.DataError:` and names the file, record index and field,
or (with `skip_bad_records=True`) logs a warning naming them, counts the
record in a `ReaderStats` and drops it. `raise_data_errors()` turns the
TensorFlow error into a Python `DataError` at the call site.
"""

import ast
import codecs
import contextlib
import re

import sys

import tensorflow as tf

MARKER = "yt8m.readers.DataError: "
_MESSAGE_RE = re.compile(re.escape(MARKER) + r"(.*?)\]\s*(\n|$)")
# An Assert run eagerly (a reader's parse called outside tf.function)
# raises with Python's repr of the bytes instead: `Summarized data: b"..."`.
_EAGER_MESSAGE_RE = re.compile(
    r"Summarized data: b([\"'])" + re.escape(MARKER) + r"(.*)\1\s*$", re.S
)


class DataError(ValueError):
    """A record or file that the readers refuse to feed to a model.

    The message names the file, the record index (0-based, in file order)
    and, where known, the key/field.
    """


def data_error_message(error):
    """The DataError text carried by a TensorFlow error, or None."""
    text = getattr(error, "message", None) or str(error)
    eager = _EAGER_MESSAGE_RE.search(text)
    if eager is not None:
        try:
            quote, body = eager.group(1), eager.group(2)
            return ast.literal_eval(f"b{quote}{body}{quote}").decode(
                "utf-8", "replace")
        except (ValueError, SyntaxError):
            return eager.group(2)
    match = _MESSAGE_RE.search(text)
    if match is None:
        return None
    # The Assert op C-escapes its string data (quotes, non-ASCII bytes).
    escaped = match.group(1).encode("utf-8", "backslashreplace")
    try:
        return codecs.escape_decode(escaped)[0].decode("utf-8", "replace")
    except ValueError:
        return match.group(1)


@contextlib.contextmanager
def raise_data_errors():
    """Re-raises reader errors from tf.data as `DataError`.

    Example:
      with raise_data_errors():
          for batch in build_dataset(pattern, reader, 32):
              ...
    """
    try:
        yield
    except tf.errors.OpError as error:
        message = data_error_message(error)
        if message is None:
            raise
        raise DataError(explain_record_kind(message)) from error


_RECORD_RE = re.compile(r"file (.+?), record (\d+): (.*)", re.S)
_FRAME_MISSING_RE = re.compile(r"feature_list '[^']*' has zero frames")
_VIDEO_MISSING_RE = re.compile(r"key '[^']*' has 0 values")
_MAX_LISTED = 8


def _read_record(path, index):
    """The serialized record `index` (0-based) of the TFRecord `path`."""
    for record in tf.data.TFRecordDataset(path).skip(index).take(1):
        return record.numpy()
    return None


def _feature_order(name):
    # rgb before audio, as the upstream flags list them.
    return ("rgb" not in name, name)


def _values(feature):
    kind = feature.WhichOneof("kind")
    return kind, (getattr(feature, kind).value if kind else [])


def describe_record(serialized):
    """What a serialized YT8M record is, for error messages.

    A serialized `tf.train.Example` parses as a `SequenceExample` whose
    context is the Example's features and which has no feature lists, so a
    record with feature lists is frame-level and one without is
    video-level.

    Returns `(kind, description, feature_names, feature_sizes)`: kind
    "frame" or "video"; the names and sizes of its per-frame features
    (frame) or float features with several values (video), rgb first.
    None if the bytes are not a (Sequence)Example.
    """
    try:
        record = tf.train.SequenceExample.FromString(serialized)
    except Exception:  # noqa: BLE001  (a DecodeError: not a proto)
        return None
    lists = record.feature_lists.feature_list
    context = record.context.feature
    names, sizes, parts = [], [], []
    if lists:
        for name in sorted(lists, key=_feature_order):
            frames = lists[name].feature
            kind, values = _values(frames[0]) if frames else (None, [])
            if kind == "bytes_list" and len(values) == 1:
                size, unit = len(values[0]), "uint8 bytes"
            elif kind == "float_list":
                size, unit = len(values), "floats"
            else:
                size, unit = None, "values"
            if size:
                names.append(name)
                sizes.append(size)
            parts.append(f"'{name}' [{len(frames)} frames x {size} {unit}]")
        description = (
            "a frame-level tf.train.SequenceExample with feature lists "
            + ", ".join(parts[:_MAX_LISTED])
            + (" and context keys " + ", ".join(sorted(context))
               if context else "")
        )
        return "frame", description, names, sizes
    for name in sorted(context, key=_feature_order):
        kind, values = _values(context[name])
        unit = {"float_list": "floats", "int64_list": "int64s",
                "bytes_list": "bytes values"}.get(kind, "values")
        parts.append(f"'{name}' [{len(values)} {unit}]")
        if kind == "float_list" and len(values) > 1:
            names.append(name)
            sizes.append(len(values))
    description = (
        "a video-level tf.train.Example (no feature lists) with features "
        + (", ".join(parts[:_MAX_LISTED]) if parts else "(none)")
    )
    return "video", description, names, sizes


def _flag_values(names, sizes, default_names, default_sizes):
    names = names or default_names
    sizes = sizes or default_sizes
    return (f"--feature_names={','.join(names)} "
            f"--feature_sizes={','.join(str(s) for s in sizes)}")


def explain_record_kind(message):
    """Adds what the failing record is to a missing-feature DataError.

    For "feature_list 'x' has zero frames" (frame-level reader) and
    "key 'x' has 0 values" (video-level reader) the record named by the
    message is read again and described; when it is the other kind of file
    the message says which flags read it. Other messages, or records that
    cannot be read back (e.g. `<serialized input>`), are returned as they
    are.
    """
    match = _RECORD_RE.match(message)
    if match is None:
        return message
    path, index, problem = match.group(1), int(match.group(2)), match.group(3)
    frame_reader = _FRAME_MISSING_RE.search(problem) is not None
    video_reader = _VIDEO_MISSING_RE.search(problem) is not None
    if not (frame_reader or video_reader):
        return message
    try:
        serialized = _read_record(path, index)
        described = describe_record(serialized) if serialized else None
    except Exception:  # noqa: BLE001  (unreadable: keep the message)
        return message
    if described is None:
        return message
    kind, description, names, sizes = described
    if frame_reader and kind == "video":
        hint = (
            f"expected a frame-level tf.train.SequenceExample (read with "
            f"--frame_features), received {description}: this is a "
            "video-level file. Read it without --frame_features, with a "
            "video-level model and "
            + _flag_values(names, sizes, ["mean_rgb", "mean_audio"],
                           [1024, 128])
            + ", or pass frame-level files"
        )
    elif video_reader and kind == "frame":
        hint = (
            "expected a video-level tf.train.Example, received "
            f"{description}: this is a frame-level file. Read it with "
            "--frame_features, a frame-level model and "
            + _flag_values(names, sizes, ["rgb", "audio"], [1024, 128])
            + ", or pass video-level files"
        )
    else:
        hint = (
            f"the record is {description}: check --feature_names"
        )
    return f"{message}; {hint}."


class ReaderStats:
    """Counters of what `skip_bad_records=True` dropped.

    Create it outside any distribution-strategy scope and pass it to
    `build_dataset(..., stats=stats)`; read `stats.num_bad_records` (records
    skipped) and `stats.num_corrupt_files` (files whose tail was unreadable
    and skipped) after iterating.
    """

    def __init__(self):
        with tf.init_scope():
            self.bad_records = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="num_bad_records"
            )
            self.corrupt_files = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="num_corrupt_files"
            )

    @property
    def num_bad_records(self):
        return int(self.bad_records.numpy())

    @property
    def num_corrupt_files(self):
        return int(self.corrupt_files.numpy())


def check_records(paths, indices, checks, skip_bad_records, stats=None):
    """Runs `checks` on a batch (or one record) of parsed records.

    Args:
      paths: string tensor, the file of each record ([B] or scalar).
      indices: int64 tensor, the record index in its file (same shape).
      checks: list of `(ok, text, value)`: `ok` a bool tensor shaped like
        `paths` (True = good); `text` a Python string describing the
        problem, whose optional `{}` is replaced by `value` (an integer
        tensor shaped like `paths`, or None). Messages are built from a few
        cheap ops with no `tf.cond`: in a per-record map every op counts.
      skip_bad_records: False raises (InvalidArgumentError carrying a
        DataError message naming the first bad record); True logs a warning
        per bad record to stderr, counts them in `stats` and reports them as
        invalid.
      stats: optional `ReaderStats`.

    Returns:
      A bool tensor like `paths`: which records are valid. It depends on the
      assertion, so using it orders everything after the check.
    """
    shape = tf.shape(paths)
    oks = [tf.broadcast_to(ok, shape) for ok, _, _ in checks]
    valid = oks[0]
    for ok in oks[1:]:
        valid = tf.logical_and(valid, ok)
    all_valid = tf.reduce_all(valid)
    prefixes, suffixes, values = [], [], []
    for _, text, value in checks:
        prefix, marker, suffix = text.partition("{}")
        prefixes.append(prefix)
        suffixes.append(suffix if marker else "")
        if marker and value is not None:
            values.append(
                tf.strings.as_string(tf.broadcast_to(tf.cast(value, tf.int64),
                                                     shape))
            )
        else:
            values.append(tf.fill(shape, ""))
    # The first failing check of each record (0 when all pass).
    failed = tf.argmin(
        tf.cast(tf.stack(oks, axis=0), tf.int32), axis=0, output_type=tf.int32
    )
    value = tf.gather(
        tf.stack(values, axis=-1), failed, batch_dims=len(paths.shape)
    ) if paths.shape.rank else tf.stack(values)[failed]
    messages = tf.strings.join(
        [
            "file ",
            paths,
            ", record ",
            tf.strings.as_string(indices),
            ": ",
            tf.gather(tf.constant(prefixes), failed),
            value,
            tf.gather(tf.constant(suffixes), failed),
        ]
    )

    if not skip_bad_records:
        flat_valid = tf.reshape(valid, [-1])
        first = tf.argmin(tf.cast(flat_valid, tf.int32))
        message = MARKER + tf.reshape(messages, [-1])[first]
        assertion = tf.debugging.Assert(all_valid, [message], summarize=1)
        with tf.control_dependencies([assertion]):
            return tf.identity(valid)

    def report():
        bad = tf.logical_not(tf.reshape(valid, [-1]))
        bad_messages = tf.boolean_mask(tf.reshape(messages, [-1]), bad)
        num_bad = tf.reduce_sum(tf.cast(bad, tf.int64))
        text = tf.strings.reduce_join(
            "WARNING yt8m.readers: skipping bad record in " + bad_messages,
            separator="\n",
        )
        # Printed to stderr by the runtime: TF_CPP_MIN_LOG_LEVEL would hide
        # a C++ log(warning), and absl's Python logger cannot run in-graph.
        ops = [tf.print(text, output_stream=sys.stderr)]
        if stats is not None:
            ops.append(stats.bad_records.assign_add(num_bad))
        with tf.control_dependencies(ops):
            return tf.constant(True)

    reported = tf.cond(all_valid, lambda: tf.constant(True), report)
    with tf.control_dependencies([reported]):
        return tf.identity(valid)


