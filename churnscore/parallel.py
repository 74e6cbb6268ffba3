"""Work on threads, results in order: NumPy, pandas and Arrow do most of their work without Python's lock,
so two pieces of work (parts of a spilled export, blocks of a CSV being written) use both cores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

PARALLEL = 2  # pieces worked on at once; more would hold more pieces in memory for little gain on 2 cores


def in_parallel(work, items: list):  # noqa: ANN001, ANN201 - a function of one item; its results, in order
    """``work`` on each item, PARALLEL at a time on threads, results in the items' order (at most PARALLEL + 1
    results wait to be taken: memory stays that of a few parts)."""
    if PARALLEL <= 1 or len(items) <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="churnscore-work") as pool:
        pending = [pool.submit(work, item) for item in items[:PARALLEL]]
        for item in items[PARALLEL:]:
            result = pending.pop(0).result()
            pending.append(pool.submit(work, item))
            yield result
        for future in pending:
            yield future.result()
