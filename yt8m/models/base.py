"""Shared pieces of every registered model: the model shape.

`YT8MModel` is the keras-hub functional-subclass base: a subclass builds its
graph in `__init__`, calls `super().__init__(inputs=..., outputs=...)`, and
then `self._store_config(...)`. Its hyperparameters are declared once, in
the class attribute `HPARAMS` (`yt8m.hparams.HParam`, inherited along the
MRO), and passed as keyword arguments; `get_config()` returns the resolved
values, and `from_config` is `cls(**config)`. An undeclared keyword (a stale
or renamed key of a model_flags.json) is refused, naming the key.

Three hooks let a model be more than "frames in, label probabilities out"
(docs/architecture.md):

* `objective(label_loss, segment_labels)`: what the model is trained on
  (its own target built from the batch, loss and metrics); default: the
  label loss (`yt8m.models.objectives.LabelObjective`).
* auxiliary losses: a layer with an `auxiliary_loss_name` attribute adds
  named losses, logged on their own and added to the total loss unscaled
  (not folded into `--regularization_penalty`).
* sub-models: an `HParam` of kind "submodel" holds a nested model's
  model_flags.json dict; `build_submodel` builds it inside this model and
  `yt8m.training.warm_start` initialises it from another train_dir.

`FrameLevelModel` is the template of the frame-level families: inputs ->
L2-normalised frames and mask -> `prepare_frames` -> per tower
(`towers_inputs`: one over [rgb; audio] or one per modality)
`encode_frames` -> `refine_frames` -> `pool_frames` (or `pool_towers`,
jointly) -> `fuse_towers` ->
`embed` -> `classify` (the head, declared once). A family overrides the
stages it has; an inserted stage (e.g. temporal coherence) is a mixin that
overrides one hook and calls `super()`.
"""

import keras

from yt8m import hparams as hparams_lib
from yt8m.classifiers import HEAD_HPARAMS
from yt8m.classifiers import build_classifier
from yt8m.layers.frame_mask import FrameMask
from yt8m.layers.layer_utils import check_bool  # noqa: F401 (re-export)
from yt8m.layers.layer_utils import check_choice  # noqa: F401
from yt8m.layers.layer_utils import check_positive_int
from yt8m.layers.l2_normalization import L2Normalization
from yt8m.models import fusion as fusion_lib

# Constructor arguments that are not hyperparameters.
STRUCTURAL_ARGUMENTS = ("num_classes", "feature_sizes", "max_frames")
# Keras arguments a model constructor passes on to keras.Model.
KERAS_ARGUMENTS = ("name", "trainable", "dtype")


def hparam_declarations(cls):
    """{name: HParam} of model class `cls` (its MRO's `HPARAMS`)."""
    return cls.hparam_declarations()


def hparam_names(cls):
    """The declared hyperparameter names of model class `cls`."""
    return list(cls.hparam_declarations())


# ----------------------------------------------------------------- checks ---


def check_feature_sizes(feature_sizes):
    """Returns `feature_sizes` as a list of positive ints."""
    if isinstance(feature_sizes, int):
        feature_sizes = [feature_sizes]
    try:
        sizes = list(feature_sizes)
    except TypeError:
        sizes = None
    if not sizes or any(
        isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sizes
    ):
        raise ValueError(
            "Invalid value for argument `feature_sizes`: expected a non-empty "
            "list of positive integers. "
            f"Received: feature_sizes={feature_sizes!r}"
        )
    return sizes


def check_max_frames(max_frames):
    if max_frames is not None:
        check_positive_int("max_frames", max_frames)
    return max_frames


def check_frame_level_arguments(num_classes, feature_sizes, max_frames):
    """Checks the structural arguments of a frame-level model.

    Returns `feature_sizes` as a list of positive ints.
    """
    check_positive_int("num_classes", num_classes)
    feature_sizes = check_feature_sizes(feature_sizes)
    check_max_frames(max_frames)
    return feature_sizes


# ----------------------------------------------------------------- inputs ---


def video_level_inputs(feature_sizes):
    """{"video_matrix": Input [B, sum(feature_sizes)]}."""
    return {
        "video_matrix": keras.Input(
            (sum(feature_sizes),), dtype="float32", name="video_matrix"
        )
    }


def frame_level_inputs(feature_sizes, max_frames):
    """{"video_matrix": Input [B, T, F], "num_frames": Input [B] int32}."""
    return {
        "video_matrix": keras.Input(
            (max_frames, sum(feature_sizes)),
            dtype="float32",
            name="video_matrix",
        ),
        "num_frames": keras.Input((), dtype="int32", name="num_frames"),
    }


def normalized_frames(inputs):
    """L2-normalised frames [B, T, F] and the valid-frame mask [B, T].

    The first op of every frame-level model (see docs/decisions.md).
    """
    frames = L2Normalization(name="l2_normalize")(inputs["video_matrix"])
    mask = FrameMask(name="frame_mask")(frames, inputs["num_frames"])
    return frames, mask


def video_level_classifier(model_name, num_classes, **hparams):
    """The `--video_level_classifier_model` head, from CLI-named hparams."""
    return build_classifier(model_name, num_classes, **hparams)


def classifier_head(hp, num_classes):
    """The head layer from a namespace holding `HEAD_HPARAMS` (the one
    place a model's head is built from its hyperparameters)."""
    return video_level_classifier(
        hp.video_level_classifier_model,
        num_classes,
        moe_num_mixtures=hp.moe_num_mixtures,
        moe_l2=hp.moe_l2,
        l2_penalty=hp.l2_penalty,
    )


def select_model_inputs(model, batch):
    """The entries of a reader batch dict that `model` takes as inputs."""
    return {name: batch[name] for name in model.input}


# ------------------------------------------------------------------ model ---


class YT8MModel(keras.Model):
    """Base of every registered model (functional subclass).

    Class attributes:
      frame_level: True for models taking `{"video_matrix": [B, T, F],
        "num_frames": [B]}`, False for `{"video_matrix": [B, F]}`.
      HPARAMS: this class's own `HParam` declarations (inherited ones are
        added by `hparam_declarations`).

    Output: probabilities [B, C] (a model with its own objective may output
    another [B, K] score, see `objective`).
    """

    frame_level = False
    HPARAMS = ()

    @classmethod
    def hparam_declarations(cls):
        """{name: HParam} along the MRO, most derived class first."""
        groups = [klass.__dict__.get("HPARAMS", ()) for klass in cls.__mro__]
        return hparams_lib.merge(groups, owner=cls.__name__)

    @classmethod
    def split_arguments(cls, kwargs):
        """(resolved hparams namespace, Keras kwargs) from `**kwargs`.

        Raises:
          ValueError: an argument that is neither a declared hyperparameter
            nor a Keras model argument, or a bad hyperparameter value.
        """
        keras_kwargs = {
            k: kwargs.pop(k) for k in list(kwargs) if k in KERAS_ARGUMENTS
        }
        hp = hparams_lib.resolve(
            cls.hparam_declarations(), kwargs, owner=cls.__name__
        )
        return hp, keras_kwargs

    def _store_config(self, num_classes, feature_sizes, max_frames, hp):
        self.num_classes = num_classes
        self.feature_sizes = [int(v) for v in feature_sizes]
        self.max_frames = max_frames
        # Only declared names: a stage may note derived values on `hp`.
        declarations = self.hparam_declarations()
        self.hparams = {name: getattr(hp, name) for name in declarations}
        for name, hparam in declarations.items():
            if hparam.kind != "submodel":  # e.g. `model.fusion`
                setattr(self, name, self.hparams[name])

    def get_config(self):
        # Don't chain to super: the functional config is a nested layer graph
        # that cannot be passed to our constructors.
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "feature_sizes": list(self.feature_sizes),
        }
        if self.frame_level:
            config["max_frames"] = self.max_frames
        config.update(self.hparams)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------------------- hooks ---

    def objective(self, label_loss="CrossEntropyLoss", segment_labels=False):
        """What this model is trained and evaluated on.

        Returns an `yt8m.models.objectives.Objective`; the default trains on
        the labels with `label_loss` (weighted by `label_weights` in segment
        mode). Override to build another target from the batch.
        """
        from yt8m.models import objectives

        return objectives.LabelObjective(label_loss, segment_labels)

    def auxiliary_loss_layers(self):
        """Layers that add named auxiliary losses (`auxiliary_loss_name`)."""
        return [
            layer
            for layer in self._flatten_layers(include_self=False)
            if getattr(layer, "auxiliary_loss_name", None)
        ]

    def split_losses(self):
        """(regularization losses, {name: auxiliary loss}) of the last call.

        `model.losses` holds both the weight regularizers and the losses
        layers add in `call`; auxiliary ones are told apart by their layer.
        """
        auxiliary = {}
        taken = []
        for layer in self.auxiliary_loss_layers():
            losses = layer.losses
            if losses:
                name = layer.auxiliary_loss_name
                total = losses[0]
                for loss in losses[1:]:
                    total = total + loss
                auxiliary[name] = auxiliary.get(name, 0.0) + total
                taken.extend(losses)
        regularization = [
            loss for loss in self.losses
            if not any(loss is other for other in taken)
        ]
        return regularization, auxiliary

    def submodels(self):
        """{slot name: nested model} for every "submodel" hyperparameter set."""
        out = {}
        for name, hparam in self.hparam_declarations().items():
            if hparam.kind == "submodel" and self.hparams.get(name):
                out[name] = self.get_layer(name)
        return out


def build_submodel(spec_dict, name, trainable):
    """The nested model described by a model_flags.json dict.

    Args:
      spec_dict: the sub-model's model_flags.json content (the value of a
        "submodel" hyperparameter).
      name: its layer name in the parent (the hyperparameter's name), so
        `parent.get_layer(name)` finds it for warm start.
      trainable: False freezes it (its batch norm then runs in inference
        mode, and its weights are not in `trainable_variables`).
    """
    from yt8m import config as config_lib
    from yt8m.models import build_model

    spec = config_lib.ModelSpec.from_model_flags(spec_dict)
    model = build_model(
        spec.model,
        num_classes=spec.num_classes,
        feature_sizes=spec.feature_sizes,
        max_frames=spec.max_frames,
        name=name,
        **spec.model_hparams,
    )
    model.trainable = bool(trainable)
    return model


class VideoLevelModel(YT8MModel):
    """Template of the video-level models: L2-normalised input ->
    `embed_features` (identity by default) -> classify.

    Inputs: {"video_matrix": [B, sum(feature_sizes)]}.
    Returns: probabilities [B, C].
    """

    frame_level = False

    def __init__(self, num_classes, feature_sizes, **kwargs):
        hp, keras_kwargs = self.split_arguments(kwargs)
        check_positive_int("num_classes", num_classes)
        feature_sizes = check_feature_sizes(feature_sizes)
        hp.num_classes = num_classes  # for stages that size by C
        # === Functional Model ===
        inputs = video_level_inputs(feature_sizes)
        x = L2Normalization(name="l2_normalize")(inputs["video_matrix"])
        x = self.embed_features(x, feature_sizes, hp)  # [B, D]
        outputs = self.classify(x, num_classes, hp)  # [B, C]
        super().__init__(inputs=inputs, outputs=outputs, **keras_kwargs)
        # === Config ===
        self._store_config(num_classes, feature_sizes, None, hp)

    def embed_features(self, video, feature_sizes, hp):
        """L2-normalised features [B, sum(feature_sizes)] -> the head's
        input; default identity (e.g. MFBVideoModel fuses the modalities)."""
        return video

    def classify(self, video, num_classes, hp):
        raise NotImplementedError(f"{type(self).__name__}.classify")


class FrameLevelModel(YT8MModel):
    """Template of the frame-level families (see the module docstring).

    Subclasses declare `HPARAMS` and override the stages they have; the
    head's hyperparameters (`HEAD_HPARAMS`) are declared here once.

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    frame_level = True
    HPARAMS = HEAD_HPARAMS
    # Default of `fusion` when the hparam is None (families that have it).
    default_fusion = "early"

    def __init__(self, num_classes, feature_sizes, max_frames=300, **kwargs):
        hp, keras_kwargs = self.split_arguments(kwargs)
        feature_sizes = check_frame_level_arguments(
            num_classes, feature_sizes, max_frames
        )
        hp.num_classes = num_classes  # for stages that size by C
        if hasattr(hp, "fusion"):
            if hp.fusion is None:
                hp.fusion = self.default_fusion
            fusion_lib.check_fusion(hp.fusion)
        self.check_hparams(hp, feature_sizes)
        # === Functional Model ===
        inputs = frame_level_inputs(feature_sizes, max_frames)
        frames, mask = normalized_frames(inputs)  # [B, T, F], [B, T]
        frames, mask = self.prepare_frames(frames, mask, inputs, hp)
        encoded = []
        for tower, x in self.split_towers(frames, feature_sizes, hp):
            x, tower_mask = self.encode_frames(tower, x, mask, hp)
            x = self.refine_frames(tower, x, tower_mask, hp)
            encoded.append((tower, x, tower_mask))
        towers = self.pool_towers(encoded, inputs, hp)  # [[B, D_m]]
        video = self.fuse_towers(towers, hp)  # [B, D]
        video = self.embed(video, inputs, hp)  # [B, D']
        outputs = self.classify(video, num_classes, hp)  # [B, C]
        super().__init__(inputs=inputs, outputs=outputs, **keras_kwargs)
        # === Config ===
        self._store_config(num_classes, feature_sizes, max_frames, hp)

    # Stages. Each returns Keras tensors; defaults are identities.

    def check_hparams(self, hp, feature_sizes):
        """Cross-hyperparameter checks (single values are checked by HParam)."""

    def prepare_frames(self, frames, mask, inputs, hp):
        """All frames [B, T, F] before the tower split -> (frames, mask)."""
        return frames, mask

    def split_towers(self, frames, feature_sizes, hp):
        """[(tower name, frames)]: one "all" tower (early fusion) or one per
        modality ("rgb", "audio"; late fusion), per `fusion`."""
        fusion = getattr(hp, "fusion", None) or self.default_fusion
        return fusion_lib.towers_inputs(frames, feature_sizes, fusion)

    def encode_frames(self, tower, frames, mask, hp):
        """Per-tower frame encoder [B, T, D] -> (frames [B, T', D'], mask)."""
        return frames, mask

    def refine_frames(self, tower, frames, mask, hp):
        """A per-frame stage between the encoder and the pooling."""
        return frames

    def pool_towers(self, encoded, inputs, hp):
        """[(tower, frames, mask)] -> [vector per tower]; default: each
        tower's `pool_frames`. Cross-modal models pool the towers jointly."""
        return [self.pool_frames(t, x, m, hp) for t, x, m in encoded]

    def pool_frames(self, tower, frames, mask, hp):
        """Frames -> one vector per video [B, D]."""
        raise NotImplementedError(f"{type(self).__name__}.pool_frames")

    def fuse_towers(self, towers, hp):
        """Tower vectors -> one video vector; default: the late-fusion DNN
        (`late_fusion_hidden_size`) for several towers, identity for one."""
        return fusion_lib.late_fusion_dnn(
            towers, getattr(hp, "late_fusion_hidden_size", None)
        )

    def embed(self, video, inputs, hp):
        """Video vector -> the classifier's input (hidden layers, gating).

        `inputs` are the model's input tensors, for a stage that needs the
        raw features (e.g. a nested sub-model)."""
        return video

    def classify(self, video, num_classes, hp):
        """The `video_level_classifier_model` head -> probabilities [B, C]."""
        return classifier_head(hp, num_classes)(video)
