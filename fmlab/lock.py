"""One process at a time in a folder: two notebooks asking for the same cache entry train it once.

    with folder_lock(entry):      # a second process waits here until the first has finished
        ...train, write the files...

An advisory lock (flock) on the folder itself, so no lock file is left behind; the system releases it when its
process ends, killed or not. Re-entrant within a process. A no-op where flock does not exist (Windows) and on
torchrun processes other than rank 0 (rank 0 writes for all of them; its own lock serialises whole runs).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from . import distributed

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_HELD: set[Path] = set()


@contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold ``folder`` (created if missing) for this process inside the ``with`` block."""
    folder = Path(folder).resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"cannot create {folder} ({e.strerror}); make its parent writable, or for the cache "
                               f"set FMLAB_CACHE to a writable folder") from None
    if fcntl is None or folder in _HELD or not distributed.is_main():
        yield folder
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"fmlab: another process is training in {folder}; waiting for it to finish", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.add(folder)
        try:
            yield folder
        finally:
            _HELD.discard(folder)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
