"""The process's memory: freed batches go back to the system instead of staying with the process."""

from __future__ import annotations

import functools

MMAP_THRESHOLD = 8 << 20  # bytes


def trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim): after an export is read, the
    memory of its batches is free but would stay with the process. Nothing where libc is not glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_memory() -> None:
    """For a process that reads large exports (the CLI calls this once; a library user decides for their
    own process). Batches are freed as the next arrives; glibc keeps freed blocks below its self-raising
    mmap threshold (up to 32 MiB) in the heap, so the process would hold on to much of what it had read: a
    fixed threshold gives larger blocks back. It is MMAP_THRESHOLD and not lower because every block from
    mmap is faulted in page by page when first written: at 1 MiB that system time was a fifth of a run
    (50 M usage rows: 88 s against 71 s, peak 2.85 against 2.93 GB; a column of a million accounts, 7.6 MiB,
    stays in the heap). Arrow's buffers go through the system allocator for the same reason."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD: larger blocks come from (and go back to) mmap
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
