"""TC models: placement, identity at a delta kernel, padding, hparams."""

import numpy as np
import pytest

from yt8m import models
from yt8m.layers.frame_sampling import FrameSampling
from yt8m.layers.temporal_coherence import TemporalCoherence
from yt8m.layers.temporal_coherence_attention import (
    TemporalCoherenceAttention,
)

TINY = dict(
    iterations=4, rnn_cells=4, rnn_layers=1, attention_size=4,
    late_fusion_hidden_size=8, netvlad_cluster_size=4,
    netvlad_hidden_size=8, transformer_layers=1, transformer_heads=2,
    transformer_hidden_size=8, transformer_ff_size=8, moe_num_mixtures=2,
    tc_kernel_size=3, tc_num_feature_maps=2,
)
PAIRS = [
    ("TCNetVLADModel", "NetVLADModelLF"),
    ("TCRNNModel", "BiGRUAttentionModel"),
    ("TCTransformerModel", "TransformerModel"),
    ("TCEnsembleModel", "BaseEnsembleModel"),
]
T = 10


def build(name, **overrides):
    names = models.model_hparam_names(name)
    hparams = {k: v for k, v in {**TINY, **overrides}.items() if k in names}
    return models.build_model(name, 6, [8, 4], max_frames=T, **hparams)


def inputs(pad_value=0.0):
    rng = np.random.default_rng(0)
    video = rng.normal(size=(3, T, 12)).astype("float32")
    num_frames = np.array([T, 5, 1], "int32")
    video[np.arange(T)[None, :] >= num_frames[:, None]] = pad_value
    return {"video_matrix": video, "num_frames": num_frames}


def coherence_kernels(model):
    return [w for w in model.weights if "coherence" in w.path]


@pytest.mark.parametrize("tc_name, plain_name", PAIRS)
def test_delta_kernel_model_equals_plain_model(tc_name, plain_name):
    plain, coherent = build(plain_name), build(tc_name)
    by_path = {w.path: w for w in plain.weights}
    kernels = coherence_kernels(coherent)
    assert kernels and all(w.path not in by_path for w in kernels)
    for weight in coherent.weights:
        if "coherence" not in weight.path:
            weight.assign(by_path[weight.path])
    assert len(coherent.weights) == len(plain.weights) + len(kernels)
    x = inputs()
    expected = np.asarray(plain(x, training=False))
    np.testing.assert_array_equal(
        np.asarray(coherent(x, training=False)), expected)
    # The kernels are in the graph: another kernel changes the output.
    for kernel in kernels:
        kernel.assign(np.full(kernel.shape, 0.5, "float32"))
    assert not np.allclose(np.asarray(coherent(x, training=False)), expected,
                           atol=1e-6)
    # TC adds K * M weights per TC layer only (Table 2's "kilobytes").
    assert (coherent.count_params() - plain.count_params()
            == len(kernels) * 3 * 2)


def _producer(tensor):
    """The layer that made `tensor` (a layer's first input if a list)."""
    if isinstance(tensor, (list, tuple)):
        tensor = tensor[0]
    return tensor._keras_history[0]


def test_tc_netvlad_is_on_the_frames_before_sampling():
    model = build("TCNetVLADModel")
    tc = model.get_layer("input_coherence")
    assert tuple(tc.input[0].shape) == (None, T, 12)  # every frame, in order
    assert _producer(tc.input).name == "l2_normalize"
    sampling = model.get_layer("frame_sampling")
    assert isinstance(sampling, FrameSampling)
    assert _producer(sampling.input) is tc


def test_tc_rnn_is_on_the_encoder_outputs_feeding_the_attention():
    model = build("TCRNNModel")
    tc = model.get_layer("all_coherence")
    assert _producer(tc.input).name == "all_birnn_0"
    assert _producer(model.get_layer("all_attention").input) is tc


def test_tc_transformer_has_tc_on_keys_and_values_of_every_block():
    model = build("TCTransformerModel", transformer_layers=2)
    for tower in ("rgb", "audio"):
        for index in range(2):
            block = model.get_layer(f"{tower}_encoder_{index}")
            attention = block.self_attention
            assert isinstance(attention, TemporalCoherenceAttention)
            assert isinstance(attention.key_coherence, TemporalCoherence)
            assert attention.key_coherence is not attention.value_coherence


def test_tc_ensemble_places_each_towers_tc():
    model = build("TCEnsembleModel")
    tc = model.get_layer("netvlad_input_coherence")
    assert _producer(tc.input).name == "l2_normalize"
    assert _producer(model.get_layer("rnn_coherence").input).name == (
        "rnn_birnn_0")
    block = model.get_layer("transformer_encoder_0")
    assert isinstance(block.self_attention, TemporalCoherenceAttention)
    plain = build("BaseEnsembleModel")
    assert not coherence_kernels(plain)


@pytest.mark.parametrize("name", [tc for tc, _ in PAIRS])
@pytest.mark.parametrize("mode", ["conv", "distance"])
def test_padding_never_changes_predictions(name, mode):
    model = build(name, tc_mode=mode)
    for kernel in coherence_kernels(model):
        kernel.assign(np.random.default_rng(1).normal(size=kernel.shape))
    base = np.asarray(model(inputs(0.0), training=False))
    big = np.asarray(model(inputs(1e3), training=False))
    np.testing.assert_allclose(big, base, rtol=1e-5, atol=1e-6)


def test_tc_hparams_declared_once_and_checked():
    declarations = models.all_hparam_declarations()
    for name in ("tc_kernel_size", "tc_num_feature_maps", "tc_mode"):
        owners = {tc for tc, _ in PAIRS
                  if name in models.model_hparam_names(tc)}
        assert owners == {tc for tc, _ in PAIRS}, name
        assert name in declarations
    assert build("TCRNNModel").get_config()["tc_mode"] == "conv"
    with pytest.raises(ValueError, match="argument `tc_kernel_size`"):
        build("TCRNNModel", tc_kernel_size=4)
    with pytest.raises(ValueError, match="argument `tc_kernel_size`"):
        build("TCEnsembleModel", tc_kernel_size=6)
    with pytest.raises(ValueError, match="argument `tc_mode`"):
        build("TCTransformerModel", tc_mode="plus")
    with pytest.raises(ValueError, match="tc_kernel_size"):  # undeclared
        models.build_model("BaseEnsembleModel", 6, [8, 4], max_frames=T,
                           tc_kernel_size=3)


def test_tc_flagfiles_parse_and_name_only_the_models_hparams():
    import copy
    import os

    from absl import flags as absl_flags

    from tests.training import helpers
    from yt8m.bin import train  # noqa: F401 (defines the train.py flags)

    declared = models.all_hparam_declarations()
    for family in ("netvlad", "rnn", "transformer", "ensemble"):
        path = os.path.join(helpers.ROOT, "experiments", "tc",
                            f"tc_{family}.flags")
        values = copy.deepcopy(absl_flags.FLAGS)
        values.unparse_flags()
        values(["train.py", f"--flagfile={path}"])
        model = values["model"].value
        assert model.startswith("TC"), path
        hparams = set(models.model_hparam_names(model))
        assert values["tc_kernel_size"].value == 5
        assert values["tc_num_feature_maps"].value == 4
        for name in values:
            if values[name].present and name in declared:
                assert name in hparams, (path, name)
