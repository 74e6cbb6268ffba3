"""Output formats and atomic writing (temporary file in the same folder, fsync, rename). No scoring logic."""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "parquet", "json")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula (=, +, -, @ first) with a quote."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            text = s.astype("str")
            risky = s.notna() & text.str.startswith(FORMULA_STARTS)
            if risky.any():
                out[col] = s.where(~risky, "'" + text)
    return out


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    A reader sees the old file or the new one, never half of one; a run killed part-way leaves the
    old file and at most a stray ``.<name>.*.tmp`` behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str = "csv") -> Path:
    """Write a table atomically as csv (formula-safe), parquet or json (records)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        data = neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
        return atomic_write(path, lambda fh: fh.write(data))
    if fmt == "json":
        data = frame.to_json(orient="records", indent=1, force_ascii=False).encode("utf-8")
        return atomic_write(path, lambda fh: fh.write(data + b"\n"))
    return atomic_write(path, lambda fh: frame.to_parquet(fh, index=False))


def write_json(obj: Any, path: str | Path) -> Path:
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
    return atomic_write(path, lambda fh: fh.write(data))


def sibling(path: str | Path, tag: str, ending: str | None = None) -> Path:
    """ranked.csv -> ranked.<tag>.csv (or .<ending>): files that belong to an output sit beside it."""
    path = Path(path)
    stem, suffix = path.stem, path.suffix
    return path.with_name(f"{stem}.{tag}{ending if ending is not None else suffix}")


def remove_stale_temps(out: str | Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that a killed run left beside ``out`` and its sibling files.

    Only call it while holding the output's lock (runlock.output_lock): then no live writer owns them.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return []
    names = [out.name] + [sibling(out, tag, ending).name
                          for tag, ending in (("rejects", ".csv"), ("excluded", ".csv"), ("manifest", ".json"))]
    removed = []
    for name in names:
        for path in sorted(out.parent.glob(f".{glob.escape(name)}.*.tmp")):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed


def write_run(ranked: pd.DataFrame, rejects: pd.DataFrame, excluded: pd.DataFrame, out: str | Path,
              fmt: str = "csv", top: int | None = None) -> dict[str, Path]:
    """The ranked list plus, beside it, every rejected row and every account not scored (always written,
    header only when empty, so a stale file from an earlier run never lingers)."""
    out = Path(out)
    listed = ranked.head(top) if top else ranked
    return {
        "ranked": write_table(listed, out, fmt),
        "rejects": write_table(rejects, sibling(out, "rejects", ".csv"), "csv"),
        "excluded": write_table(excluded, sibling(out, "excluded", ".csv"), "csv"),
    }
