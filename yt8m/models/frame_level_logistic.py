"""FrameLevelLogisticModel: masked mean of frames + logistic (starter)."""

from yt8m.classifiers import L2_PENALTY
from yt8m.classifiers import LogisticClassifier
from yt8m.layers.frame_pooling import FramePooling
from yt8m.models import base
from yt8m.registry import register_model


@register_model
class FrameLevelLogisticModel(base.FrameLevelModel):
    """Logistic regression on the mean of the valid frames.

    Upstream divides the sum over all (zero-padded) frames by `num_frames`;
    that is a masked mean, which is what we compute (a video with no valid
    frame averages to 0 instead of upstream's 0/0). Upstream hard-codes a
    logistic layer, so this model has no `video_level_classifier_model`.

    Args:
      num_classes: C.
      feature_sizes: list of feature sizes, e.g. [1024, 128].
      max_frames: T, or None for any length. Default 300.
      l2_penalty: slim L2 on the kernel. Default 1e-8 (hard-coded upstream).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (L2_PENALTY,)

    @classmethod
    def hparam_declarations(cls):
        # Only l2_penalty: the head is upstream's fixed logistic layer.
        return {L2_PENALTY.name: L2_PENALTY}

    def pool_frames(self, tower, frames, mask, hp):
        return FramePooling("average", name="frame_pooling")(
            frames, mask=mask
        )  # [B, F]

    def classify(self, video, num_classes, hp):
        return LogisticClassifier(
            num_classes, l2_penalty=hp.l2_penalty, name="classifier"
        )(video)  # [B, C]
