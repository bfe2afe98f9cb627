"""Every recurrent layer in every registered model is configured so that
Keras runs the fused cuDNN kernel on a GPU.

Keras 3 (TensorFlow backend) takes the cuDNN path when `use_cudnn` is "auto"
or True, there is no recurrent dropout, the activation is tanh, the recurrent
activation sigmoid, the layer is not unrolled, it has biases, a GRU has
`reset_after=True`, and the mask is right-padded (valid frames first, as our
`FrameMask` from `num_frames` builds it) with no fully masked row. The
configuration part is checked here with Keras's own predicate; the mask part
by `test_frame_masks_are_right_padded`.
"""

import keras
import numpy as np
import pytest
# Keras's own argument checks (cudnn_ok without its "is a GPU there" part).
from keras.src.backend.tensorflow.rnn import _do_gru_arguments_support_cudnn
from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

from tests.training import helpers
from tests.training.test_all_models import PACKAGE_MODELS
from tests.training.test_all_models import TINY
from yt8m import models
from yt8m.layers import recurrent
from yt8m.layers.frame_mask import FrameMask
from yt8m.models.cross_modal import correlation_tower_spec


def _build(name):
    hparams = {k: v for k, v in TINY.items()
               if k in models.model_hparam_names(name)}
    cls = models.get_model_class(name)
    if getattr(cls, "requires_correlation_tower", lambda h: False)(hparams):
        hparams["correlation_tower"] = correlation_tower_spec(
            ["rgb", "audio"], [helpers.RGB, helpers.AUDIO],
            helpers.NUM_CLASSES, max_frames=helpers.MAX_FRAMES,
            tower_hidden_size=4, tower_layers=1)
    return models.build_model(name, num_classes=helpers.NUM_CLASSES,
                              feature_sizes=[helpers.RGB, helpers.AUDIO],
                              max_frames=helpers.MAX_FRAMES, **hparams)


def _rnn_layers(model):
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            found.append(layer)
    return found


RNN_MODELS = ["LstmModel", "BiGRUAttentionModel", "BiLSTMAttentionModel",
              "BaseEnsembleModel",
              "CrossModalRNN", "TCRNNModel", "TCEnsembleModel"]


def test_the_recurrent_models_are_all_listed():
    # A new model with recurrent layers must be added to RNN_MODELS.
    with_rnn = [n for n in PACKAGE_MODELS
                if models.get_model_class(n).frame_level
                and _rnn_layers(_build(n))]
    assert sorted(with_rnn) == sorted(
        n for n in RNN_MODELS if n in PACKAGE_MODELS)


@pytest.mark.parametrize("name", RNN_MODELS)
def test_recurrent_layers_are_cudnn_eligible(name):
    layers = _rnn_layers(_build(name))
    assert layers, name
    for layer in layers:
        cell = layer.cell
        gru = isinstance(layer, keras.layers.GRU)
        assert layer.use_cudnn in ("auto", True), layer.name
        assert not cell.recurrent_dropout, layer.name
        arguments = dict(activation=cell.activation,
                         recurrent_activation=cell.recurrent_activation,
                         unroll=layer.unroll, use_bias=cell.use_bias)
        if gru:
            ok = _do_gru_arguments_support_cudnn(
                reset_after=cell.reset_after, **arguments)
        else:
            ok = _do_lstm_arguments_support_cudnn(**arguments)
        assert ok, f"{name}/{layer.name} is not cuDNN-eligible"


def test_frame_masks_are_right_padded():
    num_frames = np.array([1, 3, 5], np.int32)
    mask = np.asarray(FrameMask()(np.zeros((3, 5, 2), np.float32),
                                  num_frames))
    # Valid frames first, then padding; every row has a valid frame.
    np.testing.assert_array_equal(mask, np.arange(5)[None] < num_frames[:, None])


@pytest.mark.parametrize("name", RNN_MODELS)
def test_recurrent_layers_project_their_inputs_outside_the_loop(name):
    # yt8m.layers.recurrent's GRU / LSTM: off cuDNN, one input projection
    # per sequence instead of one per frame (tests/layers/test_recurrent.py).
    for layer in _rnn_layers(_build(name)):
        assert isinstance(layer, (recurrent.GRU, recurrent.LSTM)), (
            f"{name}/{layer.name} is a {type(layer).__name__}")
