"""Installs the yt8m package: a TF2 / Keras 3 YouTube-8M toolkit.

    pip install -e .          # CPU, or a GPU with CUDA already installed
    pip install -e ".[gpu]"   # GPU: TensorFlow with its CUDA libraries

Both give the one `tensorflow` distribution (never `tensorflow-cpu` beside
it: two distributions would share one `tensorflow/` package); the `gpu`
extra only adds NVIDIA's CUDA/cuDNN wheels to it (`tensorflow[and-cuda]`).
"""

import re

import setuptools

# The one place for each version: the package's is yt8m/__init__.py's
# __version__; TensorFlow's range is TENSORFLOW.
TENSORFLOW = ">=2.21,<2.22"


def _version():
    with open("yt8m/__init__.py", encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


setuptools.setup(
    name="yt8m",
    version=_version(),
    description=(
        "YouTube-8M video classification on TensorFlow 2 / Keras 3: "
        "readers, models, training, evaluation and Kaggle inference."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["yt8m", "yt8m.*"]),
    install_requires=[
        f"tensorflow{TENSORFLOW}",
        "keras>=3.10,<4",
        "tensorboard>=2.20,<3",
        "absl-py>=2.1,<3",
        "numpy>=1.26,<3",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "pytest-xdist>=3.5,<4", "hypothesis>=6.100,<7"],
        "gpu": [f"tensorflow[and-cuda]{TENSORFLOW}"],
    },
    entry_points={
        "console_scripts": [
            "yt8m-data=yt8m.data.cli:run",
            "yt8m-train=yt8m.bin.train:run",
            "yt8m-eval=yt8m.bin.eval:run",
            "yt8m-inference=yt8m.bin.inference:run",
            "yt8m-report=yt8m.report.cli:run",
            "yt8m-score=yt8m.evaluation.score_cli:run",
            "yt8m-ensemble=yt8m.evaluation.ensemble_cli:run",
        ],
    },
)
