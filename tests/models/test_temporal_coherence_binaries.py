"""TCEnsembleModel (all three TC placements) through the real binaries:
train.py (+ SavedModel export) -> eval.py -> inference.py (+ .tgz)."""

import csv
import glob
import json
import os
import tarfile

import keras
import numpy as np
import tensorflow as tf

from tests.training import helpers


def test_tc_ensemble_through_the_binaries(tmp_path):
    frame_glob, _ = helpers.write_frame_and_video_shards(
        tmp_path / "data", num_videos=12)
    train_dir = str(tmp_path / "model")
    helpers.run_binary(
        "train.py", f"--train_data_pattern={frame_glob}",
        f"--train_dir={train_dir}", "--model=TCEnsembleModel",
        "--frame_features", "--feature_names=rgb,audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        f"--num_classes={helpers.NUM_CLASSES}",
        f"--max_frames={helpers.MAX_FRAMES}", "--batch_size=6",
        "--max_steps=2", "--export_model_steps=2", "--log_every_steps=1",
        "--tc_kernel_size=3", "--tc_num_feature_maps=2",
        "--tc_mode=distance", "--netvlad_cluster_size=3", "--rnn_cells=4",
        "--rnn_layers=1", "--attention_size=4", "--transformer_layers=1",
        "--transformer_heads=2", "--transformer_hidden_size=8",
        "--transformer_ff_size=8", "--late_fusion_hidden_size=8",
        "--moe_num_mixtures=2",
    )
    config = json.load(open(os.path.join(train_dir, "model_flags.json")))
    assert config["model"] == "TCEnsembleModel"
    model_config = config["model_config"]
    assert (model_config["tc_kernel_size"], model_config["tc_mode"],
            model_config["tc_num_feature_maps"]) == (3, "distance", 2)

    # The periodic SavedModel export serves serialized examples.
    loaded = tf.saved_model.load(os.path.join(train_dir, "export", "step_2"))
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(frame_glob)))]
    served = loaded.signatures["serving_default"](
        example_bytes=tf.constant(records))
    assert served["predictions"].shape[0] == 12

    helpers.run_binary(
        "eval.py", f"--train_dir={train_dir}",
        f"--eval_data_pattern={frame_glob}", "--run_once", "--batch_size=5")
    results = json.load(
        open(os.path.join(train_dir, "eval", "eval_results.json")))
    assert results["num_examples"] == 12

    out = str(tmp_path / "submission.csv")
    tgz = str(tmp_path / "model.tgz")
    helpers.run_binary(
        "inference.py", f"--train_dir={train_dir}",
        f"--input_data_pattern={frame_glob}", f"--output_file={out}",
        f"--output_model_tgz={tgz}", "--batch_size=5", "--top_k=3")
    rows = list(csv.reader(open(out, newline="")))[1:]
    assert len(rows) == 12

    # The .tgz's .keras model (with its TC kernels) gives the same top-3.
    with tarfile.open(tgz) as tar:
        tar.extractall(tmp_path / "untar", filter="data")
    model = keras.models.load_model(
        str(tmp_path / "untar" / "inference_model.keras"))
    kernels = [w for w in model.weights if "coherence" in w.path]
    assert len(kernels) == 4  # netvlad input, rnn, transformer K and V
    from yt8m import config as config_lib
    from yt8m import readers
    from yt8m.readers import model_inputs

    spec = config_lib.read_model_flags(train_dir)
    batch = next(iter(readers.build_dataset(
        frame_glob, model_inputs.make_reader(spec), batch_size=100)))
    scores = np.asarray(model(
        {k: batch[k] for k in model_inputs.input_names(model)},
        training=False))
    by_id = dict(zip(model_inputs.decode_ids(batch["video_ids"]), scores))
    for video_id, pairs in rows:
        values = pairs.split()
        labels = [int(v) for v in values[0::2]]
        np.testing.assert_allclose(
            [float(v) for v in values[1::2]], by_id[video_id][labels],
            rtol=1e-5, atol=1e-6)
