"""Op-level profile of DbofModel's training step next to Model Garden's.

The profile behind the DBoF row of the README's performance table: both
steps exactly as `bench/bench_peer.py` times them (batch 32, all 300
frames, the `starter` / `mg_default` configurations), each traced for a few
steps with TensorFlow's profiler (`bench/op_profile.py`), and the kernel
time per step summed per op type, side by side with the difference.
Model Garden's side runs in the peer venv of `../shared/peer/` (a
subprocess running this file with `--impl=peer`); without it only our side
is printed. Prints one JSON object.

    python bench/profile_dbof.py [--configs=starter,mg_default] [--steps=3]
    python bench/profile_dbof.py --by=name --top=25   # per op instance
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

from bench_peer import PEER_CONFIG  # noqa: E402  (same folder)
from bench_peer import add_peer_arguments  # noqa: E402


def _timed_ms(step, steps):
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    times.sort()
    return round(1e3 * times[len(times) // 2], 1)


def profile_ours(config, args):
    import bench_train
    from op_profile import profile_ops
    step = bench_train.build_train_step(
        "DbofModel", args.batch_size, 300, bench_train.CONFIGS[config])
    return _profile(step, profile_ops, args)


def profile_peer(config, args):
    sys.path.insert(0, args.peer_dir)
    import bench_modelgarden_dbof as peer
    import tf_keras
    from op_profile import profile_ops
    cfg = peer.model_config(PEER_CONFIG[config], "sigmoid")
    model = peer.build(cfg, 300, 1e-5)
    optimizer = tf_keras.optimizers.Adam(learning_rate=1e-4)
    optimizer.build(model.trainable_variables)
    x, y = peer.make_data(args.batch_size, 300, 3, 0)
    train_step = peer.make_train_step(model, optimizer, 1.0, False)
    return _profile(lambda: train_step(x, y), profile_ops, args)


def _profile(step, profile_ops, args):
    for _ in range(args.warmup):
        step().numpy()
    step_ms = _timed_ms(step, args.steps)
    result = profile_ops(step, steps=args.steps, by=args.by,
                         top=args.top or None)
    result["step_ms_median"] = step_ms
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="starter,mg_default")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--by", choices=("type", "name"), default="type")
    parser.add_argument("--top", type=int, default=20, help="0: all ops")
    add_peer_arguments(parser)
    parser.add_argument("--inter_op_threads", type=int, default=1,
                        help="1 (default): ops run one at a time, so each "
                             "op's time is its own; 0: TensorFlow's default "
                             "(concurrent ops share the cores and inflate "
                             "each other's times)")
    parser.add_argument("--impl", choices=("both", "ours", "peer"),
                        default="both", help="internal: one side only")
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    if args.impl != "both":
        import tensorflow as tf
        tf.config.threading.set_inter_op_parallelism_threads(
            args.inter_op_threads)
        fn = profile_ours if args.impl == "ours" else profile_peer
        print(json.dumps({c: fn(c, args) for c in configs}))
        return
    passed = [a for a in sys.argv[1:]
              if not a.startswith(("--impl", "--configs"))]
    have_peer = os.path.exists(args.peer_python) and os.path.exists(
        os.path.join(args.peer_dir, "bench_modelgarden_dbof.py"))
    out = {"benchmark": "profile_dbof", "batch_size": args.batch_size,
           "steps": args.steps, "by": args.by,
           "inter_op_threads": args.inter_op_threads,
           "unit": "kernel milliseconds per step, summed over threads",
           "configs": {}}
    for config in configs:  # one side after the other, per config
        row = {"ours": _one(sys.executable, "ours", config, passed)}
        if have_peer:
            row["model_garden"] = _one(args.peer_python, "peer", config,
                                       passed)
            ours = row["ours"]["ops_ms_per_step"]
            mg = row["model_garden"]["ops_ms_per_step"]
            diff = {k: round(ours.get(k, 0.0) - mg.get(k, 0.0), 3)
                    for k in set(ours) | set(mg)}
            row["ours_minus_model_garden_ms"] = dict(sorted(
                diff.items(), key=lambda kv: -abs(kv[1])))
        else:
            row["model_garden"] = "skipped: no peer venv (../shared/peer)"
        out["configs"][config] = row
    print(json.dumps(out, indent=2))


def _one(python, impl, config, passed):
    proc = subprocess.run([python, os.path.abspath(__file__),
                           f"--impl={impl}", f"--configs={config}", *passed],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} {config}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])[config]


if __name__ == "__main__":
    main()
