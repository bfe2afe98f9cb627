"""DbofModel against TF Model Garden's DBoF (the peer), back to back.

Runs `../shared/peer/bench_modelgarden_dbof.py` in the peer venv (made by
`../shared/peer/setup_peer_venv.sh`; not part of a user's clone, so without
it this prints a "skipped" JSON), then `bench/bench_train.py` on DbofModel at
the same two configurations (`--config=starter|mg_default`: all 300 frames,
batch 32, random inputs, one `tf.function` step with clipping and Adam), in
float32 and with `--mixed_precision=mixed_bfloat16`, one config after the
other so both sides see the same machine state. Prints one JSON object with
the rates, the ratios and the issue's targets (>= 1.1x Model Garden in
float32, >= 1.4x Model Garden's float32 with mixed_bfloat16).

Differences the figures include: Model Garden clips the global norm, we clip
each variable (the starter code's rule); Model Garden's default config uses
relu, ours relu6 (same cost); our DBoF masks padded frames (the peer does not).

    python bench/bench_peer.py [--steps=10] [--peer_dir=../shared/peer]
"""

import argparse
import json
import os
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer_dir",
                        default=os.path.join(ROOT, "..", "shared", "peer"))
    parser.add_argument("--peer_python", default=os.path.join(
        os.environ.get("YT8M_PEER_VENV", os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "yt8m-peer-venv")),
        "bin", "python"))
    parser.add_argument("--configs", default="starter,mg_default")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
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
        peer, peer_peak = run_peer(args.peer_python, script,
                                   PEER_CONFIG[config], args)
        row = {"model_garden_examples_per_sec": peer["examples_per_s"],
               "model_garden_flops_per_example":
                   peer["train_flops_per_example_analytic_matmul"],
               "model_garden_matmul_peak_gflops": peer_peak,
               "model_garden_other_procs_cpu_cores":
                   peer.get("other_procs_cpu_cores")}
        for policy in ("float32", "mixed_bfloat16"):
            ours, peak = run_ours(config, policy, args)
            ratio = ours["examples_per_sec"] / peer["examples_per_s"]
            row[f"ours_{policy}_examples_per_sec"] = ours["examples_per_sec"]
            row[f"ours_{policy}_over_model_garden"] = ratio
            row[f"ours_{policy}_target"] = TARGETS[policy]
            row[f"ours_{policy}_met"] = ratio >= TARGETS[policy]
            row[f"ours_{policy}_matmul_peak_gflops"] = peak
            row[f"ours_{policy}_achieved_over_float32_peak"] = (
                ours["train_flops_per_example"] * ours["examples_per_sec"]
                / 1e9 / peak)
        row["ours_flops_per_example"] = ours["train_flops_per_example"]
        configs[config] = row
        print(f"# {config}: MG {peer['examples_per_s']:.1f} ex/s, ours "
              f"{row['ours_float32_examples_per_sec']:.1f} "
              f"({row['ours_float32_over_model_garden']:.2f}x), bf16 "
              f"{row['ours_mixed_bfloat16_examples_per_sec']:.1f} "
              f"({row['ours_mixed_bfloat16_over_model_garden']:.2f}x)",
              file=sys.stderr, flush=True)
    print(json.dumps({
        "benchmark": "bench_peer",
        "batch_size": args.batch_size, "steps": args.steps,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "configs": configs}, indent=2))


if __name__ == "__main__":
    main()
