"""Atomic writes: the package's one way to write an output file or directory.

Everything is written under a temporary name in the target's directory
(`.tmp-<pid>-<random>-<name>`, so a `.keras` or `.tfrecord` suffix is kept)
and renamed over the target only once complete, so:

* nothing half-written is ever visible at the final path;
* a failure (exception, Ctrl-C) removes the temporary and keeps whatever
  was at the final path before;
* files get the user's umask, like a plain `open(path, "w")`: temporary
  files are created with `os.open(..., O_CREAT | O_EXCL, 0o666)` and the
  kernel applies the umask (`tempfile.mkstemp` would make them 0600). No
  function here calls `os.umask`, which is process-wide and not
  thread-safe.

Local paths only (os.replace).

Example:
  with atomic_file("sub.csv") as f:      # text; "wb" for bytes
      f.write("VideoId,LabelConfidencePairs\\n")
  with atomic_path("model.keras") as tmp:  # for writers that take a path
      model.save(tmp)
"""

import contextlib
import os
import shutil
import uuid

__all__ = ["atomic_file", "atomic_path", "atomic_write", "atomic_write_text"]


def _temporary_name(path, tag="tmp"):
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(
        directory, f".{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}"
    )


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _make_parent(path):
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)


def _replace(tmp, path):
    """Renames `tmp` over `path`; a directory over a directory too."""
    if os.path.isdir(tmp) and os.path.isdir(path) and not os.path.islink(path):
        # os.replace cannot replace a non-empty directory: move the old one
        # aside, move the new one in, then delete the old one.
        old = _temporary_name(path, tag="old")
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path, mode="w", encoding="utf-8", newline=""):
    """Yields an open file that becomes `path` when the block succeeds.

    Args:
      path: the final path; its directory is created if needed.
      mode: "w" (text, default) or "wb".
      encoding, newline: for text mode (default UTF-8, no newline
        translation, as the csv module wants).
    """
    if mode not in ("w", "wb"):
        raise ValueError(
            "Invalid value for argument `mode`: expected 'w' or 'wb'. "
            f"Received: mode={mode!r}"
        )
    path = os.fspath(path)
    _make_parent(path)
    tmp = _temporary_name(path)
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
    try:
        if mode == "wb":
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        _remove(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path that is renamed to `path` on success.

    For writers that take a path (`tf.io.TFRecordWriter`, `tarfile`,
    `model.save`, `tf.saved_model.save`, `savefig`): they create the file
    or directory themselves, with the user's umask. The temporary name ends
    with `path`'s name, so suffix checks (`.keras`) pass. A directory
    replaces an existing directory at `path`. On failure the temporary is
    removed and `path` keeps its previous content.
    """
    path = os.fspath(path)
    _make_parent(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise FileNotFoundError(
                f"Nothing was written to the temporary path {tmp} for {path}."
            )
        _replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write(path, data):
    """Writes `data` (str, UTF-8, or bytes) to `path` atomically."""
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with atomic_file(path, mode) as f:
        f.write(data)


def atomic_write_text(path, text):
    """Writes the string `text` to `path` atomically (UTF-8)."""
    with atomic_file(path, "w") as f:
        f.write(text)
