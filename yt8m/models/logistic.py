"""LogisticModel: video-level logistic regression (starter code)."""

from yt8m.classifiers import L2_PENALTY
from yt8m.classifiers import LogisticClassifier
from yt8m.models import base
from yt8m.registry import register_model


@register_model
class LogisticModel(base.VideoLevelModel):
    """Video-level logistic regression, `p = sigmoid(l2norm(x) W + b)`.

    Args:
      num_classes: C.
      feature_sizes: list of feature sizes, e.g. [1024, 128].
      l2_penalty: slim L2 on the kernel (`l2_penalty * sum(W**2) / 2`).
        Default 1e-8.

    Inputs: {"video_matrix": [B, sum(feature_sizes)]}.
    Returns: probabilities [B, C].
    """

    HPARAMS = (L2_PENALTY,)

    def classify(self, video, num_classes, hp):
        return LogisticClassifier(
            num_classes, l2_penalty=hp.l2_penalty, name="classifier"
        )(video)  # [B, C]
