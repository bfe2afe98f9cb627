"""MFBModel / MFBVideoModel: every variant, parameter counts, structure.

* All 15 frame-level variants (3 aggregations x 5 fusions) and the 5
  video-level ones train (2 steps), evaluate and infer through the library
  behind train.py / eval.py / inference.py, and the submission holds the
  trained model's top classes (so eval.py's checkpoint restore and its
  `.keras` export are exact for each); each also passes a gradient to every
  weight (seeded). dbof + mfb and video-level fc_concat also run through the
  real binaries in test_mfb_binaries.py.
* fc_concat has as many parameters as mfb (counted by Keras on the two
  built models), and the build log prints both counts.
* audio_only / video_only build only their modality; video-level concat is
  MoeModel (same weights, same outputs).
"""

import csv
import logging

import keras
import numpy as np
import pytest

from tests.layer_test_case import assert_gradients_flow
from tests.training import helpers
from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import inference
from yt8m import models
from yt8m import readers
from yt8m.readers import model_inputs
from yt8m.training import loop

FUSIONS = ["audio_only", "video_only", "concat", "fc_concat", "mfb"]
AGGREGATIONS = ["avgpooling", "dbof", "netvlad"]
TINY = {"mfb_factor_k": 2, "mfb_output_dim": 4}
TINY_FRAME = {"iterations": 4, "dbof_cluster_size": 6,
              "netvlad_cluster_size": 4, "dbof_activation": "relu6"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mfb_models")
    frame, video = helpers.write_frame_and_video_shards(tmp, num_videos=8)
    return {"frame": frame, "video": video}


def _spec(name, hparams):
    frame = models.get_model_class(name).frame_level
    return config_lib.ModelSpec(
        model=name,
        feature_names=["rgb", "audio"] if frame else ["mean_rgb",
                                                      "mean_audio"],
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        frame_features=frame, num_classes=helpers.NUM_CLASSES,
        max_frames=helpers.MAX_FRAMES, model_hparams=hparams,
    )


VARIANTS = [("MFBModel", a, f) for a in AGGREGATIONS for f in FUSIONS] + [
    ("MFBVideoModel", None, f) for f in FUSIONS]


def _hparams(aggregation, fusion):
    hparams = dict(TINY, mfb_fusion=fusion)
    if aggregation:
        hparams.update(TINY_FRAME, mfb_aggregation=aggregation)
    return hparams


@pytest.mark.parametrize("name,aggregation,fusion", VARIANTS)
def test_variant_passes_gradients_to_every_weight(name, aggregation, fusion):
    # Seeded weights: at these tiny widths (fc_concat's FC has a few units)
    # an unlucky draw can leave every ReLU of a modality off for the batch.
    keras.utils.set_random_seed(0)
    model = models.build_model(
        name, num_classes=helpers.NUM_CLASSES,
        feature_sizes=[helpers.RGB, helpers.AUDIO],
        max_frames=helpers.MAX_FRAMES, **_hparams(aggregation, fusion))
    rng = np.random.default_rng(0)
    width = helpers.RGB + helpers.AUDIO
    if model.frame_level:
        inputs = {
            "video_matrix": rng.normal(size=(8, helpers.MAX_FRAMES, width))
            .astype("float32"),
            "num_frames": rng.integers(1, helpers.MAX_FRAMES + 1, 8)
            .astype("int32"),
        }
    else:
        inputs = {"video_matrix": rng.normal(size=(8, width))
                  .astype("float32")}
    assert_gradients_flow(model, inputs)


@pytest.mark.parametrize("name,aggregation,fusion", VARIANTS)
def test_variant_trains_evaluates_infers(name, aggregation, fusion, data,
                                         tmp_path):
    spec = _spec(name, _hparams(aggregation, fusion))
    pattern = data["frame"] if spec.frame_features else data["video"]
    train_dir = str(tmp_path / "model")
    result = loop.train(config_lib.TrainConfig(
        train_dir=train_dir, train_data_pattern=pattern, spec=spec,
        batch_size=4, max_steps=2, progress_bar=False, num_readers=1,
        shuffle_seed=0, export_model_steps=0,
    ))
    assert result["step"] == 2 and np.isfinite(result["loss"])
    (step, res), = evaluation.evaluate(config_lib.EvalConfig(
        train_dir=train_dir, eval_data_pattern=pattern, run_once=True,
        batch_size=8,
    ))
    assert step == 2 and res.num_examples == 8 and 0 <= res.gap <= 1
    out = tmp_path / "sub.csv"
    inference.run_inference(config_lib.InferenceConfig(
        input_data_pattern=pattern, output_file=str(out),
        train_dir=train_dir, top_k=2,
    ))
    trained = result["model"]
    batch = next(iter(readers.build_dataset(
        pattern, model_inputs.make_reader(spec), batch_size=100)))
    direct = np.asarray(trained(
        {k: batch[k] for k in model_inputs.input_names(trained)},
        training=False))
    rows = list(csv.reader(open(out, newline="")))[1:]
    assert len(rows) == 8
    for row, scores in zip(rows, direct):
        labels = [int(v) for v in row[1].split()[0::2]]
        assert labels == list(np.argsort(-scores, kind="stable")[:2])


def _count(name, extra, fusion, **more):
    return models.build_model(
        name, num_classes=40, feature_sizes=[48, 16], max_frames=6,
        mfb_fusion=fusion, mfb_factor_k=5, mfb_output_dim=24,
        **extra, **more,
    ).count_params()


def _counts(name, extra):
    return {f: _count(name, extra, f) for f in ("mfb", "fc_concat")}


@pytest.mark.parametrize("name,extra", [
    ("MFBVideoModel", {}),
    ("MFBModel", {"mfb_aggregation": "dbof", "dbof_cluster_size": 20,
                  "iterations": 3}),
    ("MFBModel", {"mfb_aggregation": "netvlad", "netvlad_cluster_size": 4,
                  "iterations": 3, "video_level_classifier_model":
                  "LogisticModel"}),
])
def test_fc_concat_has_as_many_parameters_as_mfb(name, extra):
    counts = _counts(name, extra)
    # One more unit in each FC layer costs `unit` parameters (measured at
    # two explicit widths): the matched width is the nearest one.
    unit = (_count(name, extra, "fc_concat", mfb_fc_concat_size=11)
            - _count(name, extra, "fc_concat", mfb_fc_concat_size=10))
    assert unit > 0
    assert abs(counts["mfb"] - counts["fc_concat"]) <= unit / 2


def test_build_logs_both_parameter_counts(caplog):
    counts = _counts("MFBVideoModel", {})
    caplog.set_level(logging.INFO)
    models.build_model("MFBVideoModel", num_classes=40, feature_sizes=[48, 16],
                       mfb_fusion="mfb", mfb_factor_k=5, mfb_output_dim=24)
    text = caplog.text
    assert f"{counts['mfb']} parameters" in text
    assert f"with mfb_fusion=fc_concat: {counts['fc_concat']}" in text


def test_single_modality_variants_build_one_modality():
    # The MoE head on D inputs (docs/models.md): gates D x C(M+1), experts
    # D x CM + CM biases; M = 2, C = 6.
    def moe(d):
        return d * 6 * 3 + d * 6 * 2 + 6 * 2

    for fusion, size in (("audio_only", helpers.AUDIO),
                         ("video_only", helpers.RGB)):
        for name in ("MFBModel", "MFBVideoModel"):
            model = models.build_model(
                name, num_classes=6, feature_sizes=[helpers.RGB,
                                                    helpers.AUDIO],
                max_frames=5, mfb_fusion=fusion)
            assert model.count_params() == moe(size), (name, fusion)
    concat = models.build_model("MFBVideoModel", num_classes=6,
                                feature_sizes=[helpers.RGB, helpers.AUDIO],
                                mfb_fusion="concat")
    assert concat.count_params() == moe(helpers.RGB + helpers.AUDIO)


def test_video_level_concat_is_moe_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, helpers.RGB + helpers.AUDIO)).astype("float32")
    moe = models.build_model("MoeModel", num_classes=6,
                             feature_sizes=[helpers.RGB, helpers.AUDIO])
    mfb = models.build_model("MFBVideoModel", num_classes=6,
                             feature_sizes=[helpers.RGB, helpers.AUDIO],
                             mfb_fusion="concat")
    weights = [rng.normal(size=w.shape).astype("float32")
               for w in moe.get_weights()]
    moe.set_weights(weights)
    mfb.set_weights(weights)
    np.testing.assert_allclose(
        np.asarray(mfb({"video_matrix": x})),
        np.asarray(moe({"video_matrix": x})), rtol=1e-6, atol=1e-7)


def test_fusions_of_two_modalities_need_two_features():
    for name in ("MFBModel", "MFBVideoModel"):
        with pytest.raises(ValueError,
                           match="mfb_fusion='mfb'.*needs two modalities"):
            models.build_model(name, num_classes=6, feature_sizes=[8],
                               max_frames=5, mfb_fusion="mfb")
        models.build_model(name, num_classes=6, feature_sizes=[8],
                           max_frames=5, mfb_fusion="video_only")
    with pytest.raises(ValueError, match="Received: mfb_aggregation='lstm'"):
        models.build_model("MFBModel", num_classes=6, feature_sizes=[8, 4],
                           mfb_aggregation="lstm")
    with pytest.raises(ValueError, match="argument `mfb_dropout`"):
        models.build_model("MFBVideoModel", num_classes=6,
                           feature_sizes=[8, 4], mfb_dropout=1.5)
