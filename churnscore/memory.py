"""The process's memory: freed batches go back to the system instead of staying with the process."""

from __future__ import annotations

import functools


def trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim): after an export is read, the
    memory of its batches is free but would stay with the process. Nothing where libc is not glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_memory() -> None:
    """For a process that reads large exports (the CLI calls this once; a library user decides for their
    own process). Batches are freed as the next arrives; glibc keeps freed blocks below its self-raising
    mmap threshold in the heap, so the process would hold on to every batch it had: a fixed threshold
    gives them back. Arrow's buffers go through the system allocator for the same reason."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: blocks of 1 MiB and more come from (and go back to) mmap
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except (AttributeError, pa.ArrowException):  # pragma: no cover
        pass


@functools.lru_cache(maxsize=1)
def _glibc():  # noqa: ANN202 - a ctypes library, or None
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt  # noqa: B018 - glibc has it; other C libraries may not
        return libc
    except (OSError, AttributeError):
        return None
