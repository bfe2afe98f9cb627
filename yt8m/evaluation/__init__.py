"""Checkpoint evaluation (the library behind eval.py).

Upstream flow, kept: read `model_flags.json`, rebuild the model, restore the
latest checkpoint, stream the eval data once in file order, log the upstream
line, write `eval/` summaries with the upstream tag names, then re-export the
evaluated model for inference (`train_dir/inference_model/`). Unlike upstream
it waits for new checkpoints with a poll interval and a timeout instead of a
busy loop, and also writes `eval/eval_results.json`.
"""

import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from yt8m import config as config_lib
from yt8m import files
from yt8m import readers
from yt8m.training import checkpoints
from yt8m.readers import model_inputs as inputs
from yt8m.models import build_model_from_spec

SEGMENT_SIZE = inputs.SEGMENT_SIZE
# Upstream's per-batch TensorBoard tag names (GlobalStep/Eval_<tag>).
_BATCH_TAGS = {"hit_at_one": "Hit@1", "perr": "Perr", "loss": "Loss"}
INFERENCE_DIR = "inference_model"


def inference_model_path(train_dir, segment_labels=False):
    name = "segment_inference_model" if segment_labels else "inference_model"
    return os.path.join(train_dir, INFERENCE_DIR, name + ".keras")


def eval_spec(spec, segment_labels):
    """The spec to build the model from (`model_inputs.model_spec`).

    Segment evaluation feeds 5-frame segments, so the model is rebuilt for
    that length; the reader still reads whole videos (`spec.max_frames`).
    """
    return inputs.model_spec(spec, segment_labels)


def iterate(dataset):
    """Iterates a reader dataset, turning reader errors into `DataError`."""
    iterator = iter(dataset)
    while True:
        with readers.raise_data_errors():
            try:
                batch = next(iterator)
            except StopIteration:
                return
        yield batch


def predict_batches(model, dataset):
    """Yields `(batch, predictions)` numpy pairs in dataset order."""
    keys = inputs.input_names(model)

    @tf.function
    def predict(features):
        return model(features, training=False)

    for batch in iterate(dataset):
        features = {k: batch[k] for k in keys}
        yield batch, predict(features).numpy()


def evaluate_checkpoint(cfg, checkpoint_path, spec=None, model=None,
                        summary_writer=None):
    """Evaluates one checkpoint; returns `(result, model, step)`.

    The result is the model objective's (`model.objective(...).evaluator`):
    an `EvaluationResult` for the label objective.
    """
    spec = spec or config_lib.read_model_flags(cfg.train_dir)
    model = model or build_model_from_spec(eval_spec(spec, cfg.segment_labels))
    step = checkpoints.restore_model(model, checkpoint_path)
    step = step or checkpoints.step_of(checkpoint_path)
    # Whole videos (spec.max_frames), cut into segments in segment mode.
    reader = inputs.make_reader(spec, cfg.segment_labels)
    dataset = readers.build_dataset(
        cfg.eval_data_pattern,
        reader,
        batch_size=cfg.batch_size,
        training=False,
        num_readers=cfg.num_readers,
        skip_bad_records=cfg.skip_bad_records,
    )
    taxonomy = None
    if cfg.taxonomy_file:
        from yt8m.taxonomy import Taxonomy

        taxonomy = Taxonomy.load(cfg.taxonomy_file)
    # The model's objective decides what is measured (default: the labels).
    objective = model.objective(spec.label_loss, cfg.segment_labels)
    dataset = objective.prepare_dataset(dataset, training=False)
    evaluator = objective.evaluator(
        spec.num_classes, top_k=cfg.top_k, taxonomy=taxonomy
    )
    keys = tuple(objective.metric_keys) + ("label_weights",)
    needs_labels = "labels" in objective.metric_keys
    writer = None
    if getattr(cfg, "predictions_file", None):
        from yt8m.evaluation import predictions as predictions_lib

        if cfg.segment_labels:
            raise ValueError(
                "--predictions_file writes video-level predictions; it "
                "cannot be used with --segment_labels.")
        writer = predictions_lib.PredictionsWriter(cfg.predictions_file)
    scope = "SegEval" if cfg.segment_labels else "Eval"
    start = time.time()
    num_unlabelled = 0
    for batch, predictions in predict_batches(model, dataset):
        if needs_labels:
            num_unlabelled += int(np.sum(~batch["has_labels"].numpy()))
        host = {k: batch[k].numpy() for k in keys if k in batch}
        batch_metrics = evaluator.accumulate(host, predictions)
        if writer is not None:
            writer.add(inputs.decode_ids(batch["video_ids"]), predictions)
        if summary_writer is not None:
            elapsed = max(time.time() - start, 1e-9)
            with summary_writer.as_default(step=evaluator.num_examples):
                for key, value in batch_metrics.items():
                    tag = _BATCH_TAGS.get(key, key)
                    tf.summary.scalar(f"GlobalStep/{scope}_{tag}", value)
                tf.summary.scalar(f"GlobalStep/{scope}_Example_Second",
                                  evaluator.num_examples / elapsed)
    if evaluator.num_examples == 0:
        raise readers.no_records_error(
            cfg.eval_data_pattern, "eval_data_pattern",
            what="rated segments" if cfg.segment_labels else "records",
        )
    if needs_labels:
        _check_labelled(cfg.eval_data_pattern, num_unlabelled,
                        evaluator.num_examples)
    result = evaluator.result()
    if writer is not None:
        logging.info("Predictions written to %s", writer.write())
    if summary_writer is not None:
        with summary_writer.as_default(step=step):
            for tag, value in result.epoch_summaries(scope).items():
                tf.summary.scalar(tag, value)
        summary_writer.flush()
    return result, model, step


def _check_labelled(data_pattern, num_unlabelled, num_examples):
    """Refuses unlabelled data (a test split); warns for a mix."""
    if num_unlabelled == num_examples:
        raise readers.DataError(
            f"None of the {num_examples} records read from "
            f"--eval_data_pattern={data_pattern!r} has labels (key 'labels' "
            "missing or empty, as in a test split): expected labelled "
            "records, received none. eval.py measures predictions against "
            "labels; to predict on unlabelled data, run inference.py "
            "--input_data_pattern=... --output_file=... instead."
        )
    if num_unlabelled:
        logging.warning(
            "%d of %d records read from --eval_data_pattern=%r have no "
            "labels; they are scored as videos with no positive class.",
            num_unlabelled, num_examples, data_pattern,
        )


def export_inference_model(model, train_dir, segment_labels=False):
    """Saves the evaluated model where inference.py looks for it (atomic)."""
    path = inference_model_path(train_dir, segment_labels)
    with files.atomic_path(path) as tmp:
        model.save(tmp)
    return path


def write_outputs(cfg, result, step):
    eval_dir = os.path.join(cfg.train_dir, "eval")
    os.makedirs(eval_dir, exist_ok=True)
    result.write_json(os.path.join(eval_dir, "eval_results.json"))
    if not hasattr(result, "write_per_class_csv"):
        return eval_dir  # a model's own objective: scalar metrics only
    vocabulary = cfg.taxonomy_file
    result.write_per_class_csv(
        os.path.join(eval_dir, "per_class_ap.csv"), vocabulary
    )
    if cfg.report_dir:
        from yt8m import report

        report.write_report(result, cfg.report_dir, cfg.taxonomy_file)
        logging.info("Report written to %s", cfg.report_dir)
    return eval_dir


def evaluate(cfg):
    """Evaluates the latest checkpoint, then (unless run_once) new ones.

    Returns the list of `(step, EvaluationResult)` evaluated.
    """
    spec = config_lib.read_model_flags(cfg.train_dir)
    writer = tf.summary.create_file_writer(
        os.path.join(cfg.train_dir, "eval")
    )
    model = None
    evaluated = []
    if cfg.checkpoint:
        paths = [cfg.checkpoint]
    elif cfg.run_once:
        latest = checkpoints.latest_checkpoint(cfg.train_dir)
        if not latest:
            raise FileNotFoundError(
                f"No checkpoint found in {cfg.train_dir}. Did you run "
                "train.py with the same --train_dir?"
            )
        paths = [latest]
    else:
        paths = tf.train.checkpoints_iterator(
            cfg.train_dir,
            min_interval_secs=cfg.eval_interval_secs,
            timeout=cfg.eval_timeout_secs,
        )
    for path in paths:
        result, model, step = evaluate_checkpoint(
            cfg, path, spec=spec, model=model, summary_writer=writer
        )
        print(result.log_line(step), flush=True)
        write_outputs(cfg, result, step)
        export_inference_model(model, cfg.train_dir, cfg.segment_labels)
        evaluated.append((step, result))
    return evaluated
