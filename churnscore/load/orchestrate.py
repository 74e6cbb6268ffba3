"""Reading every export of a run: finding their files, reading them in order with one read-ahead thread,
one set of account codes for all, and the account mapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..config import Config
from ..contract import EXPORTS
from ..memory import trim_heap
from .accounts_map import map_accounts
from .codes import Codebook
from .find import export_files
from .read import open_batches, read_export
from .readahead import Prefetch
from .rejects import REJECT_COLUMNS
from .result import FileStats, Loaded
from .spill import parts_to_spill


def load_all(config: Config, input_dir: str | Path | None = None, *, spill: bool = False,
             on_rows: Callable[[str, int], None] | None = None) -> Loaded:
    """Read every export the config and input folder provide. Only usage is required.

    ``spill``: a large usage export may go to disk by account (Loaded.spilled; see spill.py): for callers
    that read it through Loaded.spilled, as pipeline.score does. ``on_rows``: told (export, rows read so
    far) after each batch (progress on a terminal)."""
    found = export_files(config, input_dir)
    found.check()
    frames: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    stats: dict[str, FileStats] = {}
    missing: list[str] = []
    spilled: dict = {}
    on_disk: list = []  # (where in the rejects, rejects.RejectStore)
    accounts = Codebook()  # one set of account codes for every export (see Codebook.dtype)
    # one thread parses every file in turn, ahead of the reading: the reader waited for each file's first
    # batches, and parsing stood still while a file's last ones were worked on (load at 1 M usage rows in
    # alternated runs: 6.4-7.6 s before, 5.3-6.2 s after; at 10 M CSV 9.8 s before, 8.6-9.2 s after)
    prefetch = Prefetch([(path, export, config.inputs[name]) for name, export in EXPORTS.items()
                         for path in found.files[name]], open_batches)
    try:
        for name, export in EXPORTS.items():
            files = found.files[name]
            if not files:
                missing.append(name)
                continue
            parts = parts_to_spill(config, name, files) if spill else 0
            if parts:
                frame, rej, st, spilled[name] = read_export(config, name, files, parts, {"account_id": accounts},
                                                            prefetch, on_rows)
                on_disk.append((sum(len(r) for r in rejects) + len(rej), spilled[name].rejects))
            else:
                frame, rej, st = read_export(config, name, files, shared={"account_id": accounts},
                                             prefetch=prefetch, on_rows=on_rows)
            frames[name], stats[name] = frame, st
            trim_heap()
            if len(rej):
                rejects.append(rej)
    finally:
        prefetch.close()
    for name, frame in frames.items():  # an export read before the last new id: the final categories
        if frame["account_id"].dtype is not accounts.dtype():
            frame["account_id"] = accounts.recode(frame["account_id"])
    for spill in spilled.values():
        spill.share("account_id", accounts.dtype())
    rejects.extend(map_accounts(config, found.folder, frames, stats))  # vendor keys -> account ids (account_map.csv)
    all_rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    return Loaded(frames, all_rejects, stats, missing, spilled=spilled, rejects_on_disk=on_disk)
