"""MFB models through the real binaries, and yt8m-ensemble on their output.

train.py -> eval.py --predictions_file -> inference.py --predictions_file
for `--model=MFBModel --mfb_aggregation=dbof --mfb_fusion=mfb` (frame
level), train.py -> inference.py for `--model=MFBVideoModel
--mfb_fusion=fc_concat` (video level, the same video ids), then the
`yt8m-ensemble` module on the two prediction files. The other variants run
in-process in test_mfb_models.py (the library behind the binaries).
"""

import json
import os
import subprocess
import sys

import numpy as np

from tests.training import helpers
from yt8m.evaluation import predictions as predictions_lib

COMMON = [
    f"--num_classes={helpers.NUM_CLASSES}", "--batch_size=8",
    "--max_steps=2", "--export_model_steps=0", "--log_every_steps=1",
    "--mfb_factor_k=2", "--mfb_output_dim=4",
]


def test_mfb_models_and_ensemble_through_the_binaries(tmp_path):
    frame_glob, video_glob = helpers.write_frame_and_video_shards(
        tmp_path / "data", num_videos=10)
    frame_dir = str(tmp_path / "frame_model")
    proc = helpers.run_binary(
        "train.py", f"--train_data_pattern={frame_glob}",
        f"--train_dir={frame_dir}", "--model=MFBModel", "--frame_features",
        "--feature_names=rgb,audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        f"--max_frames={helpers.MAX_FRAMES}", "--mfb_aggregation=dbof",
        "--mfb_fusion=mfb", "--dbof_cluster_size=6", "--iterations=3",
        "--mfb_normalization=signed_sqrt_l2", *COMMON,
    )
    # Both parameter counts are in the training log.
    assert "with mfb_fusion=fc_concat:" in proc.stderr + proc.stdout
    config = json.load(open(os.path.join(frame_dir, "model_flags.json")))
    assert config["model"] == "MFBModel"
    hparams = config["model_config"]
    assert (hparams["mfb_aggregation"], hparams["mfb_fusion"],
            hparams["mfb_normalization"], hparams["dbof_cluster_size"]) == (
                "dbof", "mfb", "signed_sqrt_l2", 6)
    assert "netvlad_hidden_size" not in hparams  # not an MFBModel hparam

    eval_npz = str(tmp_path / "frame_eval.npz")
    proc = helpers.run_binary(
        "eval.py", f"--train_dir={frame_dir}",
        f"--eval_data_pattern={frame_glob}", "--run_once", "--batch_size=4",
        f"--predictions_file={eval_npz}",
    )
    assert any(line.startswith("epoch/eval number 2 |")
               for line in proc.stdout.splitlines())
    ids, scores = predictions_lib.read_predictions(eval_npz,
                                                   helpers.NUM_CLASSES)
    assert len(ids) == 10 and scores.shape == (10, helpers.NUM_CLASSES)
    frame_npz = str(tmp_path / "frame_test.npz")
    helpers.run_binary(
        "inference.py", f"--train_dir={frame_dir}",
        f"--input_data_pattern={frame_glob}",
        f"--output_file={tmp_path / 'frame.csv'}", "--top_k=3",
        f"--predictions_file={frame_npz}",
    )
    # eval.py and inference.py score the same videos alike.
    ids_b, scores_b = predictions_lib.read_predictions(frame_npz)
    assert sorted(ids_b) == sorted(ids)
    order = [ids.index(v) for v in ids_b]
    np.testing.assert_allclose(scores_b, scores[order], atol=1e-6)

    video_dir = str(tmp_path / "video_model")
    helpers.run_binary(
        "train.py", f"--train_data_pattern={video_glob}",
        f"--train_dir={video_dir}", "--model=MFBVideoModel",
        "--feature_names=mean_rgb,mean_audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        "--mfb_fusion=fc_concat", *COMMON,
    )
    video_npz = str(tmp_path / "video_test.npz")
    helpers.run_binary(
        "inference.py", f"--train_dir={video_dir}",
        f"--input_data_pattern={video_glob}",
        f"--output_file={tmp_path / 'video.csv'}", "--top_k=3",
        f"--predictions_file={video_npz}",
    )

    out = str(tmp_path / "ensemble.csv")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=helpers.ROOT + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "yt8m.evaluation.ensemble_cli",
         f"--inputs={frame_npz},{video_npz}", f"--output_file={out}",
         f"--data_pattern={video_glob}",
         f"--num_classes={helpers.NUM_CLASSES}", "--top_k=3"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("model | weight | GAP@3 | MAP")
    assert lines[-1].startswith("ensemble (average) | 1.0000 |")
    rows = open(out).read().splitlines()
    assert rows[0] == "VideoId,LabelConfidencePairs" and len(rows) == 11
