import keras
import pytest

import yt8m.models
from yt8m import registry
from yt8m.models import build_model
from yt8m.models import model_hparam_names

STARTER_MODELS = [
    "DbofModel",
    "FrameLevelLogisticModel",
    "LogisticModel",
    "LstmModel",
    "MoeModel",
]


def test_importing_models_registers_the_starter_models():
    names = registry.list_models()
    assert set(STARTER_MODELS) <= set(names)
    assert names == sorted(names)
    for name in STARTER_MODELS:
        cls = registry.get_model_class(name)
        assert cls.__name__ == name
        assert keras.saving.get_registered_object(f"yt8m>{name}") is cls
        assert yt8m.models.get_model_class(name) is cls


def test_typo_error_lists_registered_names():
    with pytest.raises(ValueError) as error:
        registry.get_model_class("DBoFModel")
    message = str(error.value)
    assert "'DBoFModel'" in message
    assert str(sorted(registry.list_models())) in message
    with pytest.raises(ValueError, match="Registered models"):
        build_model("LSTMModel", 3, [4])


def test_duplicate_registration_is_refused():
    class MoeModel(keras.Model):  # same name as a registered model
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(MoeModel)


def test_model_hparam_names_use_upstream_flag_names():
    assert model_hparam_names("MoeModel") == ["moe_num_mixtures", "moe_l2"]
    assert model_hparam_names("LogisticModel") == ["l2_penalty"]
    assert set(model_hparam_names("DbofModel")) == {
        "iterations", "dbof_cluster_size", "dbof_hidden_size",
        "dbof_pooling_method", "dbof_activation", "dbof_add_batch_norm",
        "sample_random_frames", "dbof_sample_at_eval",
        "video_level_classifier_model", "moe_num_mixtures", "moe_l2",
        "l2_penalty",
    }
    assert set(model_hparam_names("LstmModel")) == {
        "lstm_cells", "lstm_layers", "video_level_classifier_model",
        "moe_num_mixtures", "moe_l2", "l2_penalty",
    }


def test_upstream_defaults():
    import inspect

    def defaults(name):
        cls = registry.get_model_class(name)
        found = {n: h.default for n, h in cls.hparam_declarations().items()}
        if cls.frame_level:
            found["max_frames"] = inspect.signature(
                cls.__init__).parameters["max_frames"].default
        # A model built without hparams uses exactly these.
        config = cls(num_classes=3, feature_sizes=[4, 2]).get_config()
        assert {k: config[k] for k in found} == found
        return found

    assert defaults("MoeModel") == {"moe_num_mixtures": 2, "moe_l2": 1e-8}
    assert defaults("DbofModel") == {
        "max_frames": 300, "iterations": 30, "dbof_cluster_size": 8192,
        "dbof_hidden_size": 1024, "dbof_pooling_method": "max",
        "dbof_activation": "sigmoid", "dbof_add_batch_norm": True,
        "sample_random_frames": True, "dbof_sample_at_eval": False,
        "video_level_classifier_model": "MoeModel", "moe_num_mixtures": 2,
        "moe_l2": 1e-8, "l2_penalty": 1e-8,
    }
    assert defaults("LstmModel")["lstm_cells"] == 1024
    assert defaults("LstmModel")["lstm_layers"] == 2


def test_build_model_refuses_hparams_the_model_does_not_declare():
    # A stale or renamed model_flags.json key must not be dropped silently.
    with pytest.raises(ValueError, match=r"MoeModel has no hyperparameter\(s\) \['lstm_cells'\]"):
        build_model("MoeModel", 5, [4, 2], moe_num_mixtures=3, lstm_cells=4)
    moe = build_model("MoeModel", 5, [4, 2], max_frames=7, moe_num_mixtures=3)
    assert moe.get_config()["moe_num_mixtures"] == 3
    assert "max_frames" not in moe.get_config()
    lstm = build_model("LstmModel", 5, [4, 2], max_frames=7, lstm_cells=4,
                       lstm_layers=1, moe_num_mixtures=3)
    config = lstm.get_config()
    assert (config["lstm_cells"], config["lstm_layers"]) == (4, 1)
    assert config["moe_num_mixtures"] == 3
    assert config["max_frames"] == 7
    assert config["feature_sizes"] == [4, 2]
