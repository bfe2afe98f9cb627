"""eval/inference libraries in-process: segments, polling, periodic export."""

import csv
import json
import os

import pytest
import tensorflow as tf

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import inference
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
        max_frames=helpers.MAX_FRAMES,
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
    # 12 videos with one rated segment each.
    assert result.num_examples == 12
    assert os.path.exists(
        evaluation.inference_model_path(trained["dir"], segment_labels=True))


def test_segment_submission(trained, tmp_path):
    whitelist = tmp_path / "segment_label_ids.csv"
    whitelist.write_text("Index\n1\n2\n4\n")
    out = tmp_path / "segments.csv"
    cfg = config_lib.InferenceConfig(
        input_data_pattern=trained["frame"], output_file=str(out),
        train_dir=trained["dir"], segment_labels=True, segment_max_pred=7,
        segment_label_ids_file=str(whitelist), top_k=3, batch_size=5,
    )
    count = inference.run_inference(cfg)
    assert count > 12  # several 5-frame segments per video
    rows = list(csv.reader(open(out, newline="")))
    assert rows[0] == ["Class", "Segments"]
    classes = [int(r[0]) for r in rows[1:]]
    assert set(classes) <= {1, 2, 4} and classes == sorted(classes)

    # Recompute each segment's score to check the per-class order.
    model, spec = inference.load_inference_model(trained["dir"])
    seg_model = inference._segment_model(model, spec)
    from yt8m.readers import model_inputs as inputs
    from yt8m import readers

    reader = inputs.make_reader(spec)
    scores = {}
    for batch in readers.build_dataset(trained["frame"], reader, 100):
        ids = inputs.decode_ids(batch["video_ids"])
        segs, frames, vidx, starts = inference.get_segments(
            batch["video_matrix"].numpy(), batch["num_frames"].numpy())
        preds = seg_model({"video_matrix": segs, "num_frames": frames},
                          training=False).numpy()
        for row, v, s in zip(preds, vidx, starts):
            scores[f"{ids[v]}:{s}"] = row
    for r in rows[1:]:
        c = int(r[0])
        tokens = r[1].split(" ")
        assert 1 <= len(tokens) <= 7
        for t in tokens:
            vid, start = t.split(":")
            assert int(start) % 5 == 0
        values = [scores[t][c] for t in tokens]
        assert values == sorted(values, reverse=True)
