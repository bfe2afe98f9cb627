"""Full prediction files: every class's score for every video.

Written by `eval.py --predictions_file=P` and `inference.py
--predictions_file=P` (video-level mode), read by `yt8m-ensemble`. Unlike a
Kaggle CSV (top-k pairs only) they keep all C scores, so an ensemble can
combine classes outside a member's top-k and compute MAP.

Format: a NumPy `.npz` archive (`numpy.load(P)`; no pickled objects) with

    format       str scalar   "yt8m-predictions-1"
    video_ids    str   [N]    ids in the order of the input files
    predictions  float32 [N, C]  the model's output (probabilities)

It is written to a temporary file next to `P` and renamed when complete
(`yt8m.files`), so a failed run never leaves a partial file. Any file name
works (`np.savez` is given an open file, so no `.npz` suffix is added).
"""

import numpy as np

from yt8m import files

FORMAT = "yt8m-predictions-1"


class PredictionsError(ValueError):
    """A prediction file that does not follow the format (file, what)."""


class PredictionsWriter:
    """Collects `(video_ids, predictions)` batches; `write()` saves them."""

    def __init__(self, path):
        self.path = path
        self._ids = []
        self._predictions = []

    def add(self, video_ids, predictions):
        predictions = np.asarray(predictions, np.float32)
        if predictions.ndim != 2 or len(video_ids) != len(predictions):
            raise ValueError(
                f"expected {len(video_ids)} rows of predictions [N, C], "
                f"received shape {predictions.shape}")
        self._ids.extend(str(v) for v in video_ids)
        self._predictions.append(predictions)

    def write(self):
        if not self._predictions:
            raise ValueError(f"{self.path}: no predictions to write")
        write_predictions(self.path, self._ids,
                          np.concatenate(self._predictions))
        return self.path


def write_predictions(path, video_ids, predictions):
    """Writes a prediction file atomically (see the module docstring)."""
    predictions = np.asarray(predictions, np.float32)
    ids = np.asarray([str(v) for v in video_ids], dtype=str)
    if predictions.ndim != 2 or len(ids) != len(predictions):
        raise ValueError(
            f"{path}: expected predictions [N, C] for N={len(ids)} ids, "
            f"received shape {predictions.shape}")
    if len(set(ids.tolist())) != len(ids):
        raise ValueError(f"{path}: duplicate video ids")
    with files.atomic_file(path, "wb") as f:
        np.savez(f, format=np.asarray(FORMAT), video_ids=ids,
                 predictions=predictions)
    return path


def read_predictions(path, num_classes=None):
    """`(video_ids [N] list of str, predictions float32 [N, C])`, checked."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"format", "video_ids", "predictions"} <= keys:
                raise PredictionsError(
                    f"{path}: expected the keys format, video_ids and "
                    f"predictions, received {sorted(keys)}")
            kind = str(data["format"])
            ids = [str(v) for v in data["video_ids"]]
            predictions = np.asarray(data["predictions"], np.float32)
    except (OSError, ValueError) as e:
        if isinstance(e, PredictionsError):
            raise
        raise PredictionsError(
            f"{path}: not a prediction file (expected a .npz written by "
            f"--predictions_file): {e}") from None
    if kind != FORMAT:
        raise PredictionsError(
            f"{path}: format {kind!r}, expected {FORMAT!r}")
    if predictions.ndim != 2 or predictions.shape[0] != len(ids):
        raise PredictionsError(
            f"{path}: predictions of shape {predictions.shape} for "
            f"{len(ids)} video ids")
    if num_classes is not None and predictions.shape[1] != num_classes:
        raise PredictionsError(
            f"{path}: {predictions.shape[1]} classes, expected "
            f"{num_classes} (--num_classes)")
    if not np.all(np.isfinite(predictions)):
        raise PredictionsError(f"{path}: non-finite scores")
    return ids, predictions
