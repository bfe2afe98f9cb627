"""FusedBatchNormalization: Keras's BatchNormalization on TF's fused kernel.

The reference is `keras.layers.BatchNormalization` itself (Keras's code, not
ours) and, for the statistics, numpy.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from yt8m.layers.fused_batch_norm import FusedBatchNormalization

RNG = np.random.default_rng(0)


def _pair(shape, **kwargs):
    """A Keras BN and ours with the same non-trivial weights."""
    layers = []
    channels = shape[kwargs.get("axis", -1)]
    for cls in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = cls(momentum=0.9, epsilon=1e-3, **kwargs)
        layer.build(shape)
        weights = []
        if layer.scale:
            weights.append(np.linspace(0.5, 2.0, channels))
        if layer.center:
            weights.append(np.linspace(-1.0, 1.0, channels))
        weights += [np.linspace(-0.2, 0.3, channels),
                    np.linspace(0.8, 1.5, channels)]
        layer.set_weights(weights)
        layers.append(layer)
    return layers


def _train_step(layer, x, w, mask=None):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True, mask=mask)
        loss = tf.reduce_sum(tf.cast(y, "float32") * w)
    grads = tape.gradient(loss, [x] + layer.trainable_variables)
    return [y] + grads


def _assert_same(keras_layer, ours, x, mask=None, steps=2):
    w = tf.constant(RNG.normal(size=x.shape).astype("float32"))
    for _ in range(steps):  # moving statistics move twice
        expected = _train_step(keras_layer, x, w, mask)
        got = _train_step(ours, x, w, mask)
        for e, g in zip(expected, got):
            np.testing.assert_allclose(
                np.asarray(g, "float32"), np.asarray(e, "float32"),
                rtol=1e-4, atol=1e-4)
    for e, g in zip(keras_layer.non_trainable_weights,
                    ours.non_trainable_weights):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(ours(x, training=False, mask=mask),
                               keras_layer(x, training=False, mask=mask),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 5), (3, 7, 5), (2, 3, 4, 5)])
def test_matches_keras_batch_normalization(shape):
    x = tf.constant(RNG.normal(2.0, 3.0, size=shape).astype("float32"))
    _assert_same(*_pair(shape), x)


@pytest.mark.parametrize("kwargs", [{"center": False}, {"scale": False},
                                    {"center": False, "scale": False}])
def test_without_center_or_scale(kwargs):
    x = tf.constant(RNG.normal(size=(4, 6, 3)).astype("float32"))
    _assert_same(*_pair((4, 6, 3), **kwargs), x)


def test_moving_statistics_use_the_biased_batch_variance():
    # numpy oracle: moving = 0.9 * moving + 0.1 * batch statistic, with the
    # variance over all rows divided by N (not N - 1).
    x = RNG.normal(1.0, 2.0, size=(5, 4, 3)).astype("float32")
    _, ours = _pair((5, 4, 3))
    start_mean, start_var = (v.numpy().copy() for v in
                             ours.non_trainable_weights)
    ours(tf.constant(x), training=True)
    rows = x.reshape(-1, 3).astype("float64")
    np.testing.assert_allclose(ours.moving_mean.numpy(),
                               0.9 * start_mean + 0.1 * rows.mean(0),
                               rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(),
                               0.9 * start_var + 0.1 * rows.var(0),
                               rtol=1e-5)


def test_single_row_batch():
    # N = 1: the fused kernel's Bessel factor must not divide by zero.
    x = tf.constant([[1.0, -2.0, 3.0]])
    _assert_same(*_pair((1, 3)), x, steps=1)


def test_uses_the_fused_kernel_without_a_mask_and_keras_with_one():
    layer = FusedBatchNormalization()
    layer.build((2, 3, 4))

    def op_types(mask):
        fn = tf.function(lambda x: layer(x, training=True, mask=mask))
        graph = fn.get_concrete_function(
            tf.TensorSpec((2, 3, 4), tf.float32)).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in op_types(None)
    assert "FusedBatchNormV3" not in op_types(
        tf.constant([[True, True, False], [True, False, False]]))


def test_mask_falls_back_to_keras_statistics_over_valid_rows():
    x = tf.constant(RNG.normal(size=(3, 5, 4)).astype("float32"))
    mask = tf.constant(np.arange(5)[None, :] < np.array([[5], [2], [3]]))
    _assert_same(*_pair((3, 5, 4)), x, mask=mask)


def test_non_last_axis_falls_back():
    x = tf.constant(RNG.normal(size=(3, 4, 5)).astype("float32"))
    _assert_same(*_pair((3, 4, 5), axis=1), x)


def test_frozen_layer_uses_moving_statistics_in_training():
    x = tf.constant(RNG.normal(3.0, 2.0, size=(4, 3)).astype("float32"))
    keras_layer, ours = _pair((4, 3))
    keras_layer.trainable = ours.trainable = False
    np.testing.assert_allclose(ours(x, training=True),
                               keras_layer(x, training=True), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(ours.moving_mean.numpy(),
                               np.linspace(-0.2, 0.3, 3), rtol=1e-6)


def test_mixed_bfloat16_policy():
    x = tf.constant(RNG.normal(size=(4, 6, 3)).astype("float32"))
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras_layer, ours = _pair((4, 6, 3))
    finally:
        keras.config.set_dtype_policy("float32")
    y = ours(x, training=True)
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(
        tf.cast(y, tf.float32), tf.cast(keras_layer(x, training=True),
                                        tf.float32), rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(ours.moving_mean.numpy(),
                               keras_layer.moving_mean.numpy(), rtol=1e-5,
                               atol=1e-6)


def test_layer_contract():
    run_layer_test(
        FusedBatchNormalization,
        {"momentum": 0.99, "epsilon": 1e-2, "name": "bn"},
        RNG.normal(size=(2, 3, 4)).astype("float32"),
        expected_output_shape=(2, 3, 4),
        expected_num_trainable_weights=2,
    )


def test_keras_round_trip():
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, FusedBatchNormalization(momentum=0.5)(inputs))
    x = RNG.normal(size=(2, 3, 4)).astype("float32")
    model(x, training=True)  # moving statistics away from 0 / 1
    from tests.layer_test_case import assert_keras_round_trip
    loaded = assert_keras_round_trip(model, x)
    assert isinstance(loaded.layers[-1], FusedBatchNormalization)
