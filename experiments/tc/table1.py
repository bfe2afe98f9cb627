"""Table 1 of the temporal-coherence paper on this machine, small budget.

Trains each pair (plain vs TC) with the same flags, budget and seeds, then
evaluates on the held-out split with a taxonomy (overall and per level).
Writes one JSON with every run and the per-pair means.

    nice -n 10 python experiments/tc/table1.py --data=generated \
        --train=/tmp/tc/gen/frame/train-*.tfrecord \
        --eval=/tmp/tc/gen/frame/validate-*.tfrecord \
        --taxonomy=/tmp/tc/gen/taxonomy.csv --feature_sizes=64,16 \
        --num_classes=60 --out=experiments/tc/results/table1_generated.json

No hyperparameter was tuned: every size below is fixed in advance (tiny,
for 2 shared CPU cores) and the TC settings are the paper's best
(kernel 5, 4 feature maps, conv mode). The eval split is only evaluated.
"""

import argparse
import json
import os
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from yt8m import config as config_lib  # noqa: E402
from yt8m import evaluation  # noqa: E402
from yt8m import models  # noqa: E402
from yt8m.training import loop  # noqa: E402
from yt8m.models.temporal_coherence import PAPER_PAIRS as PAIRS  # noqa: E402

# Small fixed sizes (not the paper's; see docs/temporal_coherence.md).
SIZES = {
    "rnn_cells": 32, "rnn_layers": 1, "attention_size": 32,
    "netvlad_cluster_size": 16, "netvlad_hidden_size": 128,
    "netvlad_sample_frames": False,
    "transformer_layers": 1, "transformer_heads": 4,
    "transformer_hidden_size": 64, "transformer_ff_size": 128,
    "transformer_dropout": 0.0, "late_fusion_hidden_size": 128,
    "moe_num_mixtures": 2,
    "tc_kernel_size": 5, "tc_num_feature_maps": 4, "tc_mode": "conv",
}


def hparams_for(name):
    names = models.model_hparam_names(name)
    return {k: v for k, v in SIZES.items() if k in names}


def run(args, name, seed):
    train_dir = os.path.join(args.work_dir, f"{name}_s{seed}")
    shutil.rmtree(train_dir, ignore_errors=True)
    spec = config_lib.ModelSpec(
        model=name, feature_names=["rgb", "audio"],
        feature_sizes=args.feature_sizes, frame_features=True,
        num_classes=args.num_classes, max_frames=args.max_frames,
        model_hparams=hparams_for(name))
    keras.utils.set_random_seed(seed)
    start = time.process_time()
    wall = time.time()
    result = loop.train(config_lib.TrainConfig(
        train_dir=train_dir, train_data_pattern=args.train, spec=spec,
        batch_size=args.batch_size, max_steps=args.steps,
        base_learning_rate=args.learning_rate, learning_rate_decay=1.0,
        batch_norm_momentum=0.99, num_readers=2, shuffle_seed=seed,
        progress_bar=False, log_every_steps=10 ** 6,
        save_checkpoint_steps=10 ** 6, start_new_model=True))
    train_cpu = time.process_time() - start
    (step, res), = evaluation.evaluate(config_lib.EvalConfig(
        train_dir=train_dir, eval_data_pattern=args.eval, run_once=True,
        batch_size=256, num_readers=2, taxonomy_file=args.taxonomy))
    out = {"model": name, "seed": seed, "step": step,
           "params": int(result["model"].count_params()),
           "train_cpu_s": round(train_cpu, 1),
           "wall_s": round(time.time() - wall, 1),
           "gap": res.gap, "map": res.map, "hit_at_one": res.hit_at_one,
           "perr": res.perr,
           "levels": [{k: lv[k] for k in ("name", "gap", "map",
                                           "hit_at_one", "perr",
                                           "num_classes_evaluated")}
                      for lv in res.levels]}
    if not args.keep:
        for entry in os.listdir(train_dir):
            if entry.startswith("model.ckpt") or entry == "export":
                path = os.path.join(train_dir, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(
                    path)
    print(json.dumps({k: out[k] for k in ("model", "seed", "gap", "map",
                                          "train_cpu_s")}), flush=True)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--taxonomy", required=True)
    parser.add_argument("--feature_sizes", default="1024,128")
    parser.add_argument("--num_classes", type=int, default=3862)
    parser.add_argument("--max_frames", type=int, default=40)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=0.001)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--pairs", default="RNN-Attn,NetV,TM,Base-Ens")
    parser.add_argument("--work_dir", default="/tmp/tc/runs")
    parser.add_argument("--keep", action="store_true",
                        help="keep checkpoints (for plots.py)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    args.feature_sizes = [int(v) for v in args.feature_sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = args.pairs.split(",")
    runs = []
    for base_label, base_name, tc_label, tc_name in PAIRS:
        if base_label not in wanted:
            continue
        for seed in seeds:
            for name in (base_name, tc_name):
                runs.append(run(args, name, seed))
    summary = {}
    for base_label, base_name, tc_label, tc_name in PAIRS:
        for label, name in ((base_label, base_name), (tc_label, tc_name)):
            mine = [r for r in runs if r["model"] == name]
            if not mine:
                continue
            row = {"model": name, "n": len(mine),
                   "params": mine[0]["params"],
                   "train_cpu_s": float(np.mean([r["train_cpu_s"]
                                                 for r in mine]))}
            for key in ("gap", "map", "hit_at_one", "perr"):
                vals = [r[key] for r in mine]
                row[key] = float(np.mean(vals))
                row[key + "_std"] = float(np.std(vals))
                for i, lv in enumerate(mine[0]["levels"]):
                    row[f"{key}_level{i}"] = float(np.mean(
                        [r["levels"][i][key] for r in mine]))
            summary[label] = row
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"data": args.data, "budget": {
            "steps": args.steps, "batch_size": args.batch_size,
            "learning_rate": args.learning_rate, "seeds": seeds,
            "max_frames": args.max_frames}, "sizes": SIZES,
            "train": args.train, "eval": args.eval,
            "summary": summary, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
