"""The cross-modal paper's Table 8 (NetVLAD) and Table 4 (Transformer) here.

For each family, four variants at the same budget: E (early fusion), L (late
fusion), CM-G (cross-modal, gated by the frozen correlation tower) and CM-C
(cross-modal, tower output concatenated), 3 seeds each; GAP / MAP / PERR /
Hit@1 overall and per hierarchy level (eval.py --taxonomy_file). One
correlation tower per dataset, trained first (the paper trains it
separately and freezes it), shared by the CM variants of every seed.

Datasets:
  generated: `yt8m-data generate` (scene-coherent frames, a 3-level class
    tree, `--uncorrelated_audio_fraction` of the videos with another
    video's audio);
  real: frame-level data expanded from the real 2018 video-level shards
    (`yt8m-data from-video-level`; the README's fixed split).

Usage (from the project root):
  python experiments/cross_modal/compare.py --dataset=generated \
      --work_dir=/tmp/cm_generated --out=experiments/cross_modal/generated.json
  python experiments/cross_modal/compare.py --dataset=real \
      --real_dir=../shared/data/yt8m_real --work_dir=/tmp/cm_real \
      --out=experiments/cross_modal/real.json
Add --families=NV to run one family. Runs train.py / eval.py as a user
would (subprocesses), sequentially.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Small models: a 2-core CPU budget (the paper's sizes are in the README).
FAMILIES = {
    "NV": {
        "E": ["--model=NetVLADModelLF", "--fusion=early"],
        "L": ["--model=NetVLADModelLF", "--fusion=late"],
        "CM-G": ["--model=CrossModalNetVLAD", "--cross_modal_mode=gate"],
        "CM-C": ["--model=CrossModalNetVLAD", "--cross_modal_mode=concat"],
        "common": ["--netvlad_cluster_size=16", "--netvlad_hidden_size=64",
                   "--iterations=30", "--moe_num_mixtures=2"],
    },
    "TM": {
        "E": ["--model=TransformerModel", "--fusion=early"],
        "L": ["--model=TransformerModel", "--fusion=late"],
        "CM-G": ["--model=CrossModalTransformer", "--cross_modal_mode=gate"],
        "CM-C": ["--model=CrossModalTransformer",
                 "--cross_modal_mode=concat"],
        "common": ["--transformer_layers=1", "--transformer_heads=2",
                   "--transformer_hidden_size=32", "--transformer_ff_size=64",
                   "--transformer_dropout=0.1", "--late_fusion_hidden_size=64",
                   "--moe_num_mixtures=2"],
    },
}


def run(args, log):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.time()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(" ".join(args) + "\n" + proc.stdout + proc.stderr[-4000:])
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.time() - start


def prepare_generated(work, seed=0):
    data = os.path.join(work, "data")
    if not os.path.exists(os.path.join(data, "taxonomy.csv")):
        run(["-m", "yt8m.data", "generate", data, "--seed", str(seed),
             "--num_train=1500", "--num_validate=500", "--num_test=10",
             "--num_classes=40", "--num_groups=4", "--mids_per_group=2",
             "--rgb_size=64", "--audio_size=16", "--max_frames=60",
             "--train_shards=4", "--validate_shards=2",
             "--uncorrelated_audio_fraction=0.3"], os.path.join(work, "log"))
    return {
        "train": os.path.join(data, "frame", "train*.tfrecord"),
        "validate": os.path.join(data, "frame", "validate*.tfrecord"),
        "taxonomy": os.path.join(data, "taxonomy.csv"),
        "features": ["--feature_names=rgb,audio", "--feature_sizes=64,16",
                     "--num_classes=40", "--max_frames=60"],
    }


def prepare_real(work, real_dir):
    data = os.path.join(work, "frames")
    video = os.path.join(real_dir, "video_level_2018")
    splits = {"train": "validate00[0-5]?.tfrecord",
              "validate": "validate00[67]?.tfrecord"}
    out = {}
    for split, pattern in splits.items():
        target = os.path.join(data, split)
        if not glob.glob(os.path.join(target, "*.tfrecord")):
            run(["-m", "yt8m.data", "from-video-level",
                 os.path.join(video, pattern), target, "--num_frames=20",
                 "--seed=0"], os.path.join(work, "log"))
        out[split] = os.path.join(target, "*.tfrecord")
    out["taxonomy"] = os.path.join(real_dir, "vocab", "vocabulary.csv")
    out["features"] = ["--feature_names=rgb,audio",
                       "--feature_sizes=1024,128", "--num_classes=3862",
                       "--max_frames=20"]
    return out


def metrics_of(train_dir):
    with open(os.path.join(train_dir, "eval", "eval_results.json")) as f:
        result = json.load(f)
    row = {k: result[k] for k in ("gap", "map", "perr", "hit_at_one")}
    row["levels"] = {
        level["name"]: {k: level[k] for k in ("gap", "map", "perr",
                                               "hit_at_one")}
        for level in result.get("levels") or []
    }
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("generated", "real"),
                        required=True)
    parser.add_argument("--work_dir", required=True)
    parser.add_argument("--real_dir", default="../shared/data/yt8m_real")
    parser.add_argument("--out", required=True)
    parser.add_argument("--families", default="NV,TM")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=400)
    # The tower's own budget. The real-data defaults are the video-level
    # tower's settings (experiments/cross_modal/correlation_tower_real.json:
    # batch 128, lr 0.001, 2 x 256 hidden, ~10 epochs of the training
    # split); at 400 steps of batch 32 the frame-level tower had not left
    # the all-positive start (accuracy 0.5).
    parser.add_argument("--tower_steps", type=int, default=1300)
    parser.add_argument("--tower_batch_size", type=int, default=128)
    parser.add_argument("--tower_learning_rate", type=float, default=0.001)
    parser.add_argument("--tower_hidden_size", type=int, default=256)
    parser.add_argument("--tower_layers", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=0.002)
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    log = os.path.join(args.work_dir, "log")
    data = (prepare_generated(args.work_dir) if args.dataset == "generated"
            else prepare_real(args.work_dir, args.real_dir))
    budget = [f"--batch_size={args.batch_size}", "--num_epochs=1000",
              f"--base_learning_rate={args.learning_rate}",
              "--export_model_steps=0", "--log_every_steps=100",
              "--batch_norm_momentum=0.9", "--frame_features"]
    tower_dir = os.path.join(args.work_dir, "tower")
    if not os.path.exists(os.path.join(tower_dir, "checkpoint")):
        run(["train.py", "--model=CorrelationTower",
             f"--train_data_pattern={data['train']}",
             f"--train_dir={tower_dir}", f"--taxonomy_file={data['taxonomy']}",
             f"--max_steps={args.tower_steps}", "--shuffle_seed=0",
             *data["features"], *budget,
             f"--batch_size={args.tower_batch_size}",
             f"--base_learning_rate={args.tower_learning_rate}",
             "--learning_rate_decay=1.0",
             f"--tower_hidden_size={args.tower_hidden_size}",
             f"--tower_layers={args.tower_layers}"], log)
        run(["eval.py", f"--train_dir={tower_dir}",
             f"--eval_data_pattern={data['validate']}", "--run_once"], log)
    with open(os.path.join(tower_dir, "eval", "eval_results.json")) as f:
        results = {"tower": json.load(f), "runs": [], "config": vars(args)}
    for family in args.families.split(","):
        spec = FAMILIES[family]
        for seed in (int(s) for s in args.seeds.split(",")):
            for variant in ("E", "L", "CM-G", "CM-C"):
                train_dir = os.path.join(args.work_dir, family, variant,
                                         f"seed{seed}")
                shutil.rmtree(train_dir, ignore_errors=True)
                flags = [*spec[variant], *spec["common"], *data["features"],
                         *budget, f"--train_data_pattern={data['train']}",
                         f"--train_dir={train_dir}",
                         f"--max_steps={args.steps}",
                         f"--shuffle_seed={seed}"]
                if variant.startswith("CM"):
                    flags.append(f"--warm_start=correlation_tower={tower_dir}")
                seconds = run(["train.py", *flags], log)
                run(["eval.py", f"--train_dir={train_dir}",
                     f"--eval_data_pattern={data['validate']}", "--run_once",
                     f"--taxonomy_file={data['taxonomy']}"], log)
                row = {"family": family, "variant": variant, "seed": seed,
                       "train_seconds": round(seconds, 1),
                       **metrics_of(train_dir)}
                results["runs"].append(row)
                print(json.dumps({k: row[k] for k in (
                    "family", "variant", "seed", "gap", "map", "hit_at_one",
                    "train_seconds")}), flush=True)
                with open(args.out, "w") as f:
                    json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
