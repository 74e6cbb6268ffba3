"""The shapes of an export's frames: the empty frame, categorical types, each account's two dates, and
stacking pieces (by file and line order) into one frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import Export
from .rejects import REJECT_COLUMNS


def unique_dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """The categorical type of categories known to be distinct, without pandas hashing them all again to
    check (0.14 s per million values; done for every batch and every export it added up to seconds)."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas' own constructor without the check
    return fast(categories, False) if fast is not None else pd.CategoricalDtype(categories)


def date_digest(codes: np.ndarray, times: np.ndarray) -> pd.DataFrame:
    """Per account code (missing, -1, left out): its earliest and latest time and its number of rows, the
    accounts in the order they first appear (one pass over the codes, no grouping)."""
    kept = codes >= 0
    codes, values = codes[kept], times[kept].view("int64")
    order = pd.unique(codes)
    span = int(order.max()) + 1 if len(order) else 0
    # NaT is the smallest int64: a maximum skips it, and so does the maximum of the negated times, since
    # negating NaT gives NaT again. An account with only NaT keeps NaT for both.
    nat = np.iinfo("int64").min
    high = np.full(span, nat)
    np.maximum.at(high, codes, values)
    low = np.full(span, nat)
    np.maximum.at(low, codes, np.negative(values))
    low = np.negative(low)
    size = np.bincount(codes, minlength=span)
    return pd.DataFrame({"min": low[order].view(times.dtype), "max": high[order].view(times.dtype),
                         "size": size[order].astype("int64")}, index=pd.Index(order, name="code"))


def two_dates(digest: pd.DataFrame, categories: pd.Index, date_column: str) -> pd.DataFrame:
    """Two rows per account of a digest (see date_digest): its earliest and its latest time."""
    codes = digest.index.to_numpy()
    # categories are distinct (a categorical's): unique_dtype spares pandas hashing them all (0.2 s at 1 M)
    ids = pd.Categorical.from_codes(np.concatenate([codes, codes]).astype("int32"), dtype=unique_dtype(categories),
                                    validate=False)
    times = np.concatenate([digest["min"].to_numpy(), digest["max"].to_numpy()]).astype("datetime64[ns]")
    return pd.DataFrame({"account_id": ids, date_column: times})


def empty_frame(export: Export) -> pd.DataFrame:
    """A frame of no rows with the export's columns, typed as a load gives them (and _line, _file)."""
    dtypes = {"string": pd.CategoricalDtype(pd.Index([], dtype="str")), "datetime": "datetime64[ns]",
              "date": "datetime64[ns]",
              "float": "float64", "int": "float64", "bool": "float64"}
    frame = pd.DataFrame({c.name: pd.Series([], dtype="str" if c.distinct else dtypes[c.kind])
                          for c in export.columns})
    if "count" in frame:  # int32 and line numbers int32: 4 bytes a row each (int64 beyond their range)
        frame["count"] = frame["count"].astype("int32")
    frame["_line"] = pd.Series([], dtype="int32")
    frame["_file"] = pd.Series([], dtype=pd.CategoricalDtype(pd.Index([], dtype="str")))
    return frame


def narrow_lines(lines: np.ndarray) -> np.ndarray:
    """Line numbers as int32 (4 bytes a row) unless a file is longer than that holds."""
    return lines.astype("int32") if not len(lines) or lines.max() < np.iinfo("int32").max else lines


def fill_counts(count: pd.Series) -> pd.Series:
    """The usage count with a missing value as 1 (one event), as int32 unless a value needs more."""
    count = count.fillna(1)
    return count.astype("int32" if not len(count) or count.abs().max() < np.iinfo("int32").max else "int64")


def file_order(labels: pd.Series, order: dict[str, int]) -> np.ndarray:
    """Each row's file as its position among the export's files."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        lookup = np.array([order[str(c)] for c in labels.cat.categories] + [-1], dtype="int64")
        return lookup[labels.cat.codes.to_numpy()]
    return labels.astype("str").map(order).to_numpy(dtype="int64")


def file_sorted(frames: list[pd.DataFrame], order: dict[str, int]) -> pd.DataFrame:
    """Rejects of several pieces of an export in file and line order (the order of its frame)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    key = np.lexsort((out["line"].to_numpy(dtype="int64"), file_order(out["file"], order)))
    return out.take(key).reset_index(drop=True)


def concat_frames(frames: list[pd.DataFrame], export: Export | None = None) -> pd.DataFrame:
    """Stack frames of one export, keeping text columns categorical (their categories united).

    Files of one export may differ in their optional columns: a column one file lacks is all-missing
    for its rows, typed as the contract says.
    """
    if len(frames) == 1:
        return frames[0]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    if export is not None:
        template = empty_frame(export)
        frames = [f if all(c in f.columns for c in columns) else
                  f.assign(**{c: template[c].reindex(f.index) if c in template else pd.Series(np.nan, index=f.index)
                              for c in columns if c not in f.columns})
                  for f in frames]
    out = {}
    for col in columns:
        parts = [f[col] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[col] = pd.Series(pd.api.types.union_categoricals([p.array for p in parts]))
        else:
            out[col] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def assemble(export: Export, pieces: list[tuple[int, dict[str, object]]],
             dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """One frame of compact pieces (row count, columns), in order. Columns named in ``dtypes`` hold codes
    and become categoricals of that dtype; a column a piece lacks is missing for its rows. Each piece's
    columns are taken out of it as the frame is built, so their memory goes as the frame's comes."""
    names = list(dict.fromkeys(n for _, cols in pieces for n in cols))
    if not names:
        return empty_frame(export)
    template = empty_frame(export)
    out: dict[str, object] = {}
    for name in names:
        parts = []
        for length, cols in pieces:
            part = cols.pop(name, None)
            if part is None:
                part = (np.full(length, -1, dtype="int32") if name in dtypes
                        else template[name].reindex(range(length)))
            parts.append(part)
        if name in dtypes:
            out[name] = pd.Categorical.from_codes(np.concatenate(parts), dtype=dtypes[name], validate=False)
        elif all(isinstance(p, np.ndarray) for p in parts):
            out[name] = np.concatenate(parts) if len(parts) > 1 else parts[0]
        else:
            out[name] = pd.concat([pd.Series(p) for p in parts], ignore_index=True)
        del parts
    return pd.DataFrame(out, copy=False)
