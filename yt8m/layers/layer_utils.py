"""Small helpers shared by the frame-level layers (not layers themselves).

Axis letters: B=batch, T=frames, D=features, K=clusters, G=groups, H=heads.
"""

import math
import numbers

import keras
from keras import ops


def check_positive_int(name, value):
    """Raises a Keras-style `ValueError` unless `value` is a positive int."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a positive "
            f"integer. Received: {name}={value!r}"
        )
    return int(value)


def check_rate(name, value):
    """Raises unless `value` is a float in [0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value < 1.0
    ):
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a float in "
            f"[0, 1). Received: {name}={value!r}"
        )
    return float(value)


def check_bool(name, value):
    """Raises unless `value` is a Python bool."""
    if not isinstance(value, bool):
        raise ValueError(
            f"Invalid value for argument `{name}`: expected True or False. "
            f"Received: {name}={value!r}"
        )
    return value


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected one of "
            f"{list(choices)}. Received: {name}={value!r}"
        )
    return value


def all_valid_mask(frames):
    """A [B, T] all-True mask for `frames` [B, T, D]."""
    return ops.ones(ops.shape(frames)[:2], dtype="bool")  # [B, T]


def zero_padded_frames(frames, mask):
    """Sets padded frames to exactly 0 (`where`, so 1e3 or inf never leak)."""
    if mask is None:
        return frames
    mask = ops.cast(mask, "bool")
    return ops.where(mask[:, :, None], frames, ops.zeros_like(frames))


def l2_normalize(x, axis=-1, epsilon=1e-12):
    """`tf.nn.l2_normalize`: x * rsqrt(max(sum(x**2), epsilon)).

    Unlike `keras.ops.normalize` this never forms rsqrt(0), so an all-zero
    vector (an all-padding video) has a finite value *and* gradient.
    Computed in float32 (epsilon would underflow in float16).
    """
    dtype = x.dtype
    x = ops.cast(x, "float32")  # 1e-12 underflows in float16
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.cast(x * ops.rsqrt(ops.maximum(square_sum, epsilon)), dtype)


def masked_softmax(scores, mask, axis):
    """Softmax over `axis` where masked entries get exactly zero weight.

    Args:
      scores: float tensor.
      mask: bool tensor broadcastable to `scores`, True = may attend.
      axis: the softmax axis.
    A slice with no valid entry returns all zeros (not NaN, not uniform).
    Computed in float32, returned in the dtype of `scores`.
    """
    dtype = scores.dtype
    scores = ops.cast(scores, "float32")  # -1e9 overflows in float16
    mask = ops.cast(mask, "bool")
    mask = ops.broadcast_to(mask, ops.shape(scores))
    very_negative = ops.full_like(scores, -1e9)
    scores = ops.where(mask, scores, very_negative)
    weights = ops.softmax(scores, axis=axis)
    return ops.cast(ops.where(mask, weights, ops.zeros_like(weights)), dtype)


def key_masked_softmax(scores, key_mask):
    """Softmax over the last axis (keys) with padded keys at weight 0.

    The lean form of `masked_softmax` for a mask over keys only: one bias
    [B, 1, 1, T] (0 or -1e9) added to the scores, then one softmax, so the
    training step stores the weights only (`masked_softmax` broadcasts the
    mask and selects twice over the full [B, H, T, T] tensor). Rows whose
    keys are all padded come out uniform, not zero: callers zero the output
    at padded frames (a valid query always has a valid key, itself).

    Args:
      scores: float tensor [B, ..., T].
      key_mask: bool [B, T], True = may be attended to.
    Computed in float32 (-1e9 overflows in float16), returned in the dtype
    of `scores`.
    """
    dtype = scores.dtype
    bias = ops.where(ops.cast(key_mask, "bool"), 0.0, -1e9)  # [B, T] f32
    bias = ops.reshape(bias, (ops.shape(bias)[0],)
                       + (1,) * (len(scores.shape) - 2) + (-1,))
    weights = ops.softmax(ops.cast(scores, "float32") + bias, axis=-1)
    return ops.cast(weights, dtype)


def frame_matmul(x, kernel):
    """`x @ kernel` for x [..., D] and kernel [D, K], as one 2-D matmul
    [N, D] x [D, K] over the flattened leading axes -> [..., K].

    `ops.einsum("btd,dk->btk")` runs on TensorFlow as a batched matmul
    (`BatchMatMulV2`) that broadcasts the kernel, and its kernel gradient is
    formed per example ([B, D, K]) and then summed over the batch; the 2-D
    matmul's gradient is one [D, N] x [N, K] product. Measured on DbofModel
    (batch 32 x 300 frames, `bench/profile_dbof.py`): the batched form's
    matmuls plus that sum took 1.2x the kernel time of the 2-D form.
    """
    lead = ops.shape(x)[:-1]
    flat = ops.reshape(x, (-1, x.shape[-1]))
    y = ops.matmul(flat, kernel)  # [N, K]
    return ops.reshape(y, tuple(lead) + (kernel.shape[-1],))


def project(dense, x, input_dims):
    """`dense(x)` for an `EinsumDense` that contracts the last `input_dims`
    axes of x, as one 2-D matmul over the flattened leading axes.

    The einsum `keras.layers.MultiHeadAttention` projects with
    ("abc,cde->abde", "abcd,cde->abe") runs on TensorFlow as a batched
    matmul that broadcasts the kernel (see `frame_matmul`). Same weights,
    same result up to rounding.
    """
    kernel = ops.cast(dense.kernel, x.dtype)
    in_shape = tuple(kernel.shape[:input_dims])
    out_shape = tuple(kernel.shape[input_dims:])
    lead = ops.shape(x)[: len(x.shape) - input_dims]
    flat = ops.reshape(x, (-1, math.prod(in_shape)))
    y = ops.matmul(flat, ops.reshape(kernel, (math.prod(in_shape), -1)))
    y = ops.reshape(y, tuple(lead) + out_shape)
    if dense.bias is not None:
        y = y + ops.cast(dense.bias, y.dtype)
    return y


def get_initializer(name, value):
    """`keras.initializers.get`, raising a ValueError that names `name`."""
    try:
        return keras.initializers.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a Keras "
            f"initializer or its name. Received: {name}={value!r}"
        ) from error
