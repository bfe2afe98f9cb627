"""Every registered starter model: shapes, .keras round trip, training,
MirroredStrategy, padding invariance, L2-normalised input, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from yt8m.training.strategy import get_strategy

from tests.layer_test_case import assert_keras_round_trip
from yt8m.losses import get_loss
from yt8m.models import build_model
from yt8m.models.base import select_model_inputs
from yt8m.training.optimizers import build_optimizer

NUM_CLASSES = 6
FEATURE_SIZES = [8, 4]
MAX_FRAMES = 10
NUM_FRAMES = np.array([10, 4, 1, 7], "int32")

# Tiny, non-default hyperparameters for each starter model.
HPARAMS = {
    "LogisticModel": {"l2_penalty": 1e-3},
    "MoeModel": {"moe_num_mixtures": 3, "moe_l2": 1e-3},
    "FrameLevelLogisticModel": {"l2_penalty": 1e-3},
    "DbofModel": {
        "iterations": 5,
        "dbof_cluster_size": 16,
        "dbof_hidden_size": 8,
        "dbof_pooling_method": "average",
        "dbof_activation": "relu6",
        "sample_random_frames": False,
        "video_level_classifier_model": "MoeModel",
        "moe_num_mixtures": 3,
    },
    "LstmModel": {
        "lstm_cells": 8,
        "lstm_layers": 2,
        "video_level_classifier_model": "LogisticModel",
        "l2_penalty": 1e-3,
    },
}
MODEL_NAMES = sorted(HPARAMS)
FRAME_MODELS = ["DbofModel", "FrameLevelLogisticModel", "LstmModel"]


def make_batch(seed=0, batch=4):
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(batch, MAX_FRAMES, 12)).astype("float32")
    num_frames = NUM_FRAMES[:batch]
    valid = np.arange(MAX_FRAMES)[None, :] < num_frames[:, None]
    frames = np.where(valid[:, :, None], frames, 0.0).astype("float32")
    labels = (rng.random((batch, NUM_CLASSES)) < 0.3).astype("float32")
    return {
        "video_matrix": frames,
        "num_frames": num_frames,
        "video_level": rng.normal(size=(batch, 12)).astype("float32"),
        "labels": labels,
    }


def model_inputs(model, batch):
    if model.frame_level:
        return {k: batch[k] for k in ("video_matrix", "num_frames")}
    return {"video_matrix": batch["video_level"]}


def make_model(name, **overrides):
    return build_model(
        name, NUM_CLASSES, FEATURE_SIZES, max_frames=MAX_FRAMES,
        **{**HPARAMS[name], **overrides},
    )


def predict(model, inputs, training=False):
    return keras.ops.convert_to_numpy(model(inputs, training=training))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shape_range_and_frame_level_flag(name):
    model = make_model(name)
    assert model.frame_level == (name in FRAME_MODELS)
    assert type(model).frame_level == model.frame_level
    out = predict(model, model_inputs(model, make_batch()))
    assert out.shape == (4, NUM_CLASSES)
    assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_train_step_then_keras_round_trip(name):
    """One fit step (finite loss, weights move), then .keras save/load."""
    batch = make_batch()
    model = make_model(name)
    inputs = model_inputs(model, batch)
    model.compile(
        optimizer=build_optimizer("AdamOptimizer", 1e-2),
        loss=get_loss("CrossEntropyLoss"),
    )
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(inputs, batch["labels"], batch_size=4, epochs=1,
                        verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    after = [np.array(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    loaded = assert_keras_round_trip(model, inputs)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for original, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.array(original), np.array(restored))


@pytest.fixture(scope="module")
def strategy():
    # One strategy per process (cached by get_strategy): several
    # MirroredStrategy objects reuse collective keys and collide.
    strategy = get_strategy(devices=["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_step_under_mirrored_strategy(name, strategy):
    assert strategy.num_replicas_in_sync == 2
    batch = make_batch()
    with strategy.scope():
        model = make_model(name)
        model.compile(
            optimizer=build_optimizer("AdamOptimizer", 1e-2),
            loss=get_loss("CrossEntropyLoss"),
        )
    dataset = tf.data.Dataset.from_tensor_slices(
        (model_inputs(model, batch), batch["labels"])
    ).batch(4)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("name", FRAME_MODELS)
def test_padding_frames_do_not_change_output(name):
    model = make_model(name)
    batch = make_batch()
    inputs = model_inputs(model, batch)
    valid = np.arange(MAX_FRAMES)[None, :] < NUM_FRAMES[:, None]
    padded = dict(inputs)
    padded["video_matrix"] = np.where(
        valid[:, :, None], inputs["video_matrix"], 1e3
    ).astype("float32")
    np.testing.assert_allclose(
        predict(model, padded), predict(model, inputs), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", FRAME_MODELS)
def test_all_padding_video_stays_finite(name):
    model = make_model(name)
    inputs = model_inputs(model, make_batch())
    inputs["num_frames"] = np.array([0, 4, 0, 7], "int32")
    inputs["video_matrix"][0] = 0.0
    inputs["video_matrix"][2] = 1e3
    for training in (False, True):
        assert np.all(np.isfinite(predict(model, inputs, training=training)))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_input_is_l2_normalised_first(name):
    """Rescaling each frame (or video vector) by a positive constant is a
    no-op: the model's first op is the L2 normalisation."""
    model = make_model(name)
    inputs = model_inputs(model, make_batch())
    rng = np.random.default_rng(5)
    scaled = dict(inputs)
    matrix = inputs["video_matrix"]
    scale = rng.uniform(0.1, 50.0, size=matrix.shape[:-1] + (1,))
    scaled["video_matrix"] = (matrix * scale).astype("float32")
    np.testing.assert_allclose(
        predict(model, scaled), predict(model, inputs), rtol=1e-4, atol=1e-5
    )
    assert model.layers[1].name == "l2_normalize"


def test_lstm_uses_state_at_last_valid_frame():
    """Padded video == the same video truncated to its valid frames."""
    model = build_model("LstmModel", NUM_CLASSES, FEATURE_SIZES,
                        max_frames=None, **HPARAMS["LstmModel"])
    batch = make_batch()
    padded = predict(model, model_inputs(model, batch))
    for row, n in enumerate(NUM_FRAMES):
        truncated = {
            "video_matrix": batch["video_matrix"][row:row + 1, :n],
            "num_frames": np.array([n], "int32"),
        }
        np.testing.assert_allclose(
            predict(model, truncated)[0], padded[row], rtol=1e-5, atol=1e-6
        )
    lstm_layers = [l for l in model.layers if isinstance(l, keras.layers.LSTM)]
    assert len(lstm_layers) == 2
    assert all(l.unit_forget_bias for l in lstm_layers)


def test_frame_level_logistic_is_masked_mean_then_logistic():
    model = make_model("FrameLevelLogisticModel")
    batch = make_batch()
    out = predict(model, model_inputs(model, batch))
    head = model.get_layer("classifier").logistic
    kernel, bias = np.asarray(head.kernel), np.asarray(head.bias)
    for row, n in enumerate(NUM_FRAMES):
        frames = batch["video_matrix"][row, :n]
        frames = frames / np.linalg.norm(frames, axis=-1, keepdims=True)
        logits = frames.mean(0) @ kernel + bias
        np.testing.assert_allclose(
            out[row], 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6
        )


def test_dbof_eval_is_deterministic_unless_asked():
    batch = make_batch()
    frame_inputs = {k: batch[k] for k in ("video_matrix", "num_frames")}
    model = make_model("DbofModel", sample_random_frames=True)
    np.testing.assert_array_equal(
        predict(model, frame_inputs), predict(model, frame_inputs)
    )
    train_a = predict(model, frame_inputs, training=True)
    train_b = predict(model, frame_inputs, training=True)
    assert not np.allclose(train_a, train_b), "training must sample randomly"
    random_eval = make_model("DbofModel", dbof_sample_at_eval=True)
    assert not np.allclose(
        predict(random_eval, frame_inputs), predict(random_eval, frame_inputs)
    )


def test_dbof_batch_norm_is_slim_and_structure_matches_upstream():
    model = make_model("DbofModel", dbof_add_batch_norm=True)
    bns = [l for l in model._flatten_layers()
           if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) == 3  # input_bn, cluster_bn, hidden1_bn
    assert all(bn.momentum == 0.999 and bn.epsilon == 1e-3 for bn in bns)
    hidden = model.get_layer("hidden1")
    assert hidden.use_bias is False and hidden.kernel.shape == (16, 8)
    no_bn = make_model("DbofModel", dbof_add_batch_norm=False)
    assert not [l for l in no_bn._flatten_layers()
                if isinstance(l, keras.layers.BatchNormalization)]
    assert no_bn.get_layer("hidden1").use_bias is True


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_names_every_constructor_argument(name):
    model = make_model(name)
    config = model.get_config()
    expected = {"name", "trainable", "num_classes", "feature_sizes"}
    if model.frame_level:
        expected.add("max_frames")
    expected |= set(type(model).hparam_declarations())
    assert set(config) == expected
    for key, value in HPARAMS[name].items():
        assert config[key] == value
    clone = type(model).from_config(config)
    assert clone.get_config() == config


def test_select_model_inputs_drops_reader_extras():
    model = make_model("MoeModel")
    batch = {"video_matrix": 1, "num_frames": 2, "labels": 3, "video_ids": 4}
    assert select_model_inputs(model, batch) == {"video_matrix": 1}
    frame_model = make_model("FrameLevelLogisticModel")
    assert select_model_inputs(frame_model, batch) == {
        "video_matrix": 1, "num_frames": 2}


@pytest.mark.parametrize(
    "name, overrides, argument",
    [
        ("DbofModel", {"dbof_pooling_method": "none"}, "dbof_pooling_method"),
        ("DbofModel", {"dbof_activation": "relu"}, "dbof_activation"),
        ("DbofModel", {"iterations": 0}, "iterations"),
        ("DbofModel", {"dbof_add_batch_norm": 1}, "dbof_add_batch_norm"),
        ("DbofModel", {"video_level_classifier_model": "Moe"},
         "video_level_classifier_model"),
        ("LstmModel", {"lstm_layers": 0}, "lstm_layers"),
        ("LstmModel", {"lstm_cells": 2.5}, "lstm_cells"),
        ("MoeModel", {"moe_num_mixtures": 0}, "moe_num_mixtures"),
        ("LogisticModel", {"l2_penalty": -1.0}, "l2_penalty"),
    ],
)
def test_bad_hparams_raise_naming_the_argument(name, overrides, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        make_model(name, **overrides)


def test_bad_structural_arguments():
    with pytest.raises(ValueError, match="argument `feature_sizes`"):
        build_model("MoeModel", 3, [8, 0])
    with pytest.raises(ValueError, match="argument `num_classes`"):
        build_model("MoeModel", 0, [8])
    with pytest.raises(ValueError, match="argument `max_frames`"):
        build_model("LstmModel", 3, [8], max_frames=0)
