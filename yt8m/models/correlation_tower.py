"""The correlation tower of the cross-modal paper (section 3, eq. (1)).

`../shared/papers/cross_modal_learning_a.txt` ("Correlation Tower"): a
separate network predicts whether the visual (rgb) and the audio stream of
an example belong together; trained on positives (rgb and audio of one
video) and negatives (the rgb of one video with the audio of a video from a
different top-level category of the taxonomy, section 4.1), with the
cross-entropy of eq. (1), negatives up-weighted (section 5.1: "we give
higher weight to negative examples"; Figure 8 varies that weight). It is
then frozen inside the cross-modal models (`CORRELATION_TOWER` slot).

Architecture (our reading of Figure 5). The text we have of the paper holds
only Figure 5's caption ("Cross-modal Transformer with cross-entropy based
correlation tower"), not its drawing; eq. (1) says the tower's output
`y'(f_v, f_a)` is "the normalized output of the model that takes as input
the feature embeddings of the two modalities". We read that as: one
embedding per modality, a small per-modality network, the two joined, one
sigmoid output. Concretely (late towers, one per modality):

    f_m  = masked mean over valid frames of the L2-normalised frames of
           modality m (m = rgb, audio; each modality normalised on its own,
           so the audio embedding does not depend on the rgb's norm)
    h_m  = ReLU DNN(f_m), `tower_layers` layers of `tower_hidden_size`
           (layers `correlation_{m}_dense_{i}`)
    h    = ReLU(W [h_rgb; h_audio] + b), width `tower_hidden_size`
           (layer `correlation_combine`)
    y'   = sigmoid(w h + b) [B, 1] = P(correlated)  (layer `correlation_output`)

The tower does not share the main model's encoder (the paper trains it
separately and freezes it; the masked mean stands in for "the feature
embeddings", and is also what the real video-level data gives us).

`CorrelationTower` is the frame-level model (inputs `video_matrix` [B, T, F]
and `num_frames` [B]); `VideoCorrelationTower` is the same head on the
video-level `mean_rgb` / `mean_audio` ([B, F]); its layers carry the same
names, so weights copy between the two by layer name (with one frame per
video the two compute the same function).

The objective (`CorrelationObjective`) builds the pairs in the input
pipeline and owns the loss and the metrics; see its docstring and
docs/cross_modal.md for the choices made where the paper is silent.
"""

import keras
import numpy as np
import tensorflow as tf

from yt8m.hparams import HParam
from yt8m.layers.feature_slice import FeatureSlice
from yt8m.layers.frame_pooling import FramePooling
from yt8m.layers.l2_normalization import L2Normalization
from yt8m.models import base
from yt8m.models import fusion as fusion_lib
from yt8m.models import objectives
from yt8m.registry import register_model

NEGATIVE_MODES = ("category", "labels")

TOWER_HIDDEN_SIZE = HParam(
    "tower_hidden_size", "integer", 256,
    "Correlation tower: width of the per-modality ReLU layers and of the "
    "combining ReLU layer.", check="positive")
TOWER_LAYERS = HParam(
    "tower_layers", "integer", 2,
    "Correlation tower: ReLU layers per modality before the two are "
    "combined (0: the pooled features go straight to the combining layer).",
    check="non_negative")
NEGATIVE_WEIGHT = HParam(
    "negative_weight", "float", 2.0,
    "Correlation tower: weight of a negative (uncorrelated) pair in the "
    "cross-entropy of eq. (1); positives weigh 1 (paper: 2).",
    check="positive")
NEGATIVE_RATIO = HParam(
    "negative_ratio", "float", 0.5,
    "Correlation tower: fraction of each batch's videos whose audio is "
    "replaced by another video's (a negative pair), in [0, 1). A video "
    "with no valid partner in its batch stays a positive.", check="rate")
TAXONOMY_FILE = HParam(
    "taxonomy_file", "string", None,
    "Correlation tower: the label hierarchy whose top-level categories "
    "decide the negatives: vocabulary.csv (Vertical1) or an Index,Name,Path "
    "taxonomy. Needed with tower_negatives=category.")
TOWER_NEGATIVES = HParam(
    "tower_negatives", "string", "category",
    "Correlation tower: category: a negative's two videos share no "
    "top-level category of taxonomy_file (the paper); labels: they share "
    "no label (no taxonomy needed).", choices=NEGATIVE_MODES)

TOWER_HPARAMS = (TOWER_HIDDEN_SIZE, TOWER_LAYERS, NEGATIVE_WEIGHT,
                 NEGATIVE_RATIO, TAXONOMY_FILE, TOWER_NEGATIVES)

# The sub-model slot of the cross-modal models, declared once here: a model
# that holds a frozen tower lists it in its HPARAMS, builds it with
# `build_frozen_tower`, and may define the classmethod
# `requires_correlation_tower(model_hparams) -> bool`
# (yt8m.training.correlation trains one when needed). The help text equals
# the declaration in yt8m/models/cross_modal.py, so the two merge until that
# module imports this one.
CORRELATION_TOWER = HParam(
    "correlation_tower", "submodel", None,
    "A trained CorrelationTower (set by --correlation_tower_dir or "
    "--warm_start=correlation_tower=DIR; train.py trains one when "
    "none is given).")

TOWER_MODELS = ("CorrelationTower", "VideoCorrelationTower")


def build_frozen_tower(spec_dict, name="correlation_tower"):
    """The frozen correlation tower a `correlation_tower` value describes.

    Call it inside the parent model's graph with the parent's inputs
    (`tower(inputs)` -> P(correlated) [B, 1]).

    Raises:
      ValueError: no tower spec (the slot is unset), or not a tower model.
    """
    if not spec_dict:
        raise ValueError(
            "Invalid value for argument `correlation_tower`: expected a "
            "trained CorrelationTower's model_flags.json dict (pass "
            "--correlation_tower_dir=DIR, or let train.py train one). "
            "Received: correlation_tower=None"
        )
    if spec_dict.get("model") not in TOWER_MODELS:
        raise ValueError(
            "Invalid value for argument `correlation_tower`: expected the "
            f"model_flags of one of {list(TOWER_MODELS)}. Received: "
            f"model={spec_dict.get('model')!r}"
        )
    return base.build_submodel(spec_dict, name, trainable=False)


def _check_two_modalities(owner, feature_sizes):
    if len(fusion_lib.modality_sizes(feature_sizes)) != 2:
        raise ValueError(
            f"Invalid value for argument `feature_sizes` of {owner}: "
            "expected an rgb and an audio feature (e.g. "
            "--feature_names=rgb,audio --feature_sizes=1024,128). "
            f"Received: feature_sizes={list(feature_sizes)}"
        )


class _PairHead:
    """Per-modality DNN, combining ReLU layer, sigmoid output (one naming)."""

    def modality_dnn(self, tower, x, hp):
        for i in range(hp.tower_layers):
            x = keras.layers.Dense(
                hp.tower_hidden_size, activation="relu",
                name=f"correlation_{tower}_dense_{i + 1}",
            )(x)
        return x

    def combine(self, towers, hp):
        joined = keras.layers.Concatenate(name="correlation_concat")(towers)
        return keras.layers.Dense(
            hp.tower_hidden_size, activation="relu", name="correlation_combine"
        )(joined)

    def output(self, video):
        return keras.layers.Dense(
            1, activation="sigmoid", name="correlation_output"
        )(video)

    def objective(self, label_loss="CrossEntropyLoss", segment_labels=False):
        """The pair objective (label_loss is not used: eq. (1) is)."""
        if segment_labels:
            raise ValueError(
                f"{type(self).__name__} trains on whole videos: expected "
                "--segment_labels unset. Received: segment_labels=True"
            )
        hp = self.hparams
        return CorrelationObjective(
            rgb_size=self.feature_sizes[0],
            num_classes=self.num_classes,
            negative_weight=hp["negative_weight"],
            negative_ratio=hp["negative_ratio"],
            taxonomy_file=hp["taxonomy_file"],
            tower_negatives=hp["tower_negatives"],
            frame_level=self.frame_level,
            owner=type(self).__name__,
        )


@register_model
class CorrelationTower(_PairHead, base.FrameLevelModel):
    """Frame-level correlation tower: P(rgb and audio belong together).

    Inputs {"video_matrix": [B, T, F] (rgb then audio), "num_frames": [B]};
    output [B, 1]. See the module docstring for the architecture and
    `CorrelationObjective` for the pairs and the loss. The classifier head's
    hyperparameters do not apply (the head is the pair head).
    """

    HPARAMS = TOWER_HPARAMS
    default_fusion = "late"

    @classmethod
    def hparam_declarations(cls):
        merged = super().hparam_declarations()
        head = {h.name for h in base.HEAD_HPARAMS}
        return {k: v for k, v in merged.items() if k not in head}

    def check_hparams(self, hp, feature_sizes):
        _check_two_modalities(type(self).__name__, feature_sizes)

    def split_towers(self, frames, feature_sizes, hp):
        return fusion_lib.split_modalities(frames, feature_sizes)

    def encode_frames(self, tower, frames, mask, hp):
        # Each modality on its own unit sphere (the template normalised the
        # concatenation).
        return L2Normalization(name=f"{tower}_l2_normalize")(frames), mask

    def pool_frames(self, tower, frames, mask, hp):
        pooled = FramePooling("average", name=f"{tower}_mean")(
            frames, mask=mask)
        return self.modality_dnn(tower, pooled, hp)

    def fuse_towers(self, towers, hp):
        return self.combine(towers, hp)

    def classify(self, video, num_classes, hp):
        return self.output(video)


@register_model
class VideoCorrelationTower(_PairHead, base.VideoLevelModel):
    """Video-level correlation tower on `mean_rgb` / `mean_audio`.

    Inputs {"video_matrix": [B, F_rgb + F_audio]}; output [B, 1]. Each
    modality is L2-normalised on its own, then the pair head of
    `CorrelationTower` (same layer names).
    """

    HPARAMS = TOWER_HPARAMS

    def __init__(self, num_classes, feature_sizes, **kwargs):
        hp, keras_kwargs = self.split_arguments(kwargs)
        base.check_positive_int("num_classes", num_classes)
        feature_sizes = base.check_feature_sizes(feature_sizes)
        _check_two_modalities(type(self).__name__, feature_sizes)
        # === Functional Model ===
        inputs = base.video_level_inputs(feature_sizes)
        rgb_size = feature_sizes[0]
        total = sum(feature_sizes)
        towers = []
        for tower, (start, stop) in (("rgb", (0, rgb_size)),
                                     ("audio", (rgb_size, total))):
            x = FeatureSlice(start, stop, name=f"{tower}_slice")(
                inputs["video_matrix"])
            x = L2Normalization(name=f"{tower}_l2_normalize")(x)
            towers.append(self.modality_dnn(tower, x, hp))
        outputs = self.output(self.combine(towers, hp))  # [B, 1]
        # Skip VideoLevelModel.__init__ (its graph): straight to the Model.
        super(base.VideoLevelModel, self).__init__(
            inputs=inputs, outputs=outputs, **keras_kwargs)
        # === Config ===
        self._store_config(num_classes, feature_sizes, None, hp)


# ------------------------------------------------------------ objective ---


def load_top_categories(taxonomy_file, num_classes):
    """[num_classes] int: each class's top-level category id.

    Raises:
      ValueError: the taxonomy has fewer classes than `num_classes`.
    """
    from yt8m.taxonomy import Taxonomy

    taxonomy = Taxonomy.load(taxonomy_file)
    if taxonomy.num_classes < num_classes:
        raise ValueError(
            f"Invalid value for argument `taxonomy_file`: expected a "
            f"taxonomy covering the model's {num_classes} classes. "
            f"Received: {taxonomy_file} with {taxonomy.num_classes} classes"
        )
    return np.asarray(taxonomy.top_category_id_of_class[:num_classes],
                      np.int64)


def category_sets(labels, top_category_of_class=None):
    """Per-video category sets [B, K] (float 0/1) from labels [B, C].

    With `top_category_of_class` ([C] ints): the top-level categories of
    the video's labels (K = number of categories); without: the labels
    themselves (label-disjoint negatives).
    """
    labels = tf.cast(tf.cast(labels, tf.float32) > 0, tf.float32)
    if top_category_of_class is None:
        return labels
    ids = np.asarray(top_category_of_class, np.int64)
    onehot = tf.one_hot(ids, int(ids.max()) + 1, dtype=tf.float32)  # [C, K]
    return tf.cast(tf.matmul(labels, onehot) > 0, tf.float32)


def choose_negatives(categories, negative_ratio, training, seed=None):
    """(negative [B] bool, partner [B] int32) for one batch.

    A candidate pair (i, j) is valid when i != j, both videos have at least
    one category and their category sets are disjoint. Videos chosen to be
    negatives: when training, each independently with probability
    `negative_ratio`; at eval (deterministic), video i when
    floor((i + 1) r) > floor(i r) (evenly spread, floor(B r) of them).
    Partner: when training, uniformly among the valid j; at eval, the first
    valid j after i (cyclically). A chosen video with no valid partner stays
    a positive (`negative` False, `partner` = i).
    """
    cats = tf.cast(categories, tf.float32)
    b = tf.shape(cats)[0]
    index = tf.range(b)
    overlap = tf.matmul(cats, cats, transpose_b=True)  # [B, B]
    has = tf.reduce_sum(cats, axis=-1) > 0
    valid = ((overlap < 0.5) & has[:, None] & has[None, :]
             & tf.not_equal(index[:, None], index[None, :]))
    ratio = float(negative_ratio)
    if training:
        chosen = tf.random.uniform([b], seed=seed) < ratio
        score = tf.random.uniform([b, b], seed=seed)
    else:
        i = tf.cast(index, tf.float64)
        chosen = tf.floor((i + 1) * ratio) > tf.floor(i * ratio)
        ahead = tf.math.floormod(index[None, :] - index[:, None], b)
        score = -tf.cast(ahead, tf.float32)  # nearest after i is largest
    score = tf.where(valid, score, tf.fill(tf.shape(score), -np.inf))
    partner = tf.cast(tf.argmax(score, axis=-1), tf.int32)
    negative = chosen & tf.reduce_any(valid, axis=-1)
    partner = tf.where(negative, partner, index)
    return negative, partner


def make_pairs(batch, rgb_size, top_category_of_class, negative_ratio,
               training, frame_level, seed=None):
    """The batch with its audio swapped for the negatives, and `target`.

    `video_matrix` keeps the rgb of every video; a negative gets its
    partner's audio, and (frame level) `num_frames` = min of the two videos'
    (so neither stream has padding inside the mask). `target` [B, 1] is 1
    for a positive (correlated) pair, 0 for a negative; `partner` [B] is the
    audio's video index.
    """
    categories = category_sets(batch["labels"], top_category_of_class)
    negative, partner = choose_negatives(categories, negative_ratio,
                                         training, seed=seed)
    video = batch["video_matrix"]
    rgb, audio = video[..., :rgb_size], video[..., rgb_size:]
    audio = tf.gather(audio, partner)
    out = dict(batch)
    out["video_matrix"] = tf.concat([rgb, audio], axis=-1)
    if frame_level and "num_frames" in batch:
        num_frames = batch["num_frames"]
        out["num_frames"] = tf.minimum(num_frames,
                                       tf.gather(num_frames, partner))
    out["target"] = tf.cast(~negative, tf.float32)[:, None]
    out["partner"] = partner
    return out


def weighted_cross_entropy(target, probability, negative_weight):
    """Per-example eq. (1), negated, negatives weighted: [B].

    `-w (y log y' + (1 - y) log(1 - y'))`, w = 1 for y = 1 and
    `negative_weight` for y = 0; y' clipped to [1e-7, 1 - 1e-7].
    """
    y = tf.reshape(tf.cast(target, tf.float32), [-1])
    p = tf.clip_by_value(tf.reshape(probability, [-1]), 1e-7, 1.0 - 1e-7)
    weight = y + (1.0 - y) * float(negative_weight)
    return -weight * (y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p))


class CorrelationEvaluator(objectives.BinaryEvaluator):
    """Accuracy, FPR, FNR with the *uncorrelated* pair as the positive class.

    Our reading of the paper's Figure 8 (docs/cross_modal.md): the tower's
    job is "to identify uncorrelated visual and audio features", and with
    negatives up-weighted the paper's FPR (9.6%) is above its FNR (4.1%),
    which fits "positive" = uncorrelated: FPR = correlated pairs called
    uncorrelated / correlated pairs, FNR = uncorrelated pairs called
    correlated / uncorrelated pairs. Up-weighting negatives pushes
    predictions towards "uncorrelated", raising exactly this FPR. (With
    "positive" = correlated the two rates swap.) A pair is called
    uncorrelated when P(correlated) < 0.5.
    """

    def __init__(self, title="CorrelationEval"):
        super().__init__(target_key="target", threshold=0.5, title=title)

    def accumulate(self, batch, predictions):
        correlated = np.asarray(batch["target"]).reshape(-1)
        p = np.asarray(predictions).reshape(-1)
        # BinaryEvaluator calls `>= threshold` positive: 1 - p >= 0.5 would
        # put p = 0.5 on the uncorrelated side; use p < 0.5 exactly.
        uncorrelated_guess = (p < 0.5).astype(np.float32)
        return super().accumulate(
            {"target": 1.0 - correlated}, uncorrelated_guess)

    def result(self):
        result = super().result()
        tp, _, _, fn = (float(c) for c in self.counts)
        total = float(self.counts.sum())
        result.values["uncorrelated_fraction"] = (
            (tp + fn) / total if total else 0.0)
        return result


class CorrelationObjective(objectives.Objective):
    """Pairs in the input pipeline, eq. (1) weighted, accuracy / FPR / FNR.

    * Pairs (`make_pairs`): positives are the rgb and audio of one video;
      a negative is the rgb of one video with the audio of another video of
      the same batch that shares no top-level category with it
      (`tower_negatives="category"`, categories from `taxonomy_file`:
      class -> top-level id, then per-video sets from `labels`), or no label
      (`"labels"`). About `negative_ratio` of the videos become negatives;
      random when training, deterministic at eval (`choose_negatives`). A
      video with no valid partner in its batch (or without labels) stays a
      positive, so the realised fraction can be below the ratio (eval.py
      reports it as `uncorrelated_fraction`).
    * Loss: `weighted_cross_entropy` per example; the loop divides the sum
      by the batch size (not by the sum of the weights), like Keras's
      `sample_weight` with "sum_over_batch_size": the negative weight then
      changes both the class balance and the loss scale.
    * Metrics: `CorrelationEvaluator` (training log: Acc, FPR, FNR).
    """

    name = "correlation"
    metric_keys = ("target",)
    display = {
        "accuracy": ("Acc", "model/Training_Accuracy"),
        "fpr": ("FPR", "model/Training_FPR"),
        "fnr": ("FNR", "model/Training_FNR"),
    }

    def __init__(self, rgb_size, num_classes, negative_weight=2.0,
                 negative_ratio=0.5, taxonomy_file=None,
                 tower_negatives="category", frame_level=True,
                 owner="CorrelationTower"):
        if tower_negatives not in NEGATIVE_MODES:
            raise ValueError(
                f"Invalid value for argument `tower_negatives` of {owner}: "
                f"expected one of {list(NEGATIVE_MODES)}. Received: "
                f"tower_negatives={tower_negatives!r}"
            )
        self.top_category_of_class = None
        if tower_negatives == "category":
            if not taxonomy_file:
                raise ValueError(
                    f"{owner}: negatives by top-level category need a "
                    "taxonomy: expected --taxonomy_file=PATH (vocabulary.csv "
                    "or an Index,Name,Path taxonomy), or "
                    "--tower_negatives=labels for label-disjoint negatives. "
                    "Received: taxonomy_file=None"
                )
            self.top_category_of_class = load_top_categories(
                taxonomy_file, num_classes)
        self.rgb_size = int(rgb_size)
        self.negative_weight = float(negative_weight)
        self.negative_ratio = float(negative_ratio)
        self.frame_level = bool(frame_level)

    def prepare_dataset(self, dataset, training):
        def pairs(batch):
            return make_pairs(batch, self.rgb_size,
                              self.top_category_of_class,
                              self.negative_ratio, training,
                              self.frame_level)

        return dataset.map(pairs)

    def per_example_loss(self, batch, predictions):
        return weighted_cross_entropy(batch["target"], predictions,
                                      self.negative_weight)

    def training_metrics(self, batch, predictions):
        rates = CorrelationEvaluator().accumulate(batch, predictions)
        return {k: rates[k] for k in ("accuracy", "fpr", "fnr")}

    def evaluator(self, num_classes, top_k=20, taxonomy=None):
        return CorrelationEvaluator()
