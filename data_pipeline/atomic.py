"""Atomic writes: a file is written under a temporary name in its own folder and renamed into
place (`os.replace` is atomic on one file system), so a killed run never leaves a half file
under the real name.

    write_atomic(path, "text")                 # str or bytes
    with atomic_path(path) as tmp:             # for writers that take a path (safetensors, PyAV)
        save_file(tensors, tmp)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside `path`; renamed to `path` when the block ends without an error
    (removed when it raises). `suffix` lets writers that pick a format by extension see one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes, fsync: bool = False) -> Path:
    """Write text (UTF-8) or bytes atomically; with `fsync`, flushed to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    return Path(path)
