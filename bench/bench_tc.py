"""Table 2 of the temporal-coherence paper on this machine: training step
time and parameter count with and without TC, per family.

For each pair (plain, TC) both models are built in this one process with
the same sizes and inputs; their training steps (forward, backward, Adam)
are timed *interleaved* (plain, TC, plain, TC, ...) so that load changes on
shared cores hit both alike, and the reported figure is the ratio of the
median step times measured in the same run. Prints and writes JSON.

    nice -n 10 python bench/bench_tc.py [--batch_size=16] [--max_frames=100]
        [--steps=8] [--out=experiments/tc/results/table2.json]

Sizes are CPU-sized (not the paper's 192 clusters / 512 units: see
`SIZES`); TC adds `kernel_size * num_feature_maps` weights per TC layer
whatever the sizes.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from yt8m import models  # noqa: E402
from yt8m.models.temporal_coherence import PAPER_PAIRS as PAIRS  # noqa: E402
from bench_train import make_train_step  # noqa: E402  (same folder)

SIZES = {
    "rnn_cells": 128, "rnn_layers": 1, "attention_size": 64,
    "netvlad_cluster_size": 32, "netvlad_hidden_size": 256,
    "iterations": 100, "transformer_layers": 2, "transformer_heads": 4,
    "transformer_hidden_size": 128, "transformer_ff_size": 256,
    "late_fusion_hidden_size": 256, "moe_num_mixtures": 2,
    "tc_kernel_size": 5, "tc_num_feature_maps": 4,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_frames", type=int, default=100)
    parser.add_argument("--num_classes", type=int, default=3862)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--tc_mode", default="conv")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    b, t = args.batch_size, args.max_frames
    video = rng.uniform(-2, 2, (b, t, 1152)).astype("float32")
    num_frames = rng.integers(t // 2, t + 1, b).astype("int32")
    video[np.arange(t)[None, :] >= num_frames[:, None]] = 0
    features = {"video_matrix": tf.constant(video),
                "num_frames": tf.constant(num_frames)}
    labels = np.zeros((b, args.num_classes), np.float32)
    labels[np.arange(b)[:, None], rng.integers(0, args.num_classes,
                                               (b, 3))] = 1
    labels = tf.constant(labels)
    rows = {}
    for base_label, base_name, tc_label, tc_name in PAIRS:
        built = {}
        for label, name in ((base_label, base_name), (tc_label, tc_name)):
            names = models.model_hparam_names(name)
            hp = {k: v for k, v in {**SIZES, "tc_mode": args.tc_mode}.items()
                  if k in names}
            model = models.build_model(name, args.num_classes, [1024, 128],
                                       max_frames=t, **hp)
            step = make_train_step(model, features, labels)
            for _ in range(args.warmup):
                step().numpy()
            built[label] = (model, step, [])
        for _ in range(args.steps):
            for label in (base_label, tc_label):
                _, step, times = built[label]
                start = time.perf_counter()
                step().numpy()
                times.append(time.perf_counter() - start)
        plain, tc = built[base_label], built[tc_label]
        p_time, t_time = np.median(plain[2]), np.median(tc[2])
        p_params, t_params = plain[0].count_params(), tc[0].count_params()
        rows[tc_label] = {
            "plain": base_name, "tc": tc_name,
            "plain_step_s": round(float(p_time), 4),
            "tc_step_s": round(float(t_time), 4),
            "step_time_ratio": round(float(t_time / p_time), 3),
            "plain_params": int(p_params), "tc_params": int(t_params),
            "added_params": int(t_params - p_params),
            "added_bytes_float32": int(4 * (t_params - p_params)),
            "param_ratio": float(t_params / p_params),
        }
        print(json.dumps({tc_label: rows[tc_label]}), flush=True)
    out = {"batch_size": b, "max_frames": t, "num_classes": args.num_classes,
           "steps": args.steps, "tc_mode": args.tc_mode, "sizes": SIZES,
           "rows": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
