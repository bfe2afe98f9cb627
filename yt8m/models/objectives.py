"""Training objectives: what a model is trained and evaluated on.

`YT8MModel.objective(label_loss, segment_labels)` returns one of these; the
training loop, eval.py and the logs use only this interface, so a model can
own its target (e.g. "do this rgb and this audio come from the same video?",
built from the batch in the input pipeline), its loss and its metrics.

An `Objective` provides:

* `prepare_dataset(dataset, training)`: a `tf.data` transformation of the
  reader's batches (dicts) that adds the model's target (default: none);
* `per_example_loss(batch, predictions)`: float32 [B], averaged over the
  global batch by the loop;
* `metric_keys`: the batch entries `training_metrics` needs on the host;
* `training_metrics(batch, predictions)`: {key: float} for the training
  log line and TensorBoard (`display` names them);
* `evaluator(num_classes, top_k, taxonomy)`: an accumulator with
  `accumulate(batch, predictions) -> {key: float}` (numpy inputs) and
  `result()`, whose result has `num_examples`, `log_line(step)`,
  `epoch_summaries(scope)` and `write_json(path)`.

`LabelObjective` is the default: the label loss (`--label_loss`), weighted
by `label_weights` in segment mode, with the upstream Hit@1 / PERR / GAP
training metrics and the full label evaluation (`yt8m.metrics`).
"""

import json

import numpy as np

from yt8m import losses as losses_lib
from yt8m import metrics


class Objective:
    """Base class; see the module docstring."""

    name = "objective"
    metric_keys = ()
    # key -> (log name, TensorBoard tag); missing keys use the key itself.
    display = {}

    def prepare_dataset(self, dataset, training):
        return dataset

    def per_example_loss(self, batch, predictions):
        raise NotImplementedError

    def training_metrics(self, batch, predictions):
        return {}

    def evaluator(self, num_classes, top_k=20, taxonomy=None):
        raise NotImplementedError

    def log_name(self, key):
        return self.display.get(key, (key, None))[0]

    def summary_tag(self, key):
        tag = self.display.get(key, (None, None))[1]
        return tag or f"model/Training_{key}"


class LabelObjective(Objective):
    """The label loss on `batch["labels"]` (the default objective)."""

    name = "labels"
    metric_keys = ("labels",)
    display = {
        "hit_at_one": ("Hit@1", "model/Training_Hit@1"),
        "perr": ("PERR", "model/Training_Perr"),
        "gap": ("GAP", "model/Training_GAP"),
    }

    def __init__(self, label_loss="CrossEntropyLoss", segment_labels=False,
                 top_k=20):
        self.label_loss = label_loss
        self.loss_fn = losses_lib.get_loss(label_loss)
        self.segment_labels = bool(segment_labels)
        self.top_k = top_k

    def per_example_loss(self, batch, predictions):
        weights = batch.get("label_weights") if self.segment_labels else None
        return self.loss_fn(batch["labels"], predictions,
                            label_weights=weights)

    def training_metrics(self, batch, predictions):
        labels = batch["labels"]
        return {
            "hit_at_one": metrics.calculate_hit_at_one(predictions, labels),
            "perr": metrics.calculate_precision_at_equal_recall_rate(
                predictions, labels
            ),
            "gap": metrics.calculate_gap(predictions, labels,
                                         top_k=self.top_k),
        }

    def evaluator(self, num_classes, top_k=20, taxonomy=None):
        return LabelEvaluator(self, num_classes, top_k, taxonomy)


class LabelEvaluator:
    """GAP@k, MAP, PERR, Hit@1 (and hierarchy views) over eval batches.

    In segment mode the unrated (segment, class) pairs score 0, as
    upstream: predictions are multiplied by `label_weights` first.
    """

    def __init__(self, objective, num_classes, top_k=20, taxonomy=None):
        self.objective = objective
        self.calculator = metrics.EvaluationMetrics(
            num_classes, top_k=top_k, taxonomy=taxonomy
        )

    @property
    def num_examples(self):
        return self.calculator.num_examples

    def accumulate(self, batch, predictions):
        labels = np.asarray(batch["labels"])
        weights = None
        if self.objective.segment_labels:
            weights = np.asarray(batch["label_weights"])
            predictions = predictions * weights
        loss = float(np.mean(self.objective.loss_fn(
            labels, predictions, label_weights=weights
        )))
        batch_metrics = self.calculator.accumulate(predictions, labels, loss)
        return {"hit_at_one": batch_metrics["hit_at_one"],
                "perr": batch_metrics["perr"], "loss": loss}

    def result(self):
        return self.calculator.get()


class ScalarResult:
    """An evaluation result made of named scalars (custom objectives)."""

    def __init__(self, values, num_examples, title="Eval"):
        self.values = {k: float(v) for k, v in values.items()}
        self.num_examples = int(num_examples)
        self.title = title

    def log_line(self, step):
        parts = " ".join(f"{k}: {v:.4f}" for k, v in self.values.items())
        return (f"{self.title} at step {step} | {parts} | "
                f"num_examples: {self.num_examples}")

    def epoch_summaries(self, scope="Eval"):
        return {f"Epoch/{scope}_{k}": v for k, v in self.values.items()}

    def to_dict(self):
        return {**self.values, "num_examples": self.num_examples}

    def write_json(self, path):
        from yt8m import config as config_lib

        config_lib.atomic_write_text(
            path, json.dumps(self.to_dict(), indent=2) + "\n"
        )


class BinaryEvaluator:
    """Accuracy, FPR and FNR of a [B, 1] probability against a 0/1 target.

    For objectives whose target is "positive pair or not" (`target_key` in
    the batch). Threshold 0.5.
    """

    def __init__(self, target_key="target", threshold=0.5, title="Eval"):
        self.target_key = target_key
        self.threshold = threshold
        self.title = title
        self.counts = np.zeros(4, np.int64)  # tp, fp, tn, fn

    @property
    def num_examples(self):
        return int(self.counts.sum())

    def accumulate(self, batch, predictions):
        target = np.asarray(batch[self.target_key]).reshape(-1) > 0.5
        guess = np.asarray(predictions).reshape(-1) >= self.threshold
        counts = np.array([
            np.sum(guess & target), np.sum(guess & ~target),
            np.sum(~guess & ~target), np.sum(~guess & target),
        ])
        self.counts += counts
        return binary_rates(counts)

    def result(self):
        return ScalarResult(binary_rates(self.counts), self.num_examples,
                            self.title)


def binary_rates(counts):
    """{accuracy, fpr, fnr} from (tp, fp, tn, fn) counts."""
    tp, fp, tn, fn = (float(c) for c in counts)
    total = tp + fp + tn + fn
    return {
        "accuracy": (tp + tn) / total if total else 0.0,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "fnr": fn / (fn + tp) if fn + tp else 0.0,
    }
