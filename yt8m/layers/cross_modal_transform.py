"""CrossModalTransform: the `F` of the cross-modal paper's equations.

Axis letters: B=batch, T=frames, K=clusters or attention units.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils

CROSS_MODAL_MODES = ("none", "gate", "concat")


@keras.saving.register_keras_serializable(package="yt8m")
class CrossModalTransform(keras.layers.Layer):
    """Maps one modality's per-frame weights into the other's space.

    The cross-modal term of the paper (section 2) for NetVLAD and the
    attention RNN: `F_v(alpha_v)` is added to `alpha_a`, where `alpha` are
    per-frame soft assignments [B, T, K_v] (NetVLAD) or attention weights
    [B, T, U] (RNN), and `F` is "a linear (ReLU) transform" (1-2 dense
    layers in the paper's grid: `num_layers`), applied at each frame:

        F(a) = ReLU(... ReLU(a W_1 + b_1) ... W_n + b_n)     [B, T, K_out]

    With the correlation tower's output `g` [B, 1] (`mode`):
      * "none":   term = F(alpha)                       (no tower)
      * "gate":   term = g * F(alpha)                   (CM-G: g = 0 switches
                  the term off exactly)
      * "concat": term = F([alpha; g])                  (CM-C: the tower's
                  output concatenated with the transform's input at every
                  frame; the paper's best)
    The term is 0 at padded frames. All weights at zero give a term of 0, so
    the cross-modal layer equals its plain counterpart (tested).

    Args:
      output_size: K_out (the other modality's clusters / units).
      num_layers: dense layers in F (>= 1); hidden layers have K_out units.
      mode: "none", "gate" or "concat".

    Call arguments:
      alpha: float [B, T, K_in], the source modality's weights.
      gate: float [B, 1], the tower output (needed unless mode="none").
      mask: optional bool [B, T].

    Returns:
      float [B, T, K_out], the term to add to the target's weights.
    """

    def __init__(self, output_size, num_layers=1, mode="none", **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.output_size = layer_utils.check_positive_int(
            "output_size", output_size
        )
        self.num_layers = layer_utils.check_positive_int(
            "num_layers", num_layers
        )
        self.mode = layer_utils.check_choice("mode", mode, CROSS_MODAL_MODES)
        # Attributes, not a list: tf.train.Checkpoint (train.py's
        # checkpoints) does not track a Keras layer's list attributes.
        for i in range(num_layers):
            setattr(self, f"dense_{i}", keras.layers.Dense(
                output_size, activation="relu", name=f"dense_{i}"))

    @property
    def dense_layers(self):
        return [getattr(self, f"dense_{i}") for i in range(self.num_layers)]

    def build(self, alpha_shape, gate_shape=None, mask_shape=None):
        size = alpha_shape[-1] + (1 if self.mode == "concat" else 0)
        shape = tuple(alpha_shape[:-1]) + (size,)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = tuple(shape[:-1]) + (self.output_size,)
        self.built = True

    def call(self, alpha, gate=None, mask=None):
        x = alpha
        if self.mode != "none" and gate is None:
            raise ValueError(
                f"CrossModalTransform(mode={self.mode!r}) needs the "
                "correlation tower's output `gate` [B, 1]."
            )
        if self.mode == "concat":
            g = ops.cast(gate, x.dtype)[:, None, :]  # [B, 1, 1]
            g = ops.broadcast_to(g, ops.shape(x)[:-1] + (1,))
            x = ops.concatenate([x, g], axis=-1)
        for layer in self.dense_layers:
            x = layer(x)
        if self.mode == "gate":
            x = x * ops.cast(gate, x.dtype)[:, None, :]
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)[..., None]
        return x

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_shape(self, alpha_shape, gate_shape=None,
                             mask_shape=None):
        return tuple(alpha_shape[:-1]) + (self.output_size,)

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size,
                       "num_layers": self.num_layers, "mode": self.mode})
        return config
