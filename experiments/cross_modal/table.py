"""Markdown tables (mean +- std over seeds) from compare.py's JSON.

  python experiments/cross_modal/table.py experiments/cross_modal/generated.json
"""

import json
import sys

import numpy as np

METRICS = ("gap", "map", "perr", "hit_at_one")
NAMES = {"gap": "GAP", "map": "MAP", "perr": "PERR", "hit_at_one": "Hit@1"}
VARIANTS = ("E", "L", "CM-G", "CM-C")


def cell(values):
    values = np.asarray(values, float) * 100
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0:.2f}"


def main(path):
    data = json.load(open(path))
    runs = data["runs"]
    tower = data.get("tower", {})
    print(f"Tower: accuracy {tower.get('accuracy', float('nan')):.3f}, "
          f"FPR {tower.get('fpr', float('nan')):.3f}, "
          f"FNR {tower.get('fnr', float('nan')):.3f}\n")
    for family in sorted({r["family"] for r in runs}):
        rows = [r for r in runs if r["family"] == family]
        seeds = sorted({r["seed"] for r in rows})
        levels = sorted({lv for r in rows for lv in r["levels"]})
        print(f"{family}, {len(seeds)} seeds (mean ± std, %, higher is "
              "better):\n")
        print("| metric | view | " + " | ".join(
            f"{family}-{v}" for v in VARIANTS) + " |")
        print("|---|---|" + "---|" * len(VARIANTS))
        for metric in METRICS:
            for view in ["overall"] + levels:
                cells = []
                for variant in VARIANTS:
                    values = [
                        r[metric] if view == "overall"
                        else r["levels"][view][metric]
                        for r in rows if r["variant"] == variant
                    ]
                    cells.append(cell(values) if values else "-")
                print(f"| {NAMES[metric]} | {view} | " + " | ".join(cells)
                      + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
