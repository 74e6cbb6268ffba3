"""Output formats: tables as formula-safe CSV, Parquet or JSON records, written atomically (files.py). No scoring
logic."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_text import value_bytes
from .files import atomic_write, sibling
from .parallel import in_parallel

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Invisible and direction characters a spreadsheet may skip before a formula ("\ufeff=cmd|..."), and the
# full-width signs some take for = + - @: a cell starting with one is quoted too.
INVISIBLE_STARTS = ("\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\u180e", "\u00ad", "\u061c", "\u200e",
                    "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                    "\u2069", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Every cell starting with one of these is written with a "'" before it; "'" is among them, so the mapping
# can be undone exactly (unneutralise): "'-42" is written "''-42" and "-42" is written "'-42".
QUOTED_STARTS = FORMULA_STARTS + INVISIBLE_STARTS + ("'",)
FORMATS = ("csv", "parquet", "json")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula (=, +, -, @ first, maybe behind an invisible
    character) with a quote; and cells that already start with a quote, so that unneutralise gives back exactly
    what was written."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            text = s.astype("str")
            risky = s.notna() & text.str.startswith(QUOTED_STARTS)
            if risky.any():
                out[col] = s.where(~risky, "'" + text)
    return out


def unneutralise(s: pd.Series) -> pd.Series:
    """Undo neutralise on text read back from a CSV file churnscore wrote: one leading quote removed, where there
    is one (every cell starting with a quote was given one)."""
    text = s.astype("str")
    quoted = s.notna() & text.str.startswith("'")
    return s.where(~quoted, text.str[1:])


def _csv_line(fields: list[str]) -> str:
    """One row as pandas' to_csv writes it (the csv module, minimal quoting, "\\n" line ends)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def _any_of(texts: tuple[str, ...]) -> str:
    """An RE2 pattern matching any of ``texts`` (each character escaped by its code point)."""
    return "(?:" + "|".join("".join(f"\\x{{{ord(c):x}}}" for c in t) for t in texts) + ")"


# The characters that make the csv module quote a field (asked of it, so a Python that quotes more, e.g. a
# carriage return, is followed).
_QUOTE_CHARS = tuple(c for c in ("\r", "\n", ",", '"') if _csv_line([f"a{c}b", "x"]).startswith('"'))
_NEEDS_QUOTES = _any_of(_QUOTE_CHARS)
_FORMULA = "^" + _any_of(QUOTED_STARTS)
_TEXT = pa.large_string()
_BOOLS = pa.array(["False", "True"], _TEXT)  # str() of each, as the csv module writes them


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    return pa.array(values, _TEXT, from_pandas=True)


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _float_text(v: np.ndarray) -> pa.Array:
    """Float64 cells as pandas' to_csv writes them: Python's repr (0.1, 1.0, 1e-05, 1e+16, -0.0, inf), NaN empty.

    Arrow's cast prints the same digits (the shortest that read back as the number; there is only one
    such string), but without ".0" and with exponents from other magnitudes on. So Arrow's text is used
    where Python prints plain digits (0, or 1e-4 <= |x| < 1e16) and Arrow did too (no "e"), with ".0"
    added where it has no point; NumPy's astype(str), which is what pandas calls, prints the rest.
    """
    size = np.abs(v)
    text = pc.cast(pa.array(v), _TEXT)
    plain = ((v == 0) | ((size >= 1e-4) & (size < 1e16))) & ~pc.match_substring(text, "e").to_numpy(
        zero_copy_only=False)
    text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, _scalar(".0"),
                                                                                        _scalar("")))
    missing = np.isnan(v)
    other = ~plain & ~missing  # tiny, huge or infinite
    if other.any():
        text = pc.replace_with_mask(text, pa.array(other), _arrow(v[other].astype(str)))
    return pc.if_else(pa.array(missing), _scalar(""), text)


def _source(s: pd.Series) -> np.ndarray | pa.Array | None:
    """A column ready to be formatted (NumPy numbers, or Arrow text); None when this module cannot say how
    to_csv writes it."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iufb":
        v = np.ascontiguousarray(s.to_numpy())
        # (float32 and float16 have their own shortest digits: not handled here)
        return v if v.dtype.kind in "iub" or v.dtype == np.float64 else None
    if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(s.dtype):
        ints = pa.array(s.array, from_pandas=True)  # nullable integers (previous_rank): missing is empty
        return ints if pa.types.is_integer(ints.type) else None
    if isinstance(s.dtype, pd.StringDtype) or (
            s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")):
        text = _arrow(s)
        if isinstance(text, pa.ChunkedArray):  # one array, so that blocks of rows are plain slices
            return text.chunk(0) if text.num_chunks == 1 else text.combine_chunks()
        return text
    return None


def _cells(source: np.ndarray | pa.Array) -> pa.Array:
    """The cells of one column (or a block of its rows) as to_csv writes them, quoted where needed."""
    if isinstance(source, np.ndarray):
        if source.dtype.kind in "iu":
            return pc.cast(pa.array(source), _TEXT)
        if source.dtype.kind == "b":
            return _BOOLS.take(pa.array(source.astype(np.int8)))
        return _float_text(source)
    if pa.types.is_integer(source.type):
        return pc.fill_null(pc.cast(source, _TEXT), _scalar(""))
    cells = pc.fill_null(source, _scalar(""))
    # neutralise: a spreadsheet runs text starting with one of FORMULA_STARTS; prefix it (and every other cell
    # of QUOTED_STARTS) with a quote
    risky = pc.match_substring_regex(cells, _FORMULA)
    if pc.any(risky).as_py():
        cells = pc.if_else(risky, pc.binary_join_element_wise(_scalar("'"), cells, _scalar("")), cells)
    quote = pc.match_substring_regex(cells, _NEEDS_QUOTES)
    if pc.any(quote).as_py():
        inner = cells.filter(quote)
        if pc.any(pc.match_substring(inner, '"')).as_py():
            inner = pc.replace_substring(inner, '"', '""')
        cells = pc.replace_with_mask(cells, quote,
                                     pc.binary_join_element_wise(_scalar('"'), inner, _scalar('"'), _scalar("")))
    return cells


CSV_BLOCK_ROWS = 1 << 16  # rows formatted at a time: the work stays in cache and memory stays small


def csv_chunks(frame: pd.DataFrame) -> Iterator[bytes | pa.Buffer] | None:
    """The bytes of ``neutralise(frame).to_csv(index=False, lineterminator="\\n")`` in UTF-8, block by block.

    Built with Arrow kernels (each column formatted and quoted as pandas and the csv module do, then the
    columns joined into lines), several times faster than to_csv at a million rows. None for a frame it
    does not know how to write (a column of another type, labels that are not text, fewer than two
    columns): the caller then uses to_csv. Whatever could fail on odd values is done before this returns.
    """
    labels = list(frame.columns)
    if len(labels) < 2 or not all(isinstance(c, str) for c in labels) or isinstance(frame.columns, pd.MultiIndex):
        return None
    sources = []
    try:
        for i in range(len(labels)):
            source = _source(frame.iloc[:, i])
            if source is None:
                return None
            sources.append(source)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):  # e.g. text that is not valid Unicode, or
        # a missing-value marker Arrow does not take: to_csv says so, or writes it
        return None

    def block(start: int) -> pa.Buffer:
        cells = [_cells(src[start:start + CSV_BLOCK_ROWS]) for src in sources]
        cells[-1] = pc.binary_join_element_wise(cells[-1], _scalar("\n"), _scalar(""))
        return value_bytes(pc.binary_join_element_wise(*cells, _scalar(",")))

    def blocks() -> Iterator[bytes | pa.Buffer]:
        yield _csv_line(labels).encode("utf-8")
        # Arrow's kernels let go of Python's lock: two blocks are formatted at a time, written in order
        yield from in_parallel(block, list(range(0, len(frame), CSV_BLOCK_ROWS)))

    return blocks()


def json_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    """The UTF-8 bytes of ``frame.to_json(orient="records", indent=1, force_ascii=False)`` and a newline, in
    blocks of CSV_BLOCK_ROWS rows: each record is written on its own, so the blocks' records joined with
    ",\n" are the whole's, and memory follows a block (the whole text of 1 M accounts was 390 MB twice)."""
    if not len(frame):
        yield frame.to_json(orient="records", indent=1, force_ascii=False).encode("utf-8") + b"\n"
        return
    yield b"[\n"
    for start in range(0, len(frame), CSV_BLOCK_ROWS):
        text = frame.iloc[start:start + CSV_BLOCK_ROWS].to_json(orient="records", indent=1, force_ascii=False)
        yield (",\n" if start else "").encode("utf-8") + text[2:-2].encode("utf-8")  # without "[\n" and "\n]"
    yield b"\n]\n"


def format_for(path: str | Path | None, given: str | None, default: str) -> str:
    """The output format: the one given (--format), else the one the file name ends with (.csv, .parquet,
    .json; ``path`` None: no file named), else the config's."""
    if given is not None or path is None:
        return given or default
    ending = Path(path).suffix.lower().lstrip(".")
    return ending if ending in FORMATS else default


def table_writer(frame: pd.DataFrame, fmt: str = "csv") -> Callable[[IO[bytes]], None]:
    """What writes ``frame`` to a binary file as csv (formula-safe), parquet or json (records)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        chunks: Iterable[bytes | pa.Buffer] | None = csv_chunks(frame)
        if chunks is None:
            chunks = [neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")]

        def write(fh: IO[bytes]) -> None:
            for chunk in chunks:
                fh.write(chunk)

        return write
    if fmt == "json":
        return lambda fh: fh.writelines(json_chunks(frame))
    return lambda fh: frame.to_parquet(fh, index=False)


def csv_pieces_writer(pieces: Callable[[], Iterable[pd.DataFrame]]) -> Callable[[IO[bytes]], None]:
    """What writes frames with the same columns one after the other as one CSV file (one header, formula-safe),
    the bytes table_writer gives for them as one frame; a piece at a time (the rejects on disk)."""
    def write(fh: IO[bytes]) -> None:
        header = True
        for frame in pieces():
            chunks = csv_chunks(frame)
            if chunks is None:
                chunks = iter([neutralise(frame).to_csv(index=False, header=header, lineterminator="\n")
                               .encode("utf-8")])
            elif not header:
                next(chunks)  # the header line
            for chunk in chunks:
                fh.write(chunk)
            header = False

    return write


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str = "csv") -> Path:
    """Write a table atomically as csv (formula-safe), parquet or json (records)."""
    return atomic_write(path, table_writer(frame, fmt))


def write_json(obj: Any, path: str | Path) -> Path:
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
    return atomic_write(path, lambda fh: fh.write(data))


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
