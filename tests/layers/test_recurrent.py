"""yt8m.layers.recurrent: GRU / LSTM with the input projection out of the loop.

The reference is `keras.layers.GRU` / `LSTM` themselves (Keras's code, not
ours) with the same weights: outputs, final states and gradients with
respect to the inputs and every weight must agree, for every way a
sequence reaches the loop (masks with holes and fully masked rows,
`go_backwards`, initial states, zero outputs under a mask).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import assert_keras_round_trip
from tests.layer_test_case import run_layer_test
from yt8m.layers import recurrent

RNG = np.random.default_rng(0)
KINDS = ["GRU", "LSTM"]
# Right-padded, a hole in the middle, fully masked, all valid.
MASK = np.array([[1, 1, 1, 1, 0, 0, 0],
                 [1, 0, 1, 1, 0, 1, 0],
                 [0, 0, 0, 0, 0, 0, 0],
                 [1, 1, 1, 1, 1, 1, 1]], bool)


def _pair(kind, units=4, features=5, **kwargs):
    reference = getattr(keras.layers, kind)(units, **kwargs)
    ours = getattr(recurrent, kind)(units, **kwargs)
    reference.build((None, MASK.shape[1], features))
    ours.build((None, MASK.shape[1], features))
    # Non-trivial biases (Keras initialises them to zeros or ones).
    weights = [RNG.normal(size=w.shape).astype("float32") * 0.5
               for w in reference.get_weights()]
    reference.set_weights(weights)
    ours.set_weights(weights)
    return reference, ours


def _run(layer, x, mask, initial_state, graph):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask, initial_state=initial_state,
                        training=True)
            flat = tf.nest.flatten(out)
            weights = [tf.cos(tf.range(tf.size(o), dtype=tf.float32))
                       for o in flat]
            loss = tf.add_n([tf.reduce_sum(tf.reshape(o, [-1]) * w)
                             for o, w in zip(flat, weights)])
        return flat, tape.gradient(loss, [x] + layer.trainable_variables)

    if graph:
        run = tf.function(run)
    return run(tf.constant(x))


def _assert_same(reference, ours, x, mask=None, initial_state=None,
                 graph=False):
    expected = _run(reference, x, mask, initial_state, graph)
    got = _run(ours, x, mask, initial_state, graph)
    for e, g in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_keras(kind, go_backwards, return_sequences, masked):
    reference, ours = _pair(kind, go_backwards=go_backwards,
                            return_sequences=return_sequences,
                            return_state=True)
    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    _assert_same(reference, ours, x, mask=MASK if masked else None)


@pytest.mark.parametrize("kind", KINDS)
def test_matches_keras_in_a_graph_with_initial_state_and_zero_outputs(kind):
    reference, ours = _pair(kind, return_sequences=True, return_state=True)
    for layer in (reference, ours):
        layer.zero_output_for_mask = True  # as Bidirectional sets it
    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    count = 1 if kind == "GRU" else 2
    initial = [tf.constant(RNG.normal(size=(4, 4)).astype("float32"))
               for _ in range(count)]
    _assert_same(reference, ours, x, mask=MASK, initial_state=initial,
                 graph=True)


def test_gru_without_reset_after_takes_keras_loop_and_matches():
    reference, ours = _pair("GRU", reset_after=False, return_sequences=True)
    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    _assert_same(reference, ours, x, mask=MASK)


@pytest.mark.parametrize("kind", KINDS)
def test_matches_keras_under_mixed_precision(kind):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        reference, ours = _pair(kind, return_sequences=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = RNG.normal(size=(4, 7, 5)).astype("float32")
    expected = reference(x, mask=MASK)
    got = ours(x, mask=MASK)
    assert got.dtype == expected.dtype == "bfloat16"
    np.testing.assert_allclose(np.asarray(tf.cast(got, tf.float32)),
                               np.asarray(tf.cast(expected, tf.float32)),
                               atol=0.05)


def _while_bodies(fn, *args):
    """The MatMul count of each while-loop body function of `fn`'s graph
    (the time loops; nested functions included)."""
    graph_def = tf.function(fn).get_concrete_function(
        *args).graph.as_graph_def()
    return {f.signature.name: sum(n.op in ("MatMul", "BatchMatMulV2")
                                  for n in f.node_def)
            for f in graph_def.library.function if "while_body" in
            f.signature.name}


@pytest.mark.parametrize("kind", KINDS)
def test_one_matmul_per_frame_in_the_time_loop(kind):
    """The input projection runs once before the loop: the forward loop's
    body multiplies by the recurrent kernel only (Keras's cell multiplies
    by both kernels each frame), and the backward loop then never forms a
    per-frame partial of the input kernel's gradient, the memory
    docs/training.md "The Bi-RNN profile" traced."""
    reference, ours = _pair(kind, return_sequences=True)
    x = tf.constant(RNG.normal(size=(4, 7, 5)).astype("float32"))
    mask = tf.constant(MASK)

    def forward(layer):
        return lambda x: layer(x, mask=mask, training=True)

    keras_counts = _while_bodies(forward(reference), x)
    our_counts = _while_bodies(forward(ours), x)
    assert list(keras_counts.values()) == [2]
    assert list(our_counts.values()) == [1]


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_and_keras_file(kind):
    run_layer_test(getattr(recurrent, kind),
                   {"units": 3, "return_sequences": True},
                   RNG.normal(size=(2, 5, 4)).astype("float32"),
                   expected_output_shape=(2, 5, 3))
    inputs = keras.Input((7, 5))
    mask = keras.Input((7,), dtype="bool")
    outputs = getattr(recurrent, kind)(3)(inputs, mask=mask)
    model = keras.Model([inputs, mask], outputs)
    assert_keras_round_trip(
        model, [RNG.normal(size=(4, 7, 5)).astype("float32"), MASK])
