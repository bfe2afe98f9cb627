"""Temporal coherence (TC) models: TC-NetV, TC-RNN, TC-TM and the ensembles.

Goyal, Sahu, Ghosh, Lee, "Exploiting Temporal Coherence for Multi-modal
Video Categorization" (docs/temporal_coherence.md). One `TemporalCoherence`
layer (`yt8m.layers.temporal_coherence`) is inserted where the paper puts it
in each family, by a stage mixin over the family (no copies):

* `TCNetVLADModel` = `CoherentInputStage` + `NetVLADModelLF`: TC on the
  frames that feed the soft assignment (eq. 7, Figure 4), in
  `prepare_frames` *before* NetVLAD's frame sampling (sampled frames are out
  of order, so TC must see the video in order).
* `TCRNNModel` = `CoherentEncoderStage` + `BiGRUAttentionModel`: TC on the
  encoder outputs h that feed the attention (eq. 8, Figure 5), in
  `refine_frames`; the attention pools the coherent h.
* `TCTransformerModel` = `CoherentAttentionStage` + `TransformerModel`: TC
  on the keys and values of every self-attention (Figure 8), through the
  `encoder_block` slot (`TemporalCoherenceEncoderBlock`).
* `BaseEnsembleModel`: a NetVLAD, an attention Bi-GRU and a Transformer
  tower over the same frames, pooled vectors concatenated and combined by
  the late-fusion ReLU layer before the head (Figure 6, our reading);
  `TCEnsembleModel`: the same with each tower's TC (the three TC towers).

The TC hyperparameters are declared once here (`TC_HPARAMS`) and shared by
every TC model.
"""

from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.layers.slim import slim_batch_normalization
from yt8m.layers.temporal_coherence import MODES
from yt8m.layers.temporal_coherence import TemporalCoherence
from yt8m.layers.transformer_encoder import TemporalCoherenceEncoderBlock
from yt8m.models import base
from yt8m.models.fusion import LATE_FUSION_HIDDEN_SIZE
from yt8m.models.netvlad import NetVLADModelLF
from yt8m.models.rnn_attention import BiGRUAttentionModel
from yt8m.models.rnn_attention import _BiRNNAttentionModel
from yt8m.models.transformer import TransformerModel
from yt8m.registry import register_model

TC_KERNEL_SIZE = HParam(
    "tc_kernel_size", "integer", 5,
    "Temporal coherence: kernel size K (odd; neighbourhood [i-L, i+L], "
    "K = 2L + 1).", check="positive")
TC_NUM_FEATURE_MAPS = HParam(
    "tc_num_feature_maps", "integer", 4,
    "Temporal coherence: number of temporal kernels, averaged.",
    check="positive")
TC_MODE = HParam(
    "tc_mode", "string", "conv",
    "Temporal coherence: conv (learned kernel) or distance (kernel times "
    "d_ij = exp(-||x_i - x_j||), eqs. 6-8).", choices=MODES)
TC_HPARAMS = declare(TC_KERNEL_SIZE, TC_NUM_FEATURE_MAPS, TC_MODE)


def check_tc_hparams(hp):
    if hp.tc_kernel_size % 2 != 1:
        raise ValueError(
            "Invalid value for argument `tc_kernel_size`: expected an odd "
            "positive integer. Received: "
            f"tc_kernel_size={hp.tc_kernel_size}"
        )


def coherence(hp, name):
    """The `TemporalCoherence` layer of the TC hyperparameters."""
    return TemporalCoherence(
        hp.tc_kernel_size, hp.tc_num_feature_maps, hp.tc_mode, name=name
    )


def coherent_encoder_block(hp, tower, layer_index):
    """A Transformer block with TC on K and V (same names as the plain one)."""
    return TemporalCoherenceEncoderBlock(
        hp.transformer_heads,
        hp.transformer_ff_size,
        dropout=hp.transformer_dropout,
        normalize_first=hp.transformer_pre_norm,
        coherence_kernel_size=hp.tc_kernel_size,
        coherence_num_feature_maps=hp.tc_num_feature_maps,
        coherence_mode=hp.tc_mode,
        name=f"{tower}_encoder_{layer_index}",
    )


# ----------------------------------------------------------------- stages ---


class _CoherenceStage:
    HPARAMS = TC_HPARAMS

    def check_hparams(self, hp, feature_sizes):
        check_tc_hparams(hp)
        super().check_hparams(hp, feature_sizes)


class CoherentInputStage(_CoherenceStage):
    """TC on all frames [B, T, F] before the family's own preparation."""

    def prepare_frames(self, frames, mask, inputs, hp):
        frames = coherence(hp, "input_coherence")(frames, mask=mask)
        return super().prepare_frames(frames, mask, inputs, hp)


class CoherentEncoderStage(_CoherenceStage):
    """TC on each tower's encoder outputs, before the pooling."""

    def refine_frames(self, tower, frames, mask, hp):
        frames = super().refine_frames(tower, frames, mask, hp)
        return coherence(hp, f"{tower}_coherence")(frames, mask=mask)


class CoherentAttentionStage(_CoherenceStage):
    """TC on the keys and values of every Transformer block."""

    def encoder_block(self, tower, layer_index, hp):
        return coherent_encoder_block(hp, tower, layer_index)


# ----------------------------------------------------------------- models ---


@register_model
class TCNetVLADModel(CoherentInputStage, NetVLADModelLF):
    """TC-NetV: `NetVLADModelLF` with `TemporalCoherence` on its input frames.

    L2-normalised frames -> `TemporalCoherence(tc_kernel_size,
    tc_num_feature_maps, tc_mode)` over the valid frames (one kernel for
    the concatenated [rgb; audio], before the tower split) -> the NetVLAD
    family unchanged (frame sampling, input BN, NetVLAD, hidden FC, gating,
    head). The paper uses 192 clusters: `--netvlad_cluster_size=192`
    (`experiments/tc/tc_netvlad.flags`); the shared declaration keeps
    NetVLAD's default 256.
    """


@register_model
class TCRNNModel(CoherentEncoderStage, BiGRUAttentionModel):
    """TC-RNN: `BiGRUAttentionModel` with TC on the Bi-GRU outputs.

    The paper's RNN-Attn baseline is this repository's attention Bi-GRU
    family (the DML paper's Yang-style additive attention), so TC-RNN
    subclasses it: per tower, Bi-GRUs -> `TemporalCoherence` on h (Figure
    5) -> `AttentionPooling` of the coherent h -> head. The paper's 512 GRU
    units: `--rnn_cells=512` (per direction; `experiments/tc/tc_rnn.flags`).
    """


@register_model
class TCTransformerModel(CoherentAttentionStage, TransformerModel):
    """TC-TM: `TransformerModel` whose blocks apply TC to K and V."""


_FAMILIES = (TransformerModel, _BiRNNAttentionModel, NetVLADModelLF)
_ENSEMBLE_HPARAM_NAMES = (
    "netvlad_cluster_size", "netvlad_add_batch_norm",
    "rnn_cells", "rnn_layers", "attention_size", "attention_heads",
    "transformer_layers", "transformer_heads", "transformer_hidden_size",
    "transformer_ff_size", "transformer_dropout", "transformer_pooling",
    "transformer_positional", "transformer_pre_norm",
    "late_fusion_hidden_size",
)


def _family_declarations():
    merged = {}
    for family in _FAMILIES:
        merged.update(family.hparam_declarations())
    return merged


def _borrow_family_helpers(cls):
    """Class decorator: copies the families' helper methods onto `cls`.

    The ensemble calls each family's stage method on itself (e.g.
    `TransformerModel.encode_frames(self, ...)`); those call helpers of
    their family (`embed_frames`, `encoder_block`, `netvlad_clusters`...).
    Inheriting the three families instead makes a diamond over
    `keras.Model` that Keras' functional-class injection cannot handle, so
    the helpers (every method a family defines that the template does not)
    are copied here; a name two families define differently is left out
    (listed in `unborrowed_helpers`).
    """
    template = set(dir(base.FrameLevelModel))
    borrowed, conflicts = {}, set()
    for family in _FAMILIES:
        for klass in family.__mro__:
            if not issubclass(klass, base.FrameLevelModel) or (
                    klass is base.FrameLevelModel):
                continue
            for name, value in vars(klass).items():
                if (name.startswith("__") or name in template
                        or not callable(value) or name in vars(cls)):
                    continue
                if name in borrowed and borrowed[name] is not value:
                    conflicts.add(name)
                borrowed[name] = value
    for name, value in borrowed.items():
        if name not in conflicts:
            setattr(cls, name, value)
    # Not borrowed (two families define them differently): the ensemble
    # must define these itself if a tower needs them.
    cls.unborrowed_helpers = tuple(sorted(conflicts))
    return cls


@register_model
@_borrow_family_helpers
class BaseEnsembleModel(base.FrameLevelModel):
    """Base-Ens: NetVLAD + attention Bi-GRU + Transformer towers, fused.

    Three towers over the same L2-normalised [rgb; audio] frames (each an
    early-fusion member, masked by `num_frames`; no frame sampling, since
    the other towers need every frame in order):
    * "netvlad": input BN (masked) -> `NetVLAD(netvlad_cluster_size)`;
    * "rnn": `rnn_layers` Bi-GRUs (`rnn_cells`) -> `AttentionPooling`;
    * "transformer": projection, positions, `transformer_layers` blocks ->
      `SequencePooling(transformer_pooling)`.
    The pooled vectors are concatenated and combined by
    `ReLU(Dense(late_fusion_hidden_size))` (Figure 6: one DNN over the
    members' features; our reading), then the head.

    The towers are built by the families' own stage methods, dispatched by
    tower (`_borrow_family_helpers`; no copies of their code). It
    declares only the hyperparameters listed in `_ENSEMBLE_HPARAM_NAMES`
    (the families' own declarations); any other family hyperparameter a
    stage method reads takes its family default (e.g. the NetVLAD hidden
    FC and gating are not part of a tower).
    """

    HPARAMS = tuple(_family_declarations()[n]
                    for n in _ENSEMBLE_HPARAM_NAMES)
    TOWERS = ("netvlad", "rnn", "transformer")
    _rnn_layer = BiGRUAttentionModel._rnn_layer

    def check_hparams(self, hp, feature_sizes):
        for name, declaration in _family_declarations().items():
            if not hasattr(hp, name):
                setattr(hp, name, declaration.default)
        TransformerModel.check_hparams(self, hp, feature_sizes)

    def split_towers(self, frames, feature_sizes, hp):
        return [(tower, frames) for tower in self.TOWERS]

    def encode_frames(self, tower, frames, mask, hp):
        if tower == "netvlad":
            if hp.netvlad_add_batch_norm:
                frames = slim_batch_normalization("netvlad_input_bn")(
                    frames, mask=mask
                )
            return frames, mask
        if tower == "rnn":
            return _BiRNNAttentionModel.encode_frames(
                self, tower, frames, mask, hp)
        return TransformerModel.encode_frames(self, tower, frames, mask, hp)

    def pool_frames(self, tower, frames, mask, hp):
        family = {
            "netvlad": NetVLADModelLF,
            "rnn": _BiRNNAttentionModel,
            "transformer": TransformerModel,
        }[tower]
        return family.pool_frames(self, tower, frames, mask, hp)


@register_model
class TCEnsembleModel(BaseEnsembleModel):
    """TC-Ens: `BaseEnsembleModel` with the three TC towers.

    "netvlad": TC on its input frames (before its input BN, as TC-NetV);
    "rnn": TC on the Bi-GRU outputs (as TC-RNN); "transformer": TC on the
    keys and values of each block (as TC-TM). Each has its own kernels.
    """

    HPARAMS = TC_HPARAMS

    def check_hparams(self, hp, feature_sizes):
        check_tc_hparams(hp)
        super().check_hparams(hp, feature_sizes)

    def encode_frames(self, tower, frames, mask, hp):
        if tower == "netvlad":
            frames = coherence(hp, "netvlad_input_coherence")(
                frames, mask=mask)
        return super().encode_frames(tower, frames, mask, hp)

    def refine_frames(self, tower, frames, mask, hp):
        if tower == "rnn":
            return coherence(hp, "rnn_coherence")(frames, mask=mask)
        return frames

    def encoder_block(self, tower, layer_index, hp):
        return coherent_encoder_block(hp, tower, layer_index)


# The rows of the paper's Tables 1 and 2: (baseline label, baseline model,
# TC label, TC model). Shared by bench/bench_tc.py and experiments/tc/.
PAPER_PAIRS = (
    ("RNN-Attn", "BiGRUAttentionModel", "TC-RNN", "TCRNNModel"),
    ("NetV", "NetVLADModelLF", "TC-NetV", "TCNetVLADModel"),
    ("TM", "TransformerModel", "TC-TM", "TCTransformerModel"),
    ("Base-Ens", "BaseEnsembleModel", "TC-Ens", "TCEnsembleModel"),
)
