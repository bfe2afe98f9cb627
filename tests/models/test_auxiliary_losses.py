"""Auxiliary losses are named, separate from regularization, and logged."""

import numpy as np

from tests.training import helpers
from yt8m import config as config_lib
from yt8m import models
from yt8m.training import loop

RGB, AUDIO, T = 6, 4, 5


def test_projection_loss_is_a_named_auxiliary_loss_not_regularization():
    model = models.build_model(
        "BiGRUAttentionModel", 3, [RGB, AUDIO], max_frames=T, rnn_cells=2,
        rnn_layers=1, attention_size=2, rnn_fusion="projection",
        rnn_fusion_size=3, rnn_projection_weight=0.7, l2_penalty=1e-3,
        moe_l2=1e-3,
    )
    rng = np.random.default_rng(0)
    video = rng.normal(size=(2, T, RGB + AUDIO)).astype("float32")
    num_frames = np.array([5, 2], np.int32)
    video[1, 2:] = 0.0
    model({"video_matrix": video, "num_frames": num_frames}, training=True)
    regularization, auxiliary = model.split_losses()
    assert list(auxiliary) == ["projection_alignment"]
    # Independent computation of the paper's alignment loss.
    layer = model.get_layer("projection")
    w_v, w_a = (np.asarray(w) for w in layer.get_weights())
    x = video / np.maximum(
        np.linalg.norm(video, axis=-1, keepdims=True), 1e-12)
    mask = np.arange(T)[None, :] < num_frames[:, None]
    distance = np.sum((x[..., :RGB] @ w_v - x[..., RGB:] @ w_a) ** 2, -1)
    per_video = (distance * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(float(auxiliary["projection_alignment"]),
                               0.7 * per_video.mean(), rtol=1e-5)
    # The MoE kernels' L2 stays regularization.
    assert len(regularization) >= 2
    assert len(regularization) + 1 == len(model.losses)


def test_training_logs_the_auxiliary_loss_on_its_own(tmp_path):
    frame, _ = helpers.write_frame_and_video_shards(tmp_path, num_videos=8)
    spec = config_lib.ModelSpec(
        model="BiGRUAttentionModel", feature_names=["rgb", "audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO], frame_features=True,
        num_classes=helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
        model_hparams={"rnn_cells": 2, "rnn_layers": 1, "attention_size": 2,
                       "rnn_fusion": "projection", "rnn_fusion_size": 3,
                       "moe_num_mixtures": 1},
    )
    result = loop.train(config_lib.TrainConfig(
        train_dir=str(tmp_path / "model"), train_data_pattern=frame,
        spec=spec, batch_size=4, max_steps=1, progress_bar=False,
        num_readers=1, shuffle_seed=0, regularization_penalty=0.0,
        export_model_steps=0,
    ))
    assert result["auxiliary_loss/projection_alignment"] > 0
