"""NeXtVLADModel: linrongc/youtube-8m (3rd place, YT8M 2018)."""

import keras

from yt8m.layers.nextvlad import NeXtVLAD
from yt8m.layers.se_context_gating import SEContextGating
from yt8m.layers.slim import slim_batch_normalization
from yt8m.layers.wide_dense import WideDense
from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.models import base
from yt8m.models import fusion as fusion_lib
from yt8m.registry import register_model


@register_model
class NeXtVLADModel(base.FrameLevelModel):
    """NeXtVLAD per modality, dropout, hidden FC + BN, SE gating, head.

    As linrongc `NeXtVLADModel`:
    1. L2-normalised frames and the `num_frames` mask (no frame sampling).
    2. rgb: `NeXtVLAD(K, expansion, groups)`; audio:
       `NeXtVLAD(K // 2, expansion, groups // 2)` (at least 1); outputs
       concatenated (a single feature gives one stream).
    3. `Dropout(drop_rate)`; hidden FC `W_h` (no bias, slim variance
       scaling) -> BN (no activation, as upstream).
    4. `SEContextGating(gating_reduction)`.
    5. The `video_level_classifier_model` head (upstream: a logistic layer
       with L2 1e-5, i.e. `--video_level_classifier_model=LogisticModel
       --l2_penalty=1e-5`).

    Args:
      num_classes: C.
      feature_sizes: e.g. [1024, 128]; first is rgb, the rest audio.
      max_frames: T, or None. Default 300.
      nextvlad_cluster_size: K. Default 128.
      nextvlad_hidden_size: H. Default 2048.
      groups: G (rgb; audio G // 2). Default 8.
      expansion: lambda. Default 2.
      gating_reduction: SE bottleneck reduction r. Default 8.
      drop_rate: dropout before the hidden FC. Default 0.5.
      video_level_classifier_model, moe_num_mixtures, moe_l2, l2_penalty:
        the head (`base.FrameLevelModel`).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = declare(
        HParam("nextvlad_cluster_size", "integer", 128,
               "NeXtVLAD clusters for rgb (audio gets half).",
               check="positive"),
        HParam("nextvlad_hidden_size", "integer", 2048,
               "Units of the hidden FC after NeXtVLAD.", check="positive"),
        HParam("groups", "integer", 8,
               "NeXtVLAD groups for rgb (audio gets half).", check="positive"),
        HParam("expansion", "integer", 2, "NeXtVLAD expansion factor lambda.",
               check="positive"),
        HParam("gating_reduction", "integer", 8,
               "Reduction of the SE context gating bottleneck.",
               check="positive"),
        HParam("drop_rate", "float", 0.5, "Dropout before the NeXtVLAD "
               "hidden FC.", check="rate"),
    )
    def split_towers(self, frames, feature_sizes, hp):
        # One NeXtVLAD per modality, always (linrongc).
        return fusion_lib.split_modalities(frames, feature_sizes)

    def check_hparams(self, hp, feature_sizes):
        if hp.gating_reduction > hp.nextvlad_hidden_size:
            raise ValueError(
                "Invalid value for argument `gating_reduction`: expected at "
                f"most nextvlad_hidden_size={hp.nextvlad_hidden_size}. "
                f"Received: gating_reduction={hp.gating_reduction}"
            )
        for modality, size in zip(
            fusion_lib.modality_names(feature_sizes),
            fusion_lib.modality_sizes(feature_sizes),
        ):
            if (hp.expansion * size) % self.modality_groups(modality, hp):
                raise ValueError(
                    "Invalid value for argument `groups`: the "
                    f"{modality} stream needs "
                    f"{self.modality_groups(modality, hp)} groups to "
                    f"divide expansion * {size} = {hp.expansion * size}. "
                    f"Received: groups={hp.groups}"
                )

    @staticmethod
    def modality_groups(modality, hp):
        return hp.groups if modality != "audio" else max(hp.groups // 2, 1)

    def pool_frames(self, tower, frames, mask, hp):
        audio = tower == "audio"
        return NeXtVLAD(
            max(hp.nextvlad_cluster_size // 2, 1) if audio
            else hp.nextvlad_cluster_size,
            expansion=hp.expansion,
            groups=self.modality_groups(tower, hp),
            name=f"{tower}_nextvlad",
        )(frames, mask=mask)  # [B, F_m * K_m]

    def fuse_towers(self, towers, hp):
        if len(towers) > 1:
            return keras.layers.Concatenate(name="nextvlad_concat")(towers)
        return towers[0]

    def embed(self, video, inputs, hp):
        x = keras.layers.Dropout(hp.drop_rate, name="dropout")(video)
        x = WideDense(
            hp.nextvlad_hidden_size,
            use_bias=False,
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=2.0, mode="fan_in", distribution="truncated_normal"
            ),
            name="hidden1",
        )(x)  # [B, H]
        x = slim_batch_normalization("hidden1_bn")(x)
        return SEContextGating(hp.gating_reduction, name="se_context_gating")(
            x
        )
