"""NetVLADModelLF: WILLOW's gated NetVLAD (1st place, YT8M 2017)."""

import math

import keras

from yt8m.layers.context_gating import ContextGating
from yt8m.layers.frame_sampling import FrameSampling
from yt8m.layers.netvlad import NetVLAD
from yt8m.layers.probability_gating import ProbabilityGating
from yt8m.layers.slim import slim_batch_normalization
from yt8m.layers.wide_dense import WideDense
from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.models import base
from yt8m.models.fusion import FUSION
from yt8m.models.stages import ITERATIONS
from yt8m.registry import register_model


@register_model
class NetVLADModelLF(base.FrameLevelModel):
    """WILLOW `NetVLADModelLF`: NetVLAD pooling, hidden FC, gating, MoE.

    1. L2-normalised frames; with `netvlad_sample_frames` (WILLOW) the model
       resamples `iterations` valid frames with replacement when training
       (evenly spaced at eval, deterministic) and pools them unmasked;
       otherwise it pools all frames with the `num_frames` mask.
    2. Input batch norm per feature (`netvlad_add_batch_norm`; masked
       statistics when masking).
    3. `fusion="late"` (default, WILLOW's "LF"): rgb `NetVLAD(K)`, audio
       `NetVLAD(K // 2)`, descriptors concatenated. `fusion="early"`: one
       `NetVLAD(K)` over the per-frame concatenation [rgb; audio].
    4. Hidden FC `v W_h` (`W_h ~ N(0, 1/sqrt(K))`), + BN and ReLU6 if
       `netvlad_relu` (and batch norm), else + bias `~ N(0, 0.01)` (linear).
       In late fusion this FC is the layer that combines the two towers.
    5. `ContextGating` if `gating`, the `video_level_classifier_model` head,
       `ProbabilityGating` of the class probabilities if `moe_prob_gating`.

    Args:
      num_classes: C.
      feature_sizes: e.g. [1024, 128]; first is rgb, the rest audio.
      max_frames: T, or None. Default 300.
      iterations: frames resampled per video (`netvlad_sample_frames`).
        Default 30 (upstream flag default; WILLOW's runs used 300).
      netvlad_cluster_size: K (rgb; audio gets K // 2). Default 256.
      netvlad_hidden_size: H. Default 1024.
      netvlad_relu: BN + ReLU6 after the hidden FC. Default False.
      netvlad_add_batch_norm: input, cluster and gating batch norm.
        Default True.
      netvlad_sample_frames: resample frames (WILLOW) instead of masking.
        Default True.
      gating: context gating after the hidden FC. Default True.
      gating_remove_diag: drop the gating matrices' diagonals. Default False.
      moe_prob_gating: gate the class probabilities. Default True.
      fusion: "late" (default) or "early"; None means the default.
      video_level_classifier_model, moe_num_mixtures, moe_l2, l2_penalty:
        the head (`base.FrameLevelModel`).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (ITERATIONS,) + declare(
        HParam("netvlad_cluster_size", "integer", 256,
               "NetVLAD clusters for rgb (audio gets half).", check="positive"),
        HParam("netvlad_hidden_size", "integer", 1024,
               "Units of the hidden FC after NetVLAD.", check="positive"),
        HParam("netvlad_relu", "boolean", False,
               "BN + ReLU6 after the NetVLAD hidden FC (else linear + bias)."),
        HParam("netvlad_add_batch_norm", "boolean", True,
               "Input, cluster-assignment and context-gating batch norm in "
               "NetVLADModelLF."),
        HParam("netvlad_sample_frames", "boolean", True,
               "Resample --iterations valid frames with replacement (WILLOW) "
               "instead of pooling all frames with a mask."),
        HParam("gating", "boolean", True,
               "Context gating after the NetVLAD hidden FC."),
        HParam("gating_remove_diag", "boolean", False,
               "Remove the diagonal of the context/probability gating "
               "matrices."),
        HParam("moe_prob_gating", "boolean", True,
               "Gate the class probabilities by the other classes' "
               "probabilities (WILLOW gated MoE)."),
        FUSION,
    )
    default_fusion = "late"

    def prepare_frames(self, frames, mask, inputs, hp):
        if hp.netvlad_sample_frames:
            frames = FrameSampling(
                hp.iterations, method="random_frames", name="frame_sampling"
            )(frames, inputs["num_frames"])  # [B, S, F], all valid
            mask = None
        if hp.netvlad_add_batch_norm:
            frames = slim_batch_normalization("input_bn")(frames, mask=mask)
        return frames, mask

    def netvlad_clusters(self, tower, hp):
        """K for the rgb (or early-fusion) tower, K // 2 for audio."""
        if tower == "audio":
            return max(hp.netvlad_cluster_size // 2, 1)
        return hp.netvlad_cluster_size

    def pool_frames(self, tower, frames, mask, hp):
        return NetVLAD(
            self.netvlad_clusters(tower, hp),
            add_batch_norm=hp.netvlad_add_batch_norm,
            name=f"{tower}_netvlad",
        )(frames, mask=mask)  # [B, D_m * K_m]

    def fuse_towers(self, towers, hp):
        if len(towers) > 1:
            return keras.layers.Concatenate(name="vlad_concat")(towers)
        return towers[0]

    def embed(self, video, inputs, hp):
        # In late fusion this hidden FC is the layer combining the towers.
        use_bn = hp.netvlad_add_batch_norm and hp.netvlad_relu
        hidden = WideDense(
            hp.netvlad_hidden_size,
            use_bias=not use_bn,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=1.0 / math.sqrt(hp.netvlad_cluster_size)
            ),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="hidden1",
        )(video)  # [B, H]
        if use_bn:
            hidden = slim_batch_normalization("hidden1_bn")(hidden)
        if hp.netvlad_relu:
            hidden = keras.layers.ReLU(max_value=6.0, name="hidden1_relu6")(
                hidden
            )
        if hp.gating:
            hidden = ContextGating(
                add_batch_norm=hp.netvlad_add_batch_norm,
                remove_diagonal=hp.gating_remove_diag,
                name="context_gating",
            )(hidden)  # [B, H]
        return hidden

    def classify(self, video, num_classes, hp):
        outputs = super().classify(video, num_classes, hp)  # [B, C]
        if hp.moe_prob_gating:
            outputs = ProbabilityGating(
                remove_diagonal=hp.gating_remove_diag,
                name="probability_gating",
            )(outputs)  # [B, C]
        return outputs
