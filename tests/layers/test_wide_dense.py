"""WideDense: keras Dense with a wide-input-friendly gradient (Keras's Dense
is the reference)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from yt8m.layers.wide_dense import WideDense

RNG = np.random.default_rng(0)


def _pair(units, input_dim, **kwargs):
    layers = []
    for cls in (keras.layers.Dense, WideDense):
        layer = cls(units, **kwargs)
        layer.build((None, input_dim))
        layers.append(layer)
    layers[1].set_weights(layers[0].get_weights())
    return layers


def _value_and_grads(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32") * tf.cast(
            tf.range(tf.size(y)), "float32")[:, None][:tf.shape(y)[0]])
    return [y] + tape.gradient(loss, [x] + layer.trainable_variables)


@pytest.mark.parametrize("kwargs", [{}, {"use_bias": False},
                                    {"activation": "relu"}])
def test_matches_dense_values_and_gradients(kwargs):
    dense, wide = _pair(5, 40, bias_initializer="random_normal", **kwargs)
    x = tf.constant(RNG.normal(size=(3, 40)).astype("float32"))
    for e, g in zip(_value_and_grads(dense, x), _value_and_grads(wide, x)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_input_gradient_reads_the_kernel_in_stored_order():
    _, wide = _pair(5, 40)

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(wide(x))
        return tape.gradient(loss, x)

    graph = grad.get_concrete_function(tf.TensorSpec((None, 40))).graph
    matmuls = [op for op in graph.get_operations() if op.type == "MatMul"]
    assert matmuls
    assert not any(op.get_attr("transpose_b") and
                   op.outputs[0].shape[-1] == 40 for op in matmuls)


def test_other_ranks_take_dense_call():
    dense, wide = _pair(4, 6)
    x = RNG.normal(size=(2, 3, 6)).astype("float32")
    np.testing.assert_allclose(wide(x), dense(x), rtol=1e-6)


def test_mixed_bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        dense, wide = _pair(4, 30)
    finally:
        keras.config.set_dtype_policy("float32")
    x = RNG.normal(size=(2, 30)).astype("float32")
    y = wide(x)
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y, "float32"),
                               tf.cast(dense(x), "float32"), rtol=2e-2,
                               atol=2e-2)


def test_layer_contract():
    run_layer_test(WideDense, {"units": 3, "name": "wide"},
                   RNG.normal(size=(2, 20)).astype("float32"),
                   expected_output_shape=(2, 3),
                   expected_num_trainable_weights=2)
