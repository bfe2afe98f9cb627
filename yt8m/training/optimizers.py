"""Optimizer and learning-rate schedule, as the starter `train.py` built them.

* `ExamplesStaircaseDecay`: upstream's
  `exponential_decay(base, global_step * batch_size, decay_examples, decay,
  staircase=True)`, i.e.
  `base * decay ** floor(examples_seen / decay_examples)`.
* `build_optimizer`: `--optimizer` takes a TF1 `tf.train` class name
  (`AdamOptimizer`, ...) mapped to the Keras optimizer with TF1's defaults,
  or any Keras name (`adam`, `adamw`, `sgd`, ...). `--clip_gradient_norm`
  becomes Keras `clipnorm`, which clips **each variable's** gradient to that
  norm, like upstream's per-variable `clip_by_norm` (not `global_clipnorm`).
  Adam (TF1 `AdamOptimizer` or Keras `adam`) is `FusedAdam`: Keras's Adam
  whose dense update is TensorFlow's fused `ResourceApplyAdam` kernel.
* `clip_by_norm`: the training loop's per-variable clipping, in two passes
  over each gradient instead of `tf.clip_by_norm`'s four.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="yt8m")
class ExamplesStaircaseDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr(step) = base * decay ** floor(step * global_batch / decay_examples)`.

    The decay is counted in examples, as upstream, so changing the batch
    size does not change the schedule per example seen.

    Args:
      base_learning_rate: learning rate at step 0 (upstream 0.01).
      learning_rate_decay: multiplier per decay period (upstream 0.95).
      learning_rate_decay_examples: examples per period (upstream 4e6).
      global_batch_size: examples per optimizer step, over all replicas.
    """

    def __init__(
        self,
        base_learning_rate,
        learning_rate_decay,
        learning_rate_decay_examples,
        global_batch_size,
    ):
        for argument, value in (
            ("base_learning_rate", base_learning_rate),
            ("learning_rate_decay", learning_rate_decay),
            ("learning_rate_decay_examples", learning_rate_decay_examples),
            ("global_batch_size", global_batch_size),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value <= 0
            ):
                raise ValueError(
                    f"Invalid value for argument `{argument}`: expected a "
                    f"positive number. Received: {argument}={value!r}"
                )
        self.base_learning_rate = base_learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.learning_rate_decay_examples = learning_rate_decay_examples
        self.global_batch_size = global_batch_size

    def __call__(self, step):
        # float64: step * batch exceeds float32's exact-integer range.
        examples = tf.cast(step, tf.float64) * float(self.global_batch_size)
        periods = tf.floor(
            examples / float(self.learning_rate_decay_examples)
        )
        lr = float(self.base_learning_rate) * tf.pow(
            tf.constant(float(self.learning_rate_decay), tf.float64), periods
        )
        return tf.cast(lr, tf.float32)

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "learning_rate_decay": self.learning_rate_decay,
            "learning_rate_decay_examples": self.learning_rate_decay_examples,
            "global_batch_size": self.global_batch_size,
        }


def _resource(variable):
    """The resource handle of a Keras or tf variable (inside
    `strategy.extended.update`, a distributed variable's handle is the
    current device's component)."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle


@keras.saving.register_keras_serializable(package="yt8m")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose dense update is one fused kernel.

    Keras's TensorFlow backend runs Adam's update as about twelve
    element-wise ops per variable (each a full pass over the variable's
    size); TensorFlow's `ResourceApplyAdam` (the kernel behind TF1's
    `tf.train.AdamOptimizer`, which the starter code used) does the same
    update in one pass, on CPU, GPU and under XLA:

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m += (g - m) * (1 - beta_1)
        v += (g^2 - v) * (1 - beta_2)
        var -= alpha * m / (sqrt(v) + epsilon)

    which is Keras's `Adam.update_step` term for term (`epsilon` is TF1's
    "epsilon hat" in both). Sparse gradients (`tf.IndexedSlices`), `amsgrad`
    and other backends use Keras's own update. Same arguments, variables and
    checkpoint layout as `keras.optimizers.Adam`.

    Measured (`bench/profile_dbof.py`, DbofModel at Model Garden's default
    configuration, 94M parameters, batch 32): the update took 142 ms of a
    873 ms step with Keras's ops (see docs/training.md for the fused
    figure).
    """

    def update_step(self, gradient, variable, learning_rate):
        if (
            keras.backend.backend() != "tensorflow"
            or self.amsgrad
            or isinstance(gradient, tf.IndexedSlices)
        ):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_resource(variable),
            m=_resource(self._momentums[index]),
            v=_resource(self._velocities[index]),
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )


def clip_by_norm(gradient, clip_norm):
    """`tf.clip_by_norm(gradient, clip_norm)` for one variable's gradient,
    in two passes over it instead of four.

    `tf.clip_by_norm` squares, sums, multiplies by `clip_norm` and divides
    (each a full pass); here the sum of squares is one `L2Loss` pass and the
    scale `clip_norm / max(norm, clip_norm)` a scalar applied in one
    multiply. Equal to `tf.clip_by_norm` up to float rounding; a zero
    gradient stays zero. `tf.IndexedSlices` go to `tf.clip_by_norm`.
    """
    if isinstance(gradient, tf.IndexedSlices):
        return tf.clip_by_norm(gradient, clip_norm)
    norm = tf.sqrt(2.0 * tf.cast(tf.nn.l2_loss(gradient), tf.float32))
    clip_norm = tf.cast(clip_norm, tf.float32)
    scale = clip_norm / tf.maximum(norm, clip_norm)
    return gradient * tf.cast(scale, gradient.dtype)


# TF1 `tf.train` class -> (Keras class, arguments reproducing TF1 defaults).
TF1_OPTIMIZERS = {
    # TF1 Adam: beta1 0.9, beta2 0.999, epsilon 1e-8 (Keras default 1e-7).
    "AdamOptimizer": (
        FusedAdam,
        {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    ),
    "GradientDescentOptimizer": (keras.optimizers.SGD, {}),
    # TF1 MomentumOptimizer has no default momentum (upstream's
    # `optimizer_class(learning_rate)` would fail); 0.9 is the usual value.
    "MomentumOptimizer": (keras.optimizers.SGD, {"momentum": 0.9}),
    # TF1 RMSProp: decay 0.9, momentum 0, epsilon 1e-10.
    "RMSPropOptimizer": (
        keras.optimizers.RMSprop,
        {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-10},
    ),
    # TF1 Adagrad: initial accumulator 0.1 (same as Keras).
    "AdagradOptimizer": (
        keras.optimizers.Adagrad,
        {"initial_accumulator_value": 0.1},
    ),
    # TF1 Adadelta: rho 0.95, epsilon 1e-8.
    "AdadeltaOptimizer": (
        keras.optimizers.Adadelta,
        {"rho": 0.95, "epsilon": 1e-8},
    ),
    "FtrlOptimizer": (keras.optimizers.Ftrl, {}),
}


def list_tf1_optimizers():
    """The TF1 optimizer names `build_optimizer` maps, sorted."""
    return sorted(TF1_OPTIMIZERS)


def build_optimizer(name, learning_rate, clip_gradient_norm=1.0, **kwargs):
    """A Keras optimizer from a TF1 (`AdamOptimizer`) or Keras (`adam`) name.

    Args:
      name: TF1 `tf.train` class name (see `TF1_OPTIMIZERS`) or any name
        `keras.optimizers.get` knows (`adam`, `adamw`, `sgd`, `Adam`, ...).
        Keras names get Keras defaults (e.g. Adam epsilon 1e-7).
      learning_rate: float or a `LearningRateSchedule`.
      clip_gradient_norm: clip each variable's gradient to this L2 norm
        (Keras `clipnorm`); disabled if <= 0 or None.
      **kwargs: extra optimizer arguments; they override the TF1 defaults.

    Returns:
      a `keras.optimizers.Optimizer`.

    Raises:
      ValueError: unknown optimizer name (lists the TF1 names).
    """
    clipnorm = None
    if clip_gradient_norm is not None and clip_gradient_norm > 0:
        clipnorm = float(clip_gradient_norm)
    if name in TF1_OPTIMIZERS:
        cls, defaults = TF1_OPTIMIZERS[name]
        arguments = {**defaults, **kwargs}
    else:
        try:
            cls = type(keras.optimizers.get(name))
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Invalid value for argument `optimizer`: unknown optimizer "
                f"{name!r}. Use a TF1 name ({list_tf1_optimizers()}) or a "
                "Keras optimizer name (e.g. 'adam', 'adamw', 'sgd')."
            ) from error
        arguments = dict(kwargs)
        if cls is keras.optimizers.Adam:
            cls = FusedAdam  # same update, one kernel
    return cls(learning_rate=learning_rate, clipnorm=clipnorm, **arguments)


def skip_gradient_aggregation(optimizer):
    """Makes `optimizer.apply_gradients` use the gradients as given, without
    summing them over replicas (the training loop all-reduces and clips them
    itself, once). Keras 3 always sums replica gradients in
    `_all_reduce_sum_gradients`; this replaces that step on this instance.

    Returns True if the hook is installed, False if this Keras has no such
    step (then the caller must hand the optimizer 1/N of the summed
    gradients, and each step all-reduces twice).
    """
    if not callable(getattr(optimizer, "_all_reduce_sum_gradients", None)):
        return False
    optimizer._all_reduce_sum_gradients = lambda grads_and_vars: list(
        grads_and_vars)
    return True
