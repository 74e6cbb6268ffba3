"""The read-ahead thread: batches parsed on one core while the previous ones are worked on on the other."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from ..config import InputSpec
from ..contract import Export


READ_AHEAD = 2  # batches parsed ahead of the one being worked on
JOIN_WAIT = 2.0  # seconds a reader leaving early waits for the parsing thread (one batch takes a few hundredths)


def _hand(ready: queue.Queue, stop: threading.Event, item: object) -> bool:
    """Queue ``item`` for the reader; False once the reader has left (``stop`` is set)."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def read_ahead(batches: Iterator[pa.Table], depth: int = READ_AHEAD) -> Iterator[pa.Table]:
    """The same batches, parsed by a thread of their own up to ``depth`` ahead: Arrow parses without
    holding Python's lock, so the next batch is parsed on one core while this one is worked on on the
    other (pyarrow's streaming reader does little of that by itself: 1M accounts read in 9.5 s, not 12-17).
    An error while parsing is raised here, at the batch where it happened; leaving early stops the thread."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def hand(item: object) -> bool:
        return _hand(ready, stop, item)

    def parse() -> None:
        try:
            for batch in batches:
                if not hand(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            hand(exc)
            return
        hand(end)

    worker = threading.Thread(target=parse, name="churnscore-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # bounded: a thread blocked in a read (a FIFO, a hung mount) must not hold up a run that is stopping
        worker.join(JOIN_WAIT)
        close = getattr(batches, "close", None)
        if close is not None and not worker.is_alive():  # else the thread still runs it, and ends on ``stop``
            close()


class Prefetch:
    """Every file of a load, parsed in the order they are read by one thread, up to ``depth`` batches ahead
    of the reader and across files: while the reader finishes a file (its last batches, duplicate search,
    spill), the next file's first batches are parsed, and the first file's parsing overlaps nothing else.
    Files are parsed typed by ``opener`` (read.open_batches); a file read any other way is read by its
    reader. A reader that asks for another file than the next, or leaves a file before its end, ends the
    prefetch: the files after are then read by their readers (read_ahead)."""

    def __init__(self, files: list[tuple[Path, Export, InputSpec]], opener: Callable[..., tuple[dict, Iterator]],
                 depth: int = READ_AHEAD) -> None:
        self._files = files
        self._open = opener  # (path, export, spec, typed) -> (column mapping, batches): read.open_batches
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._next = 0  # the file the reader takes next
        self._thread = threading.Thread(target=self._parse, name="churnscore-read-ahead", daemon=True)
        self._thread.start()

    def _hand(self, item: tuple) -> bool:
        return _hand(self._ready, self._stop, item)

    def _parse(self) -> None:
        for k, (path, export, spec) in enumerate(self._files):
            batches = None
            try:
                mapped, batches = self._open(path, export, spec, True)
                if not self._hand((k, "mapped", mapped)):
                    return
                for batch in batches:
                    if not self._hand((k, "batch", batch)):
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
                if not self._hand((k, "error", exc)):
                    return
                continue
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
            if not self._hand((k, "end", None)):
                return

    def _get(self, k: int) -> tuple[str, object]:
        item = self._ready.get()
        if item[0] != k:  # pragma: no cover - the reader takes the files in order
            raise RuntimeError(f"prefetch out of order: file {item[0]} where {k} was expected")
        return item[1], item[2]

    def take(self, path: Path) -> tuple[dict[str, str], Iterator[pa.Table]] | None:
        """(column mapping, batches) of ``path`` when it is the next file parsed here; None otherwise (the
        caller reads it itself). An error met opening or parsing the file is raised as ``opener`` raises it."""
        if self._stop.is_set() or self._next >= len(self._files) or self._files[self._next][0] != path:
            self.close()
            return None
        k = self._next
        self._next += 1
        kind, value = self._get(k)
        if kind == "error":
            raise value  # type: ignore[misc]
        return value, self._stream(k)  # type: ignore[return-value]

    def _stream(self, k: int) -> Iterator[pa.Table]:
        done = False
        try:
            while True:
                kind, value = self._get(k)
                if kind == "end":
                    done = True
                    return
                if kind == "error":
                    done = True
                    raise value  # type: ignore[misc]
                yield value  # type: ignore[misc]
        finally:
            if not done:  # left early: the thread's place among the files is lost
                self.close()

    def close(self) -> None:
        """Stop the thread (it ends after the batch it is parsing). The wait is bounded: a thread blocked in a
        read (a FIFO, a hung mount) is a daemon and is left behind, so a stopped run still ends at once."""
        self._stop.set()
        self._thread.join(JOIN_WAIT)
