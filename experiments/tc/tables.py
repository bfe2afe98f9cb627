"""Markdown tables from table1.py / bench_tc.py JSON (for README and docs).

    python experiments/tc/tables.py experiments/tc/results/table1_generated.json
    python experiments/tc/tables.py --table2 experiments/tc/results/table2.json
"""

import json
import sys

PAIRS = [("RNN-Attn", "TC-RNN"), ("NetV", "TC-NetV"), ("TM", "TC-TM"),
         ("Base-Ens", "TC-Ens")]
METRICS = [("gap", "GAP"), ("map", "MAP"), ("hit_at_one", "Hit@1"),
           ("perr", "PERR")]


def table1(path):
    data = json.load(open(path))
    summary = data["summary"]
    first = next(iter(summary.values()))
    levels = sorted({int(k.split("level")[1]) for k in first
                     if k.startswith("gap_level")})
    columns = [label for pair in PAIRS for label in pair if label in summary]
    lines = []
    for key, title in METRICS:
        lines.append("| " + title + " | " + " | ".join(columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        rows = [("Overall", key)] + [(f"Level {i}", f"{key}_level{i}")
                                     for i in levels]
        for name, field in rows:
            cells = []
            for base, tc in PAIRS:
                if base not in summary:
                    continue
                b, t = summary[base][field], summary[tc][field]
                std = ""
                if field == key:
                    std = f" ±{100 * summary[base][key + '_std']:.1f}"
                    tstd = f" ±{100 * summary[tc][key + '_std']:.1f}"
                else:
                    tstd = ""
                cells.append(f"{100 * b:.1f}{std}")
                cells.append(f"{100 * t:.1f}{tstd} ({100 * (t - b):+.1f})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    wins = []
    for base, tc in PAIRS:
        if base not in summary:
            continue
        runs = data["runs"]
        b = {r["seed"]: r for r in runs if r["model"] == summary[base]["model"]}
        t = {r["seed"]: r for r in runs if r["model"] == summary[tc]["model"]}
        better = sum(t[s]["gap"] > b[s]["gap"] for s in b)
        wins.append(f"{tc} > {base} in GAP on {better}/{len(b)} seeds")
    lines.append("Per seed: " + "; ".join(wins) + ".")
    return "\n".join(lines)


def table2(path):
    data = json.load(open(path))
    lines = ["| family | step s (plain) | step s (TC) | time ratio | params "
             "(plain) | added params | added bytes (float32) |",
             "|---|---|---|---|---|---|---|"]
    for label, row in data["rows"].items():
        lines.append(
            f"| {label} vs {row['plain']} | {row['plain_step_s']:.3f} | "
            f"{row['tc_step_s']:.3f} | {row['step_time_ratio']:.3f} | "
            f"{row['plain_params']:,} | {row['added_params']} | "
            f"{row['added_bytes_float32']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "--table2":
        print(table2(sys.argv[2]))
    else:
        print(table1(sys.argv[1]))
