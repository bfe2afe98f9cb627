"""`build_dataset`: files -> shuffled/sharded records -> parsed batches.

Every record travels with its file path and its index in that file, so a
bad record is reported by name. A truncated or corrupt file is detected by
counting the bytes read (each TFRecord takes `len(data) + 16` bytes) against
the file size: TensorFlow's own DataLossError does not name the file.
"""

import concurrent.futures

import tensorflow as tf

from yt8m.readers import errors

# TFRecord framing: uint64 length, uint32 crc, data, uint32 crc.
_RECORD_OVERHEAD_BYTES = 16
_READ_BUFFER_BYTES = 8 * 1024 * 1024
# Records per step of the byte count (`_read_file`).
_COUNT_BLOCK = 32


def list_files(data_pattern):
    """Sorted, de-duplicated files matching a comma-separated glob list.

    Raises:
      ValueError: if `data_pattern` is empty.
      FileNotFoundError: if a pattern matches no file (names the pattern).
    """
    if isinstance(data_pattern, (list, tuple)):
        patterns = [str(p).strip() for p in data_pattern]
    else:
        patterns = [p.strip() for p in str(data_pattern or "").split(",")]
    patterns = [p for p in patterns if p]
    if not patterns:
        raise ValueError(
            "Invalid value for argument `data_pattern`: expected a file "
            f"glob (comma-separated globs allowed). Received: "
            f"data_pattern={data_pattern!r}"
        )
    files = set()
    for pattern in patterns:
        matched = tf.io.gfile.glob(pattern)
        if not matched:
            raise FileNotFoundError(
                f"No files match the data pattern {pattern!r} "
                f"(from data_pattern={data_pattern!r})."
            )
        files.update(matched)
    return sorted(files)


def no_records_error(data_pattern, flag="data_pattern", what="records"):
    """A `DataError` for a pattern whose files gave no records.

    Names the pattern (as the flag `--<flag>`) and the matched files with
    their sizes. `what` names the missing items ("records", or "rated
    segments" in segment mode).
    """
    try:
        files = list_files(data_pattern)
        sizes = _file_sizes(files)
        listed = ", ".join(
            f"{path} ({size} bytes)" for path, size in zip(files[:5], sizes)
        )
        if len(files) > 5:
            listed += f", ... ({len(files) - 5} more)"
        matched = f"{len(files)} file(s): {listed}"
    except (OSError, ValueError, tf.errors.OpError) as error:
        matched = f"files unreadable: {error}"
    return errors.DataError(
        f"No {what} were read from --{flag}={data_pattern!r} ({matched}): "
        f"expected at least one, received 0 (records skipped as bad, if "
        "any, were reported above)."
    )


def _file_sizes(files):
    def size(path):
        return tf.io.gfile.stat(path).length

    if len(files) < 8:
        return [size(path) for path in files]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(size, files))


def _read_file(path, size, skip_bad_records, stats, num_shards, shard_index):
    """(path, index, serialized) for every record of one file, checked.

    The bytes are counted a block of `_COUNT_BLOCK` records at a time (one
    `scan` step per block, then `unbatch`): a `scan` step per record cost
    about as much as reading the record.
    """
    blocks = tf.data.TFRecordDataset(path, buffer_size=_READ_BUFFER_BYTES)
    # A DataLossError ends the file; the byte count below reports it.
    blocks = blocks.ignore_errors().batch(_COUNT_BLOCK)
    # The end sentinel: an empty block (`batch` never yields one).
    end = tf.data.Dataset.from_tensors(tf.zeros([0], tf.string))
    blocks = blocks.concatenate(end)

    def check_complete(consumed, count):
        """At the end sentinel: were all of the file's bytes read?"""
        complete = tf.equal(consumed, size)
        # The record named is the first unreadable one.
        valid = errors.check_records(
            path,
            count,
            [
                (
                    complete,
                    "TFRecord data is truncated or corrupt after byte {} "
                    "(this record and any after it are unreadable)",
                    consumed,
                )
            ],
            skip_bad_records,
            stats=None,
        )
        if skip_bad_records and stats is not None:
            counted = tf.cond(
                valid,
                lambda: tf.constant(0, tf.int64),
                lambda: stats.corrupt_files.assign_add(1),
            )
            with tf.control_dependencies([counted]):
                valid = tf.identity(valid)
        return valid

    @tf.autograph.experimental.do_not_convert
    def count_bytes(state, serialized):
        consumed, count = state
        num_records = tf.size(serialized, out_type=tf.int64)
        indices = count + tf.range(num_records)
        consumed = consumed + tf.reduce_sum(
            tf.cast(tf.strings.length(serialized), tf.int64)
            + _RECORD_OVERHEAD_BYTES
        )
        count = count + num_records
        checked = tf.cond(
            tf.equal(num_records, 0),
            lambda: check_complete(consumed, count),
            lambda: tf.constant(True),
        )
        with tf.control_dependencies([checked]):
            indices = tf.identity(indices)
        return (consumed, count), (
            tf.fill([num_records], path), indices, serialized
        )

    records = blocks.scan(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)), count_bytes
    ).unbatch()
    if num_shards > 1:
        records = records.shard(num_shards, shard_index)
    return records


def build_dataset(
    data_pattern,
    reader,
    batch_size,
    training=False,
    num_epochs=None,
    shuffle_seed=None,
    num_readers=8,
    shuffle_buffer=None,
    skip_bad_records=False,
    input_context=None,
    drop_remainder=False,
    stats=None,
):
    """A batched `tf.data.Dataset` of reader output dicts.

    Args:
      data_pattern: file glob; comma-separated globs allowed.
      reader: a `YT8MAggregatedFeatureReader` or `YT8MFrameFeatureReader`.
      batch_size: per-replica batch size (segments in segment mode).
      training: True shuffles files (reshuffled every epoch) and records
        (`shuffle_buffer`), reads `num_readers` files in parallel and repeats.
        False reads files in sorted order and records in file order, once
        (eval/inference; `num_epochs` still applies if given).
      num_epochs: passes over the data; None means forever when training and
        1 otherwise.
      shuffle_seed: makes training order reproducible (and deterministic).
      num_readers: files read in parallel when training.
      shuffle_buffer: records in the shuffle buffer; default
        `5 * batch_size` (upstream's queue capacity).
      skip_bad_records: skip (and count in `stats`, with a warning naming
        file/record/field) bad records instead of raising.
      input_context: a `tf.distribute.InputContext`; the data is sharded by
        file when there are at least `num_input_pipelines` files, else by
        record index within each file.
      drop_remainder: drop the last partial batch.
      stats: a `ReaderStats` to count skipped records and corrupt files.

    Raises (when iterated): `InvalidArgumentError` carrying a DataError
      message; wrap the loop in `raise_data_errors()` to get `DataError`.
    """
    batch_size = int(batch_size)
    if batch_size <= 0:
        raise ValueError(
            "Invalid value for argument `batch_size`: expected a positive "
            f"integer. Received: batch_size={batch_size}"
        )
    if num_readers is None or int(num_readers) <= 0:
        raise ValueError(
            "Invalid value for argument `num_readers`: expected a positive "
            f"integer. Received: num_readers={num_readers}"
        )
    if num_epochs is not None and int(num_epochs) <= 0:
        raise ValueError(
            "Invalid value for argument `num_epochs`: expected a positive "
            f"integer or None. Received: num_epochs={num_epochs}"
        )
    files = list_files(data_pattern)
    if num_epochs is None and not training:
        num_epochs = 1

    num_shards, shard_index = 1, 0
    if input_context is not None and input_context.num_input_pipelines > 1:
        num_pipelines = input_context.num_input_pipelines
        pipeline_id = input_context.input_pipeline_id
        if len(files) >= num_pipelines:
            files = files[pipeline_id::num_pipelines]
        else:
            num_shards, shard_index = num_pipelines, pipeline_id
    sizes = dict(zip(files, _file_sizes(files)))
    if skip_bad_records and stats is None:
        stats = errors.ReaderStats()

    @tf.autograph.experimental.do_not_convert
    def read_file(path):
        # `path` is a tensor here; its size comes from a lookup table.
        return _read_file(
            path, size_table.lookup(path), skip_bad_records, stats,
            num_shards, shard_index,
        )

    size_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(files), tf.constant([sizes[f] for f in files], tf.int64)
        ),
        default_value=-1,
    )

    filenames = tf.data.Dataset.from_tensor_slices(files)
    if training:
        filenames = filenames.shuffle(
            len(files), seed=shuffle_seed, reshuffle_each_iteration=True
        )
        filenames = filenames.repeat(num_epochs)
        records = filenames.interleave(
            read_file,
            cycle_length=int(num_readers),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=shuffle_seed is not None,
        )
        buffer = shuffle_buffer if shuffle_buffer else 5 * batch_size
        records = records.shuffle(
            buffer, seed=shuffle_seed, reshuffle_each_iteration=True
        )
    else:
        if num_epochs != 1:
            filenames = filenames.repeat(num_epochs)
        records = filenames.interleave(read_file, cycle_length=1)

    # Read (and byte-count) records on their own thread, ahead of parsing.
    records = records.prefetch(tf.data.AUTOTUNE)
    dataset = reader.make_batches(
        records,
        batch_size,
        drop_remainder=drop_remainder,
        skip_bad_records=skip_bad_records,
        stats=stats,
    )
    options = tf.data.Options()
    options.deterministic = (not training) or shuffle_seed is not None
    dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)
