"""SavedModel export for batch prediction (upstream `export_model.py`).

Signature `serving_default`:
  input  `example_bytes`: tf.string [None], serialized Example (video-level)
         or SequenceExample (frame-level) records;
  output `video_id` tf.string [None], `class_indexes` int32 [None, 20],
         `predictions` float32 [None, 20] (top 20, descending).

All model variables are tracked, so batch-norm moving statistics are
exported too (upstream exported only trainable variables: a known bug).
`PeriodicExporter` exports every `--export_model_steps` in a background
thread from a snapshot of the weights, so training is not blocked.
"""

import os
import queue
import threading

import tensorflow as tf
from absl import logging

from yt8m import files
from yt8m.models import build_model_from_spec
from yt8m.readers import model_inputs as inputs

TOP_K = 20


class _ServingModule(tf.Module):
    def __init__(self, model, reader, top_k=TOP_K):
        super().__init__()
        self.model = model
        self._reader = reader
        self._top_k = top_k
        self._input_names = inputs.input_names(model)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="example_bytes")
    ])
    def serve(self, example_bytes):
        batch = self._reader.parse_serialized(example_bytes)
        features = {k: batch[k] for k in self._input_names}
        predictions = self.model(features, training=False)
        k = min(self._top_k, predictions.shape[-1])
        top = tf.nn.top_k(predictions, k=k)
        return {
            "video_id": batch["video_ids"],
            "class_indexes": tf.cast(top.indices, tf.int32),
            "predictions": top.values,
        }


def export_saved_model(model, reader, export_dir, top_k=TOP_K):
    """Writes the SavedModel to `export_dir` atomically (tmp dir + rename).

    An existing `export_dir` is replaced only once the new one is complete.
    """
    module = _ServingModule(model, reader, top_k)
    with files.atomic_path(export_dir) as tmp:
        tf.saved_model.save(
            module, tmp, signatures={"serving_default": module.serve}
        )
    return export_dir


class PeriodicExporter:
    """Exports `train_dir/export/step_<N>` in a background thread."""

    def __init__(self, train_dir, spec, reader):
        self.train_dir = train_dir
        self.spec = spec
        self.reader = reader
        self._queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()
        self.exported = []

    def export(self, model, step):
        """Snapshots the weights; skips if the previous export is running."""
        if self._queue.full():
            logging.info("Export of step %d skipped: previous still running.",
                         step)
            return False
        self._queue.put((step, [w.copy() for w in model.get_weights()]))
        return True

    def _work(self):
        model = None
        while True:
            item = self._queue.get()
            if item is None:
                return
            step, weights = item
            try:
                if model is None:
                    model = build_model_from_spec(self.spec)
                model.set_weights(weights)
                path = os.path.join(self.train_dir, "export", f"step_{step}")
                export_saved_model(model, self.reader, path)
                self.exported.append(path)
                logging.info("Exported SavedModel %s", path)
            except Exception:  # never kill training for an export
                logging.exception("Export of step %d failed.", step)
            finally:
                self._queue.task_done()

    def close(self):
        self._queue.join()
        self._queue.put(None)
        self._thread.join()
