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
from yt8m import losses as losses_lib
from yt8m import metrics
from yt8m import readers
from yt8m.training import checkpoints
from yt8m.readers import model_inputs as inputs
from yt8m.models import build_model_from_spec

SEGMENT_SIZE = 5
INFERENCE_DIR = "inference_model"


def inference_model_path(train_dir, segment_labels=False):
    name = "segment_inference_model" if segment_labels else "inference_model"
    return os.path.join(train_dir, INFERENCE_DIR, name + ".keras")


def eval_spec(spec, segment_labels):
    """Segment evaluation feeds 5-frame segments: rebuild for that length."""
    if segment_labels:
        spec = config_lib.ModelSpec(**{**spec.__dict__,
                                       "max_frames": SEGMENT_SIZE,
                                       "frame_features": True})
    return spec


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
    """Evaluates one checkpoint; returns an `EvaluationResult`."""
    spec = spec or config_lib.read_model_flags(cfg.train_dir)
    spec = eval_spec(spec, cfg.segment_labels)
    model = model or build_model_from_spec(spec)
    step = checkpoints.restore_model(model, checkpoint_path)
    step = step or checkpoints.step_of(checkpoint_path)
    reader = inputs.make_reader(spec, cfg.segment_labels)
    dataset = readers.build_dataset(
        cfg.eval_data_pattern,
        reader,
        batch_size=cfg.batch_size,
        training=False,
        num_readers=cfg.num_readers,
        skip_bad_records=cfg.skip_bad_records,
    )
    loss_fn = losses_lib.get_loss(spec.label_loss)
    taxonomy = None
    if cfg.taxonomy_file:
        from yt8m.taxonomy import Taxonomy

        taxonomy = Taxonomy.load(cfg.taxonomy_file)
    calculator = metrics.EvaluationMetrics(
        spec.num_classes, top_k=cfg.top_k, taxonomy=taxonomy
    )
    scope = "SegEval" if cfg.segment_labels else "Eval"
    start = time.time()
    for batch, predictions in predict_batches(model, dataset):
        labels = batch["labels"].numpy()
        weights = None
        if cfg.segment_labels:
            weights = batch["label_weights"].numpy()
            # Upstream: unrated (segment, class) pairs score 0.
            predictions = predictions * weights
        loss = float(
            np.mean(loss_fn(labels, predictions, label_weights=weights))
        )
        batch_metrics = calculator.accumulate(predictions, labels, loss)
        if summary_writer is not None:
            elapsed = max(time.time() - start, 1e-9)
            with summary_writer.as_default(step=calculator.num_examples):
                tf.summary.scalar(f"GlobalStep/{scope}_Hit@1",
                                  batch_metrics["hit_at_one"])
                tf.summary.scalar(f"GlobalStep/{scope}_Perr",
                                  batch_metrics["perr"])
                tf.summary.scalar(f"GlobalStep/{scope}_Loss", loss)
                tf.summary.scalar(f"GlobalStep/{scope}_Example_Second",
                                  calculator.num_examples / elapsed)
    if calculator.num_examples == 0:
        raise ValueError(
            f"No examples were read from --eval_data_pattern="
            f"{cfg.eval_data_pattern!r}."
        )
    result = calculator.get()
    if summary_writer is not None:
        with summary_writer.as_default(step=step):
            for tag, value in result.epoch_summaries(scope).items():
                tf.summary.scalar(tag, value)
        summary_writer.flush()
    return result, model, step


def export_inference_model(model, train_dir, segment_labels=False):
    """Saves the evaluated model where inference.py looks for it (atomic)."""
    path = inference_model_path(train_dir, segment_labels)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    model.save(tmp)
    os.replace(tmp, path)
    return path


def write_outputs(cfg, result, step):
    eval_dir = os.path.join(cfg.train_dir, "eval")
    os.makedirs(eval_dir, exist_ok=True)
    result.write_json(os.path.join(eval_dir, "eval_results.json"))
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
