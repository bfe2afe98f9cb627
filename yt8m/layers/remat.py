"""Rematerialisation (gradient checkpointing) for the memory-bound layers.

Training a Transformer or a bidirectional RNN over 300 frames stores every
intermediate activation for the backward pass: per example, the attention
probabilities [H, T, T] and the feed-forward [T, I] of every block, or every
RNN step's gates. `remat_scope(True)` makes the layers that support it
(`TransformerEncoderBlock` and its subclasses, `CrossModalTransformerBlock`,
`yt8m.layers.birnn.Bidirectional`) store only their inputs and recompute their
forward pass during the backward pass: about one extra forward pass of those
layers per step, for activations of one layer at a time instead of all.

Why not Keras 3's own `keras.RematScope`: it wraps `layer.call` with
`tf.recompute_grad`, which in a `tf.function` (graph mode) accepts no keyword
arguments, and every layer call passes `training=` and `mask=` as keywords
("custom_gradient ... keyword arguments only when eager execution is
enabled"). Here the recomputed function is a closure over the keyword
arguments and takes the differentiable tensors positionally.

Dropout: the recomputation must draw the same dropout masks as the forward
pass, or the gradient is that of another network. Keras' dropout draws from
`SeedGenerator`s whose state variables advance on every draw; the states of
every seed generator the recomputed function draws from are read before the
forward pass and assigned back at the start of the forward and of the
recomputed pass, so both passes draw identical masks and leave the states
where a plain forward pass would.

Like `--mixed_precision`, this is a training setting read when the layers are
built (`remat_scope` around the model's construction); it is not part of any
layer's config, so eval.py, inference.py and the export build the plain model
from the same weights. Backends other than TensorFlow run the plain forward
pass.
"""

import contextlib
import threading

import keras

_STATE = threading.local()


def enabled():
    """Whether layers built now rematerialise (see `remat_scope`)."""
    return getattr(_STATE, "enabled", False)


@contextlib.contextmanager
def remat_scope(enable=True):
    """Layers built inside rematerialise their forward pass in training."""
    if not isinstance(enable, bool):
        raise ValueError(
            "Invalid value for `remat`: expected a bool. Received: "
            f"remat={enable!r}"
        )
    previous = enabled()
    _STATE.enabled = enable
    try:
        yield
    finally:
        _STATE.enabled = previous


def _seed_generators(layers):
    if isinstance(layers, keras.layers.Layer):
        layers = [layers]
    generators, seen = [], set()
    sublayers = [sub for layer in layers
                 for sub in layer._flatten_layers(include_self=True,
                                                  recursive=True)]
    for sublayer in sublayers:
        for generator in getattr(sublayer, "_seed_generators", ()):
            if id(generator) not in seen:
                seen.add(id(generator))
                generators.append(generator)
    return generators


def rematerialize(layers, fn, *tensors):
    """`fn(*tensors)`, recomputed in the backward pass instead of stored.

    Args:
      layers: the Keras layer (or list of layers) whose seed generators `fn`
        draws from: exactly those are replayed (replaying another's would
        rewind it).
      fn: a function of the tensors only (close over masks, `training` and
        other non-differentiable arguments). Returns a tensor or a tuple.
      *tensors: the differentiable inputs. A tensor `fn` uses but does not
        receive here gets no gradient.
    """
    if keras.backend.backend() != "tensorflow":
        return fn(*tensors)
    import tensorflow as tf
    from tensorflow.python.eager import record  # no public equivalent

    generators = _seed_generators(layers)
    # Read before the forward pass; captured, not passed as arguments (the
    # recomputation's tape watches its arguments, and warns on integers).
    states = [tf.identity(g.state.value) for g in generators]

    def replay(*args):
        for generator, state in zip(generators, states):
            generator.state.assign(state)
        return fn(*args)

    @tf.custom_gradient
    def recomputed(*args):
        # Not recorded on the outer tapes, as in tf.recompute_grad.
        with record.stop_recording():
            result = replay(*args)

        def grad(*upstream, variables=None):
            # A custom gradient itself, as in tf.recompute_grad: computed
            # directly in this function, the recomputation saved nothing
            # (measured).
            @tf.custom_gradient
            def backward(*upstream):
                with tf.GradientTape() as tape:
                    # The recomputation waits for the incoming gradient: a
                    # control dependency. tf.recompute_grad's data
                    # dependency (x + where(b == b, 0, nan) on a bool b) is
                    # folded to x by Grappler's arithmetic optimizer, which
                    # then merges the recomputation with the forward pass:
                    # no memory saved (measured, docs/training.md).
                    with tf.control_dependencies(upstream[:1]):
                        again_args = [tf.identity(a) for a in args]
                    tape.watch(again_args)
                    watched = list(variables or ())
                    tape.watch(watched)
                    again = replay(*again_args)
                grads = tape.gradient(
                    again, again_args + watched,
                    output_gradients=list(upstream),
                    unconnected_gradients=tf.UnconnectedGradients.ZERO)

                def second_order(*unused, **unused_kwargs):
                    raise NotImplementedError(
                        "yt8m.layers.remat: no gradient of the gradient.")

                count = len(args)
                return (grads[:count], grads[count:]), second_order

            return backward(*upstream)

        return result, grad

    return recomputed(*tensors)
