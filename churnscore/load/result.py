"""What a load returns: the typed frames, the rejects, the per-export statistics, and the reject policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..contract import EXPORTS
from .frames import date_digest, empty_frame, two_dates
from .rejects import REJECT_COLUMNS
from ..words import share


@dataclass
class FileStats:
    """What was read from one export (possibly several files)."""

    export: str
    files: list[Path]
    rows_read: int = 0
    rows_rejected: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source column name
    file_rows: dict[str, int] = field(default_factory=dict)  # path -> data rows read from that file
    rows_unmapped: int = 0  # rows whose vendor key has no row in the account mapping file (also rejected)
    rejected_ids: frozenset[str] = frozenset()  # accounts: the ids of its rejected rows (see take_rejected_ids)


REJECTED_ID = "_account_id"  # on the accounts export's rejects until take_rejected_ids takes it off


def take_rejected_ids(rejects: pd.DataFrame, stats: FileStats) -> pd.DataFrame:
    """The rejects as written, without the account ids parse_table noted on the accounts export's; those
    go to ``stats.rejected_ids``, so that a customer whose row was rejected is excluded for that reason,
    not as unknown."""
    if REJECTED_ID not in rejects:
        return rejects
    stats.rejected_ids = frozenset(rejects[REJECTED_ID].dropna().astype("str"))
    return rejects.drop(columns=REJECTED_ID)


def reject_limit_problem(stats: dict[str, FileStats], limit: float) -> str | None:
    """Why the rejected rows are too many to rank on (above ``limit`` in all, or in any one export: a small
    export broken through must not hide behind a large clean one), or None."""
    read = sum(st.rows_read for st in stats.values())
    rejected = sum(st.rows_rejected for st in stats.values())
    if read and rejected / read > limit:  # named per export: which file broke is the first thing to know
        per = ", ".join(f"{name}: {st.rows_rejected:,} of {st.rows_read:,}" for name, st in stats.items()
                        if st.rows_rejected)
        return f"{share(rejected / read)} of input rows rejected ({per}), above rejects.max_reject_rate {share(limit)}"
    over = [f"{name}: {st.rows_rejected:,} of {st.rows_read:,} rows rejected ({share(st.rows_rejected / st.rows_read)})"
            for name, st in stats.items() if st.rows_read and st.rows_rejected / st.rows_read > limit]
    return f"{'; '.join(over)}, above rejects.max_reject_rate {share(limit)}" if over else None


@dataclass
class Loaded:
    """All exports, typed, plus what was rejected and what was missing."""

    frames: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    stats: dict[str, FileStats]
    missing: list[str]
    spilled: dict = field(default_factory=dict)  # export -> spill.UsageSpill; frames then hold its digest
    # rejects on disk (a spilled export's: rejects.RejectStore), each with the row of ``rejects`` it goes
    # before: the rejects in order are rejects[:at], its rows, rejects[at:] ...
    rejects_on_disk: list = field(default_factory=list)

    @property
    def reject_count(self) -> int:
        """Every reject, in memory or on disk."""
        return len(self.rejects) + sum(store.count for _, store in self.rejects_on_disk)

    def rejected_by_file(self) -> dict[str, int]:
        """Rejects per input file (as text), in memory or on disk."""
        counts = self.rejects["file"].astype("str").value_counts().to_dict()
        for _, store in self.rejects_on_disk:
            for name, n in store.per_file.items():
                counts[name] = counts.get(name, 0) + n
        return counts

    def reject_frames(self) -> Iterator[pd.DataFrame]:
        """Every reject in order, a piece at a time (the rows on disk a batch at a time)."""
        start = 0
        for at, store in self.rejects_on_disk:
            if at > start:
                yield self.rejects.iloc[start:at]
            start = at
            yield from store.frames()
        if start < len(self.rejects) or not self.rejects_on_disk:
            yield self.rejects.iloc[start:]

    def all_rejects(self) -> pd.DataFrame:
        """Every reject as one frame (for a small run and for tests: reject_frames keeps memory small)."""
        if not self.rejects_on_disk:
            return self.rejects
        frames = [f for f in self.reject_frames() if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REJECT_COLUMNS)

    def frame(self, name: str) -> pd.DataFrame:
        """The typed frame of an export, or an empty one with the contract's columns when it was absent."""
        if name in self.frames:
            return self.frames[name]
        return empty_frame(EXPORTS[name])

    def close(self) -> None:
        """Remove the spilled exports' folders (their digests stay in frames)."""
        for spill in self.spilled.values():
            spill.close()

    def keep_dates_only(self) -> None:
        """Once the features are built: every export but accounts shrinks to each account's earliest and
        latest date (as a spilled export and the Dask engine hold it), so its rows' memory goes back."""
        for name, frame in self.frames.items():
            col = EXPORTS[name].date_column
            if col is None or name in self.spilled or set(frame.columns) == {"account_id", col}:
                continue
            ids = frame["account_id"]
            if not isinstance(ids.dtype, pd.CategoricalDtype):  # e.g. ids an account-mapping file gave
                ids = ids.astype(pd.CategoricalDtype(pd.Index(ids.dropna().unique(), dtype="str")))
            self.frames[name] = two_dates(date_digest(ids.cat.codes.to_numpy(), frame[col].to_numpy()),
                                          ids.cat.categories, col)
