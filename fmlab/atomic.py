"""Atomic writes: a file is replaced in one step or not at all, so a crash never leaves half a file.

    with atomic_path("enc.safetensors") as tmp:
        save_file(weights, tmp)

It sits below every other module (the data caches use it as well as hub, checkpoints and reports);
``fmlab.hub.atomic_path`` is the same function.
"""
from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success move it over ``path`` in one step, so a
    crash never leaves a half-written file where a good one was.

    The file gets the mode a plain open() gives (the old file's, else 0666 less the umask), so a shared
    cache stays readable. The temporary file is named ``.<name>.<pid>-<host>.<random>.tmp``: the next
    write of ``path`` removes those of writers on this machine whose process is gone (killed mid-write).
    A full disk or an unwritable folder raises an OSError that names the path and what to do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    host = f"{zlib.crc32(os.uname().nodename.encode()) if hasattr(os, 'uname') else 0:08x}"
    if os.name == "posix":  # os.kill(pid, 0) only asks whether pid lives on POSIX
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*-{host}.*.tmp"):
            pid = stale.name[len(path.name) + 2:].split("-", 1)[0]
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                stale.unlink(missing_ok=True)
            except (ValueError, PermissionError):  # not ours to judge, or a live process of another user
                pass
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-{host}.", suffix=".tmp")
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror} in {path.parent}; make the folder writable or "
                               f"write elsewhere (the cache: set FMLAB_CACHE to a writable folder)") from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        free = shutil.disk_usage(path.parent).free / 2**20
        raise OSError(e.errno, f"no space left to write {path} ({free:.1f} MiB free in {path.parent}); the previous "
                               f"file, if any, is kept: free some space or write elsewhere") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
