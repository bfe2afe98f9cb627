"""One stage inserted into several families (the FrameLevelModel hooks)."""

import numpy as np
import pytest

from yt8m import models

RGB, AUDIO, T = 6, 4, 7
TINY = {
    "DbofModel": {"iterations": 4, "dbof_cluster_size": 8,
                  "dbof_hidden_size": 8, "dbof_sample_at_eval": False},
    "NetVLADModelLF": {"iterations": 4, "netvlad_cluster_size": 4,
                       "netvlad_hidden_size": 8},
}
STAGED = {"DbofModel": "ToyScaledDbofModel",
          "NetVLADModelLF": "ToyScaledNetVLADModel"}


def _batch():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(3, T, RGB + AUDIO)).astype("float32")
    num_frames = np.array([7, 4, 1], np.int32)
    video[np.arange(T)[None, :] >= num_frames[:, None]] = 0.0
    return {"video_matrix": video, "num_frames": num_frames}


@pytest.mark.parametrize("family", sorted(STAGED))
def test_inserted_stage_is_in_the_graph_and_changes_only_what_it_should(
        family):
    import tests.toy_models  # noqa: F401 (registers the toy models)

    plain = models.build_model(family, 5, [RGB, AUDIO], max_frames=T,
                               **TINY[family])
    staged_one = models.build_model(STAGED[family], 5, [RGB, AUDIO],
                                    max_frames=T, toy_frame_scale=1.0,
                                    **TINY[family])
    staged_two = models.build_model(STAGED[family], 5, [RGB, AUDIO],
                                    max_frames=T, toy_frame_scale=3.0,
                                    **TINY[family])
    # The stage adds no weight: the same weights fit all three.
    staged_one.set_weights(plain.get_weights())
    staged_two.set_weights(plain.get_weights())
    assert staged_one.get_layer("toy_frame_scale") is not None
    batch = _batch()
    expected = np.asarray(plain(batch, training=False))
    np.testing.assert_allclose(
        np.asarray(staged_one(batch, training=False)), expected, atol=1e-6)
    assert not np.allclose(
        np.asarray(staged_two(batch, training=False)), expected, atol=1e-4)
    # The stage's hyperparameter is declared once, beside the family's.
    declared = type(staged_two).hparam_declarations()
    assert "toy_frame_scale" in declared and "iterations" in declared
    assert staged_two.get_config()["toy_frame_scale"] == 3.0
