"""One writer per output: an advisory lock file beside the output, released by the OS if the run dies."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockError, OutputError


def lock_path(out: str | Path) -> Path:
    """``<stem>.lock`` beside the output: ``r.csv`` and ``r.json`` share their companion files (r.rejects.csv,
    r.manifest.json ...), so they share one lock too."""
    out = Path(out)
    return out.with_name(f"{out.stem}.lock")


def _open_lock(path: Path) -> int:
    """The lock file, opened without following a link and without blocking: a planted symlink (or hard link,
    FIFO, device) would make the run write its pid into whatever it points at, so it is refused, untouched."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path}: the lock file is a symbolic link; churnscore never follows one there "
                              "(it would overwrite the file it points at): remove the link.") from None
        raise OutputError(f"{path}: cannot open the lock file ({exc.strerror or exc}).") from None
    info = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(info.st_mode) else
               "has other hard links (writing it would change another file)" if info.st_nlink != 1 else None)
    if problem is not None:
        os.close(fd)
        raise OutputError(f"{path}: the lock file {problem}; remove it and run again.")
    return fd


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold ``<stem>.lock`` for the duration; a second run on the same output fails at once (LockError).

    flock is released when the process exits, however it exits, so a killed run never leaves a stale lock.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(out)
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            holder = holder if holder.isdigit() else "unknown"  # anyone may write there: only a number is shown
            raise LockError(f"{out}: another churnscore run (pid {holder}) is writing this output; "
                            "wait for it to finish or choose another --out.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
