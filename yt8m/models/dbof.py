"""DbofModel: Deep Bag-of-Frames (starter code `frame_level_models`)."""

import math

import keras

from yt8m.layers.dbof import DBOF_ACTIVATIONS
from yt8m.layers.dbof import DbofCluster
from yt8m.layers.frame_pooling import FramePooling
from yt8m.layers.frame_sampling import FrameSampling
from yt8m.layers.slim import slim_batch_normalization
from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.models import base
from yt8m.models.stages import ITERATIONS
from yt8m.registry import register_model

DBOF_POOLING_METHODS = ("max", "average", "swap")

DBOF_HPARAMS = declare(
    HParam("dbof_cluster_size", "integer", 8192,
           "Number of units in the DBoF cluster layer.", check="positive"),
    HParam("dbof_hidden_size", "integer", 1024,
           "Number of units in the DBoF hidden layer.", check="positive"),
    HParam("dbof_pooling_method", "string", "max",
           "Pooling over frames in DBoF: max, average or swap.",
           choices=DBOF_POOLING_METHODS),
    HParam("dbof_activation", "string", "sigmoid",
           "DBoF activation: sigmoid or relu6.", choices=DBOF_ACTIVATIONS),
    HParam("dbof_add_batch_norm", "boolean", True,
           "Adds batch normalization to the DBoF model."),
    HParam("sample_random_frames", "boolean", True,
           "If true, DBoF samples random frames (with replacement); else a "
           "random contiguous sequence."),
    HParam("dbof_sample_at_eval", "boolean", False,
           "If true, DBoF samples randomly at eval/inference too (upstream); "
           "else evenly spaced frames (deterministic)."),
)


@register_model
class DbofModel(base.FrameLevelModel):
    """Deep Bag-of-Frames: sample frames, project, pool, hidden layer, head.

    1. `FrameSampling`: `iterations` frames from the valid ones (random with
       replacement if `sample_random_frames`, else a random contiguous run)
       when training; evenly spaced at eval unless `dbof_sample_at_eval`.
    2. `DbofCluster`: input BN, `x W_c` (N(0, 1/sqrt(F)), no bias) + cluster
       BN (or a bias), activation -> [B, S, K].
    3. `FramePooling(dbof_pooling_method)` over the S sampled frames.
    4. Hidden: `x W_h` (N(0, 1/sqrt(K))) + BN (or a N(0, 0.01) bias),
       activation -> [B, H].
    5. The `video_level_classifier_model` head (MoE by default).

    BN: momentum 0.999, epsilon 1e-3 (slim). No L2 on DBoF weights.

    Args:
      num_classes: C.
      feature_sizes: list of feature sizes, e.g. [1024, 128].
      max_frames: T, or None. Default 300.
      iterations: S, frames sampled per video. Default 30.
      dbof_cluster_size: K. Default 8192.
      dbof_hidden_size: H. Default 1024.
      dbof_pooling_method: "max" (default), "average" or "swap".
      dbof_activation: "sigmoid" (default) or "relu6".
      dbof_add_batch_norm: BN instead of biases. Default True.
      sample_random_frames: True: random frames with replacement; False:
        a random contiguous sequence. Default True.
      dbof_sample_at_eval: sample randomly at eval/inference too (upstream
        behaviour, non-deterministic). Default False: evenly spaced frames.
      video_level_classifier_model: head name. Default "MoeModel".
      moe_num_mixtures, moe_l2: MoE head hparams (2, 1e-8).
      l2_penalty: logistic head L2 (1e-8).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (ITERATIONS,) + DBOF_HPARAMS

    def prepare_frames(self, frames, mask, inputs, hp):
        sampled = FrameSampling(
            hp.iterations,
            method=(
                "random_frames" if hp.sample_random_frames
                else "random_sequence"
            ),
            sample_at_eval=hp.dbof_sample_at_eval,
            name="frame_sampling",
        )(frames, inputs["num_frames"])  # [B, S, F], all valid frames
        return sampled, None

    def encode_frames(self, tower, frames, mask, hp):
        return DbofCluster(
            hp.dbof_cluster_size,
            activation=hp.dbof_activation,
            add_batch_norm=hp.dbof_add_batch_norm,
            name="dbof_cluster",
        )(frames), mask  # [B, S, K]

    def pool_frames(self, tower, frames, mask, hp):
        return FramePooling(hp.dbof_pooling_method, name="frame_pooling")(
            frames
        )  # [B, K]

    def embed(self, video, inputs, hp):
        hidden = keras.layers.Dense(
            hp.dbof_hidden_size,
            use_bias=not hp.dbof_add_batch_norm,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=1.0 / math.sqrt(hp.dbof_cluster_size)
            ),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="hidden1",
        )(video)  # [B, H]
        if hp.dbof_add_batch_norm:
            hidden = slim_batch_normalization("hidden1_bn")(hidden)
        return keras.layers.Activation(
            hp.dbof_activation, name="hidden1_act"
        )(hidden)
