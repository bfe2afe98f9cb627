import numpy as np
import pytest

from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.transformer_encoder import TransformerEncoderBlock

FRAMES = checks.make_frames(batch=3, steps=6, features=8)
MASK = checks.make_mask([6, 3, 1], 6)
KWARGS = {"num_heads": 2, "intermediate_dim": 12}


@pytest.mark.parametrize("normalize_first", [False, True])
def test_shapes_config_and_gradients(normalize_first):
    layer, out = run_layer_test(
        TransformerEncoderBlock,
        {**KWARGS, "dropout": 0.1, "activation": "gelu",
         "normalize_first": normalize_first, "layer_norm_epsilon": 1e-4,
         "kernel_initializer": "he_uniform", "name": "block"},
        FRAMES,
        expected_output_shape=(3, 6, 8),
        call_kwargs={"mask": MASK},
        # attention q/k/v/output kernels + biases (8), 2 layer norms (4),
        # 2 dense layers (4).
        expected_num_trainable_weights=16,
    )
    assert layer.compute_output_shape((None, 6, 8)) == (None, 6, 8)
    checks.assert_build_creates_weights(
        TransformerEncoderBlock, KWARGS, (None, 6, 8), 16)
    np.testing.assert_array_equal(out[~MASK], 0.0)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_valid_frames_match_the_unpadded_sequence(normalize_first):
    layer = TransformerEncoderBlock(**KWARGS, normalize_first=normalize_first)
    padded = checks.fill_padding(FRAMES, MASK, checks.PAD_VALUE)
    out = np.asarray(layer(padded, mask=MASK))
    for b, length in enumerate([6, 3, 1]):
        alone = np.asarray(layer(FRAMES[b:b + 1, :length]))  # no padding
        np.testing.assert_allclose(out[b, :length], alone[0], rtol=1e-4,
                                   atol=1e-5)


def test_pre_and_post_norm_differ():
    post = TransformerEncoderBlock(**KWARGS)
    pre = TransformerEncoderBlock(**KWARGS, normalize_first=True)
    post.build((None, 6, 8))
    pre.build((None, 6, 8))
    pre.set_weights(post.get_weights())
    assert not np.allclose(np.asarray(post(FRAMES)), np.asarray(pre(FRAMES)))


def test_dropout_only_in_training():
    layer = TransformerEncoderBlock(**KWARGS, dropout=0.5)
    inference = [np.asarray(layer(FRAMES, training=False)) for _ in range(2)]
    np.testing.assert_allclose(inference[0], inference[1])
    assert not np.allclose(np.asarray(layer(FRAMES, training=True)),
                           inference[0])


def test_padding_and_mask():
    layer = TransformerEncoderBlock(**KWARGS, normalize_first=True)
    for training in (False, True):
        checks.assert_padding_invariant(layer, FRAMES, MASK, training,
                                        frame_output=True)
        out = checks.assert_all_padding_row_finite(layer, FRAMES, training)
        np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_array_equal(
        np.asarray(layer.compute_mask(FRAMES, MASK)), MASK
    )


def test_keras_round_trip_non_default():
    layer = TransformerEncoderBlock(
        num_heads=4, intermediate_dim=6, dropout=0.2, activation="gelu",
        normalize_first=True, layer_norm_epsilon=1e-3,
        kernel_initializer="he_normal",
    )
    checks.assert_model_round_trip(layer, FRAMES, MASK)


def test_bad_arguments():
    cls = TransformerEncoderBlock
    checks.assert_rejects(cls, KWARGS, "num_heads", [0, -2, 1.5])
    checks.assert_rejects(cls, KWARGS, "num_heads", [3], call_with=FRAMES)
    checks.assert_rejects(cls, KWARGS, "intermediate_dim", [0, None])
    checks.assert_rejects(cls, KWARGS, "dropout", [-0.1, 1.0, "0.1"])
    checks.assert_rejects(cls, KWARGS, "activation", ["no_such_act", 3])
    checks.assert_rejects(cls, KWARGS, "normalize_first", ["pre", 1])
    checks.assert_rejects(cls, KWARGS, "layer_norm_epsilon", [0, -1e-5])
    checks.assert_rejects(cls, KWARGS, "kernel_initializer", ["nope"])


@pytest.mark.parametrize("normalize_first", [False, True])
def test_lean_self_attention_equals_keras_multi_head_attention(
        normalize_first):
    """The block's own attention (2-D projections, one key bias) against
    keras.layers.MultiHeadAttention called on the same weights with the
    [B, T, T] mask: outputs and gradients at the valid frames."""
    import tensorflow as tf

    block = TransformerEncoderBlock(normalize_first=normalize_first, **KWARGS)
    block(FRAMES, mask=MASK)
    x = tf.constant(FRAMES)

    def keras_attention(h, attention_mask, training):
        return block.self_attention(h, h, attention_mask=attention_mask,
                                    training=training)

    def run(attend):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = block.forward(x, mask=MASK, attend=attend)
            loss = tf.reduce_sum(out * out)
        return out, tape.gradient(loss, [x] + block.trainable_weights)

    lean, lean_grads = run(None)
    reference, reference_grads = run(keras_attention)
    np.testing.assert_allclose(np.asarray(lean)[MASK],
                               np.asarray(reference)[MASK], rtol=1e-5,
                               atol=1e-6)
    for a, b in zip(lean_grads, reference_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
