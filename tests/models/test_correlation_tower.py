"""The correlation tower (cross_modal_learning_a, section 3): model, pairs,
eq. (1), the evaluator's FPR / FNR. In-process, tiny shapes."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from yt8m import models
from yt8m.models import correlation_tower as ct
from yt8m.models import objectives

RGB, AUDIO, T, C = 6, 3, 5, 6
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABULARY = os.path.join(HERE, "data", "vocabulary.csv")
# Classes 0,1 -> A; 2,3 -> B; 4,5 -> C.
TOP = np.array([0, 0, 1, 1, 2, 2])


def _taxonomy(tmp_path):
    path = tmp_path / "taxonomy.csv"
    rows = ["Index,Name,Path"] + [
        f"{i},c{i},{'ABC'[TOP[i]]}:c{i}" for i in range(C)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _frame_inputs(b=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "video_matrix": rng.normal(size=(b, T, RGB + AUDIO)).astype("f"),
        "num_frames": np.array([1, T, 3, 2][:b], np.int32),
    }


# ---------------------------------------------------------------- model ---


def test_shapes_masking_and_keras_round_trip(tmp_path):
    tower = models.build_model("CorrelationTower", C, [RGB, AUDIO], T,
                               tower_hidden_size=4, tower_layers=2)
    x = _frame_inputs()
    out = np.asarray(tower(x))
    assert out.shape == (4, 1) and np.all((out > 0) & (out < 1))
    # Frames past num_frames do not count.
    padded = {k: v.copy() for k, v in x.items()}
    padded["video_matrix"][0, 1:] = 100.0
    np.testing.assert_allclose(np.asarray(tower(padded)), out, atol=1e-6)
    # The classifier head's hyperparameters are not the tower's.
    assert "moe_num_mixtures" not in models.model_hparam_names(
        "CorrelationTower")
    path = str(tmp_path / "tower.keras")
    tower.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), out)

    video = models.build_model("VideoCorrelationTower", C, [RGB, AUDIO],
                               tower_hidden_size=4, tower_layers=2)
    v = x["video_matrix"][:, 0]
    out_v = np.asarray(video({"video_matrix": v}))
    assert out_v.shape == (4, 1)
    path = str(tmp_path / "video.keras")
    video.save(path)
    np.testing.assert_array_equal(
        np.asarray(keras.models.load_model(path)({"video_matrix": v})), out_v)


def test_video_level_variant_takes_the_frame_towers_weights():
    frame = models.build_model("CorrelationTower", C, [RGB, AUDIO], T,
                               tower_hidden_size=4, tower_layers=1)
    video = models.build_model("VideoCorrelationTower", C, [RGB, AUDIO],
                               tower_hidden_size=4, tower_layers=1)
    for layer in video.layers:
        if layer.weights:
            layer.set_weights(frame.get_layer(layer.name).get_weights())
    x = _frame_inputs()
    x["num_frames"][:] = 1  # one frame: its mean is the video-level input
    np.testing.assert_allclose(
        np.asarray(video({"video_matrix": x["video_matrix"][:, 0]})),
        np.asarray(frame(x)), atol=1e-6)


def test_one_declaration_per_hparam_and_two_modalities():
    declared = models.all_hparam_declarations()
    for hparam in ct.TOWER_HPARAMS:
        assert declared[hparam.name] is hparam
    with pytest.raises(ValueError, match="expected an rgb and an audio"):
        models.build_model("CorrelationTower", C, [RGB], T)


# ---------------------------------------------------------------- pairs ---


def _batch(labels, b_frames=None):
    labels = np.asarray(labels, np.float32)
    b = labels.shape[0]
    rng = np.random.default_rng(1)
    return {
        "video_matrix": tf.constant(
            rng.normal(size=(b, T, RGB + AUDIO)).astype("f")),
        "num_frames": tf.constant(
            b_frames if b_frames is not None else np.arange(b) % T + 1,
            tf.int32),
        "labels": tf.constant(labels),
    }


def _multi_hot(label_lists):
    out = np.zeros((len(label_lists), C), np.float32)
    for i, labels in enumerate(label_lists):
        out[i, labels] = 1
    return out


def _expected_eval_pairs(label_lists, groups, ratio):
    """The eval-mode rule, computed independently with Python sets."""
    b = len(label_lists)
    sets = [{groups[c] for c in labels} for labels in label_lists]
    negative, partner = [], []
    for i in range(b):
        chosen = int((i + 1) * ratio) > int(i * ratio)
        found = None
        for k in range(1, b):
            j = (i + k) % b
            if sets[i] and sets[j] and not sets[i] & sets[j]:
                found = j
                break
        negative.append(chosen and found is not None)
        partner.append(found if negative[-1] else i)
    return np.array(negative), np.array(partner)


LABELS = [[0], [1, 2], [2], [3, 4], [5], [0, 5], [], [1], [3]]


@pytest.mark.parametrize("ratio", [0.5, 0.3])
def test_eval_pairs_are_deterministic_and_category_disjoint(tmp_path, ratio):
    objective = ct.CorrelationObjective(
        RGB, C, negative_ratio=ratio, taxonomy_file=_taxonomy(tmp_path))
    batch = _batch(_multi_hot(LABELS))
    dataset = objective.prepare_dataset(
        tf.data.Dataset.from_tensors(batch), training=False)
    out = next(iter(dataset))
    negative, partner = _expected_eval_pairs(LABELS, TOP, ratio)
    assert negative.any() and not negative.all()
    np.testing.assert_array_equal(out["target"].numpy()[:, 0], ~negative)
    np.testing.assert_array_equal(out["partner"].numpy(), partner)
    video = batch["video_matrix"].numpy()
    got = out["video_matrix"].numpy()
    np.testing.assert_array_equal(got[..., :RGB], video[..., :RGB])
    np.testing.assert_array_equal(got[..., RGB:], video[partner][..., RGB:])
    frames = batch["num_frames"].numpy()
    np.testing.assert_array_equal(out["num_frames"].numpy(),
                                  np.minimum(frames, frames[partner]))
    # Same batch, same pairs.
    again = next(iter(objective.prepare_dataset(
        tf.data.Dataset.from_tensors(batch), training=False)))
    np.testing.assert_array_equal(again["partner"], out["partner"])


def test_training_pairs_are_random_and_never_share_a_category(tmp_path):
    rng = np.random.default_rng(0)
    label_lists = [sorted(rng.choice(C, size=rng.integers(1, 3),
                                     replace=False)) for _ in range(32)]
    objective = ct.CorrelationObjective(
        RGB, C, negative_ratio=0.5, taxonomy_file=_taxonomy(tmp_path))
    batch = _batch(_multi_hot(label_lists))
    dataset = objective.prepare_dataset(
        tf.data.Dataset.from_tensors(batch).repeat(20), training=True)
    partners, fractions = [], []
    for out in dataset:
        negative = out["target"].numpy()[:, 0] == 0
        partner = out["partner"].numpy()
        fractions.append(negative.mean())
        partners.append(partner)
        for i in np.flatnonzero(negative):
            j = partner[i]
            assert j != i
            assert not ({TOP[c] for c in label_lists[i]}
                        & {TOP[c] for c in label_lists[j]}), (i, j)
        assert np.all(partner[~negative] == np.flatnonzero(~negative))
    assert 0.3 < np.mean(fractions) < 0.6
    assert len({tuple(p) for p in partners}) > 1  # random per batch


def test_label_disjoint_negatives_without_taxonomy():
    # 0 and 1 share category A but no label: a valid label-disjoint pair.
    label_lists = [[0], [1], [0, 1], [0]]
    objective = ct.CorrelationObjective(
        RGB, C, negative_ratio=0.5, tower_negatives="labels")
    out = next(iter(objective.prepare_dataset(
        tf.data.Dataset.from_tensors(_batch(_multi_hot(label_lists))),
        training=False)))
    negative = out["target"].numpy()[:, 0] == 0
    partner = out["partner"].numpy()
    # Eval chooses videos 1 and 3: 1 -> first label-disjoint after it is 3
    # ({0}); 3 -> 1. (By category, nothing here would be disjoint.)
    np.testing.assert_array_equal(negative, [False, True, False, True])
    np.testing.assert_array_equal(partner, [0, 3, 2, 1])


def test_no_taxonomy_is_a_clear_error():
    with pytest.raises(ValueError, match="--taxonomy_file=PATH.*"
                       "--tower_negatives=labels"):
        ct.CorrelationObjective(RGB, C)
    tower = models.build_model("CorrelationTower", C, [RGB, AUDIO], T,
                               tower_hidden_size=2, tower_layers=0)
    with pytest.raises(ValueError, match="Received: taxonomy_file=None"):
        tower.objective()


def test_vocabulary_csv_top_level_is_vertical1():
    with open(VOCABULARY, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    vertical = {int(r["Index"]): r["Vertical1"] for r in rows}
    ids = ct.load_top_categories(VOCABULARY, 50)
    for a in range(50):
        for b in range(50):
            assert (ids[a] == ids[b]) == (vertical[a] == vertical[b])
    with pytest.raises(ValueError, match="covering the model's 5000"):
        ct.load_top_categories(VOCABULARY, 5000)


# ----------------------------------------------------- loss and metrics ---


def test_eq1_weighted_cross_entropy_matches_numpy():
    y = np.array([1, 0, 1, 0, 0], np.float32)
    p = np.array([0.9, 0.2, 0.4, 0.7, 1.0], np.float32)
    w = 3.0
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    expected = -np.where(y == 1, 1.0, w) * (
        y * np.log(pc) + (1 - y) * np.log(1 - pc))
    got = ct.weighted_cross_entropy(y[:, None], p[:, None], w).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    objective = ct.CorrelationObjective(RGB, C, negative_weight=w,
                                        tower_negatives="labels")
    per_example = objective.per_example_loss(
        {"target": y[:, None]}, p[:, None]).numpy()
    np.testing.assert_allclose(per_example, expected, rtol=1e-6)
    # The loop divides the sum by the batch size (not the weight sum).
    assert np.mean(per_example) == pytest.approx(expected.sum() / 5)


def test_evaluator_fpr_fnr_with_uncorrelated_as_positive():
    # 6 correlated pairs (target 1), 4 uncorrelated (target 0).
    target = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], np.float32)
    p = np.array([.9, .8, .7, .6, .3, .2, .1, .4, .45, .8], np.float32)
    evaluator = ct.CorrelationEvaluator()
    evaluator.accumulate({"target": target[:5, None]}, p[:5, None])
    evaluator.accumulate({"target": target[5:, None]}, p[5:, None])
    result = evaluator.result().to_dict()
    # Positive = uncorrelated. Correlated called uncorrelated (p < .5):
    # 2 of 6 -> FPR 1/3. Uncorrelated called correlated: 1 of 4 -> FNR 1/4.
    assert result["fpr"] == pytest.approx(2 / 6)
    assert result["fnr"] == pytest.approx(1 / 4)
    assert result["accuracy"] == pytest.approx(7 / 10)
    assert result["uncorrelated_fraction"] == pytest.approx(0.4)
    assert result["num_examples"] == 10
    assert isinstance(evaluator, objectives.BinaryEvaluator)
