"""The result of an evaluation epoch and its renderings.

Renders to upstream's eval log line, a JSON file (everything the visual
report needs), a per-class AP CSV and a per-level / per-category table.
All file writes are atomic (`yt8m.files.atomic_write`).
"""

import csv
import dataclasses
import io
import json
import math
import os

import numpy as np

from yt8m.files import atomic_write

_JSON_VERSION = 1


def _clean(value):
    """JSON-safe copy: NaN/inf -> None, numpy -> python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _class_names(vocabulary, num_classes):
    """Names from a Taxonomy, a sequence, a dict, or a CSV path."""
    if vocabulary is None:
        return None
    if isinstance(vocabulary, (str, os.PathLike)):
        from yt8m.taxonomy import Taxonomy

        vocabulary = Taxonomy.load(vocabulary)
    if hasattr(vocabulary, "class_names"):
        vocabulary = vocabulary.class_names
    if isinstance(vocabulary, dict):
        return [str(vocabulary.get(i, "")) for i in range(num_classes)]
    names = [str(n) for n in vocabulary]
    return names + [""] * (num_classes - len(names))


@dataclasses.dataclass
class EvaluationResult:
    """Epoch metrics.

    Attributes:
      hit_at_one, perr, gap: upstream's Avg_Hit@1, Avg_PERR, GAP@top_k.
      map: mean AP over classes with positives (upstream eval.py).
      map_all_classes: sum of APs / num_classes (Model Garden's MAP).
      avg_loss: mean batch loss weighted by batch size.
      num_examples: videos evaluated.
      num_classes_evaluated: classes with positives (upstream num_classes).
      per_class_ap: [C] AP per class, NaN for classes without positives.
      num_positives: [C] sum of labels per class.
      top_k: predictions per video in GAP and MAP.
      pr_curve: {"rank", "precision", "recall"} samples of the pooled
        ranking behind GAP.
      levels, categories: lists of dicts (name, num_examples, num_classes,
        num_classes_evaluated, hit_at_one, perr, gap, map, map_all_classes,
        node_names, node_ap) when a taxonomy was given.
      class_names: [C] names, when known.
    """

    hit_at_one: float
    perr: float
    gap: float
    map: float
    map_all_classes: float
    avg_loss: float
    num_examples: int
    num_classes_evaluated: int
    per_class_ap: np.ndarray
    num_positives: np.ndarray = None
    top_k: int = 20
    pr_curve: dict = None
    levels: list = dataclasses.field(default_factory=list)
    categories: list = dataclasses.field(default_factory=list)
    class_names: list = None

    @property
    def num_classes(self):
        return len(self.per_class_ap)

    def log_line(self, epoch_or_step):
        """Upstream's `utils.AddEpochSummary` line, format string included."""
        return (
            "epoch/eval number {0} | Avg_Hit@1: {1:.3f} | Avg_PERR: {2:.3f} "
            "| MAP: {3:.3f} | GAP: {4:.3f} | Avg_Loss: {5:3f} | "
            "num_classes: {6}"
        ).format(
            epoch_or_step,
            self.hit_at_one,
            self.perr,
            self.map,
            self.gap,
            self.avg_loss,
            self.num_classes_evaluated,
        )

    def summary(self):
        """The scalar metrics as a dict (TensorBoard / JSON friendly)."""
        return {
            "hit_at_one": float(self.hit_at_one),
            "perr": float(self.perr),
            "gap": float(self.gap),
            "map": float(self.map),
            "map_all_classes": float(self.map_all_classes),
            "avg_loss": float(self.avg_loss),
            "num_examples": int(self.num_examples),
            "num_classes_evaluated": int(self.num_classes_evaluated),
            "top_k": int(self.top_k),
        }

    def epoch_summaries(self, summary_scope="Eval"):
        """Upstream's TensorBoard epoch scalars: {tag: value}.

        Tags as `utils.AddEpochSummary`: `Epoch/<scope>_Avg_Hit@1`,
        `_Avg_Perr`, `_Avg_Loss`, `_MAP`, `_GAP` (scope "SegEval" in
        segment mode).
        """
        prefix = f"Epoch/{summary_scope}_"
        return {
            prefix + "Avg_Hit@1": float(self.hit_at_one),
            prefix + "Avg_Perr": float(self.perr),
            prefix + "Avg_Loss": float(self.avg_loss),
            prefix + "MAP": float(self.map),
            prefix + "GAP": float(self.gap),
        }

    def to_dict(self):
        """Everything, JSON-safe (NaN becomes null)."""
        out = self.summary()
        out["version"] = _JSON_VERSION
        out["per_class_ap"] = self.per_class_ap
        out["num_positives"] = self.num_positives
        out["pr_curve"] = self.pr_curve
        out["levels"] = self.levels
        out["categories"] = self.categories
        out["class_names"] = self.class_names
        return _clean(out)

    @classmethod
    def from_dict(cls, data):
        """Inverse of `to_dict`."""

        def array(values):
            if values is None:
                return None
            return np.array(
                [np.nan if v is None else v for v in values], np.float64
            )

        def table(rows):
            rows = [dict(r) for r in rows or []]
            for r in rows:
                for key in ("hit_at_one", "perr", "gap", "map",
                            "map_all_classes"):
                    if r.get(key) is None:
                        r[key] = float("nan")
            return rows

        return cls(
            hit_at_one=data["hit_at_one"],
            perr=data["perr"],
            gap=data["gap"],
            map=data["map"],
            map_all_classes=data["map_all_classes"],
            avg_loss=data["avg_loss"],
            num_examples=data["num_examples"],
            num_classes_evaluated=data["num_classes_evaluated"],
            per_class_ap=array(data["per_class_ap"]),
            num_positives=array(data.get("num_positives")),
            top_k=data.get("top_k", 20),
            pr_curve=data.get("pr_curve"),
            levels=table(data.get("levels")),
            categories=table(data.get("categories")),
            class_names=data.get("class_names"),
        )

    def write_json(self, path):
        atomic_write(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def read_json(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def write_per_class_csv(self, path, vocabulary=None):
        """CSV `class_index,name,num_positives,ap` (ap empty if no positive).

        Args:
          path: output file.
          vocabulary: None, a Taxonomy, a list/dict of names, or a path to
            a vocabulary / taxonomy / names CSV. Defaults to the names the
            result already carries.
        """
        names = _class_names(vocabulary, self.num_classes) or (
            self.class_names
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["class_index", "name", "num_positives", "ap"])
        positives = self.num_positives
        for i, ap in enumerate(self.per_class_ap):
            writer.writerow([
                i,
                names[i] if names else "",
                "" if positives is None else f"{positives[i]:g}",
                "" if not np.isfinite(ap) else repr(float(ap)),
            ])
        atomic_write(path, buffer.getvalue())

    def table(self, error_rate=False):
        """Text table: Overall, then each level, then each category.

        Args:
          error_rate: print 100 * (1 - metric), the papers' "error rate in
            percent" (Tables 4, 5, 8, 9), instead of the metric.
        """

        def fmt(value):
            if value is None or not np.isfinite(value):
                return "-"
            if error_rate:
                return f"{100.0 * (1.0 - value):.2f}"
            return f"{value:.4f}"

        overall = dict(self.summary(), name="Overall",
                       num_classes=self.num_classes)
        header = ["", "GAP", "MAP", "PERR", "Hit@1", "videos", "classes"]
        rows = []
        groups = [("", [overall]), ("Levels", self.levels),
                  ("Top-level categories", self.categories)]
        for title, entries in groups:
            if not entries:
                continue
            if title:
                rows.append([f"-- {title}"] + [""] * 6)
            for e in entries:
                rows.append([
                    str(e["name"]),
                    fmt(e["gap"]),
                    fmt(e["map"]),
                    fmt(e["perr"]),
                    fmt(e["hit_at_one"]),
                    str(e["num_examples"]),
                    f"{e['num_classes_evaluated']}/{e['num_classes']}",
                ])
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(7)]
        lines = []
        what = "error rate (%)" if error_rate else "metric"
        lines.append(f"top_k={self.top_k}, values: {what}")
        for r in [header] + rows:
            cells = [r[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)
