"""Checks that exactly one TensorFlow distribution is installed.

`tensorflow`, `tensorflow-cpu`, `tensorflow-intel`, ... all install the same
`tensorflow/` package; two of them in one environment overwrite each other's
files, and uninstalling one breaks the other. yt8m depends on `tensorflow`
only (its `gpu` extra adds CUDA wheels to that same distribution), and the
binaries refuse to start in an environment that holds two, saying how to
repair it.
"""

import importlib.metadata

# Distributions that provide the top-level `tensorflow` package.
TENSORFLOW_DISTRIBUTIONS = (
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
    "tensorflow-macos", "tensorflow-aarch64", "tf-nightly",
    "tf-nightly-cpu", "tf-nightly-gpu", "intel-tensorflow",
)


def installed_tensorflow_distributions(distributions=None):
    """Names of the installed TensorFlow distributions, sorted.

    Args:
      distributions: names of installed distributions (default: this
        environment's, from importlib.metadata).
    """
    if distributions is None:
        distributions = [
            d.metadata["Name"] for d in importlib.metadata.distributions()
            if d.metadata["Name"]
        ]
    normalized = {n.lower().replace("_", "-") for n in distributions}
    return sorted(n for n in TENSORFLOW_DISTRIBUTIONS if n in normalized)


def check_single_tensorflow(distributions=None):
    """Raises RuntimeError when more than one TensorFlow is installed."""
    found = installed_tensorflow_distributions(distributions)
    if len(found) > 1:
        extra = [n for n in found if n != "tensorflow"] or found[1:]
        raise RuntimeError(
            "This environment holds several TensorFlow distributions "
            f"({', '.join(found)}) sharing one `tensorflow/` package: "
            "expected exactly one. Repair it with\n"
            f"  pip uninstall -y {' '.join(found)}\n"
            "  pip install -e .        # CPU\n"
            "  pip install -e '.[gpu]' # GPU (CUDA wheels)\n"
            f"(or keep one of them; yt8m needs `tensorflow`, not {extra})."
        )
    return found
