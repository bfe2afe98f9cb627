"""yt8m-score: GAP@20 / MAP@K against an independent reference, refusals."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from tests.evaluation import reference
from yt8m.data import writers
from yt8m.data.generate import generate_dataset
from yt8m.evaluation import score_cli
from yt8m.evaluation import scoring

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def _score(tmp_path, csv_text, data_pattern, *flags):
    """Runs the yt8m-score CLI in-process; returns (exit code, JSON)."""
    csv_path = tmp_path / "submission.csv"
    csv_path.write_text(csv_text, encoding="utf-8")
    out = tmp_path / "score.json"
    code = score_cli.main([
        f"--submission_file={csv_path}", f"--data_pattern={data_pattern}",
        f"--output_json={out}", *flags,
    ])
    return code, (json.loads(out.read_text()) if code == 0 else None)


# --------------------------------------------------------------------------
# Segment-level (2019): MAP@K on generated segment data
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("generated"))
    manifest = generate_dataset(
        root, size="tiny", seed=5, rgb_size=8, audio_size=4, num_train=2,
        num_validate=40, num_test=2, full_length_fraction=0.3,
    )
    # Ground truth from the generator's metadata, not from the TFRecords.
    ratings = {}
    with open(os.path.join(root, "metadata", "validate.jsonl")) as f:
        for line in f:
            meta = json.loads(line)
            for start, label, score in meta["segments"]:
                ratings[(f"{meta['id']}:{start}", label)] = score
    pattern = os.path.join(root, manifest["patterns"]["segment"]["validate"])
    return {"pattern": pattern, "ratings": ratings,
            "num_classes": manifest["config"]["num_classes"]
            if "config" in manifest else 24}


def _random_segment_csv(ratings, num_classes, seed, drop_class=True):
    """A messy submission: rated + unrated + unknown segments, shuffled."""
    rng = random.Random(seed)
    rated_segments = sorted({s for s, _ in ratings})
    classes = sorted({c for _, c in ratings})
    positive_classes = sorted({c for (_, c), v in ratings.items() if v > 0})
    listed = list(range(num_classes))
    if drop_class:
        listed.remove(positive_classes[0])  # a class with positives: AP 0
    rng.shuffle(listed)  # classes in any order
    lines = ["Class,Segments"]
    for c in listed:
        pool = [s for s in rated_segments if rng.random() < 0.7]
        pool += [f"zz{n:02d}:{5 * rng.randrange(60)}" for n in range(5)]
        pool = sorted(set(pool))
        rng.shuffle(pool)
        lines.append(f"{c}," + " ".join(pool))
    assert classes  # the data has ratings
    return "\n".join(lines) + "\n"


def test_generated_segment_starts_spread_over_whole_videos(generated):
    starts = [int(s.split(":")[1]) for s, _ in generated["ratings"]]
    assert all(s % 5 == 0 for s in starts)
    assert max(starts) >= 200  # the 2019 layout: starts up to 295


@pytest.mark.parametrize("k", [100000, 7])
def test_segment_map_matches_reference(generated, tmp_path, k):
    num_classes = generated["num_classes"]
    text = _random_segment_csv(generated["ratings"], num_classes, seed=k)
    code, result = _score(tmp_path, text, generated["pattern"],
                          f"--num_classes={num_classes}",
                          f"--segment_k={k}")
    assert code == 0
    expected = reference.segment_map(text, generated["ratings"], k=k)
    assert result["format"] == "segment"
    assert result["metric"] == f"MAP@{k}"
    assert abs(result["value"] - expected) < 1e-9
    assert 0.0 < expected < 1.0
    assert result["num_classes_missing"] == 1


def test_segment_map_whitelist_and_perfect_submission(generated, tmp_path):
    ratings = generated["ratings"]
    num_classes = generated["num_classes"]
    # Positives first, then negatives: AP 1 for every class.
    lines = ["Class,Segments"]
    for c in sorted({c for _, c in ratings}):
        pos = [s for (s, cc), v in ratings.items() if cc == c and v > 0]
        neg = [s for (s, cc), v in ratings.items() if cc == c and v == 0]
        lines.append(f"{c}," + " ".join(sorted(pos) + sorted(neg)))
    code, result = _score(tmp_path, "\n".join(lines) + "\n",
                          generated["pattern"], f"--num_classes={num_classes}")
    assert code == 0 and result["value"] == pytest.approx(1.0, abs=1e-12)
    # A whitelist restricts the classes averaged.
    text = _random_segment_csv(ratings, num_classes, seed=3)
    positive_classes = sorted({c for (_, c), v in ratings.items() if v > 0})
    whitelist = set(positive_classes[1::2])
    ids = tmp_path / "segment_label_ids.csv"
    ids.write_text("Index\n" + "\n".join(map(str, sorted(whitelist))) + "\n")
    code, result = _score(tmp_path, text, generated["pattern"],
                          f"--num_classes={num_classes}",
                          f"--segment_label_ids_file={ids}")
    expected = reference.segment_map(text, ratings, classes=whitelist)
    assert code == 0 and abs(result["value"] - expected) < 1e-9
    assert result["num_classes"] == len(whitelist)


# --------------------------------------------------------------------------
# Video-level (2018): GAP@20
# --------------------------------------------------------------------------


def _real_labels(path):
    """{id: labels} of a real video-level shard, via protobuf only."""
    labels = {}
    for record in tf.data.TFRecordDataset(path):
        example = tf.train.Example.FromString(record.numpy())
        feature = example.features.feature
        video_id = feature["id"].bytes_list.value[0].decode()
        labels[video_id] = set(feature["labels"].int64_list.value)
    return labels


def _random_video_csv(labels, num_classes, seed, num_pairs=25):
    """Scores rounded to 2 digits (ties), some hits, a few videos missing."""
    rng = random.Random(seed)
    lines = ["VideoId,LabelConfidencePairs"]
    ids = list(labels)
    rng.shuffle(ids)
    for video_id in ids[: int(len(ids) * 0.9)]:
        candidates = set(rng.sample(range(num_classes), num_pairs))
        candidates |= {c for c in labels[video_id] if rng.random() < 0.6}
        candidates = sorted(candidates)
        rng.shuffle(candidates)
        pairs = []
        for c in candidates[:num_pairs]:
            boost = 0.3 if c in labels[video_id] else 0.0
            pairs.append(f"{c} {round(min(1.0, rng.random() * 0.8 + boost), 2):g}")
        lines.append(f"{video_id}," + " ".join(pairs))
    return "\n".join(lines) + "\n"


def test_video_gap_matches_reference_on_real_2018_shard(tmp_path):
    path = os.path.join(DATA, "validate0000.tfrecord")
    labels = _real_labels(path)
    text = _random_video_csv(labels, 3862, seed=1)
    code, result = _score(tmp_path, text, path)
    assert code == 0
    expected = reference.gap(text, labels, top_k=20)
    assert result["metric"] == "GAP@20" and result["format"] == "video"
    assert abs(result["value"] - expected) < 1e-9
    assert 0.05 < expected < 0.95
    assert result["num_videos_missing"] == len(labels) - int(len(labels) * 0.9)
    code, result = _score(tmp_path, text, path, "--top_k=5")
    assert abs(result["value"] - reference.gap(text, labels, top_k=5)) < 1e-9


def test_video_gap_reads_2017_keys_and_sequence_examples(tmp_path):
    """`video_id` Examples and frame-level SequenceExamples give labels too."""
    rng = np.random.default_rng(0)
    labels = {}
    examples = []
    for i in range(30):
        video_labels = sorted(set(rng.integers(0, 12, size=3).tolist()))
        labels[f"x{i}"] = set(video_labels)
        if i % 3 == 0:
            examples.append(writers.make_frame_example(
                f"x{i}", video_labels,
                {"rgb": rng.integers(0, 255, (4, 2), dtype=np.uint8)}))
        else:
            examples.append(writers.make_video_example(
                f"x{i}", video_labels, {"mean_rgb": [0.0]},
                id_key="video_id" if i % 3 == 1 else "id"))
    writers.write_tfrecord(str(tmp_path / "mixed.tfrecord"), examples)
    text = _random_video_csv(labels, 12, seed=2, num_pairs=8)
    code, result = _score(tmp_path, text, str(tmp_path / "mixed.tfrecord"),
                          "--num_classes=12")
    assert code == 0
    assert abs(result["value"] - reference.gap(text, labels)) < 1e-9


# --------------------------------------------------------------------------
# Refusals: file, line number and what is wrong
# --------------------------------------------------------------------------

V = "VideoId,LabelConfidencePairs\n"
S = "Class,Segments\n"

REFUSALS = [
    ("Id,Labels\na,1 0.5\n", 1, "bad header: expected"),
    ("", 1, "empty file"),
    (V + "a,1 0.5\nb,1 0.5,extra\n", 3,
     "wrong number of fields: expected 2"),
    (V + "a,1 0.5 2\n", 2, "odd number of label/score tokens"),
    (V + "a,1 0.5\nb,x 0.5\n", 3, "non-integer label"),
    (V + "a,1.5 0.5\n", 2, "non-integer label"),
    (V + "a,3862 0.5\n", 2, "label outside [0, 3862)"),
    (V + "a,-1 0.5\n", 2, "label outside [0, 3862)"),
    (V + "a,1 high\n", 2, "non-numeric score"),
    (V + "a,1 nan\n", 2, "non-finite score"),
    (V + "a,1 0.5 1 0.4\n", 2, "duplicate label 1"),
    (V + "a,1 0.5\nb,2 0.5\na,3 0.1\n", 4, "duplicate video id 'a'"),
    (S + "3,ab:5 cd:10\nx,ab:5\n", 3, "non-integer class"),
    (S + "3,ab:5\n9999,ab:5\n", 3, "class outside [0, 3862)"),
    (S + "3,ab:5\n3,cd:5\n", 3, "duplicate class 3"),
    (S + "3,ab:5 cd10\n", 2, "bad segment entry 2: expected "
                             "'<video_id>:<start>', received 'cd10'"),
    (S + "3,ab:5 cd:x\n", 2, "bad segment entry 2"),
    (S + "3,ab:5  cd:10\n", 2, "bad segment entry 2"),
    (S + "3,ab:5 cd:12\n", 2, "start not a multiple of 5: received 12"),
    (S + "3,ab:5 cd:10 ab:5\n", 2, "duplicate segment 'ab:5'"),
    (S + "3,ab:5\n4,ab:5,cd:5\n", 3, "wrong number of fields"),
]


@pytest.mark.parametrize("text,line,what", REFUSALS)
def test_malformed_csv_is_refused_with_line(tmp_path, text, line, what):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(scoring.SubmissionError) as info:
        kind = scoring.detect_format(str(path))
        if kind == "video":
            scoring.read_video_submission(str(path))
        else:
            scoring.read_segment_submission(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert what in message, message


def test_cli_errors_exit_1_with_one_line(tmp_path, capsys):
    labels = tmp_path / "labels.tfrecord"
    writers.write_tfrecord(str(labels), [
        writers.make_video_example("a", [1], {"mean_rgb": [0.0]})])
    code, _ = _score(tmp_path, V + "a,1 0.5\nzz,2 0.5\n", str(labels))
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "not in the labels" in err and "'zz'" in err
    # A segment CSV scored as video-level (--format) is refused.
    code, _ = _score(tmp_path, S + "1,a:5\n", str(labels), "--format=video")
    err = capsys.readouterr().err.strip()
    assert code == 1 and ":1: bad header for format=video" in err
    # Unlabelled data cannot be scored against.
    writers.write_tfrecord(str(labels), [
        writers.make_video_example("a", None, {"mean_rgb": [0.0]})])
    code, _ = _score(tmp_path, V + "a,1 0.5\n", str(labels))
    err = capsys.readouterr().err.strip()
    assert code == 1 and "expected labelled records" in err
    # Video-level data has no segment ratings.
    code, _ = _score(tmp_path, S + "1,a:5\n", str(labels))
    err = capsys.readouterr().err.strip()
    assert code == 1 and "expected rated segments" in err


def test_bad_label_records_name_file_and_record(tmp_path):
    path = tmp_path / "labels.tfrecord"
    writers.write_tfrecord(str(path), [
        writers.make_video_example("a", [1], {"mean_rgb": [0.0]}),
        writers.make_video_example("b", [7], {"mean_rgb": [0.0]}),
    ])
    with pytest.raises(scoring.LabelsError,
                       match=r"labels.tfrecord: record 1: key 'labels': "
                             r"expected values in \[0, 5\).*received 7"):
        scoring.read_video_labels(str(path), num_classes=5)
    with open(path, "ab") as f:
        f.write(b"\x05\x00\x00\x00\x00\x00\x00\x00garbage")
    with pytest.raises(scoring.LabelsError, match="labels.tfrecord: "):
        scoring.read_video_labels(str(path), num_classes=10)
