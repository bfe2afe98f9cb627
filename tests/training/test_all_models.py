"""Every registered model: reachable by flags, trains, evaluates, infers,
exports a SavedModel that serves its scores, and round-trips a `.tgz`.

The binaries are thin (flags -> config -> these library calls; two models go
through the real binaries in test_end_to_end.py), so this runs the library
path in-process for every model in the registry, with tiny hyperparameters.
"""

import csv
import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import inference
from yt8m import models
from yt8m import readers
from yt8m.export import export_saved_model
from yt8m.models.cross_modal import correlation_tower_spec
from yt8m.readers import model_inputs
from yt8m.training import loop

# Small values for size-like hyperparameters; others keep their defaults.
TINY = {
    "iterations": 4, "dbof_cluster_size": 8, "dbof_hidden_size": 8,
    "lstm_cells": 4, "lstm_layers": 1, "rnn_cells": 4, "rnn_layers": 1,
    "attention_size": 4, "rnn_fusion_size": 4, "late_fusion_hidden_size": 8,
    "nextvlad_cluster_size": 4, "nextvlad_hidden_size": 8, "groups": 2,
    "expansion": 2, "netvlad_cluster_size": 4, "netvlad_hidden_size": 8,
    "transformer_layers": 1, "transformer_heads": 2,
    "transformer_hidden_size": 8, "transformer_ff_size": 8,
    "moe_num_mixtures": 2,
    # Correlation towers: tiny, and label-disjoint negatives (no taxonomy
    # file needed; category negatives are tested in
    # tests/models/test_correlation_tower.py).
    "tower_hidden_size": 4, "tower_layers": 1, "tower_negatives": "labels",
    "tc_kernel_size": 3, "tc_num_feature_maps": 2,
    "mfb_factor_k": 2, "mfb_output_dim": 4,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("all_models")
    frame, video = helpers.write_frame_and_video_shards(tmp, num_videos=10)
    return {"frame": frame, "video": video}


# The package's models (tests/toy_models.py registers toys when imported).
PACKAGE_MODELS = [n for n in models.list_models()
                  if not models.get_model_class(n).__module__.startswith(
                      "tests.")]


@pytest.mark.parametrize("name", PACKAGE_MODELS)
def test_train_eval_infer_reload(name, data, tmp_path):
    frame_level = models.get_model_class(name).frame_level
    hparams = {k: v for k, v in TINY.items()
               if k in models.model_hparam_names(name)}
    cls = models.get_model_class(name)
    if getattr(cls, "requires_correlation_tower", lambda h: False)(hparams):
        # A cross-modal model holds a frozen correlation tower (here an
        # untrained one; train.py trains a real one first).
        hparams["correlation_tower"] = correlation_tower_spec(
            ["rgb", "audio"], [helpers.RGB, helpers.AUDIO],
            helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
            tower_hidden_size=4, tower_layers=1)
    spec = config_lib.ModelSpec(
        model=name,
        feature_names=["rgb", "audio"] if frame_level
        else ["mean_rgb", "mean_audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        frame_features=frame_level,
        num_classes=helpers.NUM_CLASSES,
        max_frames=helpers.MAX_FRAMES,
        model_hparams=hparams,
    )
    pattern = data["frame"] if frame_level else data["video"]
    train_dir = str(tmp_path / "model")
    result = loop.train(config_lib.TrainConfig(
        train_dir=train_dir, train_data_pattern=pattern, spec=spec,
        batch_size=4, max_steps=2, progress_bar=False, num_readers=1,
        shuffle_seed=0,
    ))
    assert result["step"] == 2 and np.isfinite(result["loss"])
    assert config_lib.read_model_flags(train_dir) == spec

    (step, res), = evaluation.evaluate(config_lib.EvalConfig(
        train_dir=train_dir, eval_data_pattern=pattern, run_once=True,
        batch_size=3,
    ))
    # A model with its own objective (the correlation towers' rgb/audio
    # pairs) reports its own scalars instead of the label metrics.
    own_objective = not hasattr(res, "gap")
    if own_objective:
        assert step == 2 and res.num_examples == 10
        assert {"accuracy", "fpr", "fnr"} <= set(res.values)
        assert 0 <= res.values["accuracy"] <= 1
    else:
        assert step == 2 and res.num_examples == 10 and 0 <= res.gap <= 1

    # The .keras model eval.py exported computes what the trained model
    # computes, on the same inputs (every video, in file order).
    trained = result["model"]
    batch = next(iter(readers.build_dataset(
        pattern, model_inputs.make_reader(spec), batch_size=100)))
    features = {k: batch[k] for k in model_inputs.input_names(trained)}
    direct = np.asarray(trained(features, training=False))
    assert direct.shape == (10, 1 if own_objective else helpers.NUM_CLASSES)
    reloaded = keras.models.load_model(
        evaluation.inference_model_path(train_dir))
    np.testing.assert_allclose(
        np.asarray(reloaded(features, training=False)), direct,
        rtol=0, atol=1e-6)

    # The SavedModel export (train.py's periodic export) serves the model's
    # top-k scores from serialized records.
    records = [r.numpy() for f in sorted(glob.glob(pattern))
               for r in tf.data.TFRecordDataset(f)]
    path = export_saved_model(trained, model_inputs.make_reader(spec),
                              str(tmp_path / "export"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    out = served(example_bytes=tf.constant(records))
    k = min(20, direct.shape[1])
    np.testing.assert_allclose(
        out["predictions"].numpy(), -np.sort(-direct, axis=1)[:, :k],
        rtol=1e-5, atol=1e-6)
    # The .tgz inference.py writes (--output_model_tgz) loads back (as
    # --input_model_tgz does) to the same model.
    tgz = str(tmp_path / "model.tgz")
    inference.write_model_tgz(reloaded, spec, tgz)
    unpacked, unpacked_spec = inference.load_inference_model(
        input_model_tgz=tgz, untar_model_dir=str(tmp_path / "untar"))
    assert unpacked_spec == spec
    np.testing.assert_allclose(
        np.asarray(unpacked(features, training=False)), direct,
        rtol=0, atol=1e-6)

    if own_objective:
        return  # its output is P(pair), not class scores: no submission
    # inference.py (which loads that .keras) writes the trained model's
    # top-3 classes and scores ("%g": 6 significant digits).
    out = tmp_path / "sub.csv"
    inference.run_inference(config_lib.InferenceConfig(
        input_data_pattern=pattern, output_file=str(out),
        train_dir=train_dir, top_k=3,
    ))
    rows = list(csv.reader(open(out, newline="")))
    assert rows[0] == ["VideoId", "LabelConfidencePairs"]
    ids = model_inputs.decode_ids(batch["video_ids"])
    assert [r[0] for r in rows[1:]] == ids
    for row, scores in zip(rows[1:], direct):
        values = row[1].split()
        labels = [int(v) for v in values[0::2]]
        assert labels == list(np.argsort(-scores, kind="stable")[:3]), row
        np.testing.assert_allclose([float(v) for v in values[1::2]],
                                   scores[labels], rtol=1e-5, atol=1e-6)
