"""TemporalCoherence: a learned temporal convolution that makes neighbouring
frames agree (Goyal, Sahu, Ghosh, Lee: "Exploiting Temporal Coherence for
Multi-modal Video Categorization", section 3).

Axis letters: B=batch, T=frames, D=features, K=kernel_size,
M=num_feature_maps, L=(K - 1) / 2.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils

MODES = ("conv", "distance")


@keras.saving.register_keras_serializable(package="yt8m")
class CenteredDelta(keras.initializers.Initializer):
    """Kernel [K, M] (K odd) that is 1 at the centre tap and 0 elsewhere,
    plus optional `N(0, stddev)` noise: a TemporalCoherence layer starts as
    the identity, so a TC model starts as its plain model.

    Args:
      stddev: noise added to every tap. Default 0.
      seed: noise seed.
    """

    def __init__(self, stddev=0.0, seed=None):
        self.stddev = float(stddev)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        size = shape[0]
        delta = ops.cast(
            ops.equal(ops.arange(size), size // 2), dtype or "float32"
        )
        kernel = ops.broadcast_to(ops.reshape(delta, (size,) + (1,) * (
            len(shape) - 1)), shape)
        if self.stddev:
            kernel = kernel + keras.random.normal(
                shape, stddev=self.stddev, dtype=dtype, seed=self.seed
            )
        return kernel

    def get_config(self):
        return {"stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="yt8m")
class TemporalCoherence(keras.layers.Layer):
    """Frames [B, T, D] -> temporally smoothed frames [B, T, D].

    `mode="conv"` (section 3.1, eq. 7 as a convolution; Figure 8): `M`
    learned temporal kernels `w^m` of size `K = 2L + 1`, each shared by
    every feature dimension, and the feature maps averaged:
    ```
    y_i = 1/M sum_m sum_{o=-L..L} w^m_o x_{i+o}                     [B, T, D]
    ```
    `mode="distance"` (the exact neighbourhood form of eqs. 6/7 and 8):
    each neighbour is also weighted by its similarity to the centre frame,
    ```
    d_ij = exp(-||x_i - x_j||_2),   y_i = 1/M sum_m sum_o w^m_o d_{i,i+o} x_{i+o}
    ```
    With all taps `w_o = 1` this is eq. 7's `sum_{j=i-L}^{i+L} x_j d_ij`
    (the input of the soft assignment); with the centre tap 2 and the others
    1 it is eqs. 6/8's `e_i + sum_{j in N_i} e_j d_ij` for a linear `e`
    (the extra own term); the learned kernel generalises both.

    Readings of the paper (docs/temporal_coherence.md):
    * Sign of the exponent: eq. 2 prints `exp(+||x_i - x_j||)`; eqs. 4 and
      6 and section 3 (`d_ij = exp(-(||x_i - x_j||))`) use the minus sign.
      We implement `exp(-||.||)`: it is the one that weights *similar*
      neighbours more (coherence within a scene, less across a cut, which
      is the paper's stated intuition), it is bounded in (0, 1], and with
      the plus sign a far (different-scene) frame would dominate.
    * "Feature maps of different sizes ... averaged": all M maps share the
      size K (section 4.2 grid-searches K and M independently; Figure 8 is
      "averaged kernel over four feature maps ... kernel size is 5").
    * No bias and no activation (eq. 7 has neither inside the sum). Hence
      the average of M linear maps is one linear kernel: M changes the
      parametrisation (initialisation, optimiser steps), not the function
      class. `averaged_kernel()` is that kernel (what Figure 8 plots).
    * Borders and padding: the sequence is zero-padded, as a convolution
      with "same" padding (the paper zero-pads videos to 300 frames).

    Masking (docs/layers.md): padded frames are replaced by exact zeros
    (`where`) before the convolution, so they never reach a valid frame,
    and the outputs at padded frames are set to 0, so valid frames never
    leak into padding. The mask is not attached to the output
    (`compute_mask` is None): callers pass it on explicitly. Any mask
    pattern works.

    Args:
      kernel_size: K, odd (the neighbourhood [i-L, i+L]). Default 5 (paper).
      num_feature_maps: M. Default 4 (paper).
      mode: "conv" (default) or "distance".
      kernel_initializer: initializer of the [K, M] kernel. Default
        `CenteredDelta()` (identity at initialisation).

    Call arguments:
      frames: float tensor [B, T, D].
      mask: optional bool tensor [B, T], True for valid frames.

    Returns:
      float tensor [B, T, D]; 0 at padded frames.

    Example:
    >>> TemporalCoherence(kernel_size=3, num_feature_maps=2)(
    ...     np.ones((2, 5, 8)))  # [2, 5, 8]; interior frames unchanged
    """

    def __init__(
        self,
        kernel_size=5,
        num_feature_maps=4,
        mode="conv",
        kernel_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_size = layer_utils.check_positive_int(
            "kernel_size", kernel_size
        )
        if self.kernel_size % 2 != 1:
            raise ValueError(
                "Invalid value for argument `kernel_size`: expected an odd "
                "positive integer (the neighbourhood [i-L, i+L]). Received: "
                f"kernel_size={kernel_size!r}"
            )
        self.num_feature_maps = layer_utils.check_positive_int(
            "num_feature_maps", num_feature_maps
        )
        self.mode = layer_utils.check_choice("mode", mode, MODES)
        if kernel_initializer is None:
            kernel_initializer = CenteredDelta()
        self.kernel_initializer = layer_utils.get_initializer(
            "kernel_initializer", kernel_initializer
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.num_feature_maps),
            initializer=self.kernel_initializer,
        )
        self.built = True

    def averaged_kernel(self):
        """The kernel averaged over the feature maps [K] (Figure 8)."""
        return ops.mean(self.kernel, axis=1)

    def call(self, frames, mask=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(frames)  # [B, T]
        mask = ops.cast(mask, "bool")
        x = layer_utils.zero_padded_frames(frames, mask)  # [B, T, D]
        half = self.kernel_size // 2
        padded = ops.pad(x, [[0, 0], [half, half], [0, 0]])  # [B, T+2L, D]
        kernel = ops.cast(self.averaged_kernel(), x.dtype)  # [K]
        out = None
        for tap in range(self.kernel_size):
            stop = tap - 2 * half if tap < 2 * half else None
            neighbour = padded[:, tap:stop]  # x_{i + tap - L}, [B, T, D]
            term = kernel[tap] * neighbour
            if self.mode == "distance":
                term = term * self._similarity(x, neighbour)[:, :, None]
            out = term if out is None else out + term
        return layer_utils.zero_padded_frames(out, mask)

    @staticmethod
    def _similarity(x, neighbour):
        """d_ij = exp(-||x_i - x_j||_2) [B, T]; gradient 0 (not NaN) at i=j."""
        squared = ops.sum(ops.square(x - neighbour), axis=-1)  # [B, T]
        positive = squared > 0
        safe = ops.where(positive, squared, ops.ones_like(squared))
        distance = ops.where(
            positive, ops.sqrt(safe), ops.zeros_like(squared)
        )
        return ops.exp(-distance)

    def compute_mask(self, frames, mask=None):
        # Not attached to the output: models pass the mask explicitly, and
        # an unmasked layer after TC (NetVLAD's FrameSampling) would warn.
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "num_feature_maps": self.num_feature_maps,
                "mode": self.mode,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
