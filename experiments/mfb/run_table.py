"""Runs the MFB fusion table (issue 9) and writes one JSON of results.

Each run: `keras.utils.set_random_seed(seed)` (weights, dropout, frame
sampling) and `shuffle_seed=seed` (record order), then the library behind
train.py (`yt8m.training.loop.train`) and eval.py (`yt8m.evaluation.evaluate`,
`--run_once`). In-process, so one TensorFlow start serves every run; the
equivalent binary commands are in docs/mfb.md (train.py has no flag for
the weight seed, only `--shuffle_seed`).

Splits of the real 2018 video-level shards (../shared/data/yt8m_real/README.md):
  final: train validate0000-0059, report on validate0060-0079 (the fixed split);
  tune:  train validate0000-0049, tune on validate0050-0059 (carved out of the
         TRAIN shards; the reported validation split is never used to tune).

Examples:
  nice -n 10 .venv/bin/python experiments/mfb/run_table.py --split=final \
      --seeds=1,2,3 --epochs=2 --output=experiments/mfb/results_final.json
  nice -n 10 .venv/bin/python experiments/mfb/run_table.py --split=tune \
      --seeds=1 --variants=mfb,fc_concat --set=mfb_normalization=none \
      --output=/tmp/tune.json
  # generated frame data, DBoF / NetVLAD aggregations:
  nice -n 10 .venv/bin/python experiments/mfb/run_table.py --split=generated \
      --aggregation=dbof --output=experiments/mfb/results_dbof.json
"""

import argparse
import glob
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, ROOT)

FUSIONS = ["audio_only", "video_only", "concat", "fc_concat", "mfb"]
PAPER = {  # Table 1 / 2 / 3 GAP (%), full data set, 250k steps
    "avgpooling": {"audio_only": 38.1, "video_only": 69.6, "concat": 74.2,
                   "fc_concat": 81.8, "mfb": 83.3},
    "netvlad": {"audio_only": 50.7, "video_only": 82.3, "concat": 85.0,
                "fc_concat": 84.6, "mfb": 85.5},
    "dbof": {"audio_only": 48.9, "video_only": 81.8, "concat": 84.0,
             "fc_concat": 84.1, "mfb": 85.9},
}


def parse_value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def real_patterns(data_dir, split):
    shards = lambda lo, hi: ",".join(  # noqa: E731
        os.path.join(data_dir, f"validate{i:04d}.tfrecord")
        for i in range(lo, hi))
    if split == "final":
        return shards(0, 60), shards(60, 80)
    return shards(0, 50), shards(50, 60)


GENERATED = dict(num_classes=60, rgb_size=64, audio_size=16, max_frames=60,
                 num_train=1200, num_validate=300, num_test=10)


def generated_patterns(work_dir, seed=0):
    """Frame-level generated data (`yt8m-data generate`): train, validate."""
    from yt8m.data.generate import generate_dataset

    directory = os.path.join(work_dir, "generated")
    if not glob.glob(os.path.join(directory, "frame", "train-*.tfrecord")):
        generate_dataset(directory, size="demo", seed=seed, **GENERATED)
    return (os.path.join(directory, "frame", "train-*.tfrecord"),
            os.path.join(directory, "frame", "validate-*.tfrecord"))


def run_one(args, fusion, seed, train_pattern, eval_pattern, overrides,
            lr=None, epochs=None, name=None):
    import keras

    from yt8m import config as config_lib
    from yt8m import evaluation
    from yt8m.training import loop

    frame = args.split == "generated"
    hparams = {"mfb_fusion": fusion}
    if frame:
        hparams["mfb_aggregation"] = args.aggregation
    hparams.update(overrides)
    spec = config_lib.ModelSpec(
        model="MFBModel" if frame else "MFBVideoModel",
        feature_names=["rgb", "audio"] if frame else ["mean_rgb", "mean_audio"],
        feature_sizes=args.feature_sizes,
        frame_features=frame,
        num_classes=args.num_classes,
        max_frames=args.max_frames,
        model_hparams=hparams,
    )
    train_dir = os.path.join(args.work_dir, f"{fusion}_{seed}")
    keras.utils.set_random_seed(seed)
    cpu, wall = time.process_time(), time.time()
    result = loop.train(config_lib.TrainConfig(
        train_dir=train_dir, train_data_pattern=train_pattern, spec=spec,
        batch_size=args.batch_size, num_epochs=epochs or args.epochs,
        max_steps=args.max_steps, base_learning_rate=lr or args.lr,
        learning_rate_decay=1.0, shuffle_seed=seed, start_new_model=True,
        num_readers=2, progress_bar=False, export_model_steps=0,
        save_checkpoint_steps=10**9, save_checkpoint_secs=10**9,
        log_every_steps=100, batch_norm_momentum=args.batch_norm_momentum,
    ))
    train_cpu, train_wall = time.process_time() - cpu, time.time() - wall
    params = int(result["model"].count_params())
    (step, res), = evaluation.evaluate(config_lib.EvalConfig(
        train_dir=train_dir, eval_data_pattern=eval_pattern, run_once=True,
        batch_size=args.eval_batch_size, num_readers=2,
    ))
    shutil.rmtree(train_dir, ignore_errors=True)
    return {
        "name": name or fusion, "lr": lr or args.lr,
        "epochs": epochs or args.epochs,
        "fusion": fusion, "seed": seed, "steps": int(step),
        "params": params, "gap": res.gap, "map": res.map,
        "hit_at_one": res.hit_at_one, "perr": res.perr,
        "train_cpu_s": train_cpu, "train_wall_s": train_wall,
        "total_cpu_s": time.process_time() - cpu, "hparams": hparams,
    }


def summarize(runs):
    import numpy as np

    table = {}
    names = list(dict.fromkeys(r["name"] for r in runs))
    for fusion in names:
        rows = [r for r in runs if r["name"] == fusion]
        if not rows:
            continue
        entry = {"n": len(rows), "params": rows[0]["params"]}
        for key in ("gap", "map", "hit_at_one"):
            values = np.array([r[key] for r in rows])
            entry[key] = {"mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if len(values) > 1
                          else 0.0,
                          "min": float(values.min()),
                          "max": float(values.max())}
        table[fusion] = entry
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["final", "tune", "generated"],
                        default="final")
    parser.add_argument("--data_dir", default=os.path.join(
        ROOT, "..", "shared", "data", "yt8m_real", "video_level_2018"))
    parser.add_argument("--aggregation", default="avgpooling",
                        choices=["avgpooling", "dbof", "netvlad"],
                        help="generated split only (real data: avgpooling)")
    parser.add_argument("--variants", default=",".join(FUSIONS))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max_steps", type=int, default=None)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--batch_norm_momentum", type=float, default=None)
    parser.add_argument("--set", action="append", default=[],
                        help="NAME=VALUE model hyperparameter (all variants)")
    parser.add_argument("--set_for", action="append", default=[],
                        help="FUSION:NAME=VALUE for one variant")
    parser.add_argument("--configs", default=None,
                        help="JSON list of {name, fusion, lr, epochs, "
                             "hparams}: run these instead of --variants "
                             "(the tuning grids)")
    parser.add_argument("--work_dir", default="/tmp/mfb_table")
    parser.add_argument("--eval_batch_size", type=int, default=512)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    from absl import logging

    from yt8m import files

    logging.set_verbosity(logging.INFO)
    os.makedirs(args.work_dir, exist_ok=True)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    per_variant = {}
    for item in args.set_for:
        fusion, kv = item.split(":", 1)
        name, value = kv.split("=", 1)
        per_variant.setdefault(fusion, {})[name] = parse_value(value)
    overrides = {k: parse_value(v) for k, v in overrides.items()}
    if args.split == "generated":
        train_pattern, eval_pattern = generated_patterns(args.work_dir)
        args.feature_sizes = [GENERATED["rgb_size"], GENERATED["audio_size"]]
        args.max_frames = GENERATED["max_frames"]
        args.num_classes = GENERATED["num_classes"]
    else:
        train_pattern, eval_pattern = real_patterns(args.data_dir, args.split)
        args.feature_sizes, args.max_frames = [1024, 128], 300
        args.num_classes = 3862
    runs = []
    out = {"args": {k: v for k, v in vars(args).items()},
           "train_data_pattern": train_pattern,
           "eval_data_pattern": eval_pattern, "runs": runs}
    if args.configs:
        with open(args.configs) as f:
            configs = json.load(f)
    else:
        configs = [{"fusion": fusion, "hparams": per_variant.get(fusion, {})}
                   for fusion in args.variants.split(",")]
    for seed in [int(s) for s in args.seeds.split(",")]:
        for config in configs:
            fusion = config["fusion"]
            hp = dict(overrides, **config.get("hparams", {}))
            run = run_one(args, fusion, seed, train_pattern, eval_pattern, hp,
                          lr=config.get("lr"), epochs=config.get("epochs"),
                          name=config.get("name"))
            runs.append(run)
            print(json.dumps(run), flush=True)
            out["table"] = summarize(runs)
            out["paper_gap"] = PAPER[args.aggregation]
            files.atomic_write_text(args.output,
                                    json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
