"""A reader given the other kind of file (frame-level SequenceExamples vs
video-level Examples) says what the file is and which flags read it."""

import os

import numpy as np
import pytest

from tests.readers import helpers
from yt8m.data import writers
from yt8m.readers import DataError
from yt8m.readers import YT8MAggregatedFeatureReader
from yt8m.readers import YT8MFrameFeatureReader
from yt8m.readers.errors import describe_record

REAL_VIDEO = [("testa0.tfrecord", 4716), ("validate0000.tfrecord", 3862)]


@pytest.mark.parametrize("name,num_classes", REAL_VIDEO)
def test_frame_reader_on_real_video_level_files(name, num_classes):
    path = os.path.join(helpers.DATA_DIR, name)
    reader = YT8MFrameFeatureReader(num_classes=num_classes)
    with pytest.raises(DataError) as info:
        helpers.read_all(path, reader)
    message = str(info.value)
    # The original file / record / field stay first.
    assert message.startswith(
        f"file {path}, record 0: feature_list 'rgb' has zero frames")
    assert ("received a video-level tf.train.Example (no feature lists) "
            "with features 'mean_rgb' [1024 floats]") in message
    assert "'mean_audio' [128 floats]" in message
    assert "expected a frame-level tf.train.SequenceExample" in message
    assert "without --frame_features" in message
    assert ("--feature_names=mean_rgb,mean_audio --feature_sizes=1024,128"
            in message)


def test_frame_reader_on_generated_video_level_file(tmp_path):
    path = helpers.write(tmp_path / "video.tfrecord",
                         [helpers.video_example(i) for i in range(3)])
    reader = YT8MFrameFeatureReader(
        num_classes=4, feature_names="rgb,audio",
        feature_sizes=f"{helpers.RGB},{helpers.AUDIO}", max_frames=4)
    with pytest.raises(DataError, match=(
            r"video\.tfrecord, record 0: feature_list 'rgb' has zero frames.*"
            r"this is a video-level file.*--feature_names=mean_rgb,mean_audio "
            rf"--feature_sizes={helpers.RGB},{helpers.AUDIO}")):
        helpers.read_all(path, reader)


def test_video_reader_on_frame_level_files(tmp_path):
    # Two good video-level records, then a frame-level one: record 2.
    path = helpers.write(
        tmp_path / "mixed.tfrecord",
        [helpers.video_example(0), helpers.video_example(1),
         helpers.frame_example(2, num_frames=3)])
    reader = YT8MAggregatedFeatureReader(
        num_classes=4, feature_names="mean_rgb,mean_audio",
        feature_sizes=f"{helpers.RGB},{helpers.AUDIO}")
    with pytest.raises(DataError) as info:
        helpers.read_all(path, reader, batch_size=2)
    message = str(info.value)
    assert message.startswith(
        f"file {path}, record 2: key 'mean_rgb' has 0 values")
    assert "expected a video-level tf.train.Example, received a frame-level "\
        "tf.train.SequenceExample with feature lists 'rgb' [3 frames x " \
        f"{helpers.RGB} uint8 bytes], 'audio' [3 frames x {helpers.AUDIO} " \
        "uint8 bytes]" in message
    assert "this is a frame-level file. Read it with --frame_features" \
        in message
    assert (f"--feature_names=rgb,audio "
            f"--feature_sizes={helpers.RGB},{helpers.AUDIO}") in message


def test_video_reader_on_the_real_frame_level_file():
    # The extractor's file also has mean_rgb/mean_audio in its context, so
    # only frame feature names (a forgotten --frame_features) fail.
    path = os.path.join(helpers.DATA_DIR, "0_out.tfrecord")
    reader = YT8MAggregatedFeatureReader(
        num_classes=10, feature_names="rgb,audio", feature_sizes="1024,128")
    with pytest.raises(DataError) as info:
        helpers.read_all(path, reader)
    message = str(info.value)
    assert message.startswith(f"file {path}, record 0: key 'rgb' has 0 values")
    assert "'rgb' [184 frames x 1024 uint8 bytes]" in message
    assert "--frame_features" in message
    assert "--feature_names=rgb,audio --feature_sizes=1024,128" in message


def test_right_kind_wrong_feature_names_lists_the_record():
    path = os.path.join(helpers.DATA_DIR, "0_out.tfrecord")
    reader = YT8MFrameFeatureReader(num_classes=10, feature_names="mean_rgb",
                                    feature_sizes="1024")
    with pytest.raises(DataError, match=(
            r"record 0: feature_list 'mean_rgb' has zero frames.*the record "
            r"is a frame-level tf\.train\.SequenceExample with feature lists "
            r"'rgb' \[184 frames.*check --feature_names")):
        helpers.read_all(path, reader)


def test_describe_record():
    example = writers.make_video_example(
        "v", [1], {"mean_rgb": np.zeros(3), "mean_audio": np.zeros(2)})
    kind, text, names, sizes = describe_record(example.SerializeToString())
    assert (kind, names, sizes) == ("video", ["mean_rgb", "mean_audio"],
                                    [3, 2])
    assert "'labels' [1 int64s]" in text
    frames = writers.make_frame_example(
        "v", [1], {"audio": np.zeros((2, 3), np.uint8),
                   "rgb": np.zeros((2, 5), np.uint8)})
    kind, text, names, sizes = describe_record(frames.SerializeToString())
    assert (kind, names, sizes) == ("frame", ["rgb", "audio"], [5, 3])
    assert describe_record(b"\xff\xff not a proto") is None
