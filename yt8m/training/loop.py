"""The training loop: tf.distribute, resumable checkpoints, upstream logs.

Math (see docs/training.md):
  final_loss = label_loss + regularization_penalty * sum(model.losses)
  label_loss = mean over the GLOBAL batch of the per-example loss
  (float32 under every --mixed_precision policy; yt8m/training/precision.py)
  gradients  = all-reduced over replicas once, then clipped per variable
  lr         = base * decay ** floor(examples_seen / decay_examples)
"""

import os
import shutil
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from yt8m import config as config_lib
from yt8m import models as models_lib
from yt8m import readers
from yt8m.layers import remat
from yt8m.training import checkpoints
from yt8m.training import microbatch
from yt8m.readers import model_inputs as inputs
from yt8m.training import optimizers
from yt8m.training import precision
from yt8m.training import strategy as strategy_lib


def set_batch_norm_momentum(model, momentum):
    """Sets the moving-average momentum of every BatchNormalization layer.

    A training-time setting, not part of the model: the momentum is only
    used to update moving statistics, so it is applied after building and
    is not saved. Returns the number of layers changed.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(
            "Invalid value for `batch_norm_momentum`: expected a number in "
            f"[0, 1). Received: {momentum}"
        )
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def _prepare_train_dir(cfg, chief):
    if cfg.start_new_model and chief and os.path.isdir(cfg.train_dir):
        logging.info("Removing %s (--start_new_model).", cfg.train_dir)
        shutil.rmtree(cfg.train_dir)
    os.makedirs(cfg.train_dir, exist_ok=True)
    if not config_lib.check_model_flags(cfg.train_dir, cfg.spec) and chief:
        config_lib.write_model_flags(cfg.train_dir, cfg.spec)


class _Logger:
    """Upstream log lines, TensorBoard summaries and an optional progress bar."""

    def __init__(self, cfg, writer, total_steps):
        self.cfg = cfg
        self.writer = writer
        interactive = cfg.progress_bar
        if interactive is None:
            interactive = sys.stdout.isatty()
        self.progbar = None
        if interactive:
            import keras

            self.progbar = keras.utils.Progbar(total_steps, unit_name="step")

    def log(self, step, loss, lr, examples_per_sec, objective, batch,
            predictions, auxiliary=None):
        values = objective.training_metrics(batch, predictions)
        auxiliary = auxiliary or {}
        parts = " ".join(
            f"{objective.log_name(k)}: {v:.2f}" for k, v in values.items()
        )
        aux = "".join(f" {k}: {v:.4f}" for k, v in auxiliary.items())
        logging.info(
            "training step %d | Loss: %.2f Examples/sec: %.2f | %s%s",
            step, loss, examples_per_sec, parts, aux,
        )
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("learning_rate", lr)
                for key, value in values.items():
                    tf.summary.scalar(objective.summary_tag(key), value)
                for key, value in auxiliary.items():
                    tf.summary.scalar(f"auxiliary_loss/{key}", value)
                tf.summary.scalar("global_step/Examples/Second",
                                  examples_per_sec)
        if self.progbar is not None:
            shown = [("loss", loss)] + [
                (objective.log_name(k), v) for k, v in values.items()
            ][-1:]
            self.progbar.update(step, values=shown, finalize=False)
        return {**values, **{f"auxiliary_loss/{k}": v
                             for k, v in auxiliary.items()}}


def train(cfg):
    """Trains per `cfg` (a `TrainConfig`); returns a summary dict."""
    microbatch.check_microbatch_size(cfg.microbatch_size)
    strategy = strategy_lib.get_strategy(cfg.devices, cfg.num_gpu)
    chief = strategy_lib.is_chief(strategy)
    _prepare_train_dir(cfg, chief)
    num_replicas = strategy.num_replicas_in_sync
    global_batch = cfg.batch_size * num_replicas
    logging.info(
        "Training %s on %d replica(s), global batch %d.",
        cfg.spec.model, num_replicas, global_batch,
    )

    # The reader reads whole videos (cfg.spec.max_frames); the model is
    # built for its own input length (5-frame segments in segment mode).
    reader = inputs.make_reader(cfg.spec, cfg.segment_labels)
    model_spec = inputs.model_spec(cfg.spec, cfg.segment_labels)

    policy = precision.check_policy(cfg.mixed_precision)
    with strategy.scope(), precision.policy_scope(policy), \
            remat.remat_scope(cfg.remat):
        model = models_lib.build_model_from_spec(model_spec)
    objective = model.objective(cfg.spec.label_loss, cfg.segment_labels)

    def dataset_fn(input_context):
        dataset = readers.build_dataset(
            cfg.train_data_pattern,
            reader,
            batch_size=input_context.get_per_replica_batch_size(global_batch),
            training=True,
            num_epochs=cfg.num_epochs,
            shuffle_seed=cfg.shuffle_seed,
            # Upstream: capacity 5 * (batch_size * num_towers); tied to the
            # global batch so the record order does not depend on replicas.
            shuffle_buffer=5 * global_batch,
            num_readers=cfg.num_readers,
            skip_bad_records=cfg.skip_bad_records,
            input_context=input_context,
        )
        return objective.prepare_dataset(dataset, training=True)

    dataset = strategy.distribute_datasets_from_function(dataset_fn)

    with strategy.scope():
        if cfg.batch_norm_momentum is not None:
            set_batch_norm_momentum(model, cfg.batch_norm_momentum)
        schedule = optimizers.ExamplesStaircaseDecay(
            cfg.base_learning_rate,
            cfg.learning_rate_decay,
            cfg.learning_rate_decay_examples,
            global_batch,
        )
        # Clipping is done here, after the all-reduce: Keras 3 clips each
        # replica's partial gradient before summing, which is not the
        # single-device math (docs/training.md).
        optimizer = precision.wrap_optimizer(
            optimizers.build_optimizer(
                cfg.optimizer, schedule, clip_gradient_norm=0.0
            ),
            policy,
        )
        optimizer.build(model.trainable_variables)
        # We all-reduce (and clip) the gradients ourselves; the optimizer
        # then applies them as they are instead of summing them again.
        optimizer_sums = not optimizers.skip_gradient_aggregation(
            precision.inner_optimizer(optimizer))
        ckpt = checkpoints.Checkpointer(
            cfg.train_dir, model, optimizer, max_to_keep=cfg.max_to_keep,
            chief=chief,
        )
    start_step = ckpt.restore_latest()
    if start_step:
        logging.info("Resumed from step %d.", start_step)
    elif cfg.warm_start:
        from yt8m.training import warm_start

        warm_start.apply(model, cfg.warm_start,
                         cfg.train_dir if chief else None)

    input_keys = inputs.input_names(model)
    clip = float(cfg.clip_gradient_norm)
    penalty = float(cfg.regularization_penalty)

    metric_keys = tuple(objective.metric_keys)

    loss_scaling = precision.needs_loss_scaling(policy)

    def forward_backward(batch, global_n, share=1.0, first=True):
        """Loss and gradients of this replica's batch, or of a micro-batch
        holding `share` of its examples, which adds the weight
        regularization if it is the `first` (yt8m.training.microbatch;
        XLA-compiled with --jit_compile; all-reduces stay outside the
        compiled function)."""
        features = {k: batch[k] for k in input_keys}
        with tf.GradientTape() as tape:
            predictions = tf.nest.map_structure(
                lambda p: tf.cast(p, tf.float32),
                model(features, training=True))
            per_example = objective.per_example_loss(batch, predictions)
            target_loss = tf.reduce_sum(
                tf.cast(per_example, tf.float32)) / global_n
            regularization, auxiliary = model.split_losses()
            reg = tf.add_n([tf.cast(r, tf.float32) for r in regularization]
                           ) if regularization and first else 0.0
            # The first micro-batch carries the whole regularization, each
            # its share of the auxiliary means (yt8m.training.microbatch).
            reg_loss = tf.nn.scale_regularization_loss(reg)
            # Auxiliary losses are means over this replica's batch: scaled
            # by 1 / replicas, their sum over replicas is their mean.
            auxiliary = {
                name: tf.nn.scale_regularization_loss(
                    tf.cast(value, tf.float32)) * share
                for name, value in sorted(auxiliary.items())
            }
            total = target_loss + penalty * reg_loss
            for value in auxiliary.values():
                total = total + value
            scaled = optimizer.scale_loss(total) if loss_scaling else total
        grads = tape.gradient(scaled, model.trainable_variables)
        return total, auxiliary, predictions, grads

    if cfg.jit_compile:
        forward_backward = tf.function(forward_backward, jit_compile=True)

    def replica_step(batch):
        ctx = tf.distribute.get_replica_context()
        # One per-example loss per row of the model's input.
        local_n = tf.shape(batch[input_keys[0]])[0]
        # The per-example loss is averaged over the GLOBAL batch (robust to
        # a smaller final batch): every replica divides by the same count.
        global_n = tf.maximum(ctx.all_reduce(
            tf.distribute.ReduceOp.SUM, tf.cast(local_n, tf.float32)), 1.0)
        # XLA takes numbers only: the string ids stay out.
        numeric = {k: v for k, v in batch.items() if v.dtype != tf.string}
        if cfg.microbatch_size:
            total, auxiliary, predictions, grads = microbatch.accumulate(
                forward_backward, numeric, cfg.microbatch_size, global_n)
        else:
            total, auxiliary, predictions, grads = forward_backward(
                numeric, global_n)
        variables = model.trainable_variables
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if loss_scaling:
            # Clip the true gradients: unscale, clip, scale back (exact for
            # the power-of-two scale); the LossScaleOptimizer then unscales,
            # skips the step on inf/NaN and adapts the scale.
            scale = optimizer.dynamic_scale
            grads = [g / scale for g in grads]
        if clip > 0:
            grads = [optimizers.clip_by_norm(g, clip) for g in grads]
        if optimizer_sums:
            # An optimizer that sums replica gradients again (a Keras without
            # the hook of optimizers.skip_gradient_aggregation): 1/N each.
            scale_n = 1.0 / ctx.num_replicas_in_sync
            grads = [g * scale_n for g in grads]
        if loss_scaling:
            grads = [g * scale for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        host = {k: batch[k] for k in metric_keys}
        return total, auxiliary, predictions, host, tf.cast(local_n, tf.int64)

    @tf.function
    def train_step(iterator):
        batch = next(iterator)
        total, auxiliary, predictions, host, local_n = strategy.run(
            replica_step, args=(batch,)
        )
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None)
        auxiliary = {
            k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in auxiliary.items()
        }
        # Examples in this step over every replica of every worker.
        count = strategy.reduce(tf.distribute.ReduceOp.SUM, local_n, axis=None)
        return loss, auxiliary, predictions, host, count

    multi_worker = isinstance(strategy,
                              tf.distribute.MultiWorkerMirroredStrategy)

    @tf.function
    def any_worker(flag):
        flags = strategy.run(lambda: tf.identity(flag))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)

    def workers_agree(flag):
        """True if `flag` holds on any worker (every worker gets the same)."""
        if not multi_worker:
            return flag
        return int(any_worker(tf.constant(int(flag), tf.int32))) > 0

    writer = tf.summary.create_file_writer(cfg.train_dir) if chief else None
    total_steps = cfg.max_steps
    log = _Logger(cfg, writer, total_steps)
    iterator = iter(dataset)
    step = start_step
    examples = 0
    last_log_time = time.time()
    last_log_examples = 0
    last_metrics = {}
    exporter = None
    if cfg.export_model_steps and cfg.export_model_steps > 0 and chief:
        from yt8m.export import PeriodicExporter

        exporter = PeriodicExporter(cfg.train_dir, model_spec, reader)
    loss_value = float("nan")
    stopped_by = "max_steps"
    # Steps since the last host sync: (step, loss, example count) tensors.
    # The host reads them (and predictions, labels) only on log, checkpoint
    # and export steps and at the end, not every step; every loss is still
    # checked before a checkpoint is written.
    pending = []

    def sync():
        nonlocal examples, loss_value
        for pending_step, pending_loss, count in pending:
            value = float(pending_loss)
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"Loss became {value} at step {pending_step}; the last "
                    f"good checkpoint is kept in {cfg.train_dir}."
                )
            examples += int(count)
            loss_value = value
        pending.clear()

    try:
        while cfg.max_steps is None or step < cfg.max_steps:
            try:
                with readers.raise_data_errors():
                    loss, auxiliary, predictions, host, count = train_step(
                        iterator
                    )
            except (StopIteration, tf.errors.OutOfRangeError):
                if step == 0 and start_step == 0:
                    # A fresh run that read nothing: the files are empty.
                    raise readers.no_records_error(
                        cfg.train_data_pattern, "train_data_pattern"
                    ) from None
                stopped_by = "end_of_data"
                break
            step += 1
            pending.append((step, loss, count))
            log_now = step % cfg.log_every_steps == 0 or step == 1
            save_now = ckpt.due(step, cfg.save_checkpoint_steps, 0)
            if log_now and not save_now and cfg.save_checkpoint_secs:
                # Time-based saves are decided on log steps, and agreed by
                # all workers: a save is a collective step for all of them.
                save_now = workers_agree(ckpt.due(
                    step, 0, cfg.save_checkpoint_secs))
            export_now = (exporter is not None
                          and step % cfg.export_model_steps == 0)
            if log_now or save_now or export_now:
                sync()
            if log_now:
                now = time.time()
                eps = (examples - last_log_examples) / max(now - last_log_time,
                                                           1e-9)
                last_log_time, last_log_examples = now, examples
                lr = float(schedule(optimizer.iterations))
                preds = _local_concat(strategy, predictions)
                host_batch = {
                    k: _local_concat(strategy, v) for k, v in host.items()
                }
                last_metrics = log.log(
                    step, loss_value, lr, eps, objective, host_batch, preds,
                    {k: float(v) for k, v in auxiliary.items()},
                )
            if save_now:
                ckpt.save(step)
            if export_now:
                exporter.export(model, step)
        sync()
    finally:
        if exporter is not None:
            exporter.close()
    if step > start_step:
        ckpt.save(step)
    ckpt.close()
    if writer is not None:
        writer.flush()
    logging.info("Training stopped at step %d (%s).", step, stopped_by)
    return {
        "step": step,
        "start_step": start_step,
        "loss": loss_value,
        "stopped_by": stopped_by,
        "num_replicas": num_replicas,
        "examples": examples,
        **last_metrics,
        "model": model,
    }


def _local_concat(strategy, value):
    parts = strategy.experimental_local_results(value)
    return np.concatenate([p.numpy() for p in parts], axis=0)


