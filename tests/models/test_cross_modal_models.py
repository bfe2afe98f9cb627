"""CrossModalNetVLAD / CrossModalRNN / CrossModalTransformer, every mode."""

import keras
import numpy as np
import pytest

from tests.layer_test_case import assert_keras_round_trip
from yt8m import models
from yt8m.models.cross_modal import correlation_tower_spec

RGB, AUDIO, T, C = 6, 4, 7, 5
TINY = {
    "CrossModalNetVLAD": {"netvlad_cluster_size": 4, "netvlad_hidden_size": 8,
                          "iterations": 4},
    "CrossModalRNN": {"rnn_cells": 3, "rnn_layers": 1, "attention_size": 4,
                      "attention_heads": 2, "late_fusion_hidden_size": 8},
    "CrossModalTransformer": {"transformer_layers": 1, "transformer_heads": 2,
                              "transformer_hidden_size": 8,
                              "transformer_ff_size": 8,
                              "late_fusion_hidden_size": 8},
}
MODES = ["none", "gate", "concat"]


def tower():
    return correlation_tower_spec(["rgb", "audio"], [RGB, AUDIO], C,
                                  max_frames=T)


def build(name, mode, **extra):
    hparams = dict(TINY[name], cross_modal_mode=mode, **extra)
    if mode != "none":
        hparams["correlation_tower"] = tower()
    return models.build_model(name, C, [RGB, AUDIO], max_frames=T, **hparams)


def batch():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(4, T, RGB + AUDIO)).astype("float32")
    num_frames = np.array([7, 4, 2, 1], np.int32)
    valid = np.arange(T)[None, :] < num_frames[:, None]
    video[~valid] = 0.0
    return {"video_matrix": video, "num_frames": num_frames}, valid


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("mode", MODES)
def test_round_trip_frozen_tower_and_padding(name, mode):
    model = build(name, mode)
    inputs, valid = batch()
    out = keras.ops.convert_to_numpy(model(inputs, training=False))
    assert out.shape == (4, C) and np.all((out >= 0) & (out <= 1))
    loaded = assert_keras_round_trip(model, inputs)
    assert loaded.get_config() == model.get_config()
    tower_layers = model.submodels()
    if mode == "none":
        assert tower_layers == {}
        return
    tower_model = tower_layers["correlation_tower"]
    assert tower_model.trainable is False
    tower_ids = {id(v) for v in tower_model.weights}
    assert tower_ids and not tower_ids & {id(v) for v in
                                          model.trainable_weights}
    padded = dict(inputs)
    padded["video_matrix"] = np.where(valid[:, :, None],
                                      inputs["video_matrix"], 1e3)
    padded["video_matrix"] = padded["video_matrix"].astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(padded, training=False)), out,
        rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TINY))
def test_training_moves_the_model_but_not_the_frozen_tower(name):
    import tensorflow as tf

    model = build(name, "concat")
    inputs, _ = batch()
    labels = np.eye(C, dtype="float32")[[0, 1, 2, 3]]
    tower_before = [np.array(w) for w in
                    model.get_layer("correlation_tower").weights]
    rest_before = [np.array(w) for w in model.trainable_weights]
    optimizer = keras.optimizers.Adam(0.05)
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(
            labels, model(inputs, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    for before, weight in zip(
            tower_before, model.get_layer("correlation_tower").weights):
        np.testing.assert_array_equal(before, np.array(weight))
    assert any(not np.array_equal(b, np.array(w))
               for b, w in zip(rest_before, model.trainable_weights))
    # The cross-modal transforms get gradients.
    names = [w.path for w, g in zip(model.trainable_weights, grads)
             if g is not None and np.any(np.asarray(g) != 0)]
    assert any("_to_" in n or "logit" in n for n in names), names


def test_clear_errors():
    with pytest.raises(ValueError, match="--correlation_tower_dir"):
        models.build_model("CrossModalNetVLAD", C, [RGB, AUDIO],
                           max_frames=T, **TINY["CrossModalNetVLAD"])
    with pytest.raises(ValueError, match="expected 'late'"):
        build("CrossModalNetVLAD", "none", fusion="early")
    with pytest.raises(ValueError, match="needs two modalities"):
        models.build_model("CrossModalRNN", C, [RGB], max_frames=T,
                           cross_modal_mode="none", **TINY["CrossModalRNN"])
    cls = models.get_model_class("CrossModalTransformer")
    assert cls.requires_correlation_tower({})
    assert cls.requires_correlation_tower({"cross_modal_mode": "gate"})
    assert not cls.requires_correlation_tower({"cross_modal_mode": "none"})


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("mode,extra", [
    ("none", {}), ("gate", {"cross_modal_hard_gate": True})])
def test_saved_model_export_serves_every_mode(name, mode, extra, tmp_path):
    # concat (the default) is exported for every model in
    # tests/training/test_all_models.py; here the other modes, with the
    # paper's hard 0/1 gate at inference.
    import tensorflow as tf

    from yt8m import config as config_lib
    from yt8m.data import writers
    from yt8m.export import export_saved_model
    from yt8m.readers import model_inputs

    model = build(name, mode, **extra)
    spec = config_lib.ModelSpec(
        model=name, feature_names=["rgb", "audio"],
        feature_sizes=[RGB, AUDIO], frame_features=True, num_classes=C,
        max_frames=T, model_hparams=dict(model.hparams))
    reader = model_inputs.make_reader(spec)
    rng = np.random.default_rng(1)
    records = [writers.make_frame_example(
        f"v{i}", [0], {"rgb": rng.integers(0, 256, (n, RGB), np.uint8),
                       "audio": rng.integers(0, 256, (n, AUDIO), np.uint8)},
    ).SerializeToString() for i, n in enumerate((7, 3, 1))]
    path = export_saved_model(model, reader, str(tmp_path / "export"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    out = served(example_bytes=tf.constant(records))
    parsed = reader.parse_serialized(tf.constant(records))
    expected = keras.ops.convert_to_numpy(model(
        {"video_matrix": parsed["video_matrix"],
         "num_frames": parsed["num_frames"]}, training=False))
    np.testing.assert_allclose(out["predictions"].numpy(),
                               -np.sort(-expected, axis=1),
                               rtol=1e-5, atol=1e-6)
