"""Cross-modal layers (cross_modal_learning_a, section 2) against numpy."""

import json

import keras
import numpy as np
import pytest

from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.attention_pooling import AttentionPooling
from yt8m.layers.correlation_gate import CorrelationGate
from yt8m.layers.cross_modal_attention_pooling import (
    CrossModalAttentionPooling,
)
from yt8m.layers.cross_modal_netvlad import CrossModalNetVLADPooling
from yt8m.layers.cross_modal_transform import CrossModalTransform
from yt8m.layers.cross_modal_transformer import CrossModalTransformerBlock
from yt8m.layers.netvlad import NetVLAD
from yt8m.layers.transformer_encoder import TransformerEncoderBlock

rng = np.random.default_rng(3)
B, T = 3, 6
RGB = rng.normal(size=(B, T, 8)).astype("float32")
AUDIO = rng.normal(size=(B, T, 4)).astype("float32")
MASK = checks.make_mask([6, 3, 1], T)
GATE = np.array([[0.2], [0.9], [0.0]], "float32")


def np_(x):
    return keras.ops.convert_to_numpy(x)


def relu(x):
    return np.maximum(x, 0.0)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_transform(layer, alpha, gate, mask):
    """F of CrossModalTransform, from its weights."""
    x = alpha
    if layer.mode == "concat":
        x = np.concatenate(
            [x, np.broadcast_to(gate[:, None, :], x.shape[:-1] + (1,))], -1)
    for dense in layer.dense_layers:
        w, b = (np_(v) for v in dense.weights)
        x = relu(x @ w + b)
    if layer.mode == "gate":
        x = x * gate[:, None, :]
    return x * mask[..., None]


def zero_transforms(layer):
    for weight in layer.weights:
        if "_to_" in weight.path or "logit" in weight.path:
            weight.assign(np.zeros(weight.shape, "float32"))


@pytest.mark.parametrize("mode", ["none", "gate", "concat"])
def test_transform_matches_numpy_in_every_mode(mode):
    alpha = softmax(rng.normal(size=(B, T, 5)), -1).astype("float32")
    layer, out = run_layer_test(
        CrossModalTransform,
        {"output_size": 3, "num_layers": 2, "mode": mode, "name": "f"},
        alpha,
        expected_output_shape=(B, T, 3),
        call_kwargs={"gate": GATE, "mask": MASK},
        check_gradients=False,
    )
    np.testing.assert_allclose(
        out, np_transform(layer, alpha, GATE, MASK), rtol=1e-5, atol=1e-6)
    assert np.all(out[~MASK] == 0)


def test_transform_gate_mode_switches_the_term_off_at_zero():
    alpha = softmax(rng.normal(size=(B, T, 5)), -1).astype("float32")
    layer = CrossModalTransform(3, mode="gate")
    out = np_(layer(alpha, gate=np.zeros((B, 1), "float32")))
    assert np.all(out == 0)
    with pytest.raises(ValueError, match="needs the correlation tower"):
        CrossModalTransform(3, mode="concat")(alpha)


def test_correlation_gate_is_hard_only_at_inference():
    gate = CorrelationGate(hard_at_inference=True)
    p = np.array([[0.3], [0.7]], "float32")
    np.testing.assert_array_equal(np_(gate(p, training=False)), [[0], [1]])
    np.testing.assert_allclose(np_(gate(p, training=True)), p)
    np.testing.assert_allclose(np_(CorrelationGate()(p)), p)


def _np_netvlad(frames, mask, kernel, bias, centers, alpha_extra):
    """NetVLAD (no BN) with `alpha_extra` added to the assignment."""
    frames = frames * mask[..., None]
    alpha = softmax(frames @ kernel + bias, -1) * mask[..., None]
    alpha = alpha + alpha_extra
    vlad = np.einsum("btd,btk->bdk", frames, alpha)
    vlad = vlad - alpha.sum(1)[:, None, :] * centers
    vlad = vlad / np.maximum(np.linalg.norm(vlad, axis=1, keepdims=True),
                             1e-12)
    vlad = vlad.reshape(len(frames), -1)
    return vlad / np.maximum(np.linalg.norm(vlad, axis=-1, keepdims=True),
                             1e-12), alpha - alpha_extra


@pytest.mark.parametrize("mode", ["none", "gate", "concat"])
def test_cross_modal_netvlad_matches_the_paper_equation(mode):
    layer = CrossModalNetVLADPooling(4, 2, transform_layers=1, mode=mode,
                                     add_batch_norm=False)
    gate = None if mode == "none" else GATE
    v, a = (np_(x) for x in layer(RGB, AUDIO, gate=gate, mask=MASK))

    def weights(netvlad):
        kernel, bias = (np_(w) for w in netvlad.assignment.weights)
        return kernel, bias, np_(netvlad.centers)

    kv, bv, cv = weights(layer.rgb_netvlad)
    ka, ba, ca = weights(layer.audio_netvlad)
    zero_v = np.zeros((B, T, 4))
    zero_a = np.zeros((B, T, 2))
    _, alpha_v = _np_netvlad(RGB, MASK, kv, bv, cv, zero_v)
    _, alpha_a = _np_netvlad(AUDIO, MASK, ka, ba, ca, zero_a)
    g = GATE if gate is not None else None
    # V_v = sum (alpha_v + F_a(alpha_a))(x_v - c_v), and symmetrically.
    expect_v, _ = _np_netvlad(RGB, MASK, kv, bv, cv, np_transform(
        layer.audio_to_rgb, alpha_a, g, MASK))
    expect_a, _ = _np_netvlad(AUDIO, MASK, ka, ba, ca, np_transform(
        layer.rgb_to_audio, alpha_v, g, MASK))
    np.testing.assert_allclose(v, expect_v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a, expect_a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_cross_modal_netvlad_with_zero_transform_is_two_plain_netvlads(
        training):
    layer = CrossModalNetVLADPooling(4, 2, transform_layers=2, mode="concat")
    layer(RGB, AUDIO, gate=GATE, mask=MASK)
    zero_transforms(layer)
    plain_v, plain_a = NetVLAD(4), NetVLAD(2)
    plain_v(RGB, mask=MASK)
    plain_a(AUDIO, mask=MASK)
    plain_v.set_weights(layer.rgb_netvlad.get_weights())
    plain_a.set_weights(layer.audio_netvlad.get_weights())
    v, a = layer(RGB, AUDIO, gate=GATE, mask=MASK, training=training)
    np.testing.assert_allclose(
        np_(v), np_(plain_v(RGB, mask=MASK, training=training)), atol=1e-6)
    np.testing.assert_allclose(
        np_(a), np_(plain_a(AUDIO, mask=MASK, training=training)), atol=1e-6)


def test_cross_modal_netvlad_padding_invariance_and_gate_off():
    layer = CrossModalNetVLADPooling(4, 2, mode="gate")
    outs = [np_(x) for x in layer(RGB, AUDIO, gate=GATE, mask=MASK)]
    padded = [np_(x) for x in layer(
        checks.fill_padding(RGB, MASK, 1e3),
        checks.fill_padding(AUDIO, MASK, 1e3), gate=GATE, mask=MASK)]
    for x, y in zip(outs, padded):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # A tower output of 0 gives exactly the plain NetVLADs.
    off = [np_(x) for x in layer(RGB, AUDIO, gate=np.zeros((B, 1), "float32"),
                                 mask=MASK)]
    plain = NetVLAD(4)
    plain(RGB, mask=MASK)
    plain.set_weights(layer.rgb_netvlad.get_weights())
    np.testing.assert_allclose(off[0], np_(plain(RGB, mask=MASK)), atol=1e-6)
    assert not np.allclose(outs[0], off[0], atol=1e-5)


@pytest.mark.parametrize("mode", ["none", "gate", "concat"])
def test_cross_modal_attention_pooling_matches_the_paper_equation(mode):
    layer = CrossModalAttentionPooling(5, num_units=3, mode=mode)
    gate = None if mode == "none" else GATE
    c_v, c_a = (np_(x) for x in layer(RGB, AUDIO, gate=gate, mask=MASK))

    def alpha(att, h):
        w, b = (np_(x) for x in att.projection.weights)
        scores = np.tanh(h @ w + b) @ np_(att.context)  # [B, T, U]
        scores = np.where(MASK[..., None], scores, -np.inf)
        return np.nan_to_num(softmax(scores, 1))

    h_v, h_a = RGB * MASK[..., None], AUDIO * MASK[..., None]
    a_v, a_a = alpha(layer.rgb_attention, h_v), alpha(layer.audio_attention,
                                                       h_a)
    new_v = a_v + np_transform(layer.audio_to_rgb, a_a, gate, MASK)
    new_a = a_a + np_transform(layer.rgb_to_audio, a_v, gate, MASK)
    np.testing.assert_allclose(
        c_v, np.einsum("btu,btd->bud", new_v, h_v).reshape(B, -1),
        rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        c_a, np.einsum("btu,btd->bud", new_a, h_a).reshape(B, -1),
        rtol=1e-5, atol=1e-5)


def test_cross_modal_attention_with_zero_transform_is_plain_attention():
    layer = CrossModalAttentionPooling(5, num_units=2, mode="concat")
    layer(RGB, AUDIO, gate=GATE, mask=MASK)
    zero_transforms(layer)
    plain = AttentionPooling(5, num_heads=2)
    plain(AUDIO, mask=MASK)
    plain.set_weights(layer.audio_attention.get_weights())
    _, c_a = layer(RGB, AUDIO, gate=GATE, mask=MASK)
    np.testing.assert_allclose(np_(c_a), np_(plain(AUDIO, mask=MASK)),
                               atol=1e-6)


def _np_block_attention(block, x, other_x, other_block, transform, mask):
    """The rgb stream's attention output of the paper's TM-CM equation."""
    mha, other = block.self_attention, other_block.self_attention

    def proj(dense, inputs):
        kernel, bias = (np_(w) for w in dense.weights)
        return np.einsum("btd,dhk->bthk", inputs, kernel) + bias

    q, k, v = (proj(d, x) for d in (mha._query_dense, mha._key_dense,
                                    mha._value_dense))
    scale = 1 / np.sqrt(q.shape[-1])
    logits = np.einsum("bqhk,bthk->bhqt", q, k) * scale
    cross = np.einsum("bqhk,bthk->bhqt", proj(other._query_dense, other_x),
                      proj(mha._key_dense, other_x)) * scale
    logits = logits + transform(cross)
    logits = np.where(mask[:, None, None, :], logits, -np.inf)
    weights = softmax(logits, -1)
    out = np.einsum("bhqt,bthk->bqhk", weights, v)
    kernel, bias = (np_(w) for w in mha._output_dense.weights)
    return np.einsum("bqhk,hkd->bqd", out, kernel) + bias


def test_cross_modal_transformer_attention_matches_the_paper_equation():
    d = 8
    audio = rng.normal(size=(B, T, d)).astype("float32")
    block = CrossModalTransformerBlock(2, 16, mode="gate", transform_layers=1)
    block(RGB, audio, gate=GATE, mask=MASK)
    x = RGB * MASK[..., None]
    other_x = audio * MASK[..., None]
    (w, b), = [(np_(a), np_(c)) for a, c in block.logit_kernels["rgb"]]

    def transform(z):  # ReLU(w z + b) per head, times the gate
        out = relu(z * w[None, :, 0, 0, None, None] + b[None, :, 0, None,
                                                         None])
        return out * GATE[:, :, None, None]

    attended = _np_block_attention(block.rgb_block, x, other_x,
                                   block.audio_block, transform, MASK)
    # The rest of the block is TransformerEncoderBlock's: run it with that
    # attention output.
    expected = np_(block.rgb_block.forward(
        RGB, mask=MASK, attend=lambda *args: attended.astype("float32")))
    got, _ = block(RGB, audio, gate=GATE, mask=MASK)
    np.testing.assert_allclose(np_(got)[MASK], expected[MASK], rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("mode", ["gate", "concat"])
def test_cross_modal_transformer_zero_transform_or_gate_is_plain(mode):
    audio = rng.normal(size=(B, T, 8)).astype("float32")
    block = CrossModalTransformerBlock(2, 16, mode=mode, transform_layers=2)
    block(RGB, audio, gate=GATE, mask=MASK)
    # Positive kernels: with the random init a ReLU transform can be dead
    # for every head (then the block is plain by chance, not by zeroing).
    for weight in block.weights:
        if "logit_kernel" in weight.path:
            weight.assign(np.full(weight.shape, 0.5, "float32"))
    got, _ = block(RGB, audio, gate=GATE, mask=MASK)
    plain = TransformerEncoderBlock(2, 16)
    plain(RGB, mask=MASK)
    plain.set_weights(block.rgb_block.get_weights())
    expected = np_(plain(RGB, mask=MASK))
    assert not np.allclose(np_(got), expected, atol=1e-5)
    if mode == "gate":
        off, _ = block(RGB, audio, gate=np.zeros((B, 1), "float32"),
                       mask=MASK)
        np.testing.assert_allclose(np_(off), expected, atol=1e-5)
    zero_transforms(block)
    got, _ = block(RGB, audio, gate=GATE, mask=MASK)
    np.testing.assert_allclose(np_(got), expected, atol=1e-5)


def test_cross_modal_transformer_padding_never_leaks():
    audio = rng.normal(size=(B, T, 8)).astype("float32")
    block = CrossModalTransformerBlock(2, 16, mode="concat")
    outs = [np_(x) for x in block(RGB, audio, gate=GATE, mask=MASK)]
    padded = [np_(x) for x in block(
        checks.fill_padding(RGB, MASK, 1e3),
        checks.fill_padding(audio, MASK, 1e3), gate=GATE, mask=MASK)]
    for x, y in zip(outs, padded):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
        assert np.all(x[~MASK] == 0)


@pytest.mark.parametrize("cls,args", [
    (CrossModalNetVLADPooling, (4, 2)),
    (CrossModalAttentionPooling, (5,)),
    (CrossModalTransformerBlock, (2, 16)),
])
def test_configs_round_trip_and_bad_arguments(cls, args):
    layer = cls(*args, mode="gate", transform_layers=2)
    config = layer.get_config()
    clone = cls.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    with pytest.raises(ValueError, match="Invalid value for argument `mode`"):
        cls(*args, mode="product")
    with pytest.raises(ValueError, match="transform_layers"):
        cls(*args, transform_layers=0)
