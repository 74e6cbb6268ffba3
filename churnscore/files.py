"""Writing files safely: a temporary file beside the target (mode from the umask), synced, then renamed into
place; the temporaries a run is writing; one-line errors for a full disk. Used by every stage that writes."""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from .errors import FileSystemError, OutputError


def _read_umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc/self/status, since 4.7):
    os.umask can only be read by setting it, which another thread could see for a moment."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new output file gets: what open() would give it under the umask (0o666 & ~umask). mkstemp
    makes 0600 files; forcing 0644 made customer data world-readable in a folder set up to hide it."""
    global _FILE_MODE
    if _FILE_MODE is None:
        _FILE_MODE = 0o666 & ~_read_umask()
    return _FILE_MODE


_FILE_MODE: int | None = None


_LIVE_TEMPS: set[str] = set()  # temporaries being written, for a run ended at once (see live_temps)


def live_temps() -> list[str]:
    """The temporary files being written now: what a SIGTERM that cannot wait for the run to unwind removes."""
    return sorted(_LIVE_TEMPS)


class _Hashing:
    """A binary file that works out the sha256 of what is written through it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()

    def write(self, data: Any) -> int:
        self.digest.update(data if isinstance(data, bytes) else memoryview(data).cast("B"))
        return self._fh.write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, tell, closed ... (pyarrow's writer asks for them)
        return getattr(self._fh, name)


def write_temp(path: str | Path, write: Callable[[IO[bytes]], None], *, digest: bool = False) -> tuple[str, str | None]:
    """Call ``write`` on a new temporary file beside ``path`` (``.<name>.<random>.tmp``, mode from the umask),
    synced to disk: (its name, the sha256 of its bytes when ``digest``). It is removed if ``write`` fails; the
    caller renames it into place, then calls forget_temp."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp opens with O_CREAT | O_EXCL | O_NOFOLLOW and a random name: a planted file or link is never
        # written
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_failed(path, exc) from None
    _LIVE_TEMPS.add(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            target: Any = _Hashing(fh) if digest else fh
            write(target)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:  # a full disk, a quota: one line naming the file, not 'No space left on device.'
        remove_temp(tmp)
        raise write_failed(path, exc) from None
    except BaseException:
        remove_temp(tmp)
        raise
    return tmp, target.digest.hexdigest() if digest else None


def write_failed(path: str | Path, exc: OSError, fix: str = "free space or write elsewhere") -> FileSystemError:
    """The one-line error for a write the file system refused part-way: the file, what it said, the fix."""
    said_as = ((errno.ENOSPC, "No space left"), (errno.EDQUOT, "quota exceeded"))  # pyarrow's errors: in the text
    code = exc.errno if exc.errno is not None else next((c for c, text in said_as if text in str(exc)), None)
    said = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}.get(code)
    if said:
        return FileSystemError(f"{path}: {said}; {fix}.")
    return FileSystemError(f"{path}: cannot write ({exc.strerror or exc}); {fix}.")


def forget_temp(tmp: str) -> None:
    """``tmp`` is in place (renamed) or listed in a switch journal: not removed by a SIGTERM's clean-up."""
    _LIVE_TEMPS.discard(tmp)


def remove_temp(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    _LIVE_TEMPS.discard(tmp)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    A reader sees the old file or the new one, never half of one; a run killed part-way leaves the
    old file and at most a stray ``.<name>.*.tmp`` behind.
    """
    path = Path(path)
    tmp, _ = write_temp(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        remove_temp(tmp)
        raise
    forget_temp(tmp)
    return path


def ready_to_write(path: str | Path) -> Path:
    """Make an output's folder and check that a file can go there, before the work: a run that cannot write
    its output says so at once, not after the work, and not after writing some of its files."""
    path = Path(path)
    blocker = next((p for p in [path.parent, *path.parent.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"{path}: cannot write there: {blocker} is a file, not a folder.")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot make its folder {path.parent}: {exc.strerror or exc}.") from None
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"{path}: cannot write in {path.parent} (no permission).")
    return path


def sibling(path: str | Path, tag: str, ending: str | None = None) -> Path:
    """ranked.csv -> ranked.<tag>.csv (or .<ending>): files that belong to an output sit beside it."""
    path = Path(path)
    stem, suffix = path.stem, path.suffix
    return path.with_name(f"{stem}.{tag}{ending if ending is not None else suffix}")


def remove_stale_temps(out: str | Path, others: Iterable[str] = ()) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that a killed run left beside ``out`` and its sibling files (and
    beside ``out`` for the file names ``others``).

    Only call it while holding the output's lock (runlock.output_lock): then no live writer owns them.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return []
    names = [out.name] + [sibling(out, tag, ending).name
                          for tag, ending in (("rejects", ".csv"), ("excluded", ".csv"), ("manifest", ".json"))]
    names += [n for n in others if n not in names]
    removed = []
    for name in names:
        for path in sorted(out.parent.glob(f".{glob.escape(name)}.*.tmp")):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed
