"""CrossModalAttentionPooling: the cross-modal attention RNN's pooling.

Axis letters: B=batch, T=frames, D=features, U=attention units.
"""

import keras
from keras import ops

from yt8m.layers import layer_utils
from yt8m.layers.attention_pooling import AttentionPooling
from yt8m.layers.cross_modal_transform import CROSS_MODAL_MODES
from yt8m.layers.cross_modal_transform import CrossModalTransform


@keras.saving.register_keras_serializable(package="yt8m")
class CrossModalAttentionPooling(keras.layers.Layer):
    """Attention clusters per modality with the cross-modal term (section 2):

        c_a = sum_t (alpha_a + F_v(alpha_v)) h_a
        c_v = sum_t (alpha_v + F_a(alpha_a)) h_v

    Each modality's encoder outputs `h` [B, T, D_m] get `num_units`
    attention units (the attention cluster of Long et al., 2018, without
    its shifting operation): `alpha` [B, T, U] = softmax over valid frames
    of `tanh(h W + b) . u_w^n`, one context vector `u_w^n` per unit
    (`AttentionPooling`; our reading: the units share the projection `W`, as
    the existing attention pooling does). `F` maps one modality's unit
    weights at each frame to the other's (`CrossModalTransform`, U -> U, with
    the correlation gate). The U context vectors are concatenated:
    [B, U * D_m] per modality. With F's weights at zero this is two plain
    `AttentionPooling` layers (tested).

    Args:
      attention_dim: A.
      num_units: U attention units per modality.
      transform_layers: dense layers in each F.
      mode: "none", "gate" or "concat".
      kernel_initializer: of the attention weights.

    Call arguments:
      rgb: [B, T, D_v]; audio: [B, T, D_a]; gate: [B, 1] (unless "none");
      mask: optional bool [B, T].

    Returns:
      (c_v [B, U * D_v], c_a [B, U * D_a]).
    """

    def __init__(self, attention_dim, num_units=4, transform_layers=1,
                 mode="concat", kernel_initializer="glorot_normal", **kwargs):
        super().__init__(**kwargs)
        self.attention_dim = layer_utils.check_positive_int(
            "attention_dim", attention_dim)
        self.num_units = layer_utils.check_positive_int("num_units", num_units)
        self.transform_layers = layer_utils.check_positive_int(
            "transform_layers", transform_layers)
        self.mode = layer_utils.check_choice("mode", mode, CROSS_MODAL_MODES)
        self.kernel_initializer = kernel_initializer
        self.supports_masking = True
        self.rgb_attention = AttentionPooling(
            attention_dim, num_heads=num_units,
            kernel_initializer=kernel_initializer, name="rgb_attention")
        self.audio_attention = AttentionPooling(
            attention_dim, num_heads=num_units,
            kernel_initializer=kernel_initializer, name="audio_attention")
        self.rgb_to_audio = CrossModalTransform(
            num_units, transform_layers, mode, name="rgb_to_audio")
        self.audio_to_rgb = CrossModalTransform(
            num_units, transform_layers, mode, name="audio_to_rgb")

    def build(self, rgb_shape, audio_shape, gate_shape=None, mask_shape=None):
        self.rgb_attention.build(rgb_shape)
        self.audio_attention.build(audio_shape)
        units = tuple(rgb_shape[:-1]) + (self.num_units,)
        self.rgb_to_audio.build(units)
        self.audio_to_rgb.build(units)
        self.built = True

    def call(self, rgb, audio, gate=None, mask=None):
        if mask is None:
            mask = layer_utils.all_valid_mask(rgb)
        mask = ops.cast(mask, "bool")
        rgb = layer_utils.zero_padded_frames(rgb, mask)
        audio = layer_utils.zero_padded_frames(audio, mask)
        alpha_v = self.rgb_attention.attention_weights(rgb, mask)  # [B,T,U]
        alpha_a = self.audio_attention.attention_weights(audio, mask)
        new_v = alpha_v + self.audio_to_rgb(alpha_a, gate, mask=mask)
        new_a = alpha_a + self.rgb_to_audio(alpha_v, gate, mask=mask)
        return (self.rgb_attention.pool(rgb, new_v),
                self.audio_attention.pool(audio, new_a))

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_shape(self, rgb_shape, audio_shape, gate_shape=None,
                             mask_shape=None):
        return ((rgb_shape[0], self.num_units * rgb_shape[-1]),
                (audio_shape[0], self.num_units * audio_shape[-1]))

    def get_config(self):
        config = super().get_config()
        config.update({
            "attention_dim": self.attention_dim,
            "num_units": self.num_units,
            "transform_layers": self.transform_layers,
            "mode": self.mode,
            "kernel_initializer": self.kernel_initializer,
        })
        return config
