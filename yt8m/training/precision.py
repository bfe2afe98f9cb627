"""Mixed precision for training: the Keras dtype policy and loss scaling.

`--mixed_precision` names a Keras dtype policy:

* `float32` (default): everything in float32.
* `mixed_bfloat16`: layers compute in bfloat16, variables stay float32. No
  loss scaling (bfloat16 has float32's exponent range). The CPU lever on
  machines with AVX512_BF16 / AMX, and the usual one on TPUs and Ampere+.
* `mixed_float16`: layers compute in float16, variables stay float32, and
  the loss is scaled dynamically (`keras.optimizers.LossScaleOptimizer`) so
  small gradients do not underflow. The GPU lever (tensor cores).

What stays float32 under both mixed policies: the variables (so checkpoints
are interchangeable between policies), the classifier heads' softmax and
sigmoid (`MoeModel`/`LogisticModel` cast their logits to float32, so every
model's predictions are float32), the loss, the metrics, BatchNormalization
statistics (Keras computes them in float32), `l2_normalize` and
`masked_softmax` (yt8m.layers.layer_utils).

The policy applies to the model built for training only. It is a training
setting, like `batch_norm_momentum`, and is not written to
`model_flags.json`: eval.py, inference.py and the SavedModel export rebuild
the model in float32 from the same float32 weights.
"""

import contextlib

import keras

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def check_policy(name):
    """Returns `name` if it is one of `POLICIES`; raises ValueError if not."""
    if name not in POLICIES:
        raise ValueError(
            "Invalid value for `mixed_precision`: expected one of "
            f"{list(POLICIES)}. Received: {name!r}"
        )
    return name


@contextlib.contextmanager
def policy_scope(name):
    """Builds layers under the dtype policy `name`, then restores the
    previous global policy (Keras keeps one global policy, read when a layer
    is created)."""
    check_policy(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def needs_loss_scaling(name):
    return check_policy(name) == "mixed_float16"


def wrap_optimizer(optimizer, name):
    """`optimizer`, wrapped in a dynamic `LossScaleOptimizer` for float16."""
    if needs_loss_scaling(name):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def inner_optimizer(optimizer):
    """The optimizer that applies the updates (inside a loss-scale wrapper)."""
    return getattr(optimizer, "inner_optimizer", optimizer)
