"""Kaggle submissions (the library behind inference.py).

Video-level CSV (Kaggle 2017/2018)::

    VideoId,LabelConfidencePairs
    <id>,<label> <score> <label> <score> ...   # top_k pairs, "%i %g", desc

Segment-level CSV (Kaggle 2019)::

    Class,Segments
    <class_id>,<vid>:<start> <vid>:<start> ...  # <= segment_max_pred, desc

Both are written to a temporary file next to `output_file` and renamed when
complete, so an interrupted run never leaves a truncated submission.
"""

import csv
import os
import tarfile
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from yt8m import config as config_lib
from yt8m import evaluation
from yt8m import files
from yt8m import models as models_lib  # noqa: F401  (registers models)
from yt8m import readers
from yt8m.training import checkpoints
from yt8m.readers import model_inputs as inputs
from yt8m.models import build_model_from_spec

SEGMENT_SIZE = evaluation.SEGMENT_SIZE


# --------------------------------------------------------------------------
# Loading the model
# --------------------------------------------------------------------------


def _safe_extract(tgz_path, target_dir):
    with tarfile.open(tgz_path, "r:gz") as tar:
        members = tar.getmembers()
        for m in members:
            name = os.path.normpath(m.name)
            if name.startswith("..") or os.path.isabs(name) or not m.isfile():
                raise ValueError(
                    f"{tgz_path}: refusing archive member {m.name!r} "
                    "(only plain files at safe paths are allowed)."
                )
        tar.extractall(target_dir, members=members)


def load_inference_model(train_dir="", input_model_tgz="",
                         untar_model_dir="/tmp/yt8m-model",
                         segment_labels=False):
    """Returns `(model, spec)` from a train_dir or a model .tgz.

    From a train_dir: eval.py's `inference_model/inference_model.keras`,
    else the latest checkpoint. With `segment_labels`, eval.py's
    `segment_inference_model.keras` (written by `eval.py --segment_labels`)
    comes first; without it the search falls back as above.
    """
    if bool(train_dir) == bool(input_model_tgz):
        raise ValueError(
            "Give exactly one of --train_dir and --input_model_tgz."
        )
    if input_model_tgz:
        if not os.path.exists(input_model_tgz):
            raise FileNotFoundError(f"No such model archive: {input_model_tgz}")
        os.makedirs(untar_model_dir, exist_ok=True)
        _safe_extract(input_model_tgz, untar_model_dir)
        model_dir = untar_model_dir
        keras_path = os.path.join(model_dir, "inference_model.keras")
    else:
        model_dir = train_dir
        keras_path = evaluation.inference_model_path(train_dir)
        segment_path = evaluation.inference_model_path(
            train_dir, segment_labels=True)
        if segment_labels and os.path.exists(segment_path):
            keras_path = segment_path
    spec = config_lib.read_model_flags(model_dir)
    if os.path.exists(keras_path):
        model = keras.models.load_model(keras_path)
        logging.info("Loaded %s", keras_path)
        return model, spec
    latest = checkpoints.latest_checkpoint(model_dir)
    if not latest:
        raise FileNotFoundError(
            f"Neither {keras_path} nor a checkpoint was found in {model_dir}. "
            "Run train.py (and eval.py) with this --train_dir first."
        )
    model = build_model_from_spec(spec)
    checkpoints.restore_model(model, latest)
    logging.info("Loaded checkpoint %s", latest)
    return model, spec


def write_model_tgz(model, spec, output_model_tgz):
    """A gzip tar with `inference_model.keras` + `model_flags.json` at root."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "inference_model.keras"))
        config_lib.write_model_flags(tmp, spec)
        with files.atomic_path(output_model_tgz) as partial:
            with tarfile.open(partial, "w:gz") as tar:
                for name in ("inference_model.keras", "model_flags.json"):
                    tar.add(os.path.join(tmp, name), arcname=name)


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def top_k_indices(predictions, k):
    """Per-row top-k class indices sorted by descending score.

    Ties are broken by the lower class index (a stable sort), where
    upstream's argpartition order is arbitrary.
    """
    k = min(k, predictions.shape[1])
    part = np.argpartition(-predictions, k - 1, axis=1)[:, :k]  # [B, k]
    part.sort(axis=1)  # class order, so the stable sort breaks ties by index
    scores = np.take_along_axis(predictions, part, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def format_video_lines(video_ids, predictions, top_k):
    """Upstream `format_lines` for video-level predictions (str ids)."""
    top = top_k_indices(predictions, top_k)
    lines = []
    for vid, row, classes in zip(video_ids, predictions, top):
        pairs = " ".join("%i %g" % (c, row[c]) for c in classes)
        lines.append(f"{vid},{pairs}\n")
    return lines


def get_segments(video_matrix, num_frames, segment_size=SEGMENT_SIZE):
    """Cuts whole videos into consecutive `segment_size`-frame segments.

    Returns `(segments [S, segment_size, F], segment_num_frames [S],
    video_index [S], start [S])`. As upstream, a trailing partial segment
    is kept, zero-padded, with `num_frames = remaining`.
    """
    batch, max_frames, dim = video_matrix.shape
    num_segments = -(-max_frames // segment_size)
    padded_len = num_segments * segment_size
    if padded_len != max_frames:
        pad = np.zeros((batch, padded_len - max_frames, dim),
                       video_matrix.dtype)
        video_matrix = np.concatenate([video_matrix, pad], axis=1)
    segs = video_matrix.reshape(batch, num_segments, segment_size, dim)
    starts = np.arange(num_segments) * segment_size  # [S_per_video]
    valid = starts[None, :] < np.asarray(num_frames)[:, None]  # [B, S]
    video_index, seg_index = np.nonzero(valid)
    seg_frames = np.minimum(
        segment_size, np.asarray(num_frames)[video_index] - starts[seg_index]
    ).astype(np.int32)
    return (
        segs[video_index, seg_index],
        seg_frames,
        video_index,
        starts[seg_index],
    )


def read_segment_whitelist(path, num_classes):
    """Class ids from a `segment_label_ids.csv` (header `Index`).

    Lines that are not integers are skipped, as upstream does.
    """
    mask = np.zeros(num_classes, np.float32)
    with tf.io.gfile.GFile(path, "r") as f:
        for line in f:
            text = line.strip()
            try:
                c = int(text)
            except ValueError:
                continue
            if not 0 <= c < num_classes:
                raise ValueError(
                    f"{path}: class id {c} is outside [0, {num_classes})."
                )
            mask[c] = 1.0
    if not mask.any():
        raise ValueError(f"{path}: no class ids found.")
    return mask


def _AtomicTextFile(path):
    """A text file written under a temporary name and renamed on success."""
    return files.atomic_file(path, "w")


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def _dataset(cfg, spec):
    # Whole videos: in segment mode too (they are cut into segments here),
    # with the segment-mode frame budget (model_inputs.reader_max_frames).
    reader = inputs.make_reader(
        spec, segment_labels=False,
        max_frames=inputs.reader_max_frames(spec, cfg.segment_labels))
    return readers.build_dataset(
        cfg.input_data_pattern,
        reader,
        batch_size=cfg.batch_size,
        training=False,
        num_readers=cfg.num_readers,
        skip_bad_records=cfg.skip_bad_records,
    )


def write_video_predictions(model, spec, cfg):
    count = 0
    writer = None
    if cfg.predictions_file:
        from yt8m.evaluation import predictions as predictions_lib

        writer = predictions_lib.PredictionsWriter(cfg.predictions_file)
    with _AtomicTextFile(cfg.output_file) as out:
        out.write("VideoId,LabelConfidencePairs\n")
        for batch, predictions in evaluation.predict_batches(
            model, _dataset(cfg, spec)
        ):
            ids = inputs.decode_ids(batch["video_ids"])
            out.writelines(format_video_lines(ids, predictions, cfg.top_k))
            if writer is not None:
                writer.add(ids, predictions)
            count += len(ids)
            logging.log_every_n(logging.INFO, "%d videos processed", 10,
                                count)
        if count == 0:  # raised inside: no empty submission is written
            raise readers.no_records_error(cfg.input_data_pattern,
                                           "input_data_pattern")
    if writer is not None:
        logging.info("Predictions written to %s", writer.write())
    return count


def _segment_model(model, spec):
    """The same weights in a model whose input is 5-frame segments.

    A model already built for that length (eval.py's
    `segment_inference_model.keras`) is used as it is.
    """
    seg_spec = inputs.model_spec(spec, segment_labels=True)
    frames_input = model.input.get("video_matrix") if isinstance(
        model.input, dict) else None
    if (frames_input is not None and len(frames_input.shape) == 3
            and frames_input.shape[1] == seg_spec.max_frames):
        return model
    seg_model = build_model_from_spec(seg_spec)
    seg_model.set_weights(model.get_weights())
    return seg_model


def write_segment_predictions(model, spec, cfg):
    if cfg.predictions_file:
        raise ValueError(
            "--predictions_file writes video-level predictions; it cannot "
            "be used with --segment_labels.")
    if not spec.frame_features:
        raise ValueError(
            "Segment inference needs a frame-level model "
            "(model_flags.json has frame_features=false)."
        )
    whitelist = (
        read_segment_whitelist(cfg.segment_label_ids_file, spec.num_classes)
        if cfg.segment_label_ids_file
        else np.ones(spec.num_classes, np.float32)
    )
    seg_model = _segment_model(model, spec)
    keys = inputs.input_names(seg_model)

    @tf.function
    def predict(features):
        return seg_model(features, training=False)

    all_classes, all_scores, all_names = [], [], []
    segment_names = []
    for batch in evaluation.iterate(_dataset(cfg, spec)):
        ids = inputs.decode_ids(batch["video_ids"])
        segs, seg_frames, vidx, starts = get_segments(
            batch["video_matrix"].numpy(), batch["num_frames"].numpy()
        )
        if len(segs) == 0:
            continue
        features = {"video_matrix": segs, "num_frames": seg_frames}
        preds = predict({k: features[k] for k in keys}).numpy() * whitelist
        top = top_k_indices(preds, cfg.top_k)  # [S, k]
        base = len(segment_names)
        segment_names.extend(f"{ids[v]}:{s}" for v, s in zip(vidx, starts))
        all_classes.append(top.ravel())
        all_scores.append(np.take_along_axis(preds, top, axis=1).ravel())
        all_names.append(np.repeat(np.arange(base, base + len(segs)),
                                   top.shape[1]))
    if not segment_names:
        raise readers.no_records_error(cfg.input_data_pattern,
                                       "input_data_pattern")
    with _AtomicTextFile(cfg.output_file) as out:
        out.write("Class,Segments\n")
        if not all_classes:
            return 0
        classes = np.concatenate(all_classes)
        scores = np.concatenate(all_scores)
        names = np.concatenate(all_names)
        keep = whitelist[classes] > 0
        classes, scores, names = classes[keep], scores[keep], names[keep]
        # Group by class, descending score, ties by segment order.
        order = np.lexsort((names, -scores, classes))
        classes, names = classes[order], names[order]
        bounds = np.flatnonzero(np.diff(classes)) + 1
        for group in np.split(np.arange(len(classes)), bounds):
            if len(group) == 0:
                continue
            c = classes[group[0]]
            chosen = names[group[: cfg.segment_max_pred]]
            out.write(f"{c}," + " ".join(segment_names[i] for i in chosen)
                      + "\n")
    return len(segment_names)


def run_inference(cfg):
    """Writes the submission per `cfg` (an `InferenceConfig`)."""
    model, spec = load_inference_model(
        cfg.train_dir, cfg.input_model_tgz, cfg.untar_model_dir,
        segment_labels=cfg.segment_labels,
    )
    if cfg.output_model_tgz:
        write_model_tgz(model, spec, cfg.output_model_tgz)
        logging.info("Model archive written to %s", cfg.output_model_tgz)
    if cfg.segment_labels:
        count = write_segment_predictions(model, spec, cfg)
    else:
        count = write_video_predictions(model, spec, cfg)
    logging.info("Wrote predictions for %d %s to %s", count,
                 "segments" if cfg.segment_labels else "videos",
                 cfg.output_file)
    return count


def read_video_submission(path):
    """Parses a video-level submission into `{video_id: [(label, score)]}`."""
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows)
        if header != ["VideoId", "LabelConfidencePairs"]:
            raise ValueError(f"{path}: unexpected header {header}")
        for row in rows:
            vals = row[1].split()
            out[row[0]] = [
                (int(vals[i]), float(vals[i + 1]))
                for i in range(0, len(vals), 2)
            ]
    return out

