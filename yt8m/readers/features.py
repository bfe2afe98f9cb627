"""Feature-name helpers, dequantization and frame padding for the readers.

Axis names: B=batch, T=frames, D=feature size, F=sum of feature sizes.
"""

import numpy as np
import tensorflow as tf

# Quantization range of the YT8M feature extractor (`utils.Dequantize`).
MAX_QUANTIZED_VALUE = 2.0
MIN_QUANTIZED_VALUE = -2.0

# Computed in float32 exactly as `yt8m.data.writers.dequantize` does; the
# values equal upstream's float64 Python constants rounded to float32
# (4/255 and 4/512 - 2), so the result is bit-for-bit upstream's.
_QUANTIZED_RANGE = np.float32(MAX_QUANTIZED_VALUE - MIN_QUANTIZED_VALUE)
DEQUANTIZE_SCALE = _QUANTIZED_RANGE / np.float32(255.0)
DEQUANTIZE_BIAS = (_QUANTIZED_RANGE / np.float32(512.0)) + np.float32(
    MIN_QUANTIZED_VALUE
)

FEATURE_DTYPES = ("uint8", "float32")


def _split(value):
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return list(value)


def get_list_of_feature_names_and_sizes(feature_names, feature_sizes):
    """Parses feature names and sizes given in upstream form.

    Accepts comma strings (`"rgb, audio"`, `"1024,128"`, as the upstream
    `--feature_names`/`--feature_sizes` flags) or lists.

    Returns:
      `(names, sizes)`: a list of str and a list of int of equal length.

    Raises:
      ValueError: if the lengths differ, a size is not a positive integer,
        a name is empty or repeated.
    """
    names = [str(name).strip() for name in _split(feature_names)]
    raw_sizes = _split(feature_sizes)
    sizes = []
    for size in raw_sizes:
        try:
            as_int = int(size)
        except (TypeError, ValueError):
            as_int = None
        if as_int is None or as_int <= 0 or str(as_int) != str(size).strip():
            raise ValueError(
                "Invalid value for argument `feature_sizes`: expected "
                f"positive integers. Received: feature_sizes={feature_sizes!r}"
            )
        sizes.append(as_int)
    if not names or any(not name for name in names):
        raise ValueError(
            "Invalid value for argument `feature_names`: expected one or "
            f"more non-empty names. Received: feature_names={feature_names!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(
            "Invalid value for argument `feature_names`: names must be "
            f"unique. Received: feature_names={feature_names!r}"
        )
    if len(names) != len(sizes):
        raise ValueError(
            "Arguments `feature_names` and `feature_sizes` must have the "
            f"same length. Received: feature_names={feature_names!r} "
            f"({len(names)} names) and feature_sizes={feature_sizes!r} "
            f"({len(sizes)} sizes)"
        )
    return names, sizes


def check_positive_int(name, value):
    """Raises a Keras-style ValueError unless `value` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        valid = False
    else:
        valid = value > 0
    if not valid:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a positive "
            f"integer. Received: {name}={value!r}"
        )
    return int(value)


def dequantize(quantized):
    """uint8 (or its float32 cast) to float32: `q*4/255 + 4/512 - 2`.

    Bit-for-bit identical to upstream `utils.Dequantize` and to
    `yt8m.data.writers.dequantize`. A uint8 tensor is dequantized in one
    memory pass where that is exact (`fused_dequantize_is_exact`): on 22 MB
    of uint8 frames the cast, multiply and add are three passes over the
    float32 result, the fused op writes it once.
    """
    quantized = tf.convert_to_tensor(quantized)
    if quantized.dtype == tf.uint8 and fused_dequantize_is_exact():
        return _fused_dequantize(quantized)
    return _multiply_add(quantized)


def _multiply_add(quantized):
    # Upstream's formula: a cast, then a separate multiply and add.
    q = tf.cast(quantized, tf.float32)
    return q * DEQUANTIZE_SCALE + DEQUANTIZE_BIAS


_FUSED_EXACT = []  # [bool] once checked


def _fused_dequantize(quantized):
    # TensorFlow's Dequantize op (MIN_COMBINED, quint8) computes
    # `min_range + q * (max_range - min_range) / 255` in one pass; the range
    # is chosen so that these are upstream's float32 constants.
    low = DEQUANTIZE_BIAS
    return tf.raw_ops.Dequantize(
        input=tf.bitcast(quantized, tf.quint8),
        min_range=low,
        max_range=low + _QUANTIZED_RANGE,
        mode="MIN_COMBINED",
    )


def fused_dequantize_is_exact():
    """Whether `_fused_dequantize` equals upstream's formula for all 256
    values.

    Checked once per process, eagerly on the CPU: the op's kernel computes
    `q * scale + low` in one expression, which a build that contracts it
    into a fused multiply-add would round differently from upstream's
    separate multiply and add.
    """
    if not _FUSED_EXACT:
        with tf.init_scope(), tf.device("/CPU:0"):
            values = tf.range(256, dtype=tf.int32)
            fused = _fused_dequantize(tf.cast(values, tf.uint8)).numpy()
            reference = _multiply_add(values).numpy()
        _FUSED_EXACT.append(
            bool(np.array_equal(fused.view(np.uint32),
                                reference.view(np.uint32)))
        )
    return _FUSED_EXACT[0]


def resize_axis(tensor, axis, new_size, fill_value=0):
    """Truncates or pads `tensor` along `axis` to `new_size` (upstream name).

    Padding uses `fill_value` (zero by default), so padded frames are
    exactly zero.
    """
    tensor = tf.convert_to_tensor(tensor)
    shape = tf.unstack(tf.shape(tensor))
    pad_shape = shape[:]
    pad_shape[axis] = tf.maximum(0, new_size - shape[axis])
    shape[axis] = tf.minimum(shape[axis], new_size)
    resized = tf.concat(
        [
            tf.slice(tensor, tf.zeros_like(shape), tf.stack(shape)),
            tf.fill(tf.stack(pad_shape), tf.cast(fill_value, tensor.dtype)),
        ],
        axis,
    )
    static_shape = tensor.shape.as_list()
    static_shape[axis] = new_size
    resized.set_shape(static_shape)
    return resized
