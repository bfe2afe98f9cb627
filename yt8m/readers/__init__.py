"""yt8m.readers: tf.data input pipelines for YouTube-8M TFRecords.

Public API:
  YT8MAggregatedFeatureReader, YT8MFrameFeatureReader: record parsers.
  build_dataset(data_pattern, reader, batch_size, ...): batched dataset.
  DataError, raise_data_errors(), ReaderStats: bad-input handling.
  get_list_of_feature_names_and_sizes(names, sizes): upstream flag parsing.
  dequantize, resize_axis, list_files: helpers.
"""

from yt8m.readers.dataset import build_dataset
from yt8m.readers.dataset import list_files
from yt8m.readers.dataset import no_records_error
from yt8m.readers.errors import DataError
from yt8m.readers.errors import ReaderStats
from yt8m.readers.errors import raise_data_errors
from yt8m.readers.features import dequantize
from yt8m.readers.features import get_list_of_feature_names_and_sizes
from yt8m.readers.features import resize_axis
from yt8m.readers.frame_reader import YT8MFrameFeatureReader
from yt8m.readers.video_reader import YT8MAggregatedFeatureReader

__all__ = [
    "DataError",
    "ReaderStats",
    "YT8MAggregatedFeatureReader",
    "YT8MFrameFeatureReader",
    "build_dataset",
    "dequantize",
    "get_list_of_feature_names_and_sizes",
    "list_files",
    "no_records_error",
    "raise_data_errors",
    "resize_axis",
]
