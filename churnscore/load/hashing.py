"""64-bit hashes of text values and of rows, read straight from Arrow's buffers (for codebooks and the
duplicate search)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..arrow_text import value_offsets

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
HASH_STEP = 1 << 20  # text values hashed at a time: the temporaries stay small


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the input moves every bit of the output."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


_LOW_BYTES = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1], dtype=np.uint64)  # [r]: r bytes
_MISSING_HASH = np.uint64(0x5BD1E9955BD1E995)


def text_hash(values: pd.Series | pa.Array | pa.ChunkedArray, seed: int = 0) -> np.ndarray:
    """A 64-bit hash of each text value (equal text, equal hash; missing values all alike), read 8 bytes at a
    time straight from Arrow's buffers: ~20x cheaper than hashing the strings into a table (factorize), and
    the same in every piece of a column. Another ``seed`` gives another hash of the same values."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values.array)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = [np.zeros(0, np.uint64)]
    for a in chunks:
        if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
            a = pc.cast(a, pa.large_string())
        n = len(a)
        if not n:
            continue
        data_buf = a.buffers()[2]
        offsets = value_offsets(a)
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size else \
            np.zeros(0, np.uint8)
        last = len(data) - 8  # the last position a whole word can be read from
        words = np.ndarray((last + 1,), dtype="<u8", buffer=data, strides=(1,)) if last >= 0 else None
        h = np.empty(n, np.uint64)
        for start in range(0, n, HASH_STEP):
            begin = offsets[start:min(start + HASH_STEP, n)].astype(np.int64)
            length = offsets[start + 1:start + HASH_STEP + 1].astype(np.int64) - begin
            x = (length.astype(np.uint64) * _GOLDEN) ^ np.uint64(seed)
            for k in range(0, int(length.max()), 8):
                left = np.clip(length - k, 0, 8)
                pos = begin + k
                w = words[np.minimum(pos, last)] if words is not None else np.zeros(len(pos), np.uint64)
                tail = np.flatnonzero((pos > last) & (left > 0))
                if len(tail):  # within 8 bytes of the buffer's end: byte by byte
                    word = np.zeros(len(tail), np.uint64)
                    for j in range(8):
                        at = pos[tail] + j
                        inside = at < len(data)
                        word[inside] |= data[at[inside]].astype(np.uint64) << np.uint64(8 * j)
                    w[tail] = word
                w &= _LOW_BYTES[left]
                w ^= x
                w *= _GOLDEN
                x = np.where(left > 0, _mix(w), x)  # a value that has ended keeps its hash
            h[start:start + len(begin)] = _mix(x)
        if a.null_count:
            h[~pc.is_valid(a).to_numpy(zero_copy_only=False)] = _MISSING_HASH
        out.append(h)
    return np.concatenate(out) if len(out) > 2 else out[-1]


def value_codes(values: pd.Series) -> np.ndarray:
    """64-bit integers equal for equal values (missing equal to missing), per row; the same value has the same
    integer in every piece of a column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64)
    kind = values.dtype.kind
    if kind == "M":
        return values.to_numpy().view(np.int64)
    if kind == "f":
        v = values.to_numpy(dtype="float64") + 0.0  # -0.0 -> 0.0
        return np.where(np.isnan(v), np.nan, v).view(np.int64)  # one NaN for all
    if kind in "iub":
        return values.to_numpy().astype(np.int64)
    return text_hash(values.astype("str")).view(np.int64)


_SECOND = np.uint64(0xC2B2AE3D27D4EB4F)  # the second row hash's multiplier (row_hashes)
_NAT = np.iinfo(np.int64).min


def _batch_codes(batch: pa.RecordBatch, name: str, kind: str) -> np.ndarray:
    """A spilled column's values as 64-bit integers, equal for equal values (missing equal to missing, a
    column the file lacks all missing): text as codes (-1 missing), times as nanoseconds, numbers as bits."""
    if name not in batch.schema.names:
        return np.full(batch.num_rows, -1 if kind == "string" else _NAT if kind in ("datetime", "date")
                       else np.float64(np.nan).view(np.int64), dtype=np.int64)
    arr = batch.column(name)
    if pa.types.is_timestamp(arr.type):
        return pc.fill_null(arr.cast(pa.int64()), _NAT).to_numpy().astype(np.int64)
    if pa.types.is_floating(arr.type):
        v = pc.fill_null(arr.cast(pa.float64()), np.nan).to_numpy() + 0.0  # -0.0 -> 0.0
        return np.where(np.isnan(v), np.nan, v).view(np.int64)  # one NaN for all
    return pc.fill_null(arr.cast(pa.int64()), -1).to_numpy().astype(np.int64)


def row_hashes(batch: pa.RecordBatch, columns: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each row of a spilled batch over ``columns`` (name, kind), for the
    duplicate search of a spilled export (spill.UsageSpill.finish): equal rows, equal hashes."""
    return hash_rows_twice((_batch_codes(batch, name, kind) for name, kind in columns), batch.num_rows)


def hash_rows(columns: Iterable[np.ndarray], n: int) -> np.ndarray:
    """One 64-bit hash of each of ``n`` rows given its columns as 64-bit codes (value_codes), taken one at a
    time (a generator keeps one column's codes in memory): multiply-xor per column, one finalising mix.
    Equal rows, equal hashes; unequal rows rarely collide, so a match is checked exactly."""
    h = np.zeros(n, dtype=np.uint64)
    for codes in columns:
        h ^= codes.view(np.uint64)
        h *= _GOLDEN
    return _mix(h)


def hash_rows_twice(columns: Iterable[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each of ``n`` rows (see hash_rows; the first is hash_rows'): a row
    taken for another would need both to agree."""
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.full(n, _MISSING_HASH, dtype=np.uint64)
    for codes in columns:
        v = codes.view(np.uint64)
        h1 ^= v
        h1 *= _GOLDEN
        h2 ^= v
        h2 *= _SECOND
    return _mix(h1), _mix(h2)
