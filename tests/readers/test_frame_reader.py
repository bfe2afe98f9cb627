import os

import numpy as np
import pytest
import tensorflow as tf

from tests.readers import helpers
from yt8m.data import writers
from yt8m.readers import DataError
from yt8m.readers import YT8MFrameFeatureReader
from yt8m.readers import features


def _reader(max_frames=6, **kwargs):
    kwargs.setdefault("num_classes", 10)
    return YT8MFrameFeatureReader(
        feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        max_frames=max_frames,
        **kwargs,
    )


def _upstream_dequantize(q):
    q = np.asarray(q, np.float32)
    return q * np.float32(4.0 / 255.0) + np.float32(4.0 / 512.0 - 2.0)


def test_dequantization_is_bit_exact(tmp_path):
    values = np.array([0, 1, 128, 255], np.uint8)
    rgb = np.tile(values, (2, helpers.RGB // 4))  # [2 frames, 8]
    audio = np.tile(values, (2, 1))  # [2, 4]
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [writers.make_frame_example("x", [1], {"rgb": rgb, "audio": audio})],
    )
    (batch,) = helpers.read_all(path, _reader())
    matrix = batch["video_matrix"][0]
    assert matrix.dtype == np.float32
    got_rgb = matrix[:2, : helpers.RGB]
    got_audio = matrix[:2, helpers.RGB :]
    assert got_rgb.tobytes() == _upstream_dequantize(rgb).tobytes()
    assert got_rgb.tobytes() == writers.dequantize(rgb).tobytes()
    assert got_audio.tobytes() == writers.dequantize(audio).tobytes()
    assert got_rgb[0, :4].tolist() == [
        np.float32(-1.9921875),
        _upstream_dequantize(1),
        _upstream_dequantize(128),
        np.float32(2.0078125),
    ]


def test_every_byte_value_dequantizes_bit_exactly(tmp_path):
    # All 256 values, through the batch parse (one fused op where it is
    # exact, `features.fused_dequantize_is_exact`) and through its
    # fallback; both must equal upstream's multiply-then-add.
    values = np.arange(256, dtype=np.uint8).reshape(32, helpers.RGB)
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [writers.make_frame_example("x", [1], {"rgb": values})],
    )
    reader = YT8MFrameFeatureReader(
        num_classes=10, feature_names="rgb", feature_sizes=str(helpers.RGB),
        max_frames=32,
    )
    expected = _upstream_dequantize(values)
    (batch,) = helpers.read_all(path, reader)
    assert batch["video_matrix"][0].tobytes() == expected.tobytes()
    direct = features.dequantize(tf.constant(values)).numpy()
    assert direct.tobytes() == expected.tobytes()
    assert features.fused_dequantize_is_exact() in (True, False)
    saved = list(features._FUSED_EXACT)
    try:
        features._FUSED_EXACT[:] = [False]
        fallback = features.dequantize(tf.constant(values)).numpy()
    finally:
        features._FUSED_EXACT[:] = saved
    assert fallback.tobytes() == expected.tobytes()


def _expected_matrix(feature_arrays, max_frames):
    """Upstream's video matrix of one record, from the written arrays."""
    columns = []
    for frames in feature_arrays:
        kept = frames[:max_frames]
        column = np.zeros((max_frames, frames.shape[1]), np.float32)
        if frames.dtype == np.uint8:
            column[: len(kept)] = _upstream_dequantize(kept)
        else:
            column[: len(kept)] = kept
        columns.append(column)
    return np.concatenate(columns, axis=1)


@pytest.mark.parametrize("dtypes", ["uint8,uint8", "uint8,float32"])
def test_batch_mixing_truncated_unequal_and_short_records(tmp_path, dtypes):
    # One batch holds records whose features have equal frame counts,
    # records past max_frames, and records whose features differ in
    # length (each feature is truncated and zero-padded on its own).
    rng = np.random.default_rng(3)
    audio_dtype = dtypes.split(",")[1]
    shapes = [(4, 4), (9, 9), (2, 5), (8, 3), (1, 1), (7, 6)]
    records, examples = [], []
    for i, (rgb_frames, audio_frames) in enumerate(shapes):
        rgb = rng.integers(0, 256, (rgb_frames, helpers.RGB), np.uint8)
        if audio_dtype == "uint8":
            audio = rng.integers(0, 256, (audio_frames, helpers.AUDIO),
                                 np.uint8)
        else:
            audio = rng.normal(size=(audio_frames, helpers.AUDIO)).astype(
                np.float32)
        records.append((rgb, audio))
        examples.append(writers.make_frame_example(
            f"v{i}", [i], {"rgb": rgb, "audio": audio}))
    path = helpers.write(tmp_path / "a.tfrecord", examples)
    reader = _reader(max_frames=6, feature_dtypes=dtypes)
    (batch,) = helpers.read_all(path, reader, batch_size=8)
    for i, arrays in enumerate(records):
        expected = _expected_matrix(arrays, 6)
        assert batch["video_matrix"][i].tobytes() == expected.tobytes(), i
    assert batch["num_frames"].tolist() == [4, 6, 2, 6, 1, 6]
    assert batch["video_ids"].tolist() == [f"v{i}".encode() for i in range(6)]
    assert np.nonzero(batch["labels"])[1].tolist() == list(range(6))
    # The exported models' parse is the same batch parse.
    parsed = reader.parse_serialized(
        tf.constant([e.SerializeToString() for e in examples]))
    for key, value in batch.items():
        np.testing.assert_array_equal(parsed[key].numpy(), value, key)


def test_nan_past_max_frames_is_not_read(tmp_path):
    # Frames past max_frames are dropped before anything reads them, in
    # the batch parse as in the per-record one (skip_bad_records).
    audio = np.ones((5, helpers.AUDIO), np.float32)
    audio[4, 0] = np.nan
    rgb = np.zeros((5, helpers.RGB), np.uint8)
    path = helpers.write(tmp_path / "a.tfrecord", [writers.make_frame_example(
        "v", [1], {"rgb": rgb, "audio": audio})])
    for max_frames, bad in [(4, False), (5, True)]:
        reader = _reader(max_frames=max_frames,
                         feature_dtypes="uint8,float32")
        for kwargs in [{}, {"skip_bad_records": True}]:
            if bad and not kwargs:
                with pytest.raises(DataError, match="'audio' has NaN"):
                    helpers.read_all(path, reader, **kwargs)
                continue
            batches = helpers.read_all(path, reader, **kwargs)
            assert len(batches) == (0 if bad else 1)


def test_padding_rows_are_exactly_zero_and_num_frames(tmp_path):
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [helpers.frame_example(0, num_frames=2),
         helpers.frame_example(1, num_frames=6)],
    )
    (batch,) = helpers.read_all(path, _reader(max_frames=6))
    assert batch["video_matrix"].shape == (2, 6, helpers.RGB + helpers.AUDIO)
    assert batch["num_frames"].dtype == np.int32
    assert batch["num_frames"].tolist() == [2, 6]
    first = batch["video_matrix"][0]
    assert np.all(first[2:] == 0.0)
    # Real frames are never zero: dequantised values are >= -1.99.
    assert np.all(first[:2] != 0.0)
    assert np.all(batch["video_matrix"][1] != 0.0)


def test_truncates_at_300_frames(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (320, 2), np.uint8)
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [writers.make_frame_example("long", [3], {"rgb": frames})],
    )
    reader = YT8MFrameFeatureReader(
        num_classes=10, feature_names=["rgb"], feature_sizes=[2]
    )
    assert reader.max_frames == 300
    (batch,) = helpers.read_all(path, reader)
    assert batch["video_matrix"].shape == (1, 300, 2)
    assert batch["num_frames"].tolist() == [300]
    assert (
        batch["video_matrix"][0].tobytes()
        == writers.dequantize(frames[:300]).tobytes()
    )


def test_num_frames_comes_from_first_feature(tmp_path):
    rng = np.random.default_rng(0)
    example = writers.make_frame_example(
        "x",
        [1],
        {
            "rgb": rng.integers(0, 256, (3, helpers.RGB), np.uint8),
            "audio": rng.integers(0, 256, (5, helpers.AUDIO), np.uint8),
        },
    )
    path = helpers.write(tmp_path / "a.tfrecord", [example])
    (batch,) = helpers.read_all(path, _reader())
    assert batch["num_frames"].tolist() == [3]
    audio = batch["video_matrix"][0, :, helpers.RGB :]
    assert np.all(audio[:5] != 0) and np.all(audio[5:] == 0)


def test_labels_ids_and_unlabelled(tmp_path):
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [
            helpers.frame_example(0, labels=[9, 0, 4]),
            helpers.frame_example(1, labels=None, id_key="video_id"),
        ],
    )
    (batch,) = helpers.read_all(path, _reader())
    assert batch["video_ids"].tolist() == [b"v0000", b"v0001"]
    assert np.nonzero(batch["labels"][0])[0].tolist() == [0, 4, 9]
    assert batch["labels"][1].sum() == 0
    assert batch["labels"].dtype == np.float32
    assert batch["has_labels"].tolist() == [True, False]


def test_float_frame_features(tmp_path):
    rgb = np.random.default_rng(0).normal(size=(3, helpers.RGB))
    rgb = rgb.astype(np.float32)
    path = helpers.write(
        tmp_path / "a.tfrecord",
        [writers.make_frame_example("f", [2], {"rgb": rgb})],
    )
    reader = YT8MFrameFeatureReader(
        num_classes=10,
        feature_names="rgb",
        feature_sizes=str(helpers.RGB),
        max_frames=4,
        feature_dtypes="float32",
    )
    (batch,) = helpers.read_all(path, reader)
    np.testing.assert_array_equal(batch["video_matrix"][0, :3], rgb)
    assert np.all(batch["video_matrix"][0, 3] == 0)
    assert batch["num_frames"].tolist() == [3]


def test_constructor_validation_and_config():
    for name, kwargs in [
        ("max_frames", {"max_frames": 0}),
        ("segment_size", {"segment_size": -1}),
        ("segment_size", {"segment_labels": True, "segment_size": 7,
                          "max_frames": 6}),
        ("num_classes", {"num_classes": 2.5}),
        ("feature_dtypes", {"feature_dtypes": ["int8", "uint8"]}),
        ("feature_dtypes", {"feature_dtypes": ["uint8"]}),
    ]:
        with pytest.raises(ValueError, match=name):
            _reader(**kwargs)
    reader = _reader(
        max_frames=10, segment_labels=True, segment_size=2,
        feature_dtypes=["uint8", "float32"],
    )
    config = reader.get_config()
    assert config["max_frames"] == 10 and config["segment_size"] == 2
    assert YT8MFrameFeatureReader(**config).get_config() == config


def test_segment_oracle(tmp_path):
    """Upstream [run]: starts 0 and 5 of a 12-frame video."""
    example = helpers.frame_example(
        0,
        num_frames=12,
        labels=None,
        segments=[(0, 5, 1.0), (0, 9, 1.0), (5, 5, 0.0)],
    )
    path = helpers.write(tmp_path / "a.tfrecord", [example])
    reader = _reader(max_frames=15, segment_labels=True)
    (batch,) = helpers.read_all(path, reader, batch_size=8)
    assert batch["video_ids"].tolist() == [b"v0000", b"v0000"]
    assert batch["num_frames"].tolist() == [5, 5]
    assert batch["video_matrix"].shape == (2, 5, helpers.RGB + helpers.AUDIO)
    labels, weights = batch["labels"], batch["label_weights"]
    assert {c: labels[0, c] for c in np.nonzero(weights[0])[0]} == {
        5: 1.0, 9: 1.0
    }
    assert {c: labels[1, c] for c in np.nonzero(weights[1])[0]} == {5: 0.0}
    assert np.nonzero(labels[0])[0].tolist() == [5, 9]
    assert labels[1].sum() == 0
    assert weights.sum() == 3
    # Frames [start, start + 5) of the padded video.
    (full,) = helpers.read_all(path, _reader(max_frames=15))
    video = full["video_matrix"][0]
    np.testing.assert_array_equal(batch["video_matrix"][0], video[0:5])
    np.testing.assert_array_equal(batch["video_matrix"][1], video[5:10])


def test_segments_are_flattened_across_videos(tmp_path):
    examples = [
        helpers.frame_example(
            i, num_frames=10, labels=None,
            segments=[(0, 1, 1.0), (5, 2, 0.5)],
        )
        for i in range(3)
    ] + [helpers.frame_example(3, num_frames=10, labels=None)]  # unrated
    path = helpers.write(tmp_path / "a.tfrecord", examples)
    batches = helpers.read_all(
        path, _reader(max_frames=10, segment_labels=True), batch_size=4
    )
    assert [len(b["video_ids"]) for b in batches] == [4, 2]
    ids = helpers.concat(batches, "video_ids").tolist()
    assert ids == [b"v0000"] * 2 + [b"v0001"] * 2 + [b"v0002"] * 2
    labels = helpers.concat(batches, "labels")
    assert labels[1, 2] == np.float32(0.5)
    assert helpers.concat(batches, "has_labels").all()


def test_parse_serialized_for_exported_models():
    serialized = tf.constant(
        [helpers.frame_example(i, num_frames=i + 1).SerializeToString()
         for i in range(3)]
    )
    batch = _reader().parse_serialized(serialized)
    assert batch["num_frames"].numpy().tolist() == [1, 2, 3]
    assert batch["video_matrix"].shape == (3, 6, helpers.RGB + helpers.AUDIO)


def test_real_extractor_sample():
    reader = YT8MFrameFeatureReader(
        feature_names="rgb,audio", feature_sizes="1024,128"
    )
    path = os.path.join(helpers.DATA_DIR, "0_out.tfrecord")
    (batch,) = helpers.read_all(path, reader)
    assert batch["video_matrix"].shape == (1, 300, 1152)
    assert batch["num_frames"].tolist() == [184]
    assert np.nonzero(batch["labels"][0])[0].tolist() == [1, 2]
    assert batch["video_ids"][0].endswith(b".mp4")
    video = batch["video_matrix"][0]
    # Every audio byte is 0 in this file: dequantised to exactly -1.9921875.
    assert np.all(video[:184, 1024:] == np.float32(-1.9921875))
    assert np.all(video[184:] == 0.0)
    assert video[:184, :1024].std() > 0.1
