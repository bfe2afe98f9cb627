"""--mixed_precision, --jit_compile and --remat in the training loop.

One SGD step under each setting against the same step in float32: with
plain SGD the update is lr * clipped gradient, so an unscaled (x 2**15)
float16 gradient, clipping applied to the scaled gradient, or a compiled
step that computes something else would all show in the weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import models
from yt8m.training import loop
from yt8m.training import precision


def _spec(model, frame, **hparams):
    names = ["rgb", "audio"] if frame else ["mean_rgb", "mean_audio"]
    return config_lib.ModelSpec(
        model=model, feature_names=names,
        feature_sizes=[helpers.RGB, helpers.AUDIO], frame_features=frame,
        num_classes=helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
        model_hparams=hparams)


def _train(tmp_path, name, pattern, spec, **kw):
    tf.keras.utils.set_random_seed(3)
    cfg = config_lib.TrainConfig(
        train_dir=str(tmp_path / name), train_data_pattern=pattern,
        spec=spec, batch_size=8, max_steps=1, shuffle_seed=7, num_readers=1,
        progress_bar=False, optimizer="GradientDescentOptimizer",
        base_learning_rate=0.5, devices=["/cpu:0"], **kw)
    return loop.train(cfg)


def _updates(spec, result):
    tf.keras.utils.set_random_seed(3)
    start = models.build_model_from_spec(spec).get_weights()
    return [w - s for w, s in zip(result["model"].get_weights(), start)]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return helpers.write_frame_and_video_shards(
        tmp_path_factory.mktemp("precision"), num_videos=8, num_shards=1)


@pytest.mark.parametrize("policy,rtol", [("mixed_bfloat16", 0.1),
                                         ("mixed_float16", 0.02)])
def test_mixed_precision_step_matches_float32(tmp_path, shards, policy,
                                              rtol):
    frame, _ = shards
    spec = _spec("DbofModel", True, dbof_cluster_size=16,
                 dbof_hidden_size=8, moe_num_mixtures=2, iterations=4)
    # Clip norm 0.05 is active: clipping must act on the true gradient.
    common = dict(clip_gradient_norm=0.05)
    reference = _train(tmp_path, "f32", frame, spec, **common)
    mixed = _train(tmp_path, policy, frame, spec, mixed_precision=policy,
                   **common)
    assert keras.config.dtype_policy().name == "float32"  # restored
    model = mixed["model"]
    compute = {layer.dtype_policy.compute_dtype
               for layer in model._flatten_layers(include_self=False)}
    assert policy.split("_")[1] in compute
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert np.isfinite(mixed["loss"])
    np.testing.assert_allclose(mixed["loss"], reference["loss"], rtol=rtol)
    ref_updates = _updates(spec, reference)
    mixed_updates = _updates(spec, mixed)
    ref_norm = np.sqrt(sum(np.sum(u**2) for u in ref_updates))
    diff = np.sqrt(sum(np.sum((a - b) ** 2)
                       for a, b in zip(ref_updates, mixed_updates)))
    assert ref_norm > 0
    assert diff / ref_norm < 2 * rtol, (diff, ref_norm)


def test_predictions_are_float32_under_mixed_policies():
    spec = _spec("MoeModel", False, moe_num_mixtures=2)
    x = {"video_matrix": np.ones((2, helpers.RGB + helpers.AUDIO),
                                 np.float32)}
    for policy in ("mixed_bfloat16", "mixed_float16"):
        with precision.policy_scope(policy):
            moe = models.build_model_from_spec(spec)
            logistic = models.build_model_from_spec(
                _spec("LogisticModel", False))
        for model in (moe, logistic):
            out = model(x)
            assert out.dtype == tf.float32, (policy, model.name, out.dtype)
            assert model.layers[-1].dtype_policy.name == policy


def test_mixed_float16_wraps_the_optimizer_in_loss_scaling(tmp_path, shards):
    _, video = shards
    spec = _spec("MoeModel", False, moe_num_mixtures=2)
    result = _train(tmp_path, "lso", video, spec,
                    mixed_precision="mixed_float16")
    ckpt = tf.train.load_checkpoint(str(tmp_path / "lso"))
    names = [n for n, _ in tf.train.list_variables(str(tmp_path / "lso"))]
    assert any("dynamic_scale" in n for n in names), names
    del ckpt
    assert np.isfinite(result["loss"])


def test_unknown_policy_is_refused(tmp_path, shards):
    _, video = shards
    with pytest.raises(ValueError, match="expected one of"):
        _train(tmp_path, "bad", video, _spec("MoeModel", False),
               mixed_precision="float16")


# Deterministic models only: XLA draws other random numbers than the graph
# (DbofModel samples frames at random in training).
@pytest.mark.parametrize("model,frame,hparams", [
    ("MoeModel", False, dict(moe_num_mixtures=2)),
    ("NetVLADModelLF", True, dict(netvlad_cluster_size=4,
                                  netvlad_hidden_size=8,
                                  netvlad_sample_frames=False)),
])
def test_jit_compiled_step_matches_graph_step(tmp_path, shards, model, frame,
                                              hparams):
    frame_pattern = shards[0] if frame else shards[1]
    spec = _spec(model, frame, **hparams)
    graph = _train(tmp_path, "graph", frame_pattern, spec)
    xla = _train(tmp_path, "xla", frame_pattern, spec, jit_compile=True)
    np.testing.assert_allclose(xla["loss"], graph["loss"], rtol=1e-4)
    for a, b in zip(_updates(spec, graph), _updates(spec, xla)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


# --remat: the same SGD step as without it, dropout included (the
# recomputation replays the forward pass's dropout masks).
def test_remat_step_matches_plain_step(tmp_path, shards):
    spec = _spec("TransformerModel", True, moe_num_mixtures=2,
                 transformer_layers=1, transformer_heads=2,
                 transformer_hidden_size=8, transformer_ff_size=16,
                 transformer_dropout=0.3)
    plain = _train(tmp_path, "plain", shards[0], spec)
    recomputed = _train(tmp_path, "remat", shards[0], spec, remat=True)
    for result, expected in ((plain, False), (recomputed, True)):
        flags = [layer._rematerialize
                 for layer in result["model"]._flatten_layers()
                 if type(layer).__name__ == "TransformerEncoderBlock"]
        assert flags and set(flags) == {expected}
    np.testing.assert_allclose(recomputed["loss"], plain["loss"], rtol=1e-5)
    for a, b in zip(_updates(spec, plain), _updates(spec, recomputed)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-7)
