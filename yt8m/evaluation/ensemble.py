"""Prediction ensembles (`yt8m-ensemble`): plain or GAP-weighted averages.

The Deep Multimodal Learning paper's Algorithm 2: for every video and
class, the new score is `sum_i alpha_i S_i` with `S_i` the score of member
model i and `alpha_i = GAP_i / sum_j GAP_j`; the classes are sorted by it
and the top k kept. Reading: line 4 says "S_i <- GAP in model i", but
line 6 sums `S_i x alpha_i` per class and the weights already hold the
GAPs, so `S_i` is member i's score for the class (a weight times a GAP
would rank every class of a video alike). `GAP_i` is the member's GAP@k on
a labelled validation split; this module refuses validation videos that
are also being scored, so weights never come from the scored data.

Members are Kaggle CSVs (`VideoId,LabelConfidencePairs`, top-k only: a
class a member did not list counts as score 0 for it) or full prediction
files (`yt8m.evaluation.predictions`, every class). All members must
cover the same videos. Scores are combined as dense [N, C] matrices in the
first member's video order.

Metrics (when labels are given): GAP@k of each member and of the ensemble
on their top-k pairs, exactly as `yt8m-score` scores the CSV
(`scoring.video_gap`); with full prediction files for every member also
MAP, Hit@1 and PERR from `yt8m.metrics.EvaluationMetrics` (for a CSV the
top-k is all there is, so only GAP@k and Hit@1).
"""

import dataclasses
import os

import numpy as np

from yt8m.evaluation import predictions as predictions_lib
from yt8m.evaluation import scoring

METHODS = ("average", "gap")


class EnsembleError(ValueError):
    """Members that cannot be combined (which file, what is wrong)."""


@dataclasses.dataclass
class Member:
    """One model's predictions: dense scores [N, C] and where they came from."""

    path: str
    video_ids: list
    scores: np.ndarray
    full: bool  # every class scored (a prediction file), not a top-k CSV
    listed: np.ndarray = None  # [N, C] bool: pairs a CSV lists

    @property
    def name(self):
        return os.path.basename(self.path)


def read_member(path, num_classes):
    """A `Member` from a Kaggle CSV or a prediction file (by content)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"PK"):  # a .npz is a zip archive
        ids, scores = predictions_lib.read_predictions(path, num_classes)
        return Member(path, ids, scores, full=True,
                      listed=np.ones(scores.shape, bool))
    submission = scoring.read_video_submission(path, num_classes)
    ids = list(submission)
    scores = np.zeros((len(ids), num_classes), np.float32)
    listed = np.zeros((len(ids), num_classes), bool)
    for row, video_id in enumerate(ids):
        for label, score in submission[video_id]:
            scores[row, label] = score
            listed[row, label] = True
    return Member(path, ids, scores, full=False, listed=listed)


def aligned(members, attribute="scores"):
    """The members' scores (or `listed`) in the first member's video order.

    Raises:
      EnsembleError: members that do not cover the same videos.
    """
    reference = members[0]
    index = {v: i for i, v in enumerate(reference.video_ids)}
    out = [getattr(reference, attribute)]
    for member in members[1:]:
        ids = set(member.video_ids)
        missing = [v for v in reference.video_ids if v not in ids]
        extra = [v for v in member.video_ids if v not in index]
        if missing or extra:
            example = (missing or extra)[0]
            raise EnsembleError(
                f"{member.path}: expected the videos of {reference.path} "
                f"({len(reference.video_ids)}), received "
                f"{len(member.video_ids)}: {len(missing)} missing, "
                f"{len(extra)} extra, e.g. {example!r}")
        order = np.array([index[v] for v in member.video_ids])
        values = getattr(member, attribute)
        scores = np.empty_like(values)
        scores[order] = values
        out.append(scores)
    return out


def combine(score_matrices, weights):
    """`sum_i w_i S_i` [N, C] (weights as given: normalise them first)."""
    total = np.zeros_like(score_matrices[0], dtype=np.float64)
    for weight, scores in zip(weights, score_matrices):
        total += float(weight) * scores
    return total.astype(np.float32)


def top_k_submission(video_ids, scores, top_k, listed=None):
    """`{video_id: [(label, score)]}` of the top-k classes per video.

    Ties are broken by the lower class index (as inference.py). With
    `listed` [N, C], only listed pairs are kept (a class no CSV member
    listed has no score and is not written).
    """
    from yt8m.inference import top_k_indices

    if listed is not None:
        scores = np.where(listed, scores, -np.inf)
    top = top_k_indices(scores, top_k)
    return {
        video_id: [(int(c), float(scores[row, c])) for c in top[row]
                   if np.isfinite(scores[row, c])]
        for row, video_id in enumerate(video_ids)
    }


def metrics(video_ids, scores, labels, top_k, full, listed=None,
            submission=None):
    """GAP@k (+ Hit@1, and MAP / PERR when `full`) of dense `scores`.

    GAP@k and Hit@1 are those of `submission` (`{video_id: [(label,
    score)]}`) when given, e.g. the scores as a CSV holds them; else of
    the top k of `scores`.
    """
    if submission is None:
        submission = top_k_submission(video_ids, scores, top_k, listed)
    gap = scoring.video_gap(submission, labels, top_k)["gap"]
    hits = [submission[v][0][0] in labels[v] for v in video_ids]
    out = {"gap": gap, "hit_at_one": float(np.mean(hits)), "top_k": top_k}
    if full:
        from yt8m.metrics import EvaluationMetrics

        dense_labels = np.zeros_like(scores)
        for row, video_id in enumerate(video_ids):
            dense_labels[row, sorted(labels[video_id])] = 1.0
        evaluator = EvaluationMetrics(scores.shape[1], top_k=top_k)
        evaluator.accumulate(scores, dense_labels)
        result = evaluator.get()
        out.update(map=result.map, perr=result.perr,
                   hit_at_one=result.hit_at_one)
    return out


def labels_for(video_ids, data_pattern, num_classes, what):
    labels = scoring.read_video_labels(data_pattern, num_classes)
    missing = [v for v in video_ids if v not in labels]
    if missing:
        raise EnsembleError(
            f"{what}: {len(missing)} video id(s) have no labels in "
            f"{data_pattern!r}, e.g. {missing[0]!r}")
    return labels


def gap_weights(validation_paths, validation_pattern, scored_ids,
                num_classes, top_k):
    """(alpha [n], validation GAPs [n]): `alpha_i = GAP_i / sum_j GAP_j`.

    Raises:
      EnsembleError: a validation video that is also scored, or GAPs that
        sum to 0.
    """
    scored = set(scored_ids)
    gaps = []
    labels = None
    for path in validation_paths:
        member = read_member(path, num_classes)
        overlap = [v for v in member.video_ids if v in scored]
        if overlap:
            raise EnsembleError(
                f"{path}: {len(overlap)} of its videos are also being "
                f"scored, e.g. {overlap[0]!r}: the GAP weights must come "
                "from a validation split, never from the data being scored")
        if labels is None:
            labels = labels_for(member.video_ids, validation_pattern,
                                num_classes, path)
        gaps.append(metrics(member.video_ids, member.scores, labels, top_k,
                            full=False, listed=member.listed)["gap"])
    gaps = np.asarray(gaps, np.float64)
    if gaps.sum() <= 0:
        raise EnsembleError(
            f"validation GAPs {gaps.tolist()} sum to 0: no weights")
    return gaps / gaps.sum(), gaps


def run(inputs, output_file, method="average", validation_files=None,
        validation_data_pattern=None, weights=None, data_pattern=None,
        num_classes=scoring.DEFAULT_NUM_CLASSES, top_k=20,
        output_predictions_file=None):
    """Combines `inputs`, writes the Kaggle CSV; returns a result dict.

    Args:
      inputs: member files (CSV or prediction files), at least one.
      method: "average" (equal weights) or "gap" (Algorithm 2; needs
        `validation_files`, one per input in the same order, and their
        labelled `validation_data_pattern`).
      weights: explicit weights (normalised to sum 1) instead of `method`.
      data_pattern: labelled TFRecords of the scored videos: adds metrics.
      output_predictions_file: also write the ensemble's dense scores.
    """
    if not inputs:
        raise EnsembleError("expected at least one input file")
    if method not in METHODS:
        raise ValueError(
            f"Invalid value for argument `method`: expected one of "
            f"{list(METHODS)}. Received: method={method!r}")
    members = [read_member(p, num_classes) for p in inputs]
    matrices = aligned(members)
    listed_matrices = aligned(members, "listed")
    listed = np.logical_or.reduce(listed_matrices)
    video_ids = members[0].video_ids
    result = {"inputs": list(inputs), "method": method, "top_k": top_k}
    if weights is not None:
        weights = np.asarray(weights, np.float64)
        if len(weights) != len(inputs) or np.any(weights < 0) or \
                weights.sum() <= 0:
            raise EnsembleError(
                f"expected {len(inputs)} non-negative weights with a "
                f"positive sum, received {weights.tolist()}")
        alpha = weights / weights.sum()
        result["method"] = "weights"
    elif method == "gap":
        if not validation_files or len(validation_files) != len(inputs):
            raise EnsembleError(
                f"method=gap needs one validation file per input "
                f"({len(inputs)}), received "
                f"{len(validation_files or [])}")
        if not validation_data_pattern:
            raise EnsembleError(
                "method=gap needs --validation_data_pattern (the labels of "
                "the validation files)")
        alpha, gaps = gap_weights(validation_files, validation_data_pattern,
                                  video_ids, num_classes, top_k)
        result["validation_files"] = list(validation_files)
        result["validation_gap"] = gaps.tolist()
    else:
        alpha = np.full(len(inputs), 1.0 / len(inputs))
    result["weights"] = alpha.tolist()
    ensemble = combine(matrices, alpha)

    from yt8m import files

    # The CSV holds inference.py's "%i %g" pairs: scores to 6 significant
    # digits. The ensemble's GAP and Hit@1 are reported for these written
    # values, so that yt8m-score on the CSV gives the same figure (the
    # rounding can tie or reorder close scores across videos).
    submission = {
        video_id: [(c, float("%g" % s)) for c, s in pairs]
        for video_id, pairs in top_k_submission(
            video_ids, ensemble, top_k, listed).items()
    }
    with files.atomic_file(output_file) as out:
        out.write(scoring.VIDEO_HEADER + "\n")
        for video_id in video_ids:
            pairs = " ".join("%i %g" % (c, s) for c, s in
                             submission[video_id])
            out.write(f"{video_id},{pairs}\n")
    result["output_file"] = output_file
    if output_predictions_file:
        predictions_lib.write_predictions(output_predictions_file, video_ids,
                                          ensemble)
        result["output_predictions_file"] = output_predictions_file
    if data_pattern:
        labels = labels_for(video_ids, data_pattern, num_classes,
                            inputs[0])
        full = all(m.full for m in members)
        result["members"] = [
            dict(metrics(video_ids, scores, labels, top_k, full, shown),
                 file=member.path, weight=float(weight))
            for member, scores, shown, weight in zip(
                members, matrices, listed_matrices, alpha)
        ]
        result["ensemble"] = metrics(video_ids, ensemble, labels, top_k,
                                     full, listed, submission=submission)
    return result


def summary_lines(result):
    """A small table: each member's metrics and the ensemble's."""
    if "ensemble" not in result:
        return [f"Wrote {result['output_file']} (weights "
                + ", ".join(f"{w:.4f}" for w in result["weights"]) + ")"]
    keys = [k for k in ("gap", "map", "hit_at_one", "perr")
            if k in result["ensemble"]]
    header = "model | weight | " + " | ".join(
        "GAP@%d" % result["top_k"] if k == "gap" else
        {"map": "MAP", "hit_at_one": "Hit@1", "perr": "PERR"}[k]
        for k in keys)
    lines = [header]
    for member in result["members"]:
        lines.append(f"{os.path.basename(member['file'])} | "
                     f"{member['weight']:.4f} | "
                     + " | ".join(f"{member[k]:.4f}" for k in keys))
    lines.append(f"ensemble ({result['method']}) | 1.0000 | "
                 + " | ".join(f"{result['ensemble'][k]:.4f}" for k in keys))
    return lines
