"""TemporalCoherence (temporal-coherence paper, section 3 / eqs. 6-8)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.temporal_coherence import CenteredDelta
from yt8m.layers.temporal_coherence import TemporalCoherence

FRAMES = checks.make_frames(batch=3, steps=7, features=5)
MASK = checks.make_mask([7, 4, 1], 7)
# A mask with holes (not a prefix): neighbours across a padded frame.
HOLES = np.array([[1, 1, 0, 1, 1, 0, 1],
                  [0, 1, 1, 1, 0, 0, 1],
                  [1, 0, 0, 0, 0, 0, 0]], bool)
MODES = ["conv", "distance"]


def numpy_coherence(frames, mask, kernel, mode):
    """Direct loops over i and the neighbourhood j in [i-L, i+L].

    kernel: [K, M]; padded frames and frames outside [0, T) are not
    neighbours; padded outputs are 0.
    """
    w = kernel.mean(axis=1)  # [K]
    half = len(w) // 2
    batch, steps, _ = frames.shape
    out = np.zeros(frames.shape, np.float64)
    for b in range(batch):
        for i in range(steps):
            if not mask[b, i]:
                continue
            for j in range(i - half, i + half + 1):
                if 0 <= j < steps and mask[b, j]:
                    weight = w[j - i + half]
                    if mode == "distance":
                        dist = np.linalg.norm(
                            frames[b, i].astype(np.float64) - frames[b, j])
                        weight = weight * np.exp(-dist)
                    out[b, i] += weight * frames[b, j]
    return out


def random_kernel_layer(mode, kernel_size=3, maps=2, seed=1):
    layer = TemporalCoherence(kernel_size, maps, mode)
    layer.build((None, None, FRAMES.shape[-1]))
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(size=(kernel_size, maps)))
    return layer


@pytest.mark.parametrize("mode", MODES)
def test_shapes_config_and_gradients(mode):
    layer, out = run_layer_test(
        TemporalCoherence,
        {"kernel_size": 3, "num_feature_maps": 2, "mode": mode,
         "kernel_initializer": keras.initializers.RandomNormal(seed=3),
         "name": "tc"},
        FRAMES,
        expected_output_shape=(3, 7, 5),
        call_kwargs={"mask": MASK},
        expected_num_trainable_weights=1,
    )
    assert tuple(layer.kernel.shape) == (3, 2)
    assert layer.compute_output_shape((None, 7, 5)) == (None, 7, 5)
    assert np.all(out[~MASK] == 0)
    checks.assert_build_creates_weights(
        TemporalCoherence, {"kernel_size": 5}, (None, 7, 5), 1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mask", [MASK, HOLES], ids=["prefix", "holes"])
def test_matches_numpy_reference(mode, mask):
    layer = random_kernel_layer(mode, kernel_size=5, maps=3)
    frames = checks.fill_padding(FRAMES, mask, 7.0)  # junk in the padding
    got = np.asarray(layer(frames, mask=mask))
    expected = numpy_coherence(frames, mask, np.asarray(layer.kernel), mode)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_distance_mode_with_unit_kernel_is_eq7_sum():
    # All taps 1: y_i = sum_{j=i-L}^{i+L} d_ij x_j, d_ij = exp(-||x_i-x_j||)
    # (the minus sign: near-identical neighbours weigh ~1, far ones less).
    layer = TemporalCoherence(3, 1, "distance", kernel_initializer="ones")
    x = np.array([[[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]]], "float32")
    got = np.asarray(layer(x))[0]
    e5 = np.exp(-5.0)
    np.testing.assert_allclose(
        got, [[3 * e5, 4 * e5], [6.0, 8.0], [6.0, 8.0]], rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_centred_delta_kernel_reproduces_the_input(mode):
    layer = TemporalCoherence(5, 4, mode)  # default: CenteredDelta
    layer.build((None, None, FRAMES.shape[-1]))
    np.testing.assert_array_equal(
        np.asarray(layer.averaged_kernel()), [0, 0, 1, 0, 0])
    padded = checks.fill_padding(FRAMES, HOLES, 1e3)
    out = np.asarray(layer(padded, mask=HOLES))
    np.testing.assert_array_equal(out[HOLES], padded[HOLES])
    assert np.all(out[~HOLES] == 0)


@pytest.mark.parametrize("mode", MODES)
def test_constant_sequence_is_scaled_by_the_kernel_sum(mode):
    layer = random_kernel_layer(mode, kernel_size=5, maps=4)
    kernel = np.asarray(layer.averaged_kernel())
    value = np.array([0.3, -1.2, 2.0, 0.5, 0.1], "float32")
    frames = np.broadcast_to(value, (2, 9, 5)).copy()
    mask = checks.make_mask([9, 6], 9)
    out = np.asarray(layer(frames, mask=mask))
    # Frames whose whole neighbourhood is valid: (sum_o w_o) * x.
    for b, n in enumerate([9, 6]):
        for i in range(2, n - 2):
            np.testing.assert_allclose(
                out[b, i], kernel.sum() * value, rtol=1e-5, atol=1e-6)
    # At the borders only the taps inside the video count.
    np.testing.assert_allclose(out[0, 0], kernel[2:].sum() * value,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1, 5], kernel[:3].sum() * value,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_padding_never_changes_output(mode):
    layer = random_kernel_layer(mode)
    checks.assert_padding_invariant(layer, FRAMES, MASK, training=False,
                                    frame_output=True)
    checks.assert_padding_invariant(layer, FRAMES, HOLES, training=True,
                                    frame_output=True)
    out = checks.assert_all_padding_row_finite(layer, FRAMES, False)
    np.testing.assert_array_equal(out[0], 0.0)


def test_distance_gradients_finite_on_repeated_frames():
    # ||x_i - x_j|| = 0 for every pair: sqrt'(0) must not give NaN.
    layer = random_kernel_layer("distance")
    x = tf.constant(np.ones((1, 4, 5), "float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, [x, layer.kernel])
    for grad in grads:
        assert np.all(np.isfinite(np.asarray(grad)))


def test_no_mask_means_all_frames_valid():
    layer = random_kernel_layer("distance")
    full = np.ones((3, 7), bool)
    np.testing.assert_allclose(np.asarray(layer(FRAMES)),
                               np.asarray(layer(FRAMES, mask=full)))


@pytest.mark.parametrize("mode", MODES)
def test_keras_round_trip_non_default(mode):
    layer = TemporalCoherence(
        3, 2, mode, kernel_initializer=CenteredDelta(stddev=0.3, seed=2))
    checks.assert_model_round_trip(layer, FRAMES, MASK)


def test_bad_arguments():
    kwargs = {"kernel_size": 5}
    checks.assert_rejects(TemporalCoherence, kwargs, "kernel_size",
                          [0, 4, -3, 2.5, True])
    checks.assert_rejects(TemporalCoherence, kwargs, "num_feature_maps",
                          [0, 1.5])
    checks.assert_rejects(TemporalCoherence, kwargs, "mode",
                          ["plus", None, "exp"])
    checks.assert_rejects(TemporalCoherence, kwargs, "kernel_initializer",
                          ["no_such_init", 3])
