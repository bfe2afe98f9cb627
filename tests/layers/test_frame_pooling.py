import numpy as np
import pytest

from tests.layer_test_case import run_layer_test
from tests.layers import frame_layer_checks as checks
from yt8m.layers.frame_pooling import FramePooling

FRAMES = checks.make_frames(batch=3, steps=6, features=4)
MASK = checks.make_mask([6, 3, 1], 6)


def test_model_garden_oracle():
    # frames [[0,0,0],[0,1,-1]] (one video, 2 frames, 3 features).
    frames = np.array([[[0.0, 0.0, 0.0], [0.0, 1.0, -1.0]]], "float32")
    np.testing.assert_allclose(
        np.asarray(FramePooling("average")(frames)), [[0.0, 0.5, -0.5]]
    )
    np.testing.assert_allclose(
        np.asarray(FramePooling("max")(frames)), [[0.0, 1.0, 0.0]]
    )
    # swap: sum x|x| / sum |x| -> [0 (0/0 -> 0), 1, -1]
    np.testing.assert_allclose(
        np.asarray(FramePooling("swap")(frames)), [[0.0, 1.0, -1.0]]
    )


@pytest.mark.parametrize("method", ["average", "max", "swap"])
def test_matches_numpy_masked_reference(method):
    out = np.asarray(FramePooling(method)(FRAMES, mask=MASK))
    for b in range(3):
        valid = FRAMES[b][MASK[b]]
        if method == "average":
            expected = valid.mean(0)
        elif method == "max":
            expected = valid.max(0)
        else:
            expected = (valid * np.abs(valid)).sum(0) / np.abs(valid).sum(0)
        np.testing.assert_allclose(out[b], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["max", "swap"])
def test_layer_behaviour_non_default(method):
    layer, _ = run_layer_test(
        FramePooling,
        {"method": method, "name": "pool"},
        FRAMES,
        expected_output_shape=(3, 4),
        call_kwargs={"mask": MASK},
    )
    assert layer.compute_output_shape((None, 6, 4)) == (None, 4)
    assert layer.compute_mask(FRAMES, MASK) is None


def test_none_returns_frames_and_keeps_mask():
    layer = FramePooling("none")
    np.testing.assert_array_equal(np.asarray(layer(FRAMES, mask=MASK)), FRAMES)
    assert layer.compute_mask(FRAMES, MASK) is MASK
    assert layer.compute_output_shape((None, 6, 4)) == (None, 6, 4)


@pytest.mark.parametrize("method", ["average", "max", "swap"])
def test_padding_never_changes_output(method):
    layer = FramePooling(method)
    checks.assert_padding_invariant(layer, FRAMES, MASK, training=False)
    out = checks.assert_all_padding_row_finite(layer, FRAMES, training=True)
    np.testing.assert_array_equal(out[0], 0.0)


def test_keras_round_trip_non_default():
    checks.assert_model_round_trip(FramePooling("max"), FRAMES, MASK)


def test_bad_method():
    checks.assert_rejects(FramePooling, {}, "method", ["attention", None, 1])


@pytest.mark.parametrize("method", ["average", "max", "swap"])
def test_without_mask_matches_numpy_over_all_frames(method):
    # No mask: the unmasked fast path (no select over [B, T, D]).
    out = np.asarray(FramePooling(method)(FRAMES))
    if method == "average":
        expected = FRAMES.mean(1)
    elif method == "max":
        expected = FRAMES.max(1)
    else:
        expected = (FRAMES * np.abs(FRAMES)).sum(1) / np.abs(FRAMES).sum(1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
