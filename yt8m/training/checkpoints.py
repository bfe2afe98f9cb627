"""Numbered, resumable checkpoints (`train_dir/model.ckpt-<step>`).

`tf.train.CheckpointManager` writes each checkpoint's files first and updates
the `checkpoint` state file last, with an atomic rename, so a process killed
mid-save leaves the previous checkpoint as the latest readable one. The
model, the optimizer (slots and iteration count) and the step are saved
together, so a resumed run continues with the same optimizer state.
"""

import os
import shutil
import tempfile
import time

import tensorflow as tf
from absl import logging

CHECKPOINT_NAME = "model.ckpt"


class Checkpointer:
    def __init__(self, train_dir, model, optimizer=None, max_to_keep=5,
                 chief=True):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                name="global_step")
        objects = {"model": model, "step": self.step}
        if optimizer is not None:
            objects["optimizer"] = optimizer
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.chief = chief
        self.train_dir = train_dir
        directory = train_dir
        if not chief:
            # Multi-worker: every worker must save, only the chief keeps it.
            directory = tempfile.mkdtemp(prefix="yt8m-worker-ckpt-")
        self.directory = directory
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            directory,
            max_to_keep=max_to_keep if max_to_keep and max_to_keep > 0 else None,
            checkpoint_name=CHECKPOINT_NAME,
        )
        self._last_save_time = time.time()
        self._last_save_step = 0

    def restore_latest(self):
        """Restores the newest checkpoint if any; returns its step (or 0).

        Every worker restores the chief's newest checkpoint in `train_dir`
        (a non-chief's own directory is a scratch copy): restarted workers
        then resume from the same step with the same weights.
        """
        path = tf.train.latest_checkpoint(self.train_dir)
        if not path:
            return 0
        self.checkpoint.restore(path).assert_existing_objects_matched()
        step = int(self.step.numpy())
        self._last_save_step = step
        logging.info("Restored %s (step %d).", path, step)
        return step

    def due(self, step, every_steps, every_secs):
        """True if `maybe_save(step, ...)` would write a checkpoint now."""
        due_steps = every_steps and step - self._last_save_step >= every_steps
        due_secs = every_secs and time.time() - self._last_save_time >= every_secs
        return bool(due_steps or due_secs)

    def maybe_save(self, step, every_steps, every_secs):
        if self.due(step, every_steps, every_secs):
            self.save(step)

    def save(self, step):
        if step == self._last_save_step and self.manager.latest_checkpoint:
            return self.manager.latest_checkpoint
        self.step.assign(step)
        path = self.manager.save(checkpoint_number=step)
        self._last_save_time = time.time()
        self._last_save_step = step
        if self.chief:
            logging.info("Saved checkpoint %s.", path)
        return path

    def close(self):
        if not self.chief:
            shutil.rmtree(self.directory, ignore_errors=True)


def latest_checkpoint(train_dir):
    return tf.train.latest_checkpoint(train_dir)


def step_of(checkpoint_path):
    """The global step from a `model.ckpt-<step>` path (upstream convention)."""
    base = os.path.basename(checkpoint_path)
    try:
        return int(base.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def restore_model(model, checkpoint_path):
    """Restores only the model's variables from a training checkpoint."""
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, step=step)
    ckpt.restore(checkpoint_path).expect_partial().assert_existing_objects_matched()
    return int(step.numpy())
