"""The install gives exactly one TensorFlow distribution, CPU or GPU."""

import importlib.metadata
import re

import pytest

from yt8m import tf_install


def _requirements():
    return importlib.metadata.requires("yt8m") or []


def _name(requirement):
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def test_base_install_and_gpu_extra_name_one_tensorflow_distribution():
    base = [r for r in _requirements() if "extra ==" not in r]
    gpu = [r for r in _requirements() if re.search(r'extra == "gpu"', r)]
    tf_names = {_name(r) for r in base + gpu
                if _name(r) in tf_install.TENSORFLOW_DISTRIBUTIONS}
    # Never tensorflow-cpu beside the GPU build: one distribution only.
    assert tf_names == {"tensorflow"}, _requirements()
    assert any(r.startswith("tensorflow[and-cuda]") for r in gpu), gpu
    # One version range for both.
    ranges = {re.sub(r"^tensorflow(\[and-cuda\])?", "", r.split(";")[0])
              .strip() for r in base + gpu if _name(r) == "tensorflow"}
    assert len(ranges) == 1, ranges


def test_version_is_declared_once():
    import yt8m

    assert importlib.metadata.version("yt8m") == yt8m.__version__


def test_this_environment_holds_one_tensorflow():
    assert tf_install.check_single_tensorflow() == ["tensorflow"]


def test_two_distributions_are_refused_with_the_repair_command():
    with pytest.raises(RuntimeError, match="pip uninstall -y tensorflow "
                       "tensorflow-cpu"):
        tf_install.check_single_tensorflow(
            ["numpy", "tensorflow", "Tensorflow_CPU"])
    assert tf_install.check_single_tensorflow(["tensorflow-cpu"]) == [
        "tensorflow-cpu"]
