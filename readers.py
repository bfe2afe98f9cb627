"""Starter-code compatible `readers` module (upstream `readers.py`).

A starter-code script's `import readers` keeps working from the project
root: the two reader classes take upstream's constructor arguments, in
upstream's order and with its defaults. They parse with `tf.data`
(`yt8m.readers.build_dataset`, `reader.parse_serialized`) instead of TF1
queues, so upstream's `prepare_reader(filename_queue)` is not provided.
"""

from yt8m.readers import YT8MAggregatedFeatureReader
from yt8m.readers import YT8MFrameFeatureReader
from yt8m.readers import build_dataset
from yt8m.readers import resize_axis

__all__ = [
    "YT8MAggregatedFeatureReader",
    "YT8MFrameFeatureReader",
    "build_dataset",
    "resize_axis",
]
