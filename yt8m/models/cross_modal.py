"""Cross-modal learning with a correlation tower (cross_modal_learning_a).

Three registered families, each its plain late-fusion model with the
cross-modal layer of the paper's section 2 in place of the per-modality
pooling / attention, and the frozen correlation tower of section 3:

* `CrossModalNetVLAD`: NetVLADModelLF (late) with
  `CrossModalNetVLADPooling`: `V_a = sum (alpha_a + F_v(alpha_v))(x_a - c_a)`
  and symmetrically for video (NV-CM-G / NV-CM-C of Table 8).
* `CrossModalRNN`: the Bi-GRU attention family (late towers) with attention
  clusters (`attention_heads` units per modality) and
  `c_a = sum (alpha_a + F_v(alpha_v)) h_a` (`CrossModalAttentionPooling`).
* `CrossModalTransformer`: TransformerModel (late) whose encoder blocks are
  `CrossModalTransformerBlock`s: each stream's attention logits get
  `F(Q_other W^Q_other (K_other W^K_this)^T)` (TM-CM-G / TM-CM-C, Table 4).

`--cross_modal_mode`: "none" (the cross-modal term, no tower), "gate"
(CM-G: the term times the tower's P(correlated); `--cross_modal_hard_gate`
makes it the paper's 0/1 at inference), "concat" (CM-C, the default: the
tower's output concatenated with the input of each cross-modal transform).
The tower is the sub-model slot `correlation_tower` (a trained
`CorrelationTower`, frozen): `--correlation_tower_dir`, or train.py trains
one first (docs/cross_modal.md). The paper's baselines with the same
backbones are `--fusion=early|late` on NetVLADModelLF, BiGRUAttentionModel
and TransformerModel.
"""

from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.layers.correlation_gate import CorrelationGate
from yt8m.layers.cross_modal_attention_pooling import (
    CrossModalAttentionPooling,
)
from yt8m.layers.cross_modal_netvlad import CrossModalNetVLADPooling
from yt8m.layers.cross_modal_transform import CROSS_MODAL_MODES
from yt8m.layers.cross_modal_transformer import CrossModalTransformerBlock
from yt8m.models import fusion as fusion_lib
from yt8m.models.correlation_tower import CORRELATION_TOWER
from yt8m.models.correlation_tower import build_frozen_tower
from yt8m.models.netvlad import NetVLADModelLF
from yt8m.models.rnn_attention import BiGRUAttentionModel
from yt8m.models.transformer import TransformerModel
from yt8m.registry import register_model

CORRELATION_TOWER_SLOT = CORRELATION_TOWER.name

CROSS_MODAL_HPARAMS = declare(
    CORRELATION_TOWER,
    HParam("cross_modal_mode", "string", "concat",
           "none: the cross-modal term without a tower; gate (CM-G): the "
           "term times the tower's output; concat (CM-C): the tower's output "
           "concatenated with the cross-modal transform's input.",
           choices=CROSS_MODAL_MODES),
    HParam("cross_modal_layers", "integer", 1,
           "Dense layers of each cross-modal transform F (paper: 1-2).",
           check="positive"),
    HParam("cross_modal_hard_gate", "boolean", False,
           "Gate mode: use the paper's hard 0/1 tower decision at inference "
           "(training always uses the soft probability)."),
)


class CrossModalMixin:
    """Shared by the three families: slots, checks, the tower's gate."""

    HPARAMS = CROSS_MODAL_HPARAMS
    default_fusion = "late"

    @classmethod
    def requires_correlation_tower(cls, model_hparams):
        """True unless `cross_modal_mode` is "none"."""
        mode = (model_hparams or {}).get(
            "cross_modal_mode",
            cls.hparam_declarations()["cross_modal_mode"].default,
        )
        return mode != "none"

    def check_hparams(self, hp, feature_sizes):
        super().check_hparams(hp, feature_sizes)
        name = type(self).__name__
        fusion_lib.check_two_modalities(feature_sizes, name)
        if hp.fusion != "late":
            raise ValueError(
                f"Invalid value for argument `fusion` of {name}: the "
                "cross-modal layer joins per-modality towers: expected "
                f"'late'. Received: fusion={hp.fusion!r}"
            )
        if hp.cross_modal_mode != "none" and not hp.correlation_tower:
            raise ValueError(
                f"{name} with cross_modal_mode={hp.cross_modal_mode!r} needs "
                "a trained correlation tower: pass --correlation_tower_dir="
                "DIR (a CorrelationTower train_dir), let train.py train one, "
                "or use --cross_modal_mode=none."
            )

    def split_towers(self, frames, feature_sizes, hp):
        return fusion_lib.split_modalities(frames, feature_sizes)

    def pool_jointly(self, layer, encoded, inputs, hp):
        """[rgb vector, audio vector] from a cross-modal pooling layer."""
        (_, rgb, mask), (_, audio, _) = encoded
        return list(layer(rgb, audio, gate=self.correlation_gate(inputs, hp),
                          mask=mask))

    def correlation_gate(self, inputs, hp):
        """The frozen tower's P(correlated) [B, 1], or None ("none")."""
        if hp.cross_modal_mode == "none":
            return None
        tower = build_frozen_tower(hp.correlation_tower,
                                   CORRELATION_TOWER_SLOT)
        probability = tower(inputs)  # [B, 1]
        return CorrelationGate(
            hard_at_inference=hp.cross_modal_hard_gate,
            name="correlation_gate",
        )(probability)


@register_model
class CrossModalNetVLAD(CrossModalMixin, NetVLADModelLF):
    """NetVLADModelLF (late) with cross-modal assignments (NV-CM).

    rgb `netvlad_cluster_size` clusters, audio half (paper: 128 / 64, i.e.
    `--netvlad_cluster_size=128`); frame sampling, input batch norm, the
    hidden layer, gating and the head are NetVLADModelLF's. See the module
    docstring and `CrossModalNetVLADPooling`.
    """

    def pool_towers(self, encoded, inputs, hp):
        return self.pool_jointly(CrossModalNetVLADPooling(
            self.netvlad_clusters("rgb", hp),
            self.netvlad_clusters("audio", hp),
            transform_layers=hp.cross_modal_layers,
            mode=hp.cross_modal_mode,
            add_batch_norm=hp.netvlad_add_batch_norm,
            name="cross_modal_netvlad",
        ), encoded, inputs, hp)


@register_model
class CrossModalRNN(CrossModalMixin, BiGRUAttentionModel):
    """Bi-GRU towers per modality, cross-modal attention clusters (RNN-CM).

    `attention_heads` attention units per modality (the attention cluster
    of Long et al., without shifting; e.g. `--attention_heads=4`); the
    pooled towers are combined by the late-fusion ReLU layer, then the head.
    """

    def pool_towers(self, encoded, inputs, hp):
        return self.pool_jointly(CrossModalAttentionPooling(
            hp.attention_size,
            num_units=hp.attention_heads,
            transform_layers=hp.cross_modal_layers,
            mode=hp.cross_modal_mode,
            name="cross_modal_attention",
        ), encoded, inputs, hp)


@register_model
class CrossModalTransformer(CrossModalMixin, TransformerModel):
    """TransformerModel (late) with cross-modal attention blocks (TM-CM).

    Each tower's frames are projected and position-encoded as in
    TransformerModel; then `transformer_layers` `CrossModalTransformerBlock`s
    run both streams together; each is pooled (`transformer_pooling`) and
    the late-fusion ReLU layer combines them.
    """

    def encode_frames(self, tower, frames, mask, hp):
        # Only the per-stream embedding: the blocks run both streams jointly.
        return self.embed_frames(tower, frames, mask, hp)

    def pool_towers(self, encoded, inputs, hp):
        (_, rgb, mask), (_, audio, _) = encoded
        gate = self.correlation_gate(inputs, hp)
        for layer_index in range(hp.transformer_layers):
            rgb, audio = CrossModalTransformerBlock(
                hp.transformer_heads,
                hp.transformer_ff_size,
                dropout=hp.transformer_dropout,
                normalize_first=hp.transformer_pre_norm,
                transform_layers=hp.cross_modal_layers,
                mode=hp.cross_modal_mode,
                name=f"cross_modal_encoder_{layer_index}",
            )(rgb, audio, gate=gate, mask=mask)
        pooled = []
        for tower, x in (("rgb", rgb), ("audio", audio)):
            x = self.final_norm(tower, x, hp)
            pooled.append(self.pool_frames(tower, x, mask, hp))
        return pooled


def correlation_tower_spec(feature_names, feature_sizes, num_classes,
                           max_frames=300, **tower_hparams):
    """The model_flags.json dict of an (untrained) CorrelationTower.

    For tests and tools that build a cross-modal model without a trained
    tower; training uses the tower's own train_dir instead.
    """
    from yt8m import config as config_lib

    return config_lib.ModelSpec(
        model="CorrelationTower",
        feature_names=list(feature_names),
        feature_sizes=list(feature_sizes),
        frame_features=True,
        num_classes=num_classes,
        max_frames=max_frames,
        model_hparams=dict(tower_hparams),
    ).to_model_flags()


__all__ = [
    "CORRELATION_TOWER_SLOT",
    "CrossModalNetVLAD",
    "CrossModalRNN",
    "CrossModalTransformer",
    "correlation_tower_spec",
]
