import keras
import numpy as np
import pytest

from tests.layer_test_case import assert_keras_round_trip
from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.probability_gating import ProbabilityGating

rng = np.random.default_rng(2)
PROBABILITIES = rng.uniform(size=(3, 5)).astype("float32")


@pytest.mark.parametrize("add_batch_norm", [True, False])
def test_shapes_config_and_gradients(add_batch_norm):
    layer, out = run_layer_test(
        ProbabilityGating,
        {"add_batch_norm": add_batch_norm, "remove_diagonal": True,
         "name": "prob_gate"},
        PROBABILITIES,
        expected_output_shape=(3, 5),
        expected_num_trainable_weights=3 if add_batch_norm else 2,
    )
    checks.assert_build_creates_weights(
        ProbabilityGating, {"add_batch_norm": add_batch_norm}, (None, 5),
        3 if add_batch_norm else 2)
    # Gated probabilities stay probabilities and never exceed the input.
    assert np.all(out >= 0) and np.all(out <= PROBABILITIES + 1e-7)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("add_batch_norm", [True, False])
@pytest.mark.parametrize("remove_diagonal", [True, False])
def test_matches_the_willow_formula_in_numpy(add_batch_norm, remove_diagonal):
    """p' = p * sigmoid(BN(p W_p)) (WILLOW `gating_probabilities`), with
    W_p's diagonal zeroed by `remove_diagonal`; sigmoid(p W_p + b) without
    batch norm. BN: batch mean / biased variance when training, the moving
    statistics at inference, epsilon 1e-3."""
    c = PROBABILITIES.shape[1]
    gating = ProbabilityGating(add_batch_norm=add_batch_norm,
                               remove_diagonal=remove_diagonal)
    gating.build((None, c))
    w = rng.normal(size=(c, c)).astype("float32")
    gating.kernel.assign(w)
    w_used = w * (1 - np.eye(c, dtype="float32")) if remove_diagonal else w
    logits = PROBABILITIES.astype(np.float64) @ w_used  # [B, C]
    if not add_batch_norm:
        bias = rng.normal(size=c).astype("float32")
        gating.bias.assign(bias)
        expected = PROBABILITIES * _sigmoid(logits + bias)
        for training in (False, True):
            np.testing.assert_allclose(
                np.asarray(gating(PROBABILITIES, training=training)),
                expected, rtol=1e-5, atol=1e-6)
        return
    bn = gating.batch_norm
    gamma = rng.uniform(0.5, 2.0, c).astype("float32")
    beta = rng.normal(size=c).astype("float32")
    moving_mean = rng.normal(size=c).astype("float32")
    moving_var = rng.uniform(0.5, 2.0, c).astype("float32")
    bn.gamma.assign(gamma)
    bn.beta.assign(beta)
    bn.moving_mean.assign(moving_mean)
    bn.moving_variance.assign(moving_var)
    eps = 1e-3
    inference_gate = _sigmoid(
        gamma * (logits - moving_mean) / np.sqrt(moving_var + eps) + beta)
    np.testing.assert_allclose(
        np.asarray(gating(PROBABILITIES, training=False)),
        PROBABILITIES * inference_gate, rtol=1e-5, atol=1e-6)
    batch_mean = logits.mean(axis=0)
    batch_var = logits.var(axis=0)  # biased, as batch norm
    training_gate = _sigmoid(
        gamma * (logits - batch_mean) / np.sqrt(batch_var + eps) + beta)
    np.testing.assert_allclose(
        np.asarray(gating(PROBABILITIES, training=True)),
        PROBABILITIES * training_gate, rtol=1e-5, atol=1e-6)
    # Training also moves the moving statistics towards the batch ones.
    np.testing.assert_allclose(
        np.asarray(bn.moving_mean),
        0.999 * moving_mean + 0.001 * batch_mean, rtol=1e-5, atol=1e-6)


def test_keras_round_trip_non_default():
    inputs = keras.Input((5,))
    layer = ProbabilityGating(add_batch_norm=False, remove_diagonal=True)
    model = keras.Model(inputs, layer(inputs))
    loaded = assert_keras_round_trip(model, PROBABILITIES)
    assert type(loaded.layers[-1]) is ProbabilityGating


def test_bad_arguments():
    checks.assert_rejects(ProbabilityGating, {}, "add_batch_norm", ["1"])
    checks.assert_rejects(ProbabilityGating, {}, "remove_diagonal", [None])
