"""The process's memory: freed batches go back to the system instead of staying with the process."""

from __future__ import annotations

import functools

MMAP_THRESHOLD = 1 << 30  # bytes: blocks up to this come from the heap, so freed memory is used again
TRIM_THRESHOLD = 1 << 30  # bytes free at the top of the heap before glibc gives them back by itself


def trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim): after an export is read, the
    memory of its batches is free but would stay with the process. Nothing where libc is not glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_memory() -> None:
    """For a process that reads large exports (the CLI calls this once; a library user decides for their
    own process). On this kind of machine, memory that is new to the process costs more than the work
    done in it: every page is faulted in and zeroed by the kernel, a quarter to a third of a run's time
    when each large array came from mmap and went back on free. So:

    - large blocks come from the heap and freed ones are used again (glibc's mmap and trim thresholds
      raised), and the process hands memory back where it knows a stage has ended (trim_heap);
    - one heap for every thread: the read-ahead thread's batches are freed by the main thread and used
      again by both (glibc would give each thread an arena of its own, whose large blocks are mmaps);
    - NumPy does not ask for transparent huge pages, which the kernel zeroes 2 MiB at a time and may
      compact memory for, on faults in arrays that are often written once;
    - Arrow's buffers go through the same system allocator.

    Alternated runs against an 8 MiB threshold with huge pages on, same outputs: 50 M usage rows 53.0 and
    60.7 s (21-25 s of system time, 5.2-5.5 M page faults) against 43.6 and 49.2 s (8.5-8.9 s, 1.6 M),
    the peak 2.20-2.30 GB against 2.35-2.42 GB; 1 M accounts 19.8 and 20.4 s against 16.0 and 16.1 s."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    _numpy_huge_pages(False)
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except (AttributeError, pa.ArrowException):  # pragma: no cover
        pass


def _numpy_huge_pages(on: bool) -> None:
    """NumPy's madvise(MADV_HUGEPAGE) on large arrays (its NUMPY_MADVISE_HUGEPAGE setting, at run time)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - other NumPy versions
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(on)


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
