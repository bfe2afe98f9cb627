"""NetVLADModelLF, NeXtVLADModel, Bi-GRU/LSTM attention, TransformerModel:
fit step under 2-replica MirroredStrategy, .keras round trip, padding
invariance, fusion structure, and argument errors (tiny shapes)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import assert_keras_round_trip
from yt8m.losses import get_loss
from yt8m.models import build_model
from yt8m.models import model_hparam_names
from yt8m.layers.feature_slice import FeatureSlice
from yt8m.layers.projection_fusion import ProjectionFusion
from yt8m.training.optimizers import build_optimizer

NUM_CLASSES = 6
FEATURE_SIZES = [8, 4]
MAX_FRAMES = 10
NUM_FRAMES = np.array([10, 4, 1, 7], "int32")

TINY = {
    "NetVLADModelLF": dict(
        iterations=5, netvlad_cluster_size=4, netvlad_hidden_size=8
    ),
    "NeXtVLADModel": dict(
        nextvlad_cluster_size=4, nextvlad_hidden_size=8, groups=2,
        gating_reduction=2, drop_rate=0.2,
    ),
    "BiGRUAttentionModel": dict(
        rnn_cells=8, rnn_layers=1, attention_size=8, attention_heads=2,
        rnn_fusion_size=8, late_fusion_hidden_size=8,
    ),
    "BiLSTMAttentionModel": dict(
        rnn_cells=8, rnn_layers=1, attention_size=8, rnn_fusion_size=8,
        late_fusion_hidden_size=8,
    ),
    "TransformerModel": dict(
        transformer_layers=1, transformer_heads=2, transformer_hidden_size=8,
        transformer_ff_size=8, attention_size=8, late_fusion_hidden_size=8,
    ),
}
NAMES = sorted(TINY)

# (model, extra hparams) variants: every fusion option of every family.
VARIANTS = [
    ("NetVLADModelLF", {"fusion": "late"}),
    ("NetVLADModelLF", {"fusion": "early", "netvlad_sample_frames": False,
                        "netvlad_relu": True, "gating_remove_diag": True}),
    ("NeXtVLADModel", {}),
    ("BiGRUAttentionModel", {"fusion": "early", "rnn_fusion": "concat",
                             "rnn_layers": 2}),
    ("BiGRUAttentionModel", {"fusion": "early", "rnn_fusion": "shared_space"}),
    ("BiGRUAttentionModel", {"fusion": "late"}),
    ("BiLSTMAttentionModel", {"fusion": "early", "rnn_fusion": "projection"}),
    ("BiLSTMAttentionModel", {"fusion": "late", "rnn_layers": 2}),
    ("TransformerModel", {"fusion": "late", "transformer_pooling": "mean"}),
    ("TransformerModel", {"fusion": "early", "transformer_pooling": "cls",
                          "transformer_pre_norm": True,
                          "transformer_layers": 2}),
    ("TransformerModel", {"fusion": "late", "transformer_pooling": "attention",
                          "transformer_positional": False}),
]
VARIANT_IDS = [
    n + "-" + "-".join(f"{k}={v}" for k, v in h.items()) for n, h in VARIANTS
]


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(4, MAX_FRAMES, 12)).astype("float32")
    valid = np.arange(MAX_FRAMES)[None, :] < NUM_FRAMES[:, None]
    frames = np.where(valid[:, :, None], frames, 0.0).astype("float32")
    labels = (rng.random((4, NUM_CLASSES)) < 0.3).astype("float32")
    return {"video_matrix": frames, "num_frames": NUM_FRAMES}, labels, valid


def make_model(name, feature_sizes=FEATURE_SIZES, **overrides):
    return build_model(name, NUM_CLASSES, feature_sizes, max_frames=MAX_FRAMES,
                       **{**TINY[name], **overrides})


def predict(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


@pytest.fixture(scope="module")
def strategy():
    # One strategy per module (collective keys collide across strategies).
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy


@pytest.mark.parametrize("name,extra", VARIANTS, ids=VARIANT_IDS)
def test_fit_step_then_round_trip_and_padding_invariance(name, extra):
    inputs, labels, valid = make_batch()
    model = make_model(name, **extra)
    assert model.frame_level
    # Eager: tracing a tiny RNN train step costs ~20 s on a loaded CPU; the
    # traced (graph) step is covered by the MirroredStrategy test below.
    model.compile(optimizer=build_optimizer("AdamOptimizer", 1e-2),
                  loss=get_loss("CrossEntropyLoss"), run_eagerly=True)
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.fit(inputs, labels, batch_size=4, epochs=1,
                     verbose=0).history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    after = [np.array(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    out = predict(model, inputs)
    assert out.shape == (4, NUM_CLASSES)
    assert np.all((out >= 0) & (out <= 1))
    # Padded frames (even 1e3) never change an output.
    padded = dict(inputs)
    padded["video_matrix"] = np.where(
        valid[:, :, None], inputs["video_matrix"], 1e3).astype("float32")
    np.testing.assert_allclose(predict(model, padded), out,
                               rtol=1e-5, atol=1e-6)
    loaded = assert_keras_round_trip(model, inputs)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for config_value in (extra.get("fusion"),):
        if config_value is not None:
            assert loaded.fusion == config_value


@pytest.mark.parametrize("name", NAMES)
def test_one_fit_step_under_mirrored_strategy(name, strategy):
    inputs, labels, _ = make_batch()
    with strategy.scope():
        model = make_model(name)
        model.compile(optimizer=build_optimizer("AdamOptimizer", 1e-2),
                      loss=get_loss("CrossEntropyLoss"))
        before = [np.array(w) for w in model.trainable_weights]
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [np.array(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


def _layer_names(model):
    return {layer.name for layer in model.layers}


def test_netvlad_late_fusion_is_two_streams_with_half_audio_clusters():
    late = make_model("NetVLADModelLF", fusion="late")
    rgb = late.get_layer("rgb_netvlad")
    audio = late.get_layer("audio_netvlad")
    assert rgb.num_clusters == 4 and audio.num_clusters == 2
    # WILLOW: hidden FC input = 8*4 + 4*2 descriptor entries.
    assert late.get_layer("hidden1").kernel.shape == (8 * 4 + 4 * 2, 8)
    assert {"context_gating", "probability_gating"} <= _layer_names(late)
    early = make_model("NetVLADModelLF", fusion="early", gating=False,
                       moe_prob_gating=False)
    assert early.get_layer("all_netvlad").num_clusters == 4
    assert early.get_layer("hidden1").kernel.shape == (12 * 4, 8)
    assert not {"context_gating", "probability_gating",
                "rgb_netvlad"} & _layer_names(early)
    # Default (fusion=None) is WILLOW's late fusion, stored resolved.
    assert make_model("NetVLADModelLF").get_config()["fusion"] == "late"


def test_netvlad_masking_mode_ignores_frames_past_num_frames_when_training():
    """Without resampling, padding is masked out of every statistic."""
    model = make_model("NetVLADModelLF", netvlad_sample_frames=False)
    inputs, _, valid = make_batch()
    padded = dict(inputs)
    padded["video_matrix"] = np.where(
        valid[:, :, None], inputs["video_matrix"], 5.0).astype("float32")
    a = keras.ops.convert_to_numpy(model(inputs, training=True))
    b = keras.ops.convert_to_numpy(model(padded, training=True))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nextvlad_streams_follow_upstream_sizes():
    model = make_model("NeXtVLADModel", nextvlad_cluster_size=4, groups=2,
                       expansion=2)
    rgb = model.get_layer("rgb_nextvlad")
    audio = model.get_layer("audio_nextvlad")
    assert (rgb.num_clusters, rgb.groups) == (4, 2)
    assert (audio.num_clusters, audio.groups) == (2, 1)
    # rgb: F = 2*8/2 = 8, 8*4; audio: F = 2*4/1 = 8, 8*2.
    assert model.get_layer("hidden1").kernel.shape == (8 * 4 + 8 * 2, 8)


@pytest.mark.parametrize("name", ["BiGRUAttentionModel", "TransformerModel"])
def test_late_fusion_has_a_tower_per_modality_and_a_relu_dnn(name):
    late = make_model(name, fusion="late")
    names = _layer_names(late)
    assert "late_fusion_dense" in names
    assert late.get_layer("late_fusion_dense").activation.__name__ == "relu"
    assert any(n.startswith("rgb_") for n in names)
    assert any(n.startswith("audio_") for n in names)
    assert not any(n.startswith("all_") for n in names)
    early = make_model(name, fusion="early")
    names = _layer_names(early)
    assert "late_fusion_dense" not in names
    assert any(n.startswith("all_") for n in names)
    assert not any(n.startswith("rgb_") for n in names)


def test_default_fusion_per_family():
    assert make_model("BiGRUAttentionModel").fusion == "early"
    assert make_model("BiLSTMAttentionModel").fusion == "early"
    assert make_model("TransformerModel").fusion == "late"


@pytest.mark.parametrize(
    "name,fusion",
    [(n, f) for n in NAMES if n != "NeXtVLADModel" for f in ("early", "late")]
    + [("NeXtVLADModel", None)],
)
def test_single_feature_builds_one_tower(name, fusion):
    kwargs = {} if fusion is None else {"fusion": fusion}
    model = make_model(name, feature_sizes=[12], **kwargs)
    names = _layer_names(model)
    assert not any(n.startswith("audio_") for n in names)
    assert "late_fusion_dense" not in names
    inputs, _, _ = make_batch()
    assert predict(model, inputs).shape == (4, NUM_CLASSES)


def test_rnn_projection_adds_the_alignment_loss():
    layer = ProjectionFusion(split=8, projection_size=3, loss_weight=0.5)
    frames = np.random.default_rng(1).normal(size=(2, 5, 12)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    out = keras.ops.convert_to_numpy(layer(frames, mask=mask))
    assert out.shape == (2, 5, 6)
    x = np.where(mask[:, :, None], frames, 0.0)
    f = x[..., :8] @ np.asarray(layer.rgb_kernel)
    g = x[..., 8:] @ np.asarray(layer.audio_kernel)
    np.testing.assert_allclose(out, np.concatenate([f, g], -1), atol=1e-6)
    distance = ((f - g) ** 2).sum(-1)
    expected = 0.5 * np.mean(
        (distance * mask).sum(1) / mask.sum(1))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)
    # The model exposes it to the training loss.
    model = make_model("BiLSTMAttentionModel", rnn_fusion="projection",
                       rnn_projection_weight=2.0)
    inputs, _, _ = make_batch()
    model(inputs)
    plain = make_model("BiLSTMAttentionModel")
    plain(inputs)
    assert len(model.losses) == len(plain.losses) + 1


def test_feature_slice_round_trips_and_checks_arguments():
    layer = FeatureSlice(8, 12)
    x = np.arange(24, dtype="float32").reshape(1, 2, 12)
    np.testing.assert_array_equal(np.asarray(layer(x)), x[..., 8:12])
    clone = FeatureSlice.from_config(layer.get_config())
    assert (clone.start, clone.stop) == (8, 12)
    with pytest.raises(ValueError, match="stop"):
        FeatureSlice(4, 4)
    with pytest.raises(ValueError, match="start"):
        FeatureSlice(-1, 4)


@pytest.mark.parametrize(
    "name,bad,arg",
    [
        ("NetVLADModelLF", {"fusion": "middle"}, "fusion"),
        ("NetVLADModelLF", {"netvlad_cluster_size": 0}, "netvlad_cluster_size"),
        ("NetVLADModelLF", {"gating": "yes"}, "gating"),
        ("NeXtVLADModel", {"groups": 3}, "groups"),
        ("NeXtVLADModel", {"drop_rate": 1.5}, "drop_rate"),
        ("NeXtVLADModel", {"gating_reduction": 16}, "gating_reduction"),
        ("BiGRUAttentionModel", {"rnn_fusion": "sum"}, "rnn_fusion"),
        ("BiGRUAttentionModel", {"fusion": "late", "rnn_fusion": "projection"},
         "rnn_fusion"),
        ("BiLSTMAttentionModel", {"rnn_layers": 0}, "rnn_layers"),
        ("BiLSTMAttentionModel", {"rnn_projection_weight": -1.0},
         "rnn_projection_weight"),
        ("TransformerModel", {"transformer_heads": 3}, "transformer_heads"),
        ("TransformerModel", {"transformer_pooling": "max"},
         "transformer_pooling"),
        ("TransformerModel", {"transformer_dropout": -0.1},
         "transformer_dropout"),
        ("TransformerModel", {"late_fusion_hidden_size": 0},
         "late_fusion_hidden_size"),
    ],
)
def test_bad_hparams_raise_value_error_naming_the_argument(name, bad, arg):
    with pytest.raises(ValueError, match=arg):
        make_model(name, **bad)


def test_projection_needs_two_modalities():
    with pytest.raises(ValueError, match="rnn_fusion"):
        make_model("BiGRUAttentionModel", feature_sizes=[12],
                   rnn_fusion="projection")


def test_rnn_projection_fusion_needs_two_modalities():
    with pytest.raises(ValueError, match="rnn_fusion='projection'.*needs two "
                       r"modalities.*Received: feature_sizes=\[8\]"):
        build_model("BiGRUAttentionModel", num_classes=4,
                    feature_sizes=[8], max_frames=5, rnn_cells=4,
                    rnn_layers=1, attention_size=2,
                    rnn_fusion="projection", rnn_fusion_size=3)
