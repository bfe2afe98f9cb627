"""Bidirectional: `keras.layers.Bidirectional` that can rematerialise."""

import keras
from keras import ops

from yt8m.layers import remat


@keras.saving.register_keras_serializable(package="yt8m")
class Bidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional`, plus rematerialisation in training.

    Built inside `yt8m.layers.remat.remat_scope()`, a training call stores
    only the layer's input and recomputes each direction in the backward
    pass (one extra forward pass of the layer), one direction at a time,
    instead of storing every step's gates of both. Otherwise (at inference,
    with `return_state` or `initial_state`) it is exactly
    `keras.layers.Bidirectional`, whose call it follows; weights and config
    are the same.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        # A training setting, not config (yt8m.layers.remat).
        self._rematerialize = remat.enabled()

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if not (self._rematerialize and training and initial_state is None
                and not self.return_state
                and self.merge_mode in _MERGE):
            return super().call(sequences, initial_state=initial_state,
                                mask=mask, training=training)

        # One direction at a time: its backward pass holds that direction's
        # per-step gates only.
        def direction(layer):
            kwargs = {}
            if layer._call_has_training_arg:
                kwargs["training"] = training
            if layer._call_has_mask_arg:
                kwargs["mask"] = mask
            out = remat.rematerialize(
                layer, lambda x: layer(x, **kwargs), sequences)
            return ops.cast(out, self.compute_dtype)

        y = direction(self.forward_layer)
        y_rev = direction(self.backward_layer)
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        return _MERGE[self.merge_mode](y, y_rev)


# keras.layers.Bidirectional's merge modes (its call, Keras 3.15).
_MERGE = {
    "concat": lambda y, y_rev: ops.concatenate([y, y_rev], axis=-1),
    "sum": lambda y, y_rev: y + y_rev,
    "ave": lambda y, y_rev: (y + y_rev) / 2,
    "mul": lambda y, y_rev: y * y_rev,
}
