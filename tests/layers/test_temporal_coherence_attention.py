"""TC-TM: TemporalCoherenceAttention and TemporalCoherenceEncoderBlock."""

import keras
import numpy as np
import pytest

from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from tests.layers.test_temporal_coherence import numpy_coherence
from yt8m.layers.temporal_coherence_attention import (
    TemporalCoherenceAttention,
)
from yt8m.layers.transformer_encoder import TemporalCoherenceEncoderBlock
from yt8m.layers.transformer_encoder import TransformerEncoderBlock

FRAMES = checks.make_frames(batch=3, steps=6, features=8)
MASK = checks.make_mask([6, 3, 1], 6)
MODES = ["conv", "distance"]


def randomize_kernels(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        if "coherence" in weight.path:
            weight.assign(rng.normal(size=weight.shape))


@pytest.mark.parametrize("mode", MODES)
def test_attention_matches_numpy_reference(mode):
    heads, key_dim = 2, 3
    layer = TemporalCoherenceAttention(
        heads, key_dim, coherence_kernel_size=3, coherence_num_feature_maps=2,
        coherence_mode=mode)
    attention_mask = MASK[:, None, :] & np.ones((3, 6, 1), bool)
    layer(FRAMES, FRAMES, attention_mask=attention_mask)
    randomize_kernels(layer)
    got = np.asarray(layer(FRAMES, FRAMES, attention_mask=attention_mask))

    def dense(name, x):
        kernel, bias = (np.asarray(w) for w in getattr(layer, name).weights)
        return np.einsum("btd,dnh->btnh", x, kernel) + bias

    q = dense("_query_dense", FRAMES)
    k = dense("_key_dense", FRAMES).reshape(3, 6, heads * key_dim)
    v = dense("_value_dense", FRAMES).reshape(3, 6, heads * key_dim)
    k = numpy_coherence(k, MASK, np.asarray(layer.key_coherence.kernel), mode)
    v = numpy_coherence(v, MASK, np.asarray(layer.value_coherence.kernel),
                        mode)
    k = k.reshape(3, 6, heads, key_dim)
    v = v.reshape(3, 6, heads, key_dim)
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(key_dim)
    scores = np.where(MASK[:, None, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    mixed = np.einsum("bnts,bsnh->btnh", weights, v)
    kernel, bias = (np.asarray(w) for w in layer._output_dense.weights)
    expected = np.einsum("btnh,nhd->btd", mixed, kernel) + bias
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_block_shapes_config_and_gradients(mode):
    run_layer_test(
        TemporalCoherenceEncoderBlock,
        {"num_heads": 2, "intermediate_dim": 16, "coherence_kernel_size": 3,
         "coherence_num_feature_maps": 2, "coherence_mode": mode,
         "name": "tc_block"},
        FRAMES,
        expected_output_shape=(3, 6, 8),
        call_kwargs={"mask": MASK},
        # 2 TC kernels + 8 MHA + 4 LN + 4 FFN.
        expected_num_trainable_weights=18,
    )


def test_delta_kernels_give_the_plain_block():
    plain = TransformerEncoderBlock(2, 16, name="block")
    coherent = TemporalCoherenceEncoderBlock(2, 16, name="block")
    plain(FRAMES, mask=MASK)
    coherent(FRAMES, mask=MASK)
    by_path = {w.path: w for w in plain.weights}
    for weight in coherent.weights:
        if "coherence" not in weight.path:
            weight.assign(by_path[weight.path])
    np.testing.assert_array_equal(
        np.asarray(coherent(FRAMES, mask=MASK)),
        np.asarray(plain(FRAMES, mask=MASK)))
    randomize_kernels(coherent)
    assert not np.allclose(np.asarray(coherent(FRAMES, mask=MASK)),
                           np.asarray(plain(FRAMES, mask=MASK)))


@pytest.mark.parametrize("mode", MODES)
def test_block_padding_never_changes_output(mode):
    layer = TemporalCoherenceEncoderBlock(2, 16, coherence_kernel_size=3,
                                          coherence_mode=mode)
    layer(FRAMES, mask=MASK)
    randomize_kernels(layer)
    checks.assert_padding_invariant(layer, FRAMES, MASK, training=False,
                                    frame_output=True)


def test_block_keras_round_trip():
    layer = TemporalCoherenceEncoderBlock(
        2, 16, coherence_kernel_size=3, coherence_num_feature_maps=3,
        coherence_mode="distance")
    layer(FRAMES, mask=MASK)
    randomize_kernels(layer)
    checks.assert_model_round_trip(layer, FRAMES, MASK)


def test_block_bad_arguments():
    kwargs = {"num_heads": 2, "intermediate_dim": 4}
    checks.assert_rejects(TemporalCoherenceEncoderBlock, kwargs,
                          "coherence_kernel_size", [4, 0])
    checks.assert_rejects(TemporalCoherenceEncoderBlock, kwargs,
                          "coherence_mode", ["plus"])
    checks.assert_rejects(TemporalCoherenceEncoderBlock, kwargs,
                          "coherence_num_feature_maps", [0])
    assert keras.saving.get_registered_object(
        "yt8m>TemporalCoherenceEncoderBlock") is TemporalCoherenceEncoderBlock
