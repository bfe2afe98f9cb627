"""Each hyperparameter is declared once; flags and configs derive from it."""

import json
import os

import pytest
from absl import flags as absl_flags

from yt8m import classifiers
from yt8m import config as config_lib
from yt8m import models
from yt8m.bin import flags as bin_flags
from yt8m.hparams import HParam
from yt8m.models import base
from yt8m.models.cross_modal import correlation_tower_spec
from yt8m.registry import get_model_class
from yt8m.registry import register_model

PRODUCT_MODELS = [n for n in models.list_models()
                  if not get_model_class(n).__module__.startswith("tests.")]


def test_every_declared_hparam_becomes_a_flag_with_its_default_and_help():
    values = absl_flags.FlagValues()
    bin_flags.define_model_hparam_flags(flag_values=values)
    declared = models.all_hparam_declarations()
    assert declared, "no declarations found"
    for name, hparam in declared.items():
        if hparam.kind == "submodel":
            assert name not in values
            continue
        assert name in values, f"{name} has no flag"
        assert values[name].default == hparam.default, name
        assert values[name].help.startswith(hparam.help), name


@pytest.mark.parametrize("name", PRODUCT_MODELS)
def test_a_model_built_without_hparams_uses_the_declared_defaults(name):
    cls = get_model_class(name)
    given = {}
    if getattr(cls, "requires_correlation_tower", lambda h: False)({}):
        # The one hyperparameter without a usable default: a trained tower.
        given["correlation_tower"] = correlation_tower_spec(
            ["rgb", "audio"], [4, 2], 3, max_frames=6)
    config = models.build_model(name, 3, [4, 2], max_frames=6,
                                **given).get_config()
    for hparam_name, hparam in cls.hparam_declarations().items():
        if hparam_name == "fusion":  # None means "the model's default"
            assert config["fusion"] in ("early", "late")
            continue
        if hparam_name in given:
            assert config[hparam_name] == given[hparam_name]
            continue
        assert config[hparam_name] == hparam.default, hparam_name


def test_the_head_is_declared_once_for_every_frame_level_family():
    head = {h.name: h for h in classifiers.HEAD_HPARAMS}
    families = [n for n in PRODUCT_MODELS
                if issubclass(get_model_class(n), base.FrameLevelModel)
                # Own heads: upstream's fixed logistic; the pair head.
                and n not in ("FrameLevelLogisticModel", "CorrelationTower")]
    assert len(families) >= 6
    for name in families:
        declared = get_model_class(name).hparam_declarations()
        for hparam_name, hparam in head.items():
            assert declared[hparam_name] is hparam, (name, hparam_name)


def test_a_second_declaration_of_a_name_is_refused_at_registration():
    class Conflicting(base.FrameLevelModel):
        HPARAMS = (HParam("iterations", "integer", 31, "Another default."),)

        def pool_frames(self, tower, frames, mask, hp):
            return frames[:, 0]

    with pytest.raises(ValueError, match="'iterations' is declared twice"):
        register_model(Conflicting)
    assert "Conflicting" not in models.list_models()


def test_values_are_checked_eagerly_naming_the_argument():
    with pytest.raises(ValueError, match=r"`iterations` of DbofModel: "
                       r"expected a positive integer. Received: iterations=0"):
        models.build_model("DbofModel", 3, [4, 2], iterations=0)
    with pytest.raises(ValueError, match=r"expected one of \['max', "
                       r"'average', 'swap'\]. Received: dbof_pooling_method"):
        models.build_model("DbofModel", 3, [4, 2], dbof_pooling_method="min")
    with pytest.raises(ValueError, match="expected True or False"):
        models.build_model("NetVLADModelLF", 3, [4, 2], gating=1)


def test_a_stale_model_flags_key_is_refused_naming_key_and_file(tmp_path):
    spec = config_lib.ModelSpec(
        model="MoeModel", feature_names=["mean_rgb"], feature_sizes=[4],
        num_classes=3, model_hparams={"moe_num_mixtures": 2},
    )
    config_lib.write_model_flags(str(tmp_path), spec)
    path = os.path.join(str(tmp_path), "model_flags.json")
    flags_dict = json.load(open(path))
    flags_dict["model_config"]["moe_mixtures"] = 4  # renamed/stale key
    json.dump(flags_dict, open(path, "w"))
    stored = config_lib.read_model_flags(str(tmp_path))
    with pytest.raises(ValueError) as error:
        models.build_model_from_spec(stored)
    assert "moe_mixtures" in str(error.value)
    assert path in str(error.value)
