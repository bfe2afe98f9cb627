"""bench/bench_loop.py: a tiny run prints one JSON object that adds up."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "bench_loop.py")

WARMUP, STEPS, BATCH = 2, 3, 8
TINY_HPARAMS = {"MoeModel": {"moe_num_mixtures": 1},
                "DbofModel": {"dbof_cluster_size": 32,
                              "dbof_hidden_size": 16}}


def _run(*args, timeout=300):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run([sys.executable, SCRIPT, *args],
                          capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tiny_result():
    proc = _run(
        "--models=MoeModel,DbofModel", f"--batch_size={BATCH}",
        f"--warmup={WARMUP}", f"--steps={STEPS}", "--log_every_steps=1",
        "--bare_warmup=2", "--max_frames=12", "--num_classes=40",
        "--num_shards=2", "--matmul_n=128", "--constant_input",
        f"--hparams={json.dumps(TINY_HPARAMS)}",
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_json_fields_and_rates(tiny_result):
    r = tiny_result
    assert r["benchmark"] == "bench_loop"
    machine = r["machine"]
    assert machine["cpu_count"] >= 1
    assert len(machine["load_average_start"]) == 3
    assert machine["tensorflow"]
    assert machine["device"] == "cpu"
    assert all(g > 0 for g in machine["matmul_float32_gflops_start_end"])
    settings = r["settings"]
    assert (settings["warmup_steps"], settings["timed_steps"],
            settings["batch_size"]) == (WARMUP, STEPS, BATCH)
    assert settings["mixed_precision"] == "float32"
    assert settings["jit_compile"] is False
    assert set(r["models"]) == {"MoeModel", "DbofModel"}
    assert r["models"]["DbofModel"]["frame_level"] is True
    assert r["models"]["MoeModel"]["frame_level"] is False
    assert r["models"]["DbofModel"]["hparams"] == TINY_HPARAMS["DbofModel"]
    for name, m in r["models"].items():
        loop, bare = m["loop"], m["bare_step"]
        assert loop["examples_per_sec"] > 0, name
        assert bare["examples_per_sec"] > 0, name
        # Rates and step times describe the same measurement.
        for side in (loop, bare):
            assert side["examples_per_sec"] * side["seconds_per_step"] == \
                pytest.approx(BATCH, rel=1e-2)
        # One logged rate per log line inside the timed window.
        logged = loop["loop_logged_examples_per_sec"]
        assert len(logged) == STEPS and all(v > 0 for v in logged)
        assert loop["final_checkpoint_s"] > 0
        assert loop["process_cpu_s_per_step"] > 0
        assert m["input_pipeline_alone"]["examples_per_sec"] > 0
        est = m["loop_cpu_s_per_step_estimate"]
        assert est["total_measured"] == loop["process_cpu_s_per_step"]
        assert m["ratio"] == pytest.approx(
            loop["examples_per_sec"] / bare["examples_per_sec"], abs=1e-4)
        assert m["met"] == (m["ratio"] >= m["target"])
        assert m["cpu_ratio"] == pytest.approx(
            bare["process_cpu_s_per_step"] / loop["process_cpu_s_per_step"],
            abs=1e-3)
        constant = m["loop_constant_input"]
        assert constant["examples_per_sec"] > 0
        assert constant["ratio_to_bare"] * \
            constant["real_input_over_constant_input"] == \
            pytest.approx(m["ratio"], rel=1e-3)
        assert m["target"] == 0.9
    assert r["met"] == all(m["met"] for m in r["models"].values())


def test_bad_timed_window_fails_before_tensorflow():
    proc = _run("--steps=5", "--log_every_steps=10")
    assert proc.returncode == 2
    assert "multiple of --log_every_steps" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--hparams={\"MoeModel\": {\"no_such\": 1}}", "--models=MoeModel"],
     "does not declare"),
    (["--hparams={\"no_such\": 1}"], "no model in --models declares"),
    (["--models=NoSuchModel"], "unknown model"),
    (["--mixed_precision=float8"], "--mixed_precision"),
])
def test_bad_arguments_fail_clearly(args, message, capsys):
    # In this process (TensorFlow is imported already): these are refused
    # before any device is chosen or data written.
    bench_loop = _module()
    with pytest.raises(SystemExit) as e:
        bench_loop.main(args)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""


def test_gpu_without_gpu_fails_clearly(capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible")
    with pytest.raises(SystemExit) as e:
        _module().select_device(tf, "gpu")
    assert e.value.code == 2
    assert "--device=gpu, but TensorFlow finds no GPU" in \
        capsys.readouterr().err


def _module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_loop", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
