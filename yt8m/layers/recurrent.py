"""GRU / LSTM: Keras's layers, with the input projection out of the time loop.

Keras 3's non-cuDNN recurrent path (every CPU run) calls the cell once per
frame inside a `tf.while_loop` with `parallel_iterations=32`, and the cell
multiplies that frame's input by the input kernel. Two costs follow, both
measured on BiGRUAttentionModel (2 x 2 GRU directions of 1,024 units over
[8, 300, 1,152] frames, 2 vCPU, TF 2.21; `bench/memory_profile.py`,
docs/training.md "The Bi-RNN profile"):

* Memory: the backward loop computes the input kernel's gradient as one
  [F, 3U] partial per frame, summed across iterations; with 32 iterations in
  flight up to 32 partials per direction are alive at once (1.7 GB for the
  first layer's input and recurrent kernels at F = 1,152, U = 1,024: the
  largest part of a Bi-RNN step's peak, found in the allocator's trace).
* Time: 300 small [B, F] x [F, 3U] matmuls instead of one [B * T, F] one.

These layers compute `inputs @ kernel + input_bias` for all frames in one
matmul before the loop (its gradient is then one matmul after the backward
loop), and run the recurrence in their own `tf.while_loop` with
`PARALLEL_ITERATIONS` iterations in flight, which bounds the recurrent
kernel's per-step gradient partials as well. The cell's equations, weights,
mask handling (a masked frame keeps the state and repeats the previous
output, or zeros with `zero_output_for_mask`, as `keras.ops.rnn`),
`go_backwards`, initial states and config are Keras's; outputs and
gradients agree with `keras.layers.GRU` / `LSTM` up to float rounding
(tests/layers/test_recurrent.py compares them).

Which path runs: on a GPU where Keras takes the fused cuDNN kernel, that
kernel (unchanged: it already projects the inputs in one matmul). Otherwise
this loop, except with dropout or recurrent dropout active in training,
`unroll=True`, a GRU with `reset_after=False`, or a backend other than
TensorFlow, which run Keras's own loop. The hook: `keras.layers.GRU` and
`LSTM` call `super().inner_loop` when cuDNN does not apply; these classes
put `_ProjectedLoop` between them and `keras.layers.RNN` in the method
resolution order, so that call lands here.
"""

import keras
from keras import ops

# Iterations of the recurrence (and of its gradient) in flight at once.
# Each in-flight gradient iteration may hold a [U, gates * U] partial of the
# recurrent kernel's gradient; 2 lets one frame's matmuls overlap the next
# frame's element-wise work. Speed did not depend on it: one GRU of 1,024
# units, forward and backward over [8, 300, 1152], took 1.0-1.5 s with 1,
# 2, 4 or 32 in flight (run-to-run noise; Keras's loop 1.8-2.0 s; 2 vCPU).
PARALLEL_ITERATIONS = 2


class _ProjectedLoop(keras.layers.RNN):
    """The non-cuDNN `inner_loop` of `GRU` and `LSTM` (see the module)."""

    def _projected_loop_applies(self, training):
        cell = self.cell
        dropout = training and (0.0 < cell.dropout < 1.0
                                or 0.0 < cell.recurrent_dropout < 1.0)
        return (keras.backend.backend() == "tensorflow"
                and not self.unroll
                and not dropout
                and getattr(cell, "reset_after", True))

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._projected_loop_applies(training):
            return super().inner_loop(sequences, initial_state, mask=mask,
                                      training=training)
        import tensorflow as tf

        cell = self.cell
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        states = tuple(ops.convert_to_tensor(s, cell.compute_dtype)
                       for s in initial_state)
        x = ops.cast(sequences, cell.compute_dtype)
        kernel = ops.cast(cell.kernel, cell.compute_dtype)
        recurrent_kernel = ops.cast(cell.recurrent_kernel,
                                    cell.compute_dtype)
        input_bias = recurrent_bias = None
        if cell.use_bias:
            bias = ops.cast(cell.bias, cell.compute_dtype)
            if isinstance(cell, keras.layers.GRUCell):
                input_bias, recurrent_bias = bias[0], bias[1]
            else:
                input_bias = bias

        # All frames' input projections in one matmul: [B, T, G].
        batch, steps = tf.shape(x)[0], tf.shape(x)[1]
        projected = tf.matmul(tf.reshape(x, [-1, tf.shape(x)[2]]), kernel)
        if input_bias is not None:
            projected = projected + input_bias
        projected = tf.reshape(projected, [batch, steps, -1])
        projected = tf.transpose(projected, [1, 0, 2])  # [T, B, G]
        if mask is not None:
            mask = tf.transpose(tf.cast(mask, tf.bool), [1, 0])  # [T, B]
        if self.go_backwards:
            projected = tf.reverse(projected, [0])
            if mask is not None:
                mask = tf.reverse(mask, [0])

        step = (self._gru_step if isinstance(cell, keras.layers.GRUCell)
                else self._lstm_step)
        inputs_ta = tf.TensorArray(projected.dtype, size=steps,
                                   element_shape=projected.shape[1:]
                                   ).unstack(projected)
        masks_ta = None
        if mask is not None:
            masks_ta = tf.TensorArray(tf.bool, size=steps,
                                      element_shape=mask.shape[1:]
                                      ).unstack(mask)
        # Every frame's output only when the layer returns the sequence;
        # otherwise the last output is all the loop has to carry.
        outputs_ta = tf.TensorArray(
            cell.compute_dtype, size=steps if self.return_sequences else 0,
            element_shape=states[0].shape)

        def body(t, outputs_ta, previous_output, states):
            output, new_states = step(inputs_ta.read(t), states,
                                      recurrent_kernel, recurrent_bias)
            if masks_ta is not None:
                keep = masks_ta.read(t)[:, None]
                masked = (tf.zeros_like(output) if self.zero_output_for_mask
                          else previous_output)
                output = tf.where(keep, output, masked)
                new_states = tuple(tf.where(keep, new, old)
                                   for new, old in zip(new_states, states))
            if self.return_sequences:
                outputs_ta = outputs_ta.write(t, output)
            return t + 1, outputs_ta, output, new_states

        _, outputs_ta, last_output, states = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), outputs_ta, tf.zeros_like(states[0]), states),
            maximum_iterations=steps,
            parallel_iterations=PARALLEL_ITERATIONS,
        )
        if self.return_sequences:
            outputs = tf.transpose(outputs_ta.stack(), [1, 0, 2])  # [B, T, U]
        else:
            outputs = last_output[:, None]  # [B, 1, U], as Keras's loop
        return last_output, outputs, list(states)

    def _gru_step(self, x, states, recurrent_kernel, recurrent_bias):
        cell = self.cell
        (h,) = states
        x_z, x_r, x_h = ops.split(x, 3, axis=-1)
        inner = ops.matmul(h, recurrent_kernel)
        if recurrent_bias is not None:
            inner = inner + recurrent_bias
        r_z, r_r, r_h = ops.split(inner, 3, axis=-1)
        z = cell.recurrent_activation(x_z + r_z)
        r = cell.recurrent_activation(x_r + r_r)
        hh = cell.activation(x_h + r * r_h)
        h = z * h + (1 - z) * hh
        return h, (h,)

    def _lstm_step(self, x, states, recurrent_kernel, unused_bias):
        cell = self.cell
        h, c = states
        z = x + ops.matmul(h, recurrent_kernel)
        z0, z1, z2, z3 = ops.split(z, 4, axis=-1)
        i = cell.recurrent_activation(z0)
        f = cell.recurrent_activation(z1)
        c = f * c + i * cell.activation(z2)
        o = cell.recurrent_activation(z3)
        h = o * cell.activation(c)
        return h, (h, c)


@keras.saving.register_keras_serializable(package="yt8m")
class GRU(keras.layers.GRU, _ProjectedLoop):
    """`keras.layers.GRU` with the input projection out of the time loop
    off cuDNN (`yt8m.layers.recurrent`). Same arguments, weights, config and
    results."""


@keras.saving.register_keras_serializable(package="yt8m")
class LSTM(keras.layers.LSTM, _ProjectedLoop):
    """`keras.layers.LSTM` with the input projection out of the time loop
    off cuDNN (`yt8m.layers.recurrent`). Same arguments, weights, config and
    results."""
