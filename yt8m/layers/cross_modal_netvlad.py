"""CrossModalNetVLADPooling: NetVLAD with cross-modal assignments.

Axis letters: B=batch, T=frames, D=features, K=clusters.
"""

import keras

from yt8m.layers import layer_utils
from yt8m.layers.cross_modal_transform import CROSS_MODAL_MODES
from yt8m.layers.cross_modal_transform import CrossModalTransform
from yt8m.layers.netvlad import NetVLAD


@keras.saving.register_keras_serializable(package="yt8m")
class CrossModalNetVLADPooling(keras.layers.Layer):
    """The cross-modal NetVLAD of the paper (section 2, Figure 4):

        V_a = sum_t (alpha_a + F_v(alpha_v)) (x_a - c_a)
        V_v = sum_t (alpha_v + F_a(alpha_a)) (x_v - c_v)

    `alpha_v` [B, T, K_v] and `alpha_a` [B, T, K_a] are each modality's
    NetVLAD soft assignments (`SoftAssignment`, softmax over clusters), and
    `F_v` maps video assignments into the audio cluster space (and `F_a` the
    reverse), a per-frame ReLU DNN (`CrossModalTransform`, with the
    correlation gate in "gate" / "concat" modes). Each sum then goes
    through NetVLAD's own residual, intra- and global L2 normalisation
    (`NetVLAD.aggregate`). Readings (docs/cross_modal.md): the modified
    weights are not renormalised to sum to 1 (the paper adds them as
    written); both F use the ORIGINAL assignments of the other modality (not
    each other's modified ones); the audio frames are those of the same
    time steps (the streams are aligned at 1 frame per second).

    With F's weights at zero this is exactly two plain `NetVLAD` layers
    (`rgb_netvlad`, `audio_netvlad`): tested.

    Args:
      rgb_clusters: K_v (paper: 128).
      audio_clusters: K_a (paper: 64).
      transform_layers: dense layers in each F (1-2).
      mode: "none", "gate" (CM-G) or "concat" (CM-C).
      add_batch_norm: NetVLAD's assignment batch norm.

    Call arguments:
      rgb: float [B, T, D_v]; audio: float [B, T, D_a];
      gate: float [B, 1] tower output (unless mode="none");
      mask: optional bool [B, T]; training: bool.

    Returns:
      (V_v [B, D_v * K_v], V_a [B, D_a * K_a]), each unit-normalised.
    """

    def __init__(self, rgb_clusters, audio_clusters, transform_layers=1,
                 mode="concat", add_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.rgb_clusters = layer_utils.check_positive_int(
            "rgb_clusters", rgb_clusters)
        self.audio_clusters = layer_utils.check_positive_int(
            "audio_clusters", audio_clusters)
        self.transform_layers = layer_utils.check_positive_int(
            "transform_layers", transform_layers)
        self.mode = layer_utils.check_choice("mode", mode, CROSS_MODAL_MODES)
        self.add_batch_norm = layer_utils.check_bool(
            "add_batch_norm", add_batch_norm)
        self.rgb_netvlad = NetVLAD(rgb_clusters, add_batch_norm=add_batch_norm,
                                   name="rgb_netvlad")
        self.audio_netvlad = NetVLAD(audio_clusters,
                                     add_batch_norm=add_batch_norm,
                                     name="audio_netvlad")
        # F_v: video assignments -> audio clusters; F_a: the reverse.
        self.rgb_to_audio = CrossModalTransform(
            audio_clusters, transform_layers, mode, name="rgb_to_audio")
        self.audio_to_rgb = CrossModalTransform(
            rgb_clusters, transform_layers, mode, name="audio_to_rgb")

    def build(self, rgb_shape, audio_shape, gate_shape=None, mask_shape=None):
        self.rgb_netvlad.build(rgb_shape)
        self.audio_netvlad.build(audio_shape)
        self.rgb_to_audio.build(tuple(rgb_shape[:-1]) + (self.rgb_clusters,))
        self.audio_to_rgb.build(
            tuple(audio_shape[:-1]) + (self.audio_clusters,))
        self.built = True

    def call(self, rgb, audio, gate=None, mask=None, training=None):
        rgb = layer_utils.zero_padded_frames(rgb, mask)
        audio = layer_utils.zero_padded_frames(audio, mask)
        alpha_v = self.rgb_netvlad.assignment(rgb, mask=mask,
                                              training=training)
        alpha_a = self.audio_netvlad.assignment(audio, mask=mask,
                                                training=training)
        new_v = alpha_v + self.audio_to_rgb(alpha_a, gate, mask=mask)
        new_a = alpha_a + self.rgb_to_audio(alpha_v, gate, mask=mask)
        return (self.rgb_netvlad.aggregate(rgb, new_v),
                self.audio_netvlad.aggregate(audio, new_a))

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_shape(self, rgb_shape, audio_shape, gate_shape=None,
                             mask_shape=None):
        return ((rgb_shape[0], rgb_shape[-1] * self.rgb_clusters),
                (audio_shape[0], audio_shape[-1] * self.audio_clusters))

    def get_config(self):
        config = super().get_config()
        config.update({
            "rgb_clusters": self.rgb_clusters,
            "audio_clusters": self.audio_clusters,
            "transform_layers": self.transform_layers,
            "mode": self.mode,
            "add_batch_norm": self.add_batch_norm,
        })
        return config
