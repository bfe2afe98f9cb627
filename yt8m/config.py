"""Plain run configuration and the `train_dir/model_flags.json` contract.

The binaries turn absl flags into these dataclasses; library code only ever
sees the dataclasses. `model_flags.json` keeps the five upstream keys first
(`model`, `feature_sizes`, `feature_names`, `frame_features`, `label_loss`,
in upstream order and with upstream value types: comma strings and a bool),
then the extra keys eval/inference need to rebuild the exact model without
repeating flags.
"""

import dataclasses
import json
import os

from yt8m.files import atomic_write_text  # noqa: F401  (re-exported)
from yt8m.readers.features import get_list_of_feature_names_and_sizes

MODEL_FLAGS_FILE = "model_flags.json"

# The keys upstream train.py writes, in its order.
UPSTREAM_KEYS = (
    "model",
    "feature_sizes",
    "feature_names",
    "frame_features",
    "label_loss",
)


@dataclasses.dataclass
class ModelSpec:
    """What is needed to rebuild a model and its reader."""

    model: str = "LogisticModel"
    feature_names: list = dataclasses.field(default_factory=lambda: ["mean_rgb"])
    feature_sizes: list = dataclasses.field(default_factory=lambda: [1024])
    frame_features: bool = False
    label_loss: str = "CrossEntropyLoss"
    num_classes: int = 3862
    max_frames: int = 300
    model_hparams: dict = dataclasses.field(default_factory=dict)
    # Modules that register user models (`--model_modules`).
    model_modules: list = dataclasses.field(default_factory=list)
    # Where this spec was read from, for messages only.
    source: str = dataclasses.field(default=None, compare=False, repr=False)

    def to_model_flags(self):
        """The `model_flags.json` dict: upstream keys first, then ours."""
        flags = {
            "model": self.model,
            "feature_sizes": ",".join(str(s) for s in self.feature_sizes),
            "feature_names": ",".join(self.feature_names),
            "frame_features": bool(self.frame_features),
            "label_loss": self.label_loss,
            "num_classes": int(self.num_classes),
            "max_frames": int(self.max_frames),
            "model_config": dict(self.model_hparams),
        }
        if self.model_modules:
            flags["model_modules"] = list(self.model_modules)
        return flags

    def import_model_modules(self):
        """Imports `model_modules` so that their models are registered."""
        import importlib

        for name in self.model_modules:
            try:
                importlib.import_module(name)
            except ImportError as e:
                raise ImportError(
                    f"{self.source or MODEL_FLAGS_FILE} names model module "
                    f"{name!r} (model_modules), which cannot be imported: "
                    f"{e}. Run from the directory that holds it, or add it "
                    "to PYTHONPATH."
                ) from e

    @classmethod
    def from_model_flags(cls, flags):
        """Reads a `model_flags.json` dict (ours, or an upstream one)."""
        missing = [k for k in ("model", "feature_sizes", "feature_names",
                               "frame_features") if k not in flags]
        if missing:
            raise ValueError(
                f"{MODEL_FLAGS_FILE} is missing keys {missing}; "
                f"found keys {sorted(flags)}."
            )
        names, sizes = get_list_of_feature_names_and_sizes(
            flags["feature_names"], flags["feature_sizes"]
        )
        return cls(
            model=flags["model"],
            feature_names=names,
            feature_sizes=sizes,
            frame_features=bool(flags["frame_features"]),
            label_loss=flags.get("label_loss", "CrossEntropyLoss"),
            num_classes=int(flags.get("num_classes", 3862)),
            max_frames=int(flags.get("max_frames", 300)),
            model_hparams=dict(flags.get("model_config", {})),
            model_modules=list(flags.get("model_modules", [])),
        )


def model_flags_path(train_dir):
    return os.path.join(train_dir, MODEL_FLAGS_FILE)


def write_model_flags(train_dir, spec):
    atomic_write_text(
        model_flags_path(train_dir),
        json.dumps(spec.to_model_flags(), indent=2) + "\n",
    )


def read_model_flags(train_dir):
    """Reads `train_dir/model_flags.json` into a `ModelSpec`."""
    path = model_flags_path(train_dir)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Cannot find file {path}. Did you run train.py on the same "
            "--train_dir?"
        )
    with open(path, encoding="utf-8") as f:
        try:
            flags = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from e
    spec = ModelSpec.from_model_flags(flags)
    spec.source = path
    spec.import_model_modules()
    return spec


def check_model_flags(train_dir, spec):
    """Refuses a `train_dir` whose model_flags.json differs from `spec`.

    Mirrors upstream train.py: training continues in an existing train_dir
    only with the same model flags, unless --start_new_model is given.
    Returns True when a model_flags.json exists and matches.
    """
    path = model_flags_path(train_dir)
    if not os.path.exists(path):
        return False
    existing = read_model_flags(train_dir).to_model_flags()
    wanted = spec.to_model_flags()
    diffs = {
        k: (existing.get(k), wanted.get(k))
        for k in set(existing) | set(wanted)
        if existing.get(k) != wanted.get(k)
    }
    if diffs:
        lines = "\n".join(
            f"  {k}: stored {old!r}, requested {new!r}"
            for k, (old, new) in sorted(diffs.items())
        )
        raise ValueError(
            f"Model flags in {path} do not match the current flags:\n{lines}\n"
            "Use --start_new_model to discard the existing train_dir, or "
            "choose another --train_dir."
        )
    return True


@dataclasses.dataclass
class TrainConfig:
    """Everything `yt8m.training.loop.train` needs."""

    train_dir: str
    train_data_pattern: str
    spec: ModelSpec
    segment_labels: bool = False
    batch_size: int = 1024
    num_epochs: int = 5
    max_steps: int = None
    regularization_penalty: float = 1.0
    base_learning_rate: float = 0.01
    learning_rate_decay: float = 0.95
    learning_rate_decay_examples: float = 4000000
    optimizer: str = "AdamOptimizer"
    clip_gradient_norm: float = 1.0
    batch_norm_momentum: float = None
    num_readers: int = 8
    start_new_model: bool = False
    max_to_keep: int = 5
    save_checkpoint_steps: int = 1000
    save_checkpoint_secs: float = 900.0
    export_model_steps: int = 0
    log_every_steps: int = 10
    shuffle_seed: int = None
    skip_bad_records: bool = False
    devices: list = None
    num_gpu: int = 1
    progress_bar: bool = None
    top_k: int = 20
    # {submodel slot: train_dir or .keras file} (yt8m.training.warm_start).
    warm_start: dict = dataclasses.field(default_factory=dict)
    # Keras dtype policy of the trained model (yt8m.training.precision).
    mixed_precision: str = "float32"
    # XLA-compile each replica's forward and backward pass.
    jit_compile: bool = False
    # Recompute the Transformer blocks' and bidirectional RNNs' activations
    # in the backward pass instead of storing them (yt8m.layers.remat).
    remat: bool = False
    # Accumulate each replica's gradient over micro-batches of at most this
    # many examples, one at a time (0: the whole batch at once;
    # yt8m.training.microbatch).
    microbatch_size: int = 0


@dataclasses.dataclass
class EvalConfig:
    train_dir: str
    eval_data_pattern: str
    segment_labels: bool = False
    batch_size: int = 1024
    num_readers: int = 8
    run_once: bool = False
    top_k: int = 20
    eval_interval_secs: float = 60.0
    eval_timeout_secs: float = None
    skip_bad_records: bool = False
    taxonomy_file: str = None
    report_dir: str = None
    checkpoint: str = None
    # Every class's score per video (yt8m.evaluation.predictions).
    predictions_file: str = None


@dataclasses.dataclass
class InferenceConfig:
    input_data_pattern: str
    output_file: str
    train_dir: str = ""
    input_model_tgz: str = ""
    untar_model_dir: str = "/tmp/yt8m-model"
    output_model_tgz: str = ""
    segment_labels: bool = False
    segment_max_pred: int = 100000
    segment_label_ids_file: str = None
    top_k: int = 20
    batch_size: int = 512
    num_readers: int = 1
    skip_bad_records: bool = False
    # Every class's score per video (yt8m.evaluation.predictions).
    predictions_file: str = None
