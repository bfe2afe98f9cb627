"""FrameSampling: pick a fixed number of valid frames (DBoF's input step)."""

import keras
from keras import ops

from yt8m.layers.layer_utils import check_bool
from yt8m.layers.layer_utils import check_choice
from yt8m.layers.layer_utils import check_positive_int

SAMPLING_METHODS = ("random_frames", "random_sequence")


@keras.saving.register_keras_serializable(package="yt8m")
class FrameSampling(keras.layers.Layer):
    """Samples `num_samples` frames from the first `num_frames` of each video.

    Training (or any call when `sample_at_eval=True`), as upstream
    `model_utils`:

    * `random_frames` (`SampleRandomFrames`): `floor(u * n)` with
      `u ~ U[0, 1)`, i.i.d. per sample, i.e. with replacement.
    * `random_sequence` (`SampleRandomSequence`): a contiguous run from a
      start drawn as `floor(u * (max(n - S, 0) + 1))`, clipped to `n - 1`.

    Evaluation / inference with `sample_at_eval=False` (the default):
    deterministic, evenly spaced frames `floor((s + 0.5) * n / S)` for
    `s = 0..S-1`, so predictions are reproducible (upstream samples randomly
    at eval too; see docs/models.md).

    All sampled frames are valid, so whatever follows needs no mask. A video
    with `n = 0` gets frame 0 (a zero padding frame) everywhere.

    Args:
      num_samples: S, the number of frames to draw (upstream `iterations`).
      method: "random_frames" or "random_sequence" (training sampler).
      sample_at_eval: sample randomly outside training as well.
      seed: optional int seed for the random draws.

    Call arguments:
      frames: float tensor [B, T, D].
      num_frames: int tensor [B] (or [B, 1]) of valid frame counts.
      training: Python bool.

    Returns:
      float tensor [B, S, D].

    Example:
    >>> FrameSampling(4)(np.ones((2, 10, 3)), np.array([3, 10]))  # [2, 4, 3]
    """

    def __init__(
        self,
        num_samples=30,
        method="random_frames",
        sample_at_eval=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_samples", num_samples)
        check_choice("method", method, SAMPLING_METHODS)
        check_bool("sample_at_eval", sample_at_eval)
        self.num_samples = num_samples
        self.method = method
        self.sample_at_eval = sample_at_eval
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, frames, num_frames, training=None):
        max_frames = ops.shape(frames)[1]
        batch_size = ops.shape(frames)[0]
        n = ops.reshape(ops.cast(num_frames, "int32"), (-1, 1))  # [B, 1]
        n = ops.clip(n, 0, max_frames)
        last = ops.maximum(n - 1, 0)  # [B, 1] index of the last valid frame
        n_float = ops.cast(n, "float32")
        steps = ops.arange(self.num_samples, dtype="int32")[None, :]  # [1, S]
        if training or self.sample_at_eval:
            if self.method == "random_frames":
                u = keras.random.uniform(
                    (batch_size, self.num_samples), seed=self.seed_generator
                )  # [B, S]
                index = ops.cast(ops.floor(u * n_float), "int32")
            else:
                u = keras.random.uniform(
                    (batch_size, 1), seed=self.seed_generator
                )  # [B, 1]
                max_start = ops.maximum(n - self.num_samples, 0)
                start = ops.floor(u * ops.cast(max_start + 1, "float32"))
                index = ops.cast(start, "int32") + steps  # [B, S]
        else:
            centres = ops.cast(steps, "float32") + 0.5  # [1, S]
            index = ops.cast(
                ops.floor(centres * n_float / self.num_samples), "int32"
            )  # [B, S]
        index = ops.minimum(index, last)  # [B, S], always a valid frame
        # One flat gather of rows of [B*T, F] (take_along_axis broadcasts the
        # index to [B, S, F]: ~60x slower on CPU for 128 x 30 x 1152).
        features = frames.shape[-1]
        if features is None:
            features = ops.shape(frames)[-1]
        flat = ops.reshape(frames, (-1, features))  # [B*T, F]
        offsets = ops.arange(batch_size, dtype="int32")[:, None] * max_frames
        rows = ops.reshape(index + offsets, (-1,))  # [B*S]
        return ops.reshape(ops.take(flat, rows, axis=0),
                           (batch_size, self.num_samples, features))

    def compute_output_shape(self, frames_shape, num_frames_shape=None):
        return (frames_shape[0], self.num_samples, frames_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_samples": self.num_samples,
                "method": self.method,
                "sample_at_eval": self.sample_at_eval,
                "seed": self.seed,
            }
        )
        return config
