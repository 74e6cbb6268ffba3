"""Duplicate rows and repeated keys, and times in the wrong order: the rows they reject, and the rows kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..contract import Export
from .codes import Grown, KeyTable
from .hashing import hash_rows, hash_rows_twice, value_codes
from .rejects import REJECT_COLUMNS
from .result import REJECTED_ID

CANDIDATE_STEP = 1 << 22  # rows hashed at a time by repeat_candidates
DEDUPE_STEP = 1 << 18  # candidate rows looked up at a time by _dedupe_rows (the table grows for each block)


def repeat_candidates(frame: pd.DataFrame, subset: list[str]) -> np.ndarray:
    """Rows that may repeat an earlier one on ``subset``: all true duplicates, and rarely a row whose
    64-bit hash collides. One categorical key: its codes counted; otherwise a hash per row, sorted."""
    if not len(frame):
        return np.zeros(0, bool)
    if len(subset) == 1 and isinstance(frame[subset[0]].dtype, pd.CategoricalDtype):
        codes = frame[subset[0]].cat.codes.to_numpy().astype(np.int64)
        counts = np.bincount(codes + 1)
        return counts[codes + 1] > 1
    h = np.empty(len(frame), dtype=np.uint64)
    step = CANDIDATE_STEP
    for start in range(0, len(frame), step):
        piece = frame.iloc[start:start + step]  # collisions are checked exactly
        h[start:start + step] = hash_rows((value_codes(piece[name]) for name in subset), len(piece))
    ordered = np.sort(h)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    # a hash table of the repeated hashes: np.isin would sort all of them again
    return pd.Series(h).isin(repeated).to_numpy() if len(repeated) else np.zeros(len(frame), bool)


def dedupe(frame: pd.DataFrame, export: Export) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exact duplicate rows and repeated keys go to rejects; of exact duplicates the first occurrence is kept.

    Rows are compared across all files of the export (a folder is one export); each reject names its own
    file and line, and the first occurrence's line (and its file, when that is another one). A key whose rows
    differ keeps none of them: which came first is only file order, and a run must not depend on it.
    """
    cols = [c for c in frame.columns if c not in ("_line", "_file")]
    if not export.key:
        return _dedupe_rows(frame, cols)
    subset = [export.key] if export.key else cols
    candidates = repeat_candidates(frame, subset)  # cheap; only these rows are compared exactly
    if not candidates.any():
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    cand = frame.loc[candidates]
    dup = pd.Series(False, index=frame.index)
    dup.loc[cand.index] = cand.duplicated(subset=subset, keep="first").to_numpy()
    if not dup.any():
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    involved = cand.loc[cand.duplicated(subset=subset, keep=False)]
    clash = pd.Series(False, index=frame.index)
    said = pd.Series("", index=frame.index, dtype=object)
    if export.key:
        clash, said = _conflicts(involved, export.key, cols, frame.index)
    drop = dup | clash
    rows = frame.loc[drop]
    grouped = involved.groupby(subset, dropna=False, sort=False)
    first_line = grouped["_line"].transform("first").loc[rows.index].astype("int64").astype(str)
    first_file = grouped["_file"].transform("first").loc[rows.index].astype(str)
    where = "line " + first_line
    where = where.where(first_file == rows["_file"], where + " of " + first_file)
    if export.key:
        reason = ("duplicate row (first at " + where + ")").where(~clash.loc[rows.index], said.loc[rows.index])
        column, value = export.key, rows[export.key].to_numpy()
    else:
        reason = "duplicate row (same as " + where + ")"
        column, value = "", ""
    rejects = pd.DataFrame({"file": rows["_file"].to_numpy(), "line": rows["_line"].to_numpy().astype("int64"), "column": column,
                            "value": value, "reason": reason.to_numpy()})
    if export.name == "accounts" and clash.any():  # the customer is excluded as rejected (see take_rejected_ids)
        rejects[REJECTED_ID] = np.where(clash.loc[rows.index].to_numpy(), rows[export.key].astype("str").to_numpy(),
                                        None)
    return _keep_rows(frame, ~drop.to_numpy()), rejects


def _dedupe_rows(frame: pd.DataFrame, cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """dedupe for an export without a key: of rows equal on ``cols`` the first is kept. The rows that may
    repeat (repeat_candidates) are looked up, a block at a time in order, in a hash table of two 64-bit hashes
    per distinct row, and the reasons are a categorical of one text per row repeated: memory follows the
    distinct rows, not the duplicates (5 M copies of one row took 3 GB compared as frames)."""
    candidates = np.flatnonzero(repeat_candidates(frame, cols))
    if not len(candidates):
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    seen, check = KeyTable(), Grown("uint64")
    firsts = Grown("int64")  # the row of each distinct row's first occurrence
    dup_rows, dup_codes = [], []
    for start in range(0, len(candidates), DEDUPE_STEP):
        at = candidates[start:start + DEDUPE_STEP]
        # column by column, a block at a time: the temporaries stay small
        h1, h2 = hash_rows_twice((value_codes(frame[name].iloc[at]) for name in cols), len(at))
        codes, new = seen.codes(h1)
        check.extend(h2[new])
        firsts.extend(at[new])
        dup = np.ones(len(at), bool)
        dup[new] = False
        dup &= check.values[codes] == h2  # a row whose first hash alone matches is kept, never dropped
        dup_rows.append(at[dup])
        dup_codes.append(codes[dup])
    rows, codes = np.concatenate(dup_rows), np.concatenate(dup_codes)
    if not len(rows):
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    files, names = pd.factorize(frame["_file"].astype("str"), sort=False) if not isinstance(
        frame["_file"].dtype, pd.CategoricalDtype) else (frame["_file"].cat.codes.to_numpy(),
                                                        frame["_file"].cat.categories)
    lines = frame["_line"].to_numpy()
    first = firsts.values[codes]
    other = files[first] != files[rows]
    # one reason text per (first occurrence, in another file or not), made once; the columns are built as
    # Arrow dictionaries cast to text (no Python string per row)
    inverse, keys = pd.factorize(first.astype(np.int64) * 2 + other, sort=False)
    texts = [f"duplicate row (same as line {int(lines[k // 2])}" + (f" of {names[files[k // 2]]})" if k % 2 else ")")
             for k in keys.tolist()]
    rejects = pd.DataFrame({"file": _text_of(files[rows], [str(n) for n in names]),
                            "line": lines[rows].astype("int64"), "column": "", "value": "",
                            "reason": _text_of(inverse, texts)})
    keep = np.ones(len(frame), bool)
    keep[rows] = False
    return _keep_rows(frame, keep), rejects


def _text_of(codes: np.ndarray, texts: list[str]) -> pd.Series:
    """The text of each code, as a text column (``texts[code]``) built in Arrow."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(texts, pa.string()))
    return pd.Series(pd.array(arr.cast(pa.string()), dtype="str"))


LISTED_VERSIONS = 5  # where a conflicting key's versions are, named in its rejects' reason


def _conflicts(involved: pd.DataFrame, key: str, cols: list[str], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """The rows (of ``index``) whose key has rows that differ, and the reason each is rejected for: which
    version would be kept is only file order, so none is. ``involved``: the rows whose key repeats."""
    versions = involved.drop_duplicates(subset=cols)  # each version's first occurrence, in file order
    versions = versions.loc[versions.duplicated(subset=[key], keep=False)]
    clash = pd.Series(False, index=index)
    said = pd.Series("", index=index, dtype=object)
    if not len(versions):
        return clash, said
    keys = versions[key].astype("str")
    mine = involved[key].astype("str")
    hit = mine.isin(pd.unique(keys))
    clash.loc[hit.index[hit.to_numpy()]] = True
    text = {}
    for value, group in versions.groupby(keys.to_numpy(), sort=False):
        files = group["_file"].astype("str").to_numpy()
        lines = group["_line"].to_numpy().astype("int64")
        if len(set(files)) == 1:
            places = [str(n) for n in lines[:LISTED_VERSIONS]]
            listed = "lines " + ", ".join(places)
        else:
            listed = ", ".join(f"line {n} of {f}" for f, n in zip(files[:LISTED_VERSIONS], lines[:LISTED_VERSIONS]))
        more = f", {len(group) - LISTED_VERSIONS} more" if len(group) > LISTED_VERSIONS else ""
        text[value] = f"{key} {value} has {len(group)} different rows ({listed}{more}); none kept"
    said.loc[mine.index[hit.to_numpy()]] = mine[hit].map(text).to_numpy()
    return clash, said


def _keep_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, built column by column while the columns of ``frame`` are taken out of it (the
    frame passed is consumed): the memory of one column at a time, not of a second frame."""
    if keep.all():
        return frame
    out = {}
    for name in list(frame.columns):
        out[name] = frame[name].iloc[keep].reset_index(drop=True) if not isinstance(frame[name].dtype, np.dtype) \
            else frame[name].to_numpy()[keep]
        del frame[name]
    return pd.DataFrame(out, copy=False)


ORDER_CHECKS = {"tickets": ("created_at", "resolved_at")}  # export: (earlier, later)


def check_order(frame: pd.DataFrame, export: Export) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose two times are in the wrong order (a ticket resolved before it was created) are rejects."""
    if export.name not in ORDER_CHECKS:
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    first, second = ORDER_CHECKS[export.name]
    if first not in frame or second not in frame:
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    bad = (frame[second] < frame[first]).to_numpy()
    rows = frame.loc[bad]
    rejects = pd.DataFrame({"file": rows["_file"].to_numpy(), "line": rows["_line"].to_numpy().astype("int64"), "column": second,
                            "value": rows[second].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                            "reason": f"{second} before {first}"})
    return _keep_rows(frame, ~bad), rejects
