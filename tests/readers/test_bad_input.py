"""Every kind of bad input raises DataError naming file, record and field,
or is skipped and counted with skip_bad_records=True."""

import numpy as np
import pytest
import tensorflow as tf

from tests.readers import helpers
from yt8m.data import writers
from yt8m.readers import DataError
from yt8m.readers import ReaderStats
from yt8m.readers import YT8MAggregatedFeatureReader
from yt8m.readers import YT8MFrameFeatureReader
from yt8m.readers import build_dataset
from yt8m.readers import raise_data_errors

NUM_CLASSES = 10
ID_MISSING = (
    "key 'id' (or 2017 'video_id') must hold exactly one value, found 0"
)


def _video_reader():
    return YT8MAggregatedFeatureReader(
        num_classes=NUM_CLASSES,
        feature_names=["mean_rgb", "mean_audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
    )


def _frame_reader(**kwargs):
    return YT8MFrameFeatureReader(
        num_classes=NUM_CLASSES,
        feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        max_frames=4,
        **kwargs,
    )


def _bad_video(kind):
    rgb = np.zeros(helpers.RGB, np.float32)
    audio = np.zeros(helpers.AUDIO, np.float32)
    if kind == "short_rgb":
        return helpers.video_example(2, rgb=rgb[:-1]), "'mean_rgb' has 7"
    if kind == "long_audio":
        return (
            helpers.video_example(2, audio=np.zeros(5)),
            "'mean_audio' has 5 values, expected 4",
        )
    if kind == "missing_audio":
        example = writers.make_video_example("v2", [1], {"mean_rgb": rgb})
        return example, "'mean_audio' has 0 values, expected 4 (0: key missing)"
    if kind == "missing_id":
        example = helpers.video_example(2)
        del example.features.feature["id"]
        return example, ID_MISSING
    if kind == "label_too_big":
        return (
            helpers.video_example(2, labels=[3, NUM_CLASSES]),
            "'labels' has a value outside [0, 10) (num_classes): 10",
        )
    if kind == "label_negative":
        return (
            helpers.video_example(2, labels=[-1]),
            "'labels' has a value outside [0, 10) (num_classes): -1",
        )
    if kind == "nan":
        bad = rgb.copy()
        bad[3] = np.nan
        return helpers.video_example(2, rgb=bad), "'mean_rgb' has NaN"
    if kind == "inf":
        bad = audio.copy()
        bad[0] = -np.inf
        return helpers.video_example(2, audio=bad), "'mean_audio' has NaN"
    raise AssertionError(kind)


VIDEO_CASES = [
    "short_rgb", "long_audio", "missing_audio", "missing_id",
    "label_too_big", "label_negative", "nan", "inf",
]


def _write_with_bad_record(tmp_path, bad, good):
    examples = [good(0), good(1), bad, good(3), good(4)]
    return helpers.write(tmp_path / "data-00.tfrecord", examples)


@pytest.fixture(scope="module")
def parse_video_batch():
    """The reader's batch parser traced once, raising DataError."""
    reader = _video_reader()

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string)] * 2
        + [tf.TensorSpec([None], tf.int64)]
    )
    def parse(serialized, paths, indices):
        batch, _ = reader.parse_records(serialized, paths, indices)
        return batch

    def run(examples):
        serialized = [e.SerializeToString() for e in examples]
        with raise_data_errors():
            return parse(
                tf.constant(serialized),
                tf.constant(["some/file.tfrecord"] * len(serialized)),
                tf.constant([10 + i for i in range(len(serialized))],
                            tf.int64),
            )

    return run


@pytest.mark.parametrize("kind", VIDEO_CASES)
def test_video_level_bad_record_raises(parse_video_batch, kind):
    bad, field = _bad_video(kind)
    good = helpers.video_example(0)
    parse_video_batch([good, good])  # the parser accepts good records
    with pytest.raises(DataError) as error:
        parse_video_batch([good, bad, good])
    message = str(error.value)
    assert message.startswith("file some/file.tfrecord, record 11: ")
    assert field in message


@pytest.mark.parametrize("kind", ["short_rgb", "label_too_big"])
def test_video_level_bad_record_raises_from_dataset(tmp_path, kind):
    bad, field = _bad_video(kind)
    path = _write_with_bad_record(tmp_path, bad, helpers.video_example)
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _video_reader(), batch_size=2)
    message = str(error.value)
    assert message.startswith(f"file {path}, record 2: ")
    assert field in message


@pytest.mark.parametrize("kind", ["short_rgb", "nan"])
def test_video_level_bad_record_skipped_and_counted(tmp_path, kind, capfd):
    bad, field = _bad_video(kind)
    path = _write_with_bad_record(tmp_path, bad, helpers.video_example)
    stats = ReaderStats()
    batches = helpers.read_all(
        path, _video_reader(), batch_size=2, skip_bad_records=True,
        stats=stats,
    )
    ids = helpers.concat(batches, "video_ids").tolist()
    assert ids == [b"v0000", b"v0001", b"v0003", b"v0004"]
    # Re-batched to full batches despite the hole.
    assert [len(b["video_ids"]) for b in batches] == [2, 2]
    assert stats.num_bad_records == 1
    logged = capfd.readouterr().err
    assert "skipping bad record" in logged
    assert path in logged and "record 2:" in logged and field in logged


def _frame_with(kind):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, helpers.RGB), np.uint8)
    audio = rng.integers(0, 256, (3, helpers.AUDIO), np.uint8)
    if kind == "short_frame_bytes":
        example = writers.make_frame_example("v2", [1], {"rgb": rgb,
                                                         "audio": audio})
        frame = example.feature_lists.feature_list["rgb"].feature[1]
        frame.bytes_list.value[0] = frame.bytes_list.value[0][:-1]
        return example, "'rgb' frame 1 does not hold one bytes value of 8 bytes"
    if kind == "two_values_in_frame":
        example = writers.make_frame_example("v2", [1], {"rgb": rgb,
                                                         "audio": audio})
        frame = example.feature_lists.feature_list["audio"].feature[2]
        frame.bytes_list.value.append(b"abcd")
        return example, "'audio' frame 2 does not hold one bytes value"
    if kind == "zero_frames":
        example = writers.make_frame_example(
            "v2", [1], {"rgb": rgb[:0], "audio": audio[:0]}
        )
        return example, "'rgb' has zero frames"
    if kind == "missing_audio":
        example = writers.make_frame_example("v2", [1], {"rgb": rgb})
        return example, "'audio' has zero frames (key missing"
    if kind == "label_too_big":
        example = writers.make_frame_example(
            "v2", [NUM_CLASSES + 5], {"rgb": rgb, "audio": audio}
        )
        return example, "'labels' has a value outside [0, 10) (num_classes): 15"
    if kind == "missing_id":
        example = writers.make_frame_example("v2", [1], {"rgb": rgb,
                                                         "audio": audio})
        del example.context.feature["id"]
        return example, ID_MISSING
    raise AssertionError(kind)


FRAME_CASES = [
    "short_frame_bytes", "two_values_in_frame", "zero_frames",
    "missing_audio", "label_too_big", "missing_id",
]


@pytest.fixture(scope="module")
def parse_frame_record():
    reader = _frame_reader()

    @tf.function(
        input_signature=[tf.TensorSpec([], tf.string)] * 2
        + [tf.TensorSpec([], tf.int64)]
    )
    def parse(serialized, path, index):
        output, _ = reader.parse_record(serialized, path, index)
        return output

    def run(example, index=7):
        with raise_data_errors():
            return parse(
                tf.constant(example.SerializeToString()),
                tf.constant("dir/frames.tfrecord"),
                tf.constant(index, tf.int64),
            )

    return run


@pytest.mark.parametrize("kind", FRAME_CASES)
def test_frame_level_bad_record_raises(parse_frame_record, kind):
    bad, field = _frame_with(kind)
    assert parse_frame_record(helpers.frame_example(0))["num_frames"] == 3
    with pytest.raises(DataError) as error:
        parse_frame_record(bad, index=7)
    message = str(error.value)
    assert message.startswith("file dir/frames.tfrecord, record 7: ")
    assert field in message


@pytest.mark.parametrize("batch_size", [2, 8])
@pytest.mark.parametrize("kind", FRAME_CASES)
def test_frame_level_bad_record_raises_from_dataset(tmp_path, kind,
                                                    batch_size):
    # Records are checked a batch at a time: record 2 opens the second
    # batch of 2, and sits inside the first (only) batch of 8.
    bad, field = _frame_with(kind)
    path = _write_with_bad_record(tmp_path, bad, helpers.frame_example)
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _frame_reader(), batch_size=batch_size)
    message = str(error.value)
    assert message.startswith(f"file {path}, record 2: ")
    assert field in message


@pytest.mark.parametrize("kind", FRAME_CASES)
def test_exported_models_parse_names_the_input_position(kind):
    # `parse_serialized` (the SavedModel's parse) is the batch parse: a
    # bad record is named by its position in the input batch.
    bad, field = _frame_with(kind)
    serialized = tf.constant([
        helpers.frame_example(0).SerializeToString(),
        bad.SerializeToString(),
        helpers.frame_example(2).SerializeToString(),
    ])
    reader = _frame_reader()
    # In a tf.function, as in the SavedModel, and eagerly (the Assert
    # op's error text differs between the two).
    for parse in (tf.function(reader.parse_serialized),
                  reader.parse_serialized):
        with pytest.raises(DataError) as error, raise_data_errors():
            parse(serialized)
        message = str(error.value)
        assert message.startswith("file <serialized input>, record 1: ")
        assert field in message


@pytest.mark.parametrize("path", ["dir/plain.tfrecord",
                                  "dir/vid\u00e9o's \"x\".tfrecord"])
def test_eager_check_error_carries_the_exact_message(path):
    # Run eagerly, the Assert's error text holds Python's repr of the
    # message bytes; quotes and non-ASCII names come back unchanged.
    from yt8m.readers import errors
    with pytest.raises(DataError) as error, raise_data_errors():
        errors.check_records(
            tf.constant([path]), tf.constant([3], tf.int64),
            [(tf.constant([False]), "key 'x' is bad: {}",
              tf.constant([7], tf.int64))],
            skip_bad_records=False,
        )
    assert str(error.value) == f"file {path}, record 3: key 'x' is bad: 7"


def test_frame_level_first_bad_record_of_a_batch_is_named(tmp_path):
    zero, _ = _frame_with("zero_frames")
    big, field = _frame_with("label_too_big")
    good = helpers.frame_example
    path = helpers.write(tmp_path / "f.tfrecord",
                         [good(0), big, good(2), zero, good(4)])
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _frame_reader(), batch_size=8)
    assert str(error.value).startswith(f"file {path}, record 1: ")
    assert field in str(error.value)


def test_frame_level_nan_in_a_float_feature_after_a_uint8_one(tmp_path):
    # The batch check reads each float feature's columns of the batch
    # matrix: audio's NaN must be reported as audio's, rgb's values as fine.
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, helpers.RGB), np.uint8)
    audio = np.ones((3, helpers.AUDIO), np.float32)
    examples = [writers.make_frame_example(f"v{i}", [1], {
        "rgb": rgb, "audio": audio}) for i in range(2)]
    audio = audio.copy()
    audio[1, 2] = np.inf
    examples.append(writers.make_frame_example("bad", [1], {
        "rgb": rgb, "audio": audio}))
    path = helpers.write(tmp_path / "f.tfrecord", examples)
    reader = YT8MFrameFeatureReader(
        num_classes=NUM_CLASSES, feature_names="rgb,audio",
        feature_sizes=f"{helpers.RGB},{helpers.AUDIO}", max_frames=4,
        feature_dtypes="uint8,float32",
    )
    batches = helpers.read_all(
        path, reader, skip_bad_records=True, stats=ReaderStats())
    assert helpers.concat(batches, "video_ids").tolist() == [b"v0", b"v1"]
    np.testing.assert_array_equal(
        batches[0]["video_matrix"][0, :3, helpers.RGB:], audio[[0, 0, 0]])
    with pytest.raises(DataError, match=r"record 2: feature_list 'audio' "
                                        r"has NaN or Inf"):
        helpers.read_all(path, reader)


def test_frame_level_nan_in_float_features(tmp_path):
    rgb = np.ones((3, helpers.RGB), np.float32)
    rgb[2, 1] = np.nan
    good = [writers.make_frame_example(f"v{i}", [1], {"rgb": np.ones(
        (2, helpers.RGB), np.float32)}) for i in range(2)]
    bad = writers.make_frame_example("bad", [1], {"rgb": rgb})
    path = helpers.write(tmp_path / "f.tfrecord", good + [bad])
    reader = YT8MFrameFeatureReader(
        num_classes=NUM_CLASSES, feature_names="rgb",
        feature_sizes=str(helpers.RGB), max_frames=4,
        feature_dtypes="float32",
    )
    with pytest.raises(DataError, match=r"record 2: feature_list 'rgb' has "
                                        r"NaN"):
        helpers.read_all(path, reader)


@pytest.mark.parametrize("kind", ["zero_frames"])
def test_frame_level_bad_record_skipped(tmp_path, kind):
    bad, _ = _frame_with(kind)
    path = _write_with_bad_record(tmp_path, bad, helpers.frame_example)
    stats = ReaderStats()
    batches = helpers.read_all(
        path, _frame_reader(), batch_size=8, skip_bad_records=True,
        stats=stats,
    )
    ids = helpers.concat(batches, "video_ids").tolist()
    assert ids == [b"v0000", b"v0001", b"v0003", b"v0004"]
    assert stats.num_bad_records == 1


@pytest.mark.parametrize(
    "segments, field",
    [
        ([(0, 1, 1.0), (5, NUM_CLASSES, 1.0)], "'segment_labels'"),
        ([(0, 1, 1.0), (4, 2, 1.0)], "'segment_start_times' has a value "
                                     "outside [0, 3] (max_frames - "
                                     "segment_size): 4"),
        ([(0, 1, float("nan"))], "'segment_scores' has NaN"),
    ],
)
def test_segment_bad_record_raises_or_yields_no_segments(
    tmp_path, segments, field
):
    good = [helpers.frame_example(i, num_frames=8, labels=None,
                                  segments=[(0, 1, 1.0)]) for i in range(2)]
    bad = helpers.frame_example(2, num_frames=8, labels=None,
                                segments=segments)
    path = helpers.write(tmp_path / "s.tfrecord", good + [bad])
    reader = YT8MFrameFeatureReader(
        num_classes=NUM_CLASSES, feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO], max_frames=8,
        segment_labels=True, segment_size=5,
    )
    with pytest.raises(DataError) as error:
        helpers.read_all(path, reader)
    assert "record 2:" in str(error.value) and field in str(error.value)
    stats = ReaderStats()
    batches = helpers.read_all(path, reader, skip_bad_records=True,
                               stats=stats)
    assert helpers.concat(batches, "video_ids").tolist() == [b"v0000",
                                                             b"v0001"]
    assert stats.num_bad_records == 1


def _good_file(tmp_path, name="data.tfrecord", n=6):
    return helpers.write(
        tmp_path / name, [helpers.video_example(i) for i in range(n)]
    )


def test_truncated_file_raises_naming_file_and_record(tmp_path):
    path = _good_file(tmp_path)
    data = open(path, "rb").read()
    record_bytes = len(data) // 6
    with open(path, "wb") as f:
        f.write(data[: 4 * record_bytes + 10])  # 4 full records, then cut
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _video_reader())
    message = str(error.value)
    assert path in message and "record 4:" in message
    assert "truncated or corrupt" in message


def test_truncated_file_beyond_the_first_block_of_records(tmp_path):
    # Bytes are counted a block of records at a time (dataset._COUNT_BLOCK
    # = 32): a cut after record 70 of 75 is still found and named.
    path = helpers.write(tmp_path / "long.tfrecord",
                         [helpers.frame_example(i) for i in range(75)])
    data = open(path, "rb").read()
    record_bytes = len(data) // 75
    with open(path, "wb") as f:
        f.write(data[: 70 * record_bytes + 10])
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _frame_reader(), batch_size=16)
    message = str(error.value)
    assert message.startswith(f"file {path}, record 70: TFRecord data is "
                              "truncated or corrupt after byte "
                              f"{70 * record_bytes} ")
    bad, field = _frame_with("zero_frames")
    examples = [helpers.frame_example(i) for i in range(75)]
    examples[66] = bad
    path = helpers.write(tmp_path / "bad66.tfrecord", examples)
    with pytest.raises(DataError) as error:
        helpers.read_all(path, _frame_reader(), batch_size=16)
    assert str(error.value).startswith(f"file {path}, record 66: ")
    assert field in str(error.value)


def test_corrupt_file_raises_naming_file(tmp_path):
    path = _good_file(tmp_path)
    data = bytearray(open(path, "rb").read())
    record_bytes = len(data) // 6
    data[2 * record_bytes + 20] ^= 0xFF  # inside record 2's payload
    with open(path, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(DataError, match=r"record 2: TFRecord data is "
                                        r"truncated or corrupt"):
        helpers.read_all(path, _video_reader())


def test_corrupt_file_skipped_and_counted(tmp_path):
    path = _good_file(tmp_path, "a.tfrecord")
    other = helpers.write(
        tmp_path / "b.tfrecord",
        [helpers.video_example(i) for i in range(10, 13)],
    )
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 3])
    stats = ReaderStats()
    batches = helpers.read_all(
        f"{path},{other}", _video_reader(), skip_bad_records=True,
        stats=stats,
    )
    ids = helpers.concat(batches, "video_ids").tolist()
    assert ids == [f"v{i:04d}".encode() for i in [0, 1, 2, 3, 4, 10, 11,
                                                  12]]
    assert stats.num_corrupt_files == 1
    assert stats.num_bad_records == 0


def test_unwrapped_error_is_a_tf_error_with_the_message(tmp_path):
    bad, _ = _bad_video("nan")
    path = _write_with_bad_record(tmp_path, bad, helpers.video_example)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="yt8m.readers.DataError: file"):
        for _ in build_dataset(path, _video_reader(), 2):
            pass


def test_no_matching_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        build_dataset(str(tmp_path / "nothing-here*"), _video_reader(), 2)
    path = _good_file(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing-too"):
        build_dataset(f"{path},{tmp_path}/missing-too*", _video_reader(), 2)
    with pytest.raises(ValueError, match="data_pattern"):
        build_dataset(" , ", _video_reader(), 2)
