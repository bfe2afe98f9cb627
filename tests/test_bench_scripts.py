"""bench/bench_pipeline.py and bench/bench_infer.py at tiny sizes.

Each script runs in a subprocess, as a user runs it, and must print one
JSON object whose rates are positive and whose ratios are the quotients of
the rates they name (`numerator` / `denominator` are dotted paths into the
same JSON), with `met == (value >= target)`.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--num_videos=16", "--batch_size=8", "--max_frames=20",
        "--num_shards=2"]
# Times are reported to the millisecond: a rate and its time agree within
# that rounding.
ROUNDING = 6e-4


def run_script(name, *args, expect_ok=True):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", name), *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    if expect_ok:
        assert proc.returncode == 0, (
            f"{name} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
            f"{proc.stderr[-4000:]}")
        lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
        assert len(lines) == 1, proc.stdout  # ONE JSON object
        return json.loads(lines[0])
    return proc


def lookup(result, dotted):
    value = result
    for key in dotted.split("."):
        value = value[key]
    return value


def check_ratios(result, expected):
    """Every ratio: named target, value = numerator / denominator, met."""
    assert set(result["ratios"]) == set(expected)
    for name, target in expected.items():
        r = result["ratios"][name]
        assert r["target"] == target
        num, den = lookup(result, r["numerator"]), lookup(result,
                                                          r["denominator"])
        assert num > 0 and den > 0
        assert r["value"] == pytest.approx(num / den, rel=2e-3, abs=1e-4)
        assert r["met"] is (r["value"] >= target)


def check_machine(result):
    machine = result["machine"]
    assert machine["cpu_count"] >= 1
    assert len(machine["load_average"]) == 3
    assert machine["tensorflow"].count(".") >= 1
    assert machine["device"] == "cpu"


def test_reader_passes_build_the_pipeline_once():
    # Building (tracing) a pipeline is a one-time cost: the timed pass
    # iterates the pipeline the warm-up pass built.
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import bench_readers
    finally:
        sys.path.pop(0)
    built, iterated = [], []

    class Pipeline:
        def __iter__(self):
            iterated.append(len(built))
            return iter([1, 2, 3])

    def make():
        built.append(1)
        return Pipeline()

    items, seconds, cpu, build = bench_readers.time_pass(
        make, lambda item: item)
    assert items == 6 and seconds >= 0 and cpu >= 0 and build >= 0
    assert built == [1] and iterated == [1, 1]


def test_bench_pipeline_tiny():
    result = run_script(
        "bench_pipeline.py", *TINY, "--models=FrameLevelLogisticModel",
        "--warmup=1", "--steps=1", "--repeats=1", "--num_readers=2")
    assert result["benchmark"] == "bench_pipeline"
    check_machine(result)
    assert result["data"]["num_videos"] == 16
    assert result["reader_shapes"]["video_matrix"] == [None, 20, 1152]
    for key in ("raw_read", "bare_parse", "reader_training"):
        stage = result["pipelines"][key]
        assert stage["videos_per_s"] > 0
        assert stage["cpu_ms_per_video"] > 0
        # The best pass is the one reported.
        assert stage["videos_per_s"] == max(stage["videos_per_s_each_pass"])
        assert stage["seconds"] == pytest.approx(
            16 / stage["videos_per_s"], rel=1e-3, abs=ROUNDING)
    assert result["pipelines"]["reader_training"]["num_readers"] == 2
    for key in ("raw_read", "bare_parse", "reader_training"):
        assert result["pipelines"][key]["build_seconds"] > 0
    model = result["models"]["FrameLevelLogisticModel"]
    assert model["examples_per_s"] > 0 and model["params"] > 0
    assert model["seconds_per_step"] == pytest.approx(
        8 / model["examples_per_s"], rel=1e-3, abs=ROUNDING)
    assert "CPU" in model["variable_device"]
    assert result["fastest_model"] == "FrameLevelLogisticModel"
    assert result["fastest_model_examples_per_s"] == model["examples_per_s"]
    check_ratios(result, {"reader_to_bare_parse": 0.6,
                          "reader_to_fastest_model": 3.0})
    rates = {key: result["pipelines"][key]["videos_per_s"]
             for key in ("raw_read", "bare_parse")}
    assert result["bounds"] == {
        f"{key}_to_fastest_model": pytest.approx(
            rates[key] / model["examples_per_s"], rel=2e-3, abs=1e-4)
        for key in rates}
    reader_cpu = result["pipelines"]["reader_training"]["cpu_ms_per_video"]
    assert result["informational_ratios"]["reader_to_bare_parse_cpu"] == (
        pytest.approx(result["pipelines"]["bare_parse"]["cpu_ms_per_video"]
                      / reader_cpu, rel=2e-3, abs=1e-4))
    assert result["informational_ratios"][
        "reader_to_fastest_model_cpu"] == pytest.approx(
            model["cpu_ms_per_example"] / reader_cpu, rel=2e-3, abs=1e-4)


def check_binary(figures, num_videos):
    assert figures["videos"] == num_videos
    assert figures["batches"] == num_videos // 8
    for key in ("end_to_end_videos_per_s", "steady_videos_per_s",
                "steady_window_s", "steady_cpu_ms_per_video", "wall_s",
                "imports_s"):
        assert figures[key] > 0, key
    # Start-up: imports, then the first batch, before the end.
    assert (0 < figures["imports_s"] < figures["time_to_first_batch_s"]
            < figures["wall_s"])
    assert figures["tail_after_last_batch_s"] >= 0
    assert figures["wall_s"] == pytest.approx(
        num_videos / figures["end_to_end_videos_per_s"], rel=1e-3,
        abs=ROUNDING)
    assert figures["steady_window_s"] == pytest.approx(
        (num_videos - 8) / figures["steady_videos_per_s"], rel=1e-3,
        abs=ROUNDING)


def check_infer(result, binaries):
    assert result["benchmark"] == "bench_infer"
    check_machine(result)
    forward = result["bare_forward"]
    # A pass before the binaries and one after each.
    passes = forward["passes"]
    assert len(passes) == len(binaries) + 1
    for p in passes:
        assert p["videos"] == 3 * 8  # --forward_steps=3 batches of 8
        assert p["videos_per_s"] > 0 and p["cpu_ms_per_video"] > 0
        assert p["model_load_s"] > 0 and p["first_call_incl_trace_s"] > 0
        assert p["seconds"] == pytest.approx(
            p["videos"] / p["videos_per_s"], rel=1e-3, abs=ROUNDING)
    assert forward["best_videos_per_s"] == max(
        p["videos_per_s"] for p in passes)
    for i, key in enumerate(binaries):
        figures = result[key]
        check_binary(figures, 16)
        # Compared with the mean of the passes just before and after it.
        around = passes[i:i + 2]
        assert figures["bare_forward_reference_videos_per_s"] == (
            pytest.approx(sum(p["videos_per_s"] for p in around) / 2,
                          abs=1e-3))
        assert figures["bare_forward_reference_cpu_ms_per_video"] == (
            pytest.approx(sum(p["cpu_ms_per_video"] for p in around) / 2,
                          abs=1e-3))
        informational = result["informational_ratios"]
        assert informational[f"{key}_end_to_end_to_bare_forward"] == (
            pytest.approx(figures["end_to_end_videos_per_s"]
                          / figures["bare_forward_reference_videos_per_s"],
                          rel=2e-3, abs=1e-4))
        assert informational[f"{key}_steady_cpu_bare_forward_to_binary"] == (
            pytest.approx(figures["bare_forward_reference_cpu_ms_per_video"]
                          / figures["steady_cpu_ms_per_video"],
                          rel=2e-3, abs=1e-4))
    check_ratios(result, {f"{key}_steady_to_bare_forward": 0.8
                          for key in binaries})


def test_bench_infer_inference_frame_level_tiny():
    result = run_script(
        "bench_infer.py", *TINY, "--model=DbofModel", "--binaries=inference",
        "--train_batch_size=8", "--train_steps=1",
        "--hparams=dbof_cluster_size=32,dbof_hidden_size=16,"
        "moe_num_mixtures=1")
    check_infer(result, ["inference_py"])
    assert result["frame_level"] is True
    assert "eval_py" not in result
    figures = result["inference_py"]
    assert figures["csv_rows"] == 16
    # No eval.py run: inference.py (and the bare forward) read the checkpoint.
    assert figures["model_loaded_from"].endswith("model.ckpt-1")
    assert [p["model_loaded_from"] for p in result["bare_forward"][
        "passes"]] == ["checkpoint", "checkpoint"]


def test_bench_infer_eval_video_level_tiny():
    result = run_script(
        "bench_infer.py", *TINY, "--model=MoeModel", "--binaries=eval",
        "--train_batch_size=8", "--train_steps=1",
        "--hparams=moe_num_mixtures=1")
    check_infer(result, ["eval_py"])
    assert result["frame_level"] is False
    assert result["max_frames"] is None
    assert "inference_py" not in result
    # eval.py exported the model inference.py (and the 2nd pass) loads.
    assert [p["model_loaded_from"] for p in result["bare_forward"][
        "passes"]] == ["checkpoint", "inference_model.keras"]


def test_device_gpu_without_gpu_fails_clearly():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    proc = run_script("bench_pipeline.py", *TINY, "--device=gpu",
                      expect_ok=False)
    assert proc.returncode == 2
    assert "--device=gpu, but TensorFlow finds no GPU" in proc.stderr
    assert not proc.stdout.strip()


@pytest.mark.parametrize("microbatch_size", [0, 2])
def test_memory_profile_tiny(microbatch_size):
    result = run_script(
        "memory_profile.py", "--model=FrameLevelLogisticModel",
        "--batch_size=4", "--max_frames=10", "--num_classes=20",
        f"--microbatch_size={microbatch_size}")
    assert result["benchmark"] == "memory_profile"
    phases = result["phases"]
    assert list(phases) == ["after_import", "model_built", "batch_made",
                            "first_step", "second_step"]
    state = result["parameter_state_mb"]
    # 1152 x 20 kernel + 20 biases, float32.
    assert state["weights"] == pytest.approx(23060 * 4 / 2**20, abs=1e-3)
    assert state["adam_slots"] == pytest.approx(2 * state["weights"],
                                                abs=1e-3)
    assert state["gradient_buffer_count"] == (3 if microbatch_size else 2)
    # The allocator's counts are real (BFC): the weights are in use once
    # built, Adam's slots too after a step.
    assert phases["model_built"]["allocator_current_mb"] >= state["weights"]
    assert phases["second_step"]["allocator_current_mb"] >= (
        state["weights"] + state["adam_slots"] - 1e-3)
    step = result["step"]
    assert step["allocator_peak_mb"] == (
        phases["second_step"]["allocator_peak_mb"])
    assert step["allocator_peak_mb"] >= (
        phases["second_step"]["allocator_current_mb"])
    assert step["activations_and_workspace_mb"] == pytest.approx(
        step["transient_mb"] - state["gradient_buffers"], abs=0.15)
    assert result["outside_allocator_mb"] == pytest.approx(
        phases["second_step"]["rss_mb"] - step["allocator_peak_mb"],
        abs=0.15)


def test_memory_profile_lists_the_tensors_alive_at_the_peak():
    result = run_script(
        "memory_profile.py", "--model=FrameLevelLogisticModel",
        "--batch_size=4", "--max_frames=10", "--num_classes=20",
        "--trace_top=3")
    trace = result["live_at_peak"]
    # The profiler's allocator events add up to the allocator's own count
    # of the step's transient memory.
    assert trace["traced_peak_mb"] == pytest.approx(
        result["step"]["transient_mb"], abs=0.02)
    assert len(trace["groups"]) == 3
    assert sum(g["mb"] for g in trace["groups"]) <= (
        trace["traced_peak_mb"] + 1e-3)
    sizes = [g["mb"] for g in trace["groups"]]
    assert sizes == sorted(sizes, reverse=True)
    # The step's two largest tensors are float32: the L2-normalised frames
    # [4, 10, 1152], kept for the backward pass, and the kernel's gradient
    # [1152, 20]. Which of them is alive at the peak depends on the order
    # the executor ran the ops in (both, or only the gradient, measured),
    # but at least one is. Its bytes are the allocator's chunk: at least
    # the tensor, at most twice it (BFC hands out a free chunk unsplit when
    # it is under twice the request; seen: 0.175 MB for the gradient).
    known = {"[4,10,1152]": 4 * 10 * 1152 * 4, "[1152,20]": 1152 * 20 * 4}
    found = [g for g in trace["groups"] if g["shape"] in known]
    assert found, trace["groups"]
    for group in found:
        tensor_mb = group["count"] * known[group["shape"]] / 2**20
        assert tensor_mb - 1e-3 <= group["mb"] <= 2 * tensor_mb + 1e-3, group
