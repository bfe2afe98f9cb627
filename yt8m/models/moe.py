"""MoeModel: video-level mixture of experts (starter code)."""

from yt8m.classifiers import MOE_L2
from yt8m.classifiers import MOE_NUM_MIXTURES
from yt8m.classifiers import MoeClassifier
from yt8m.models import base
from yt8m.registry import register_model


@register_model
class MoeModel(base.VideoLevelModel):
    """Video-level mixture of experts on the L2-normalised input.

    See `yt8m.classifiers.MoeClassifier` for the math (upstream gates
    without bias, a dummy expert, class-major layout).

    Args:
      num_classes: C.
      feature_sizes: list of feature sizes, e.g. [1024, 128].
      moe_num_mixtures: M, experts per class. Default 2.
      moe_l2: slim L2 on the gate and expert kernels. Default 1e-8.

    Inputs: {"video_matrix": [B, sum(feature_sizes)]}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (MOE_NUM_MIXTURES, MOE_L2)

    def classify(self, video, num_classes, hp):
        return MoeClassifier(
            num_classes,
            num_mixtures=hp.moe_num_mixtures,
            l2_penalty=hp.moe_l2,
            name="classifier",
        )(video)  # [B, C]
