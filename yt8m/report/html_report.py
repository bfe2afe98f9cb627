"""Visual evaluation report: an HTML page with matplotlib PNG plots.

`write_report(result, out_dir)` renders, from an `EvaluationResult`:
* `pr_curve.png`: the pooled precision-recall curve behind GAP;
* `ap_vs_frequency.png`: per-class AP against the class's positives;
* `category_gap.png`: GAP (and MAP) per top-level category (taxonomy);
* `levels.png`: GAP, MAP, PERR and Hit@1 per hierarchy level (taxonomy);
* `best_worst_classes.png`: the 20 best and 20 worst classes by AP;
and `index.html` with the headline numbers, the tables and these images.
"""

import html
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from yt8m.metrics.evaluation_result import _class_names  # noqa: E402
from yt8m.files import atomic_path  # noqa: E402
from yt8m.files import atomic_write  # noqa: E402

_NUM_BEST_WORST = 20
_METRICS = (("gap", "GAP"), ("map", "MAP"), ("perr", "PERR"),
            ("hit_at_one", "Hit@1"))


def _save(fig, out_dir, name):
    try:
        with atomic_path(os.path.join(out_dir, name)) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return name


def _plot_pr_curve(result, out_dir):
    curve = result.pr_curve or {}
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    if curve.get("recall"):
        ax.plot(curve["recall"], curve["precision"], color="tab:blue", lw=2)
        ax.fill_between(curve["recall"], curve["precision"], alpha=0.15)
        ceiling = curve["recall"][-1]
        ax.axvline(ceiling, color="gray", ls="--", lw=1)
        ax.annotate(
            f"recall ceiling {ceiling:.3f}\n(other positives are outside "
            f"the top-{result.top_k})",
            (ceiling, 0.05), xytext=(-8, 0), textcoords="offset points",
            ha="right", fontsize=8, color="gray",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (of all positives)")
    ax.set_ylabel("precision")
    ax.set_title(
        f"Pooled top-{result.top_k} precision-recall: "
        f"GAP@{result.top_k} = {result.gap:.4f}"
    )
    ax.grid(alpha=0.3)
    return _save(fig, out_dir, "pr_curve.png")


def _plot_ap_vs_frequency(result, out_dir):
    ap = np.asarray(result.per_class_ap, dtype=float)
    positives = result.num_positives
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    if positives is not None:
        positives = np.asarray(positives, dtype=float)
        ok = np.isfinite(ap) & (positives > 0)
        ax.scatter(positives[ok], ap[ok], s=6, alpha=0.35, color="tab:blue",
                   label="class")
        if ok.sum() > 1:
            edges = np.unique(np.geomspace(
                positives[ok].min(), positives[ok].max() + 1, 12))
            bins = np.digitize(positives[ok], edges)
            centers, means = [], []
            for b in np.unique(bins):
                sel = bins == b
                centers.append(np.exp(np.mean(np.log(positives[ok][sel]))))
                means.append(ap[ok][sel].mean())
            ax.plot(centers, means, color="tab:red", lw=2, marker="o",
                    label="mean AP per bin")
        ax.set_xscale("log")
        ax.legend(loc="lower right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("positives in the evaluation set (log scale)")
    ax.set_ylabel("average precision")
    ax.set_title(f"Per-class AP vs class frequency (MAP = {result.map:.4f})")
    ax.grid(alpha=0.3)
    return _save(fig, out_dir, "ap_vs_frequency.png")


def _plot_categories(result, out_dir):
    rows = [r for r in result.categories if r["num_examples"] > 0]
    rows.sort(key=lambda r: r["gap"])
    height = max(3.0, 0.32 * len(rows) + 1.2)
    fig, ax = plt.subplots(figsize=(7.5, height), layout="constrained")
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["gap"] for r in rows], 0.4, label="GAP")
    ax.barh(y + 0.2, [r["map"] for r in rows], 0.4, label="MAP", alpha=0.7)
    ax.set_yticks(y, [f"{r['name']} ({r['num_examples']})" for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("metric (videos evaluated in parentheses)")
    ax.set_title("GAP and MAP per top-level category")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_dir, "category_gap.png")


def _plot_levels(result, out_dir):
    rows = [dict(r) for r in result.levels]
    overall = dict(result.summary(), name="Overall")
    rows = [overall] + rows
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    x = np.arange(len(rows))
    width = 0.8 / len(_METRICS)
    for i, (key, label) in enumerate(_METRICS):
        values = [r[key] if np.isfinite(r[key]) else 0 for r in rows]
        ax.bar(x + (i - 1.5) * width, values, width, label=label)
    ax.set_xticks(x, [r["name"] for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("metric")
    ax.set_title("Metrics per hierarchy level")
    ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir, "levels.png")


def _best_worst(result, names):
    ap = np.asarray(result.per_class_ap, dtype=float)
    valid = np.flatnonzero(np.isfinite(ap))
    order = valid[np.argsort(-ap[valid], kind="stable")]
    k = min(_NUM_BEST_WORST, order.size)
    best = order[:k]
    worst = order[::-1][:k]
    positives = result.num_positives

    def label(i):
        text = f"{i}: {names[i]}" if names else str(i)
        if positives is not None:
            text += f" (n={positives[i]:g})"
        return text

    return ([(label(i), ap[i]) for i in best],
            [(label(i), ap[i]) for i in worst])


def _plot_best_worst(best, worst, out_dir):
    height = max(3.0, 0.28 * max(len(best), 1) + 1.2)
    fig, axes = plt.subplots(1, 2, figsize=(12, height), layout="constrained")
    for ax, items, title, color in (
        (axes[0], best, f"{len(best)} best classes by AP", "tab:green"),
        (axes[1], worst, f"{len(worst)} worst classes by AP", "tab:red"),
    ):
        items = items[::-1]
        y = np.arange(len(items))
        bars = ax.barh(y, [v for _, v in items], color=color)
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=7)
        ax.set_yticks(y, [n[:40] for n, _ in items], fontsize=8)
        ax.set_xlim(0, 1.12)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_dir, "best_worst_classes.png")


def _html_table(rows, columns):
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in columns)
    body = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(str(f(r)))}</td>"
                        for _, f in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(value):
    return "-" if value is None or not np.isfinite(value) else f"{value:.4f}"


def write_report(result, out_dir, vocabulary_or_taxonomy=None):
    """Writes `index.html` and PNG plots for `result` into `out_dir`.

    Args:
      result: an `EvaluationResult`.
      out_dir: output directory (created).
      vocabulary_or_taxonomy: class names: a `Taxonomy`, a list, or a path
        to vocabulary.csv / taxonomy CSV (default: the result's names).

    Returns:
      The path of index.html.
    """
    os.makedirs(out_dir, exist_ok=True)
    names = _class_names(vocabulary_or_taxonomy, result.num_classes) or (
        result.class_names
    )
    images = [
        ("Precision-recall curve behind GAP", _plot_pr_curve(result, out_dir)),
        ("AP against class frequency", _plot_ap_vs_frequency(result, out_dir)),
    ]
    if result.categories:
        images.append(("Per top-level category",
                       _plot_categories(result, out_dir)))
    if result.levels:
        images.append(("Per hierarchy level", _plot_levels(result, out_dir)))
    best, worst = _best_worst(result, names)
    images.append(("Best and worst classes",
                   _plot_best_worst(best, worst, out_dir)))

    summary = result.summary()
    metric_rows = [
        ("GAP@%d" % result.top_k, _fmt(summary["gap"])),
        ("MAP (classes with positives)", _fmt(summary["map"])),
        ("MAP (all classes, Model Garden)", _fmt(summary["map_all_classes"])),
        ("PERR", _fmt(summary["perr"])),
        ("Hit@1", _fmt(summary["hit_at_one"])),
        ("Avg loss", _fmt(summary["avg_loss"])),
        ("Videos", summary["num_examples"]),
        ("Classes with positives",
         f"{summary['num_classes_evaluated']} / {result.num_classes}"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>YouTube-8M evaluation report</title>",
        "<style>body{font-family:sans-serif;max-width:1250px;margin:auto;"
        "padding:1em}table{border-collapse:collapse;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%;border:1px solid #eee}</style></head><body>",
        "<h1>YouTube-8M evaluation report</h1>",
        f"<pre>{html.escape(result.log_line('-'))}</pre>",
        _html_table(metric_rows, [("metric", lambda r: r[0]),
                                  ("value", lambda r: r[1])]),
    ]
    columns = [
        ("", lambda r: r["name"]),
        ("GAP", lambda r: _fmt(r["gap"])),
        ("MAP", lambda r: _fmt(r["map"])),
        ("PERR", lambda r: _fmt(r["perr"])),
        ("Hit@1", lambda r: _fmt(r["hit_at_one"])),
        ("videos", lambda r: r["num_examples"]),
        ("classes", lambda r: f"{r['num_classes_evaluated']}/"
                              f"{r['num_classes']}"),
    ]
    if result.levels:
        parts.append("<h2>Hierarchy levels</h2>")
        parts.append(_html_table(result.levels, columns))
    if result.categories:
        parts.append("<h2>Top-level categories</h2>")
        parts.append(_html_table(result.categories, columns))
    for title, image in images:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(f'<img src="{image}" alt="{html.escape(title)}">')
    for title, items in (("Best classes", best), ("Worst classes", worst)):
        parts.append(f"<h3>{title}</h3>")
        parts.append(_html_table(items, [("class", lambda r: r[0]),
                                         ("AP", lambda r: _fmt(r[1]))]))
    parts.append("</body></html>")
    path = os.path.join(out_dir, "index.html")
    atomic_write(path, "\n".join(parts) + "\n")
    return path
