"""Hyperparameters of stages that several families share.

A stage used by more than one family declares its hyperparameters here once
(fusion ones are in `yt8m.models.fusion`); each family lists them in its
`HPARAMS`.
"""

from yt8m.hparams import HParam

ITERATIONS = HParam(
    "iterations", "integer", 30,
    "Number of frames sampled per video (DBoF; NetVLAD with "
    "netvlad_sample_frames).", check="positive")
ATTENTION_SIZE = HParam(
    "attention_size", "integer", 100,
    "Width of the attention-pooling MLP (Bi-RNNs; Transformer attention "
    "pooling).", check="positive")
ATTENTION_HEADS = HParam(
    "attention_heads", "integer", 1,
    "Attention-pooling heads (context vectors), concatenated.",
    check="positive")
