"""The shared group-by kernels of the features: rows to accounts without a per-account Python loop.

An export's rows are mapped to account codes (positions in the account index, -1 for an account not in it);
the kernels then count, reduce or pick rows per code with NumPy. Every feature family uses them, and so do
model, movers, playbook, rulecheck, discover and pipeline (through the package, churnscore.features).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DAY = np.timedelta64(1, "D")  # a day, to turn datetime64 differences into day counts


def account_codes(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each row's account in the index; -1 for an account not in it.

    Categorical ids (as the loader gives them) are looked up once per distinct id, not once per row.
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        lookup = np.append(category_positions(index, ids.cat.categories), -1)  # code -1 (missing) -> -1
        return lookup[ids.cat.codes.to_numpy()]
    return index.get_indexer(ids)


_RECENT: list[tuple[pd.Index, pd.Index, np.ndarray]] = []  # (index, categories, positions), newest last


def category_positions(index: pd.Index, categories: pd.Index) -> np.ndarray:
    """index.get_indexer(categories), remembered for the last few pairs of the very same objects: a run
    looks up each export's ids against the same account index more than once (0.3 s a time at 1M ids)."""
    for known_index, known_categories, positions in _RECENT:
        if known_index is index and known_categories is categories:
            return positions
    positions = index_positions(index, categories)
    positions.setflags(write=False)
    _RECENT.append((index, categories, positions))
    del _RECENT[:-4]
    return positions


def index_positions(index: pd.Index, values: pd.Index) -> np.ndarray:
    """index.get_indexer(values) (int64, -1 where absent); for text held by Arrow, Arrow's hash lookup, about
    twice as fast at a million ids. A non-unique index still raises as get_indexer does."""
    if index.is_unique and _arrow_text(index) and _arrow_text(values):
        found = pc.index_in(pa.array(values.array), value_set=pa.array(index.array))
        return pc.fill_null(found, -1).to_numpy().astype("int64", copy=False)
    return index.get_indexer(values)


def _arrow_text(values: pd.Index) -> bool:
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def key_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a key column (equal values, equal codes; missing -1), cheap for categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype("int64")
    return pd.factorize(values, use_na_sentinel=True)[0].astype("int64")


def lowered(values: pd.Series) -> pd.Series:
    """Lower-cased text; for categoricals the work is done once per category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories(values.cat.categories.str.lower()) \
            if values.cat.categories.str.lower().is_unique else values.astype("str").str.lower()
    return values.str.lower()


def age_days(dates: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Whole days from each row's calendar date to the as-of date (0 = same day); NaN where missing."""
    d = dates.dt.floor("D").to_numpy()
    out = (np.datetime64(as_of.to_datetime64(), "ns") - d) / DAY
    return out.astype("float64")


def count_by_account(codes: np.ndarray, n: int, mask: np.ndarray | None = None,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """Rows (or the sum of ``weights``) per account 0..n-1 among the masked rows with a known account."""
    m = codes >= 0 if mask is None else (mask & (codes >= 0))
    w = None if weights is None else np.asarray(weights, dtype="float64")[m]
    return np.bincount(codes[m], weights=w, minlength=n).astype("float64")


def _pairs(codes: np.ndarray, keys: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The (account, key) pair of each masked row with a known account and key, as an int64 id, and the
    width of the ids (id // width is the account)."""
    ok = mask & (codes >= 0) & (keys >= 0)
    width = int(keys.max(initial=0)) + 1
    return codes[ok].astype("int64") * width + keys[ok], width


def distinct_pairs(codes: np.ndarray, keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distinct (account, key) pairs among masked rows with a known account and key, as int64 pair ids."""
    return pd.unique(_pairs(codes, keys, mask)[0])


def distinct_by_account(codes: np.ndarray, keys: pd.Series | np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Distinct non-missing keys per account among the masked rows."""
    k = keys if isinstance(keys, np.ndarray) and keys.dtype.kind == "i" else key_codes(pd.Series(keys))
    width = int(k.max(initial=0)) + 1
    pairs = distinct_pairs(codes, k, mask)
    return np.bincount(pairs // width, minlength=n).astype("float64")


BINCOUNT_CELLS = 1 << 24  # accounts x keys up to which most_of_one_key counts in one array (128 MB at most)


def most_of_one_key(codes: np.ndarray, keys: np.ndarray, n: int, mask: np.ndarray,
                    max_cells: int | None = None) -> np.ndarray:
    """Per account, the number of masked rows of its most frequent key (e.g. its most common ticket
    category); 0 for an account without such rows. Rows with no account or no key (-1) are left out.

    Up to ``max_cells`` (None: BINCOUNT_CELLS) accounts x keys, one count per cell; beyond, sorted pairs:
    the same counts."""
    pair, width = _pairs(codes, keys, mask)
    if n * width <= (BINCOUNT_CELLS if max_cells is None else max_cells):  # a count per (account, key) cell: no sort
        return np.bincount(pair, minlength=n * width).reshape(n, width).max(axis=1, initial=0).astype("float64")
    pairs, counts = np.unique(pair, return_counts=True)
    out = np.zeros(n)
    np.maximum.at(out, pairs // width, counts)
    return out


def first_row(codes: np.ndarray, times: np.ndarray, lines: np.ndarray, n: int) -> np.ndarray:
    """Per account (codes 0..n-1), the position of its earliest row by time (datetime64; NaT last), then
    line, then position (what a stable sort by time and line would put first); -1 for an account without
    rows. No sort: running minimums per account."""
    first = np.full(n, -1, dtype="int64")
    if not len(codes):
        return first
    big = np.iinfo("int64").max
    times = np.where(np.isnat(times), big, times.view("int64"))
    earliest = np.full(n, big)
    np.minimum.at(earliest, codes, times)
    tied = np.flatnonzero(times == earliest[codes])
    line = np.full(n, big)
    np.minimum.at(line, codes[tied], lines[tied])
    tied = tied[lines[tied] == line[codes[tied]]]
    at = np.full(n, big)
    np.minimum.at(at, codes[tied], tied)
    has = at < big
    first[has] = at[has]
    return first


def group_reduce(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray, how: str) -> np.ndarray:
    """min/max/mean/median/sum of values per account among masked rows; NaN where an account has none."""
    m = mask & (codes >= 0) & ~np.isnan(values)
    out = np.full(n, np.nan)
    if not m.any():
        return out
    if how in ("min", "max"):  # running minimums in place, no grouping (fmin/fmax take a value over NaN)
        (np.fmin if how == "min" else np.fmax).at(out, codes[m], values[m])
        return out
    v, c = values[m], codes[m]
    if how == "mean":  # summed in value order, not file order: a shuffled export gives the same bits
        order = np.lexsort((v, c))
        v, c = v[order], c[order]
    s = pd.Series(v).groupby(c).agg(how)
    out[s.index.to_numpy()] = s.to_numpy()
    return out


def hours_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Hours from start to end per row (NaN where either is missing), in numpy: no Timedelta objects."""
    a = start.to_numpy(dtype="datetime64[ns]")
    b = end.to_numpy(dtype="datetime64[ns]")
    out = (b - a).astype("int64").astype("float64") / 3.6e12
    out[np.isnat(a) | np.isnat(b)] = np.nan
    return out


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0 and the result is finite (a denormal den can overflow); else NaN."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def on_or_before(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before the as-of day (the point-in-time rule)."""
    end = as_of + pd.Timedelta(days=1)
    kept = (frame[column] < end).to_numpy()
    return frame if kept.all() else frame.loc[kept]


def code_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by code: ``order``, a stable sort of the rows by code (each code's rows keep their order),
    and the run of each code in it, ``order[starts[i]:ends[i]]``, codes ascending. Codes under 2**15 are
    sorted as 16-bit keys: NumPy's stable sort of those is a radix sort."""
    key = codes.astype("int16") if len(codes) and codes.max() < 1 << 15 else codes
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(codes) else np.zeros(0, dtype="int64")
    return order, starts, np.r_[starts[1:], len(codes)]


def medians_by_code(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The median of ``values`` per code (codes >= 0, few of them, e.g. events), codes ascending: what
    Series(values).groupby(codes).median() gives, to the bit, in a third of the time at 25 M rows (one
    radix sort of the codes, then a selection per code)."""
    order, starts, ends = code_runs(codes)
    codes, values = codes[order], values[order]
    return codes[starts].astype("int64"), np.array([np.median(values[a:b]) for a, b in zip(starts, ends)],
                                                   dtype="float64")
