import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from yt8m.classifiers import LogisticClassifier
from yt8m.classifiers import MoeClassifier
from yt8m.classifiers import build_classifier
from yt8m.classifiers import list_classifiers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 12)).astype("float32")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def upstream_moe(x, gate_kernel, expert_kernel, expert_bias, num_classes, m):
    """The starter MoeModel, written per class with explicit indices."""
    gates = x @ gate_kernel  # [B, C*(M+1)]
    experts = x @ expert_kernel + expert_bias  # [B, C*M]
    out = np.zeros((x.shape[0], num_classes))
    for b in range(x.shape[0]):
        for c in range(num_classes):
            g = gates[b, c * (m + 1):(c + 1) * (m + 1)]  # class-major
            g = np.exp(g - g.max())
            g /= g.sum()  # softmax over M+1 (incl. the dummy expert)
            e = sigmoid(experts[b, c * m:(c + 1) * m])
            out[b, c] = np.sum(g[:m] * e)  # dummy expert predicts 0
    return out


def test_moe_matches_upstream_formula_and_has_no_gate_bias():
    layer, out = run_layer_test(
        MoeClassifier,
        {"num_classes": 6, "num_mixtures": 3, "l2_penalty": 1e-3,
         "name": "moe"},
        X,
        expected_output_shape=(4, 6),
        expected_num_trainable_weights=3,  # gate kernel, expert kernel+bias
    )
    assert layer.gates.use_bias is False
    assert layer.gates.kernel.shape == (12, 6 * 4)
    assert layer.experts.kernel.shape == (12, 6 * 3)
    # Non-zero expert bias so its placement is tested too.
    layer.experts.bias.assign(RNG.normal(size=(18,)).astype("float32"))
    out = np.asarray(layer(X))
    expected = upstream_moe(
        X,
        np.asarray(layer.gates.kernel),
        np.asarray(layer.experts.kernel),
        np.asarray(layer.experts.bias),
        6,
        3,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert np.all((out >= 0) & (out <= 1))


def test_moe_l2_is_slim_l2():
    layer = MoeClassifier(6, num_mixtures=2, l2_penalty=0.1)
    layer(X)
    gates = np.asarray(layer.gates.kernel)
    experts = np.asarray(layer.experts.kernel)
    expected = 0.1 * (np.sum(gates**2) + np.sum(experts**2)) / 2.0
    got = float(tf.add_n(layer.losses))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_slim_l2_value_gradient_and_kernel():
    # slim.l2_regularizer(s)(w) = s * sum(w**2) / 2, gradient s * w, with
    # slim's one-pass L2Loss op.
    from yt8m.layers.slim import SlimL2
    from yt8m.layers.slim import slim_l2_regularizer
    import keras
    regularizer = slim_l2_regularizer(0.3)
    assert isinstance(regularizer, SlimL2)
    w = tf.Variable(RNG.normal(size=(5, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        value = regularizer(w)
    np.testing.assert_allclose(
        float(value), 0.3 * np.sum(w.numpy().astype("float64")**2) / 2,
        rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(value, w), 0.3 * w.numpy(),
                               rtol=1e-6)
    graph = tf.function(regularizer).get_concrete_function(
        tf.TensorSpec((5, 3))).graph
    assert "L2Loss" in {op.type for op in graph.get_operations()}
    restored = keras.regularizers.deserialize(
        keras.regularizers.serialize(regularizer))
    assert type(restored) is SlimL2
    assert restored.get_config() == {"l2": 0.15}


def test_logistic_matches_formula_and_slim_l2():
    layer, out = run_layer_test(
        LogisticClassifier,
        {"num_classes": 5, "l2_penalty": 0.2, "name": "logistic"},
        X,
        expected_output_shape=(4, 5),
        expected_num_trainable_weights=2,
    )
    layer.logistic.bias.assign(np.linspace(-1, 1, 5).astype("float32"))
    kernel = np.asarray(layer.logistic.kernel)
    bias = np.asarray(layer.logistic.bias)
    np.testing.assert_allclose(
        np.asarray(layer(X)), sigmoid(X @ kernel + bias), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        float(tf.add_n(layer.losses)), 0.2 * np.sum(kernel**2) / 2, rtol=1e-5
    )


def test_zero_l2_adds_no_loss():
    layer = LogisticClassifier(3, l2_penalty=0.0)
    layer(X)
    assert not layer.losses


def test_build_classifier_by_upstream_name():
    assert list_classifiers() == ["LogisticModel", "MoeModel"]
    hparams = {"moe_num_mixtures": 4, "moe_l2": 1e-4, "l2_penalty": 1e-3}
    moe = build_classifier("MoeModel", 7, **hparams)
    assert isinstance(moe, MoeClassifier)
    assert (moe.num_classes, moe.num_mixtures, moe.l2_penalty) == (7, 4, 1e-4)
    logistic = build_classifier(
        "LogisticModel", 7, layer_name="head", **hparams
    )
    assert isinstance(logistic, LogisticClassifier)
    assert (logistic.l2_penalty, logistic.name) == (1e-3, "head")
    default = build_classifier("MoeModel", 7)
    assert (default.num_mixtures, default.l2_penalty) == (2, 1e-8)


def test_build_classifier_errors():
    with pytest.raises(ValueError, match=r"\['LogisticModel', 'MoeModel'\]"):
        build_classifier("MoEModel", 3)
    with pytest.raises(ValueError, match="moe_mixtures"):
        build_classifier("MoeModel", 3, moe_mixtures=3)


@pytest.mark.parametrize(
    "cls, kwargs, argument",
    [
        (MoeClassifier, {"num_classes": 0}, "num_classes"),
        (MoeClassifier, {"num_classes": 3, "num_mixtures": 0}, "num_mixtures"),
        (MoeClassifier, {"num_classes": 3, "l2_penalty": -1.0}, "l2_penalty"),
        (LogisticClassifier, {"num_classes": 2.5}, "num_classes"),
        (LogisticClassifier, {"num_classes": 3, "l2_penalty": "x"},
         "l2_penalty"),
    ],
)
def test_bad_arguments(cls, kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        cls(**kwargs)
