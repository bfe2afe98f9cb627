"""Markdown tables from the JSON files run_table.py writes (docs/mfb.md)."""
import json
import sys

LABELS = {"audio_only": "Audio Only", "video_only": "Video Only",
          "concat": "Concatenation", "fc_concat": "FC + Concatenation",
          "mfb": "MFB"}


def table(path, aggregation="Avgpooling"):
    data = json.load(open(path))
    paper = data.get("paper_gap", {})
    lines = ["| model | params | GAP@20 mean ± sd | MAP mean ± sd | "
             "Hit@1 mean ± sd | GAP min-max | paper GAP (%) | train CPU s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for name, entry in data["table"].items():
        runs = [r for r in data["runs"] if r["name"] == name]
        cpu = sum(r["train_cpu_s"] for r in runs) / len(runs)
        fusion = runs[0]["fusion"]
        cell = lambda k: (f"{entry[k]['mean']:.3f} ± "  # noqa: E731
                          f"{entry[k]['std']:.3f}")
        lines.append(
            f"| {aggregation} + {LABELS.get(fusion, fusion)} | "
            f"{entry['params'] / 1e6:.2f}M | {cell('gap')} | {cell('map')} | "
            f"{cell('hit_at_one')} | {entry['gap']['min']:.3f}-"
            f"{entry['gap']['max']:.3f} | {paper.get(fusion, '')} | "
            f"{cpu:.0f} |")
    return "\n".join(lines)


def tuning(paths):
    lines = ["| config (tune split) | lr | GAP@20 | MAP | Hit@1 |",
             "|---|---|---|---|---|"]
    for path in paths:
        for r in json.load(open(path))["runs"]:
            lines.append(f"| {r['name']} | {r['lr']:g} | {r['gap']:.3f} | "
                         f"{r['map']:.3f} | {r['hit_at_one']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "tune":
        print(tuning(sys.argv[2:]))
    else:
        print(table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3
                    else "Avgpooling"))
