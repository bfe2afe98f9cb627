"""Gradient accumulation over micro-batches: a batch's gradient with the
activations of one micro-batch alive at a time (`train.py --microbatch_size`).

A step of batch B with micro-batch size M runs the forward and backward pass
on consecutive slices of at most M examples, one after another, and sums
their gradients; the optimizer then updates once, from the sum, and the
all-reduce (under `tf.distribute`) runs once per step as without micro-batches.
Peak memory then grows with M instead of B.

The gradient is the batch's gradient when the model has no batch statistics
(the Transformer and RNN families): the target loss is a sum over examples
divided by the global batch size, and each micro-batch is given its share,
size / B, of the auxiliary losses that are means over the batch. Weight
regularization, which does not depend on the examples, is added whole by
the first micro-batch only: the loop body then has no gradient of it to
compute and hold (with the MoE head's L2 that is a [2048, 11586] and a
[2048, 7724] tensor per slice, and the sums Grappler forms with them).
With batch normalization each micro-batch is normalised by its own statistics and updates the moving
averages once, as each replica does under MirroredStrategy without
synchronized batch norm. Dropout draws different masks than one pass would.
"""

import tensorflow as tf


def check_microbatch_size(microbatch_size):
    if isinstance(microbatch_size, bool) or not isinstance(
            microbatch_size, int) or microbatch_size < 0:
        raise ValueError(
            "microbatch_size: expected an int >= 0 (0: no micro-batches), "
            f"received {microbatch_size!r}.")
    return microbatch_size


def accumulate(fn, batch, microbatch_size, *args):
    """Calls `fn(micro_batch, *args, share, first)` on consecutive slices of
    `batch` and combines the results as one call on the whole batch would
    return.

    `batch` is a nest of tensors whose first dimension is the example; `fn`
    returns `(total, auxiliary, predictions, grads)`: a scalar loss, a dict
    of scalars, a nest of per-example tensors and a list of gradients (None
    for a variable the loss does not reach). `share` is the micro-batch's
    fraction of the examples, a float32 scalar; `fn` scales by it the means
    over examples. `first` is a Python bool, True for the first
    micro-batch only: `fn` adds the terms that do not depend on the
    examples (weight regularization) when it is True, and leaves them out
    otherwise (the loop body is traced with False). Returns the summed
    loss, auxiliary losses and gradients, and the predictions concatenated
    in batch order.

    The micro-batches run in sequence (a while loop with one iteration in
    flight), so one micro-batch's activations are freed before the next
    begins.
    """
    check_microbatch_size(microbatch_size)
    flat = tf.nest.flatten(batch)
    n = tf.shape(flat[0])[0]
    size = tf.constant(max(microbatch_size, 1), tf.int32)
    count = (n + size - 1) // size
    n_float = tf.cast(tf.maximum(n, 1), tf.float32)

    def run(i, first):
        start = i * size
        end = tf.minimum(start + size, n)
        micro = tf.nest.map_structure(lambda t: t[start:end], batch)
        share = tf.cast(end - start, tf.float32) / n_float
        return fn(micro, *args, share, first)

    # The first micro-batch outside the loop gives the structures and the
    # accumulators' initial values (no zeros to add, no None to guess).
    total, auxiliary, predictions, grads = run(tf.constant(0), True)
    present = [i for i, g in enumerate(grads) if g is not None]
    sums = [tf.convert_to_tensor(grads[i]) for i in present]
    leaves = tf.nest.flatten(predictions)
    arrays = [
        tf.TensorArray(p.dtype, size=count, infer_shape=False,
                       element_shape=tf.TensorShape(None)).write(0, p)
        for p in leaves
    ]
    aux_keys = sorted(auxiliary)
    aux = [auxiliary[k] for k in aux_keys]
    # The loop starts once the first micro-batch is done. TensorFlow lowers
    # the loop to dataflow in which each loop variable enters on its own:
    # without this the second micro-batch's forward pass (it needs only the
    # counter) runs beside the first one's backward pass, and both slices'
    # activations are alive at once (measured on BiGRUAttentionModel with
    # the allocator's trace: docs/training.md "The Bi-RNN profile").
    with tf.control_dependencies([total, *aux, *sums, *leaves]):
        first_index = tf.constant(1)

    def body(i, total, aux, sums, arrays):
        t, a, p, g = run(i, False)
        # A variable only the first call's terms reach has no gradient
        # here: nothing to add.
        g = [None if g[j] is None else tf.convert_to_tensor(g[j])
             for j in present]
        return (
            i + 1,
            total + t,
            [x + a[k] for x, k in zip(aux, aux_keys)],
            [s if x is None else s + x for s, x in zip(sums, g)],
            [ta.write(i, x) for ta, x in zip(arrays, tf.nest.flatten(p))],
        )

    _, total, aux, sums, arrays = tf.while_loop(
        lambda i, *_: i < count,
        body,
        (first_index, total, aux, sums, arrays),
        parallel_iterations=1,
    )
    out = list(grads)
    for i, s in zip(present, sums):
        out[i] = s
    joined = []
    for ta, leaf in zip(arrays, leaves):
        x = ta.concat()
        x.set_shape(tf.TensorShape([None]).concatenate(leaf.shape[1:]))
        joined.append(x)
    predictions = tf.nest.pack_sequence_as(predictions, joined)
    return total, dict(zip(aux_keys, aux)), predictions, out
