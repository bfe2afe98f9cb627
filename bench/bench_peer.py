"""DbofModel against TF Model Garden's DBoF (the peer), back to back.

Runs `../shared/peer/bench_modelgarden_dbof.py` in the peer venv (made by
`../shared/peer/setup_peer_venv.sh`; not part of a user's clone, so without
it this prints a "skipped" JSON), then `bench/bench_train.py` on DbofModel at
the same two configurations (`--config=starter|mg_default`: all 300 frames,
batch 32, random inputs, one `tf.function` step with clipping and Adam), in
float32 and with `--mixed_precision=mixed_bfloat16`, one config after the
other so both sides see the same machine state, `--rounds` times (default
3; figures and targets are medians of the within-round ratios). Prints one
JSON object with the rates, the ratios and the issue's targets (>= 1.1x
Model Garden in float32, >= 1.4x Model Garden's float32 with
mixed_bfloat16), and each round's figures.

Differences the figures include: Model Garden clips the global norm, we clip
each variable (the starter code's rule); Model Garden's default config uses
relu, ours relu6 (same cost); our DBoF masks padded frames (the peer does not).

    python bench/bench_peer.py [--steps=10] [--rounds=3] [--peer_dir=../shared/peer]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# bench_train's config name -> the peer's.
PEER_CONFIG = {"starter": "starter", "mg_default": "default"}
TARGETS = {"float32": 1.1, "mixed_bfloat16": 1.4}


def _json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def run_peer(python, script, config, args):
    proc = subprocess.run(
        [python, script, f"--batch={args.batch_size}", f"--configs={config}",
         "--jit=off", f"--steps={args.steps}", f"--warmup={args.warmup}"],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"peer benchmark failed: {proc.stderr[-2000:]}")
    lines = _json_lines(proc.stdout)
    peak = next(x for x in lines if "matmul_peak_gflops" in x)
    record = next(x for x in lines if x.get("impl") == "modelgarden")
    return record, peak["matmul_peak_gflops"]


def run_ours(config, policy, args):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_train.py"),
         "--models=DbofModel", f"--config={config}",
         f"--batch_size={args.batch_size}", f"--steps={args.steps}",
         f"--warmup={args.warmup}", f"--mixed_precision={policy}"],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_train failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    result = out["models"]["DbofModel"]
    if "error" in result:
        raise RuntimeError(f"bench_train DbofModel: {result['error']}")
    return result, out["reference_matmul_float32_gflops"]


def add_peer_arguments(parser):
    """--peer_dir and --peer_python: where ../shared/peer and its venv are."""
    parser.add_argument("--peer_dir",
                        default=os.path.join(ROOT, "..", "shared", "peer"))
    parser.add_argument("--peer_python", default=os.path.join(
        os.environ.get("YT8M_PEER_VENV", os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "yt8m-peer-venv")),
        "bin", "python"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_peer_arguments(parser)
    parser.add_argument("--configs", default="starter,mg_default")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate Model Garden and ours this many "
                             "times; figures are medians over the rounds "
                             "(the shared machine's speed drifts by 10-20%%)")
    args = parser.parse_args()
    script = os.path.join(args.peer_dir, "bench_modelgarden_dbof.py")
    missing = [p for p in (script, args.peer_python) if not os.path.exists(p)]
    if missing:
        print(json.dumps({
            "benchmark": "bench_peer", "skipped": True,
            "reason": f"missing {missing}: run ../shared/peer/"
                      "setup_peer_venv.sh (see ../shared/peer/README.md)"}))
        return
    configs = {}
    for config in [c for c in args.configs.split(",") if c]:
        rounds = []
        for _ in range(args.rounds):
            # One round: Model Garden, then ours in float32 and bfloat16,
            # back to back; the ratio is taken within the round.
            peer, peer_peak = run_peer(args.peer_python, script,
                                       PEER_CONFIG[config], args)
            one = {"model_garden_examples_per_sec": peer["examples_per_s"],
                   "model_garden_matmul_peak_gflops": peer_peak,
                   "model_garden_other_procs_cpu_cores":
                       peer.get("other_procs_cpu_cores")}
            for policy in ("float32", "mixed_bfloat16"):
                ours, peak = run_ours(config, policy, args)
                one[f"ours_{policy}_examples_per_sec"] = (
                    ours["examples_per_sec"])
                one[f"ours_{policy}_over_model_garden"] = (
                    ours["examples_per_sec"] / peer["examples_per_s"])
                one[f"ours_{policy}_matmul_peak_gflops"] = peak
            rounds.append(one)
            print(f"# {config}: MG {peer['examples_per_s']:.1f} ex/s, ours "
                  f"{one['ours_float32_examples_per_sec']:.1f} "
                  f"({one['ours_float32_over_model_garden']:.2f}x), bf16 "
                  f"{one['ours_mixed_bfloat16_examples_per_sec']:.1f} "
                  f"({one['ours_mixed_bfloat16_over_model_garden']:.2f}x)",
                  file=sys.stderr, flush=True)
        # Medians over the rounds; the targets are judged on the median
        # within-round ratio.
        row = {key: statistics.median(r[key] for r in rounds)
               for key in rounds[0] if rounds[0][key] is not None}
        row["model_garden_flops_per_example"] = (
            peer["train_flops_per_example_analytic_matmul"])
        row["ours_flops_per_example"] = ours["train_flops_per_example"]
        for policy in ("float32", "mixed_bfloat16"):
            row[f"ours_{policy}_target"] = TARGETS[policy]
            row[f"ours_{policy}_met"] = (
                row[f"ours_{policy}_over_model_garden"] >= TARGETS[policy])
            row[f"ours_{policy}_achieved_over_float32_peak"] = (
                ours["train_flops_per_example"]
                * row[f"ours_{policy}_examples_per_sec"] / 1e9
                / row[f"ours_{policy}_matmul_peak_gflops"])
        row["rounds"] = rounds
        configs[config] = row
    print(json.dumps({
        "benchmark": "bench_peer",
        "batch_size": args.batch_size, "steps": args.steps,
        "rounds": args.rounds,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "configs": configs}, indent=2))


if __name__ == "__main__":
    main()
