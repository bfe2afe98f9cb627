import keras
import numpy as np
import pytest

from tests.layer_test_case import assert_keras_round_trip
from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.mfb_fusion import MFB_NORMALIZATIONS
from yt8m.layers.mfb_fusion import MFBFusion

rng = np.random.default_rng(3)
VISUAL = rng.normal(size=(3, 6)).astype("float32")  # l, C = 6
AUDIO = rng.normal(size=(3, 5)).astype("float32")  # a, M = 5
K, O = 3, 4


def reference(layer, visual, audio):
    """Eq. (1) of the paper: f_i = l'^T W_i a' with W_i = U_i V_i^T.

    U_i is the k columns i*k .. i*k+k-1 of the visual kernel (and its bias
    appended as a last row, acting on l' = [l; 1]); likewise V_i. Then the
    normalisation, written out in numpy.
    """
    u = np.asarray(layer.visual_kernel)
    v = np.asarray(layer.audio_kernel)
    if layer.use_bias:
        u = np.vstack([u, np.asarray(layer.visual_bias)[None]])
        v = np.vstack([v, np.asarray(layer.audio_bias)[None]])
        visual = np.hstack([visual, np.ones((len(visual), 1))])
        audio = np.hstack([audio, np.ones((len(audio), 1))])
    k, o = layer.factor_k, layer.output_dim
    f = np.zeros((len(visual), o))
    for i in range(o):
        w_i = u[:, i * k:(i + 1) * k] @ v[:, i * k:(i + 1) * k].T  # [C, M]
        for b in range(len(visual)):
            f[b, i] = visual[b] @ w_i @ audio[b]
    norm = layer.normalization
    if norm in ("relu_l2", "relu"):
        f = np.maximum(f, 0.0)
    if norm == "signed_sqrt_l2":
        f = np.sign(f) * np.sqrt(np.abs(f))
    if norm in ("relu_l2", "signed_sqrt_l2", "l2"):
        f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-6)
    return f


@pytest.mark.parametrize("use_bias", [True, False])
def test_shapes_config_and_gradients(use_bias):
    layer, _ = run_layer_test(
        MFBFusion,
        {"factor_k": K, "output_dim": O, "dropout": 0.2,
         "normalization": "signed_sqrt_l2", "use_bias": use_bias,
         "kernel_initializer": "he_normal", "name": "mfb"},
        [VISUAL, AUDIO],
        expected_output_shape=(3, O),
        expected_num_trainable_weights=4 if use_bias else 2,
    )
    assert layer.visual_kernel.shape == (6, K * O)
    assert layer.audio_kernel.shape == (5, K * O)
    assert layer.compute_output_shape((None, 6), (None, 5)) == (None, O)


@pytest.mark.parametrize("normalization", MFB_NORMALIZATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_the_papers_equation(normalization, use_bias):
    layer = MFBFusion(factor_k=K, output_dim=O, normalization=normalization,
                      use_bias=use_bias)
    layer.build((None, 6), (None, 5))
    if use_bias:  # non-zero biases, so their place in eq. (1) is checked
        layer.visual_bias.assign(rng.normal(size=K * O).astype("float32"))
        layer.audio_bias.assign(rng.normal(size=K * O).astype("float32"))
    got = np.asarray(layer(VISUAL, AUDIO, training=False))
    np.testing.assert_allclose(got, reference(layer, VISUAL, AUDIO),
                               rtol=1e-4, atol=1e-5)
    if normalization in ("relu_l2", "signed_sqrt_l2", "l2"):
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0,
                                   rtol=1e-5)


def test_dropout_only_when_training():
    layer = MFBFusion(factor_k=K, output_dim=O, dropout=0.5,
                      normalization="none")
    eval_a = np.asarray(layer(VISUAL, AUDIO, training=False))
    eval_b = np.asarray(layer(VISUAL, AUDIO, training=False))
    train = np.asarray(layer(VISUAL, AUDIO, training=True))
    np.testing.assert_array_equal(eval_a, eval_b)
    assert not np.allclose(train, eval_a)


def test_signed_sqrt_gradient_finite_at_zero():
    import tensorflow as tf

    layer = MFBFusion(factor_k=K, output_dim=O,
                      normalization="signed_sqrt_l2", use_bias=False)
    zeros = [np.zeros_like(VISUAL), AUDIO]
    with tf.GradientTape() as tape:
        out = layer(*zeros)
        loss = tf.reduce_sum(out * np.arange(O, dtype="float32"))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_keras_round_trip_non_default():
    visual = keras.Input((6,))
    audio = keras.Input((5,))
    layer = MFBFusion(factor_k=2, output_dim=5, dropout=0.3,
                      normalization="relu")
    model = keras.Model([visual, audio], layer(visual, audio))
    loaded = assert_keras_round_trip(model, [VISUAL, AUDIO])
    restored = loaded.layers[-1]
    assert (restored.factor_k, restored.output_dim, restored.dropout,
            restored.normalization) == (2, 5, 0.3, "relu")


def test_bad_arguments():
    checks.assert_rejects(MFBFusion, {}, "factor_k", [0, -2, 1.5, True])
    checks.assert_rejects(MFBFusion, {}, "output_dim", [0, "8", None])
    checks.assert_rejects(MFBFusion, {}, "dropout", [1.0, -0.1, "0.1"])
    checks.assert_rejects(MFBFusion, {}, "normalization", ["power", None])
    checks.assert_rejects(MFBFusion, {}, "use_bias", [1, "yes"])
    checks.assert_rejects(MFBFusion, {}, "kernel_initializer",
                          ["no_such_init"])
    with pytest.raises(ValueError, match="Received: factor_k=0"):
        MFBFusion(factor_k=0)
    with pytest.raises(ValueError, match="expects two inputs"):
        MFBFusion()(VISUAL, AUDIO[:, :, None])
