"""eval/inference libraries in-process: segments, polling, periodic export."""

import csv
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.metrics import reference
from tests.training import helpers
from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import inference
from yt8m import models
from yt8m.training import checkpoints
from yt8m.training import loop


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A frame-level model trained for a few steps, with periodic export."""
    tmp = tmp_path_factory.mktemp("trained")
    frame, video = helpers.write_frame_and_video_shards(
        tmp / "data", num_videos=12, segments=True
    )
    spec = config_lib.ModelSpec(
        model="FrameLevelLogisticModel",
        feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        frame_features=True,
        num_classes=helpers.NUM_CLASSES,
        # Whole videos: segment eval cuts segments starting up to 295.
        max_frames=helpers.SEGMENT_VIDEO_FRAMES,
    )
    cfg = config_lib.TrainConfig(
        train_dir=str(tmp / "model"), train_data_pattern=frame, spec=spec,
        batch_size=4, max_steps=4, export_model_steps=2, shuffle_seed=1,
        progress_bar=False, num_readers=1,
    )
    result = loop.train(cfg)
    return {"dir": str(tmp / "model"), "frame": frame, "video": video,
            "result": result, "tmp": tmp}


def test_periodic_export_writes_savedmodels(trained):
    export_dir = os.path.join(trained["dir"], "export")
    assert sorted(os.listdir(export_dir)) == ["step_2", "step_4"]
    loaded = tf.saved_model.load(os.path.join(export_dir, "step_4"))
    assert "serving_default" in loaded.signatures


def test_eval_polls_then_times_out(trained):
    cfg = config_lib.EvalConfig(
        train_dir=trained["dir"], eval_data_pattern=trained["frame"],
        batch_size=5, run_once=False, eval_interval_secs=0.1,
        eval_timeout_secs=0.5,
    )
    evaluated = evaluation.evaluate(cfg)
    assert [step for step, _ in evaluated] == [4]
    result = evaluated[0][1]
    assert result.num_examples == 12
    stored = json.load(open(os.path.join(trained["dir"], "eval",
                                         "eval_results.json")))
    assert stored["gap"] == pytest.approx(result.gap)
    assert os.path.exists(evaluation.inference_model_path(trained["dir"]))
    # The eval summaries use the upstream tag names.
    events = [f for f in os.listdir(os.path.join(trained["dir"], "eval"))
              if f.startswith("events.out")]
    tags = set()
    for f in events:
        for event in tf.compat.v1.train.summary_iterator(
                os.path.join(trained["dir"], "eval", f)):
            tags.update(v.tag for v in event.summary.value)
    assert {"Epoch/Eval_GAP", "Epoch/Eval_MAP", "Epoch/Eval_Avg_Hit@1",
            "GlobalStep/Eval_Hit@1"} <= tags


def test_segment_eval_masks_unrated_classes(trained):
    cfg = config_lib.EvalConfig(
        train_dir=trained["dir"], eval_data_pattern=trained["frame"],
        batch_size=8, run_once=True, segment_labels=True,
    )
    (step, result), = evaluation.evaluate(cfg)
    assert step == 4
    # 12 videos with 2-3 rated segments each (starts up to 295).
    assert result.num_examples == sum(
        len(helpers.segment_starts(i)) for i in range(12))
    assert os.path.exists(
        evaluation.inference_model_path(trained["dir"], segment_labels=True))

    # Independent oracle: the model's scores on the rated segments (cut by
    # hand from records parsed by hand), with the unrated (segment, class)
    # pairs zeroed, scored by the plain reference metrics.
    videos = dict(_read_videos_by_hand(trained["frame"]))
    ratings = helpers.segment_ratings(12)
    segments = sorted({name for name, _ in ratings})
    labels = np.zeros((len(segments), helpers.NUM_CLASSES))
    rated = np.zeros_like(labels)
    for (name, c), score in ratings.items():
        labels[segments.index(name), c] = score
        rated[segments.index(name), c] = 1.0
    matrix = np.stack([
        videos[name.split(":")[0]][int(name.split(":")[1]):][:5]
        for name in segments])
    preds = _segment_predictions(trained["dir"], matrix,
                                 np.full(len(segments), 5))
    expected = reference.evaluate(preds * rated, labels, top_k=cfg.top_k)
    for key in ("gap", "hit_at_one", "perr", "map"):
        assert getattr(result, key) == pytest.approx(expected[key],
                                                     abs=1e-6), key
    # The unrated pairs matter here: scoring them changes the metrics, and
    # changing predictions only on unrated pairs does not.
    unmasked = reference.evaluate(preds, labels, top_k=cfg.top_k)
    assert abs(unmasked["gap"] - expected["gap"]) > 1e-3
    noisy = np.where(rated > 0, preds, np.random.default_rng(0).uniform(
        size=preds.shape))
    assert reference.evaluate(noisy * rated, labels,
                              top_k=cfg.top_k)["gap"] == expected["gap"]


def _read_videos_by_hand(pattern):
    """[(video id, float32 frames [T, F])] in file order, parsed with protos.

    Dequantized as upstream: q * 4 / 255 + 4 / 512 - 2; features rgb, audio.
    """
    videos = []
    for path in sorted(glob.glob(pattern)):
        for raw in tf.data.TFRecordDataset(path):
            record = tf.train.SequenceExample.FromString(raw.numpy())
            vid = record.context.feature["id"].bytes_list.value[0].decode()
            parts = []
            for name in ("rgb", "audio"):
                frames = record.feature_lists.feature_list[name].feature
                quantized = np.stack([
                    np.frombuffer(f.bytes_list.value[0], np.uint8)
                    for f in frames]).astype(np.float32)
                parts.append(quantized * np.float32(4.0 / 255.0)
                             + np.float32(4.0 / 512.0 - 2.0))
            videos.append((vid, np.concatenate(parts, axis=1)))
    return videos


def _segment_predictions(train_dir, matrix, num_frames):
    """The latest checkpoint's model, built for 5 frames, called directly."""
    spec = config_lib.read_model_flags(train_dir)
    model = models.build_model(
        spec.model, num_classes=spec.num_classes,
        feature_sizes=spec.feature_sizes, max_frames=5, **spec.model_hparams)
    checkpoints.restore_model(model, checkpoints.latest_checkpoint(train_dir))
    return np.asarray(model(
        {"video_matrix": matrix.astype(np.float32),
         "num_frames": np.asarray(num_frames, np.int32)}, training=False))


@pytest.mark.parametrize("top_k,max_pred", [(3, 7), (1, 100000)])
def test_segment_submission(trained, tmp_path, top_k, max_pred):
    whitelist = tmp_path / "segment_label_ids.csv"
    whitelist.write_text("Index\n1\n2\n4\n")
    out = tmp_path / "segments.csv"
    cfg = config_lib.InferenceConfig(
        input_data_pattern=trained["frame"], output_file=str(out),
        train_dir=trained["dir"], segment_labels=True,
        segment_max_pred=max_pred, segment_label_ids_file=str(whitelist),
        top_k=top_k, batch_size=5,
    )
    count = inference.run_inference(cfg)
    assert count > 12  # several 5-frame segments per video
    rows = list(csv.reader(open(out, newline="")))
    assert rows[0] == ["Class", "Segments"]
    classes = [int(r[0]) for r in rows[1:]]
    assert set(classes) <= {1, 2, 4} and classes == sorted(classes)

    # Independent oracle: every video cut by hand into consecutive 5-frame
    # segments (a trailing partial one kept, zero-padded, with its own
    # frame count, as upstream), scored by a direct model call; each
    # segment keeps its top_k whitelisted classes (ties: lower class); each
    # class lists its segments by descending score (ties: segment order),
    # at most segment_max_pred.
    names, matrices, frame_counts = [], [], []
    for vid, frames in _read_videos_by_hand(trained["frame"]):
        for start in range(0, len(frames), 5):
            segment = frames[start:start + 5]
            frame_counts.append(len(segment))
            matrices.append(np.pad(segment, [(0, 5 - len(segment)), (0, 0)]))
            names.append(f"{vid}:{start}")
    assert count == len(names)
    allowed = np.zeros(helpers.NUM_CLASSES)
    allowed[[1, 2, 4]] = 1.0
    scores = _segment_predictions(trained["dir"], np.stack(matrices),
                                  frame_counts) * allowed
    per_class = {}
    for i, row in enumerate(scores):
        for c in np.argsort(-row, kind="stable")[:cfg.top_k]:
            if allowed[c]:
                per_class.setdefault(int(c), []).append((-row[c], i))
    expected = [["Class", "Segments"]]
    for c in sorted(per_class):
        chosen = sorted(per_class[c])[:cfg.segment_max_pred]
        expected.append([str(c), " ".join(names[i] for _, i in chosen)])
    assert [r[0] for r in rows] == [r[0] for r in expected]
    index = {name: i for i, name in enumerate(names)}
    for got, want in zip(rows[1:], expected[1:]):
        c = int(want[0])
        got_tokens, want_tokens = got[1].split(" "), want[1].split(" ")
        assert len(got_tokens) == len(want_tokens), (got, want)
        assert 1 <= len(got_tokens) <= max_pred
        for g, w in zip(got_tokens, want_tokens):
            # Identical, or a float-rounding swap of near-equal scores.
            assert g == w or abs(scores[index[g], c]
                                 - scores[index[w], c]) < 1e-6, (c, g, w)
