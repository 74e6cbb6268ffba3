"""Reading a CSV file with Arrow: the read plan (which columns, typed how), the batches, the whole-file read
that numbers rows with the wrong number of fields, and the ladder of retries when a read fails."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..config import InputSpec
from ..contract import Export
from ..errors import InputDataError
from .headrows import file_spec
from .rejects import REJECT_COLUMNS
from .sniff import HEAD_BYTES, decode_head, header_and_sep, map_columns, not_utf8, read_head, shown_sep


@dataclass
class Ragged:
    """Rows whose number of fields differs from the header's, as pyarrow reports them."""

    sep: str
    rows: list[tuple[int | None, int, int, str]] = field(default_factory=list)  # number, expected, actual, text

    def __call__(self, row: pacsv.InvalidRow) -> str:
        self.rows.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    def rejects(self, path: Path, line_of: np.ndarray | None = None) -> pd.DataFrame:
        """One reject per ragged row; a row that spans lines (an unbalanced quote) stops the read instead,
        since it has swallowed the rows after it. pyarrow numbers rows by record (1 = header): ``line_of``
        gives record n's line in the file at [n - 2] when values of earlier records span lines."""
        def line(number: int | None) -> int | None:
            return number if number is None or line_of is None else int(line_of[number - 2])

        for number, expected, actual, text in self.rows:
            if number is None or "\n" in text or "\r" in text:
                where = f":{line(number)}" if number is not None else ""
                raise InputDataError(
                    f"{path}{where}: a quoted value runs over several lines (an unbalanced quote?); "
                    "fix the quoting of this row.", file=str(path), line=line(number))
        return pd.DataFrame({
            "file": str(path),
            "line": np.array([line(r[0]) for r in self.rows], dtype="int64"),
            "column": "",
            "value": [r[3] if len(r[3]) <= 200 else r[3][:197] + "..." for r in self.rows],
            "reason": [f"{r[2]} field{'' if r[2] == 1 else 's'} where the header has {r[1]} "
                       f"(separator {shown_sep(self.sep)})" for r in self.rows],
        }, columns=REJECT_COLUMNS)


# Columns the CSV parser itself converts (in parallel, while reading): the string path below stays the
# fallback for a file where one value does not convert, and gives the same values and rejects.
TYPED = {"datetime": pa.timestamp("ns", tz="UTC"), "date": pa.date32(), "float": pa.float64(),
         "int": pa.float64()}
TEXT_DICT = pa.dictionary(pa.int32(), pa.string())
STREAM_BLOCK = 1 << 24  # bytes of CSV per batch (~290k usage rows); pyarrow reads several ahead
BLOCK_MAX = 1 << 28  # a quoted value longer than a block is read with blocks up to this large, then refused


class Fallback(Exception):
    """A streamed read met rows only the whole-file read numbers exactly (wrong number of fields)."""


@dataclass
class CsvPlan:
    """What the header says about one CSV file: separator, column mapping, and whether it has no rows."""

    sep: str
    mapped: dict[str, str]
    header_only: bool

    def types(self, export: Export, spec: InputSpec, typed: bool) -> dict[str, pa.DataType]:
        """Arrow type per source column: repeating text dictionary-encoded, text that differs on every row
        plain; with ``typed``, dates and numbers converted by the parser (not where the config maps
        values or gives a date format: those need the text)."""
        by_source: dict[str, list] = {}
        for col in export.columns:
            if col.name in self.mapped:
                by_source.setdefault(self.mapped[col.name], []).append(col)
        types = {}
        for source, cols in by_source.items():
            col = cols[0]
            if len(cols) > 1:
                types[source] = pa.string()
            elif (typed and col.kind in TYPED and not spec.values.get(col.name)
                  and not ((spec.date_format or spec.timezone) and col.kind in ("datetime", "date"))
                  and not (spec.decimal == "," and col.kind in ("float", "int"))):
                types[source] = TYPED[col.kind]
            else:
                types[source] = TEXT_DICT if col.kind == "string" and not col.distinct else pa.string()
        return types


def csv_plan(path: Path, export: Export, spec: InputSpec) -> CsvPlan:
    """What the file's first bytes say about reading it (see CsvPlan)."""
    head = read_head(path)
    complete = len(head) < HEAD_BYTES
    text = decode_head(head, path, spec, export.name, complete)
    header, sep = header_and_sep(text, path, spec)
    mapped = map_columns(export, spec, header, path, sep)
    header_only = complete and sum(1 for line in text.splitlines() if line.strip()) <= 1 + spec.skip_lines
    return CsvPlan(sep, mapped, header_only)


def _csv_options(plan: CsvPlan, types: dict[str, pa.DataType], ragged: "Ragged", spans: bool = False,
                 ) -> tuple[pacsv.ParseOptions, pacsv.ConvertOptions]:
    """``spans``: values may hold line breaks where a block of the file ends (see _out_of_sync), so the
    reader must follow the quotes to find where a row ends: slower, and only asked for once it is needed."""
    parse = pacsv.ParseOptions(delimiter=plan.sep, newlines_in_values=spans, invalid_row_handler=ragged)
    convert = pacsv.ConvertOptions(include_columns=list(types), column_types=types, strings_can_be_null=True,
                                   quoted_strings_can_be_null=True, null_values=[""])
    return parse, convert


def _arrow_error(exc: pa.ArrowInvalid, path: Path, name: str) -> InputDataError:
    msg = str(exc)
    if "UTF8" in msg or "utf8" in msg.lower():
        return not_utf8(path, name)
    return InputDataError(f"{path}: cannot parse as CSV ({msg.splitlines()[0]}).", file=str(path))


def _out_of_sync(exc: pa.ArrowInvalid) -> bool:
    """A quoted value over several lines met the end of a block: the reader, told values hold no line
    breaks (fast), cut the file inside the value. The file is then read again following the quotes."""
    return "out of sync" in str(exc).lower()


def _larger_block(exc: pa.ArrowInvalid, block: int, path: Path) -> int:
    """The block size to read again with when one value is longer than a block ("straddling object"): four
    times larger, up to BLOCK_MAX; 0 when ``exc`` is another error. Past BLOCK_MAX, one line naming the file."""
    if "straddling" not in str(exc).lower():
        return 0
    if block >= BLOCK_MAX:
        raise InputDataError(f"{path}: a quoted value is longer than {BLOCK_MAX:,} bytes, the most read as one "
                             "value; cut it (values over limits.field_bytes are rejected anyway).",
                             file=str(path)) from None
    return min(block * 4, BLOCK_MAX)


def _conversion_error(exc: pa.ArrowInvalid) -> bool:
    """A value the parser could not convert to a typed column (the string path then reads the file)."""
    return "conversion error" in str(exc).lower()


@dataclass(frozen=True)
class Attempt:
    """One way of reading a CSV file: dates and numbers converted by the parser (``typed``), the quotes
    followed across line breaks (``spans``), blocks of ``block`` bytes. A read that fails gives the next way
    (after): one ladder for the streamed read and the whole-file read."""

    typed: bool
    spans: bool
    block: int

    @classmethod
    def first(cls, spans: bool = False) -> "Attempt":
        """Typed, in blocks of STREAM_BLOCK; ``spans`` from the start where rows are skipped by record."""
        return cls(True, spans, STREAM_BLOCK)

    def after(self, exc: pa.ArrowInvalid, path: Path, name: str) -> "Attempt":
        """The way to read again after ``exc``: following the quotes when a quoted value crossed a block's end,
        in larger blocks when one value is longer than a block, as text when a value did not convert. When
        none is left, raises the error for the user (``name``: the export)."""
        if not self.spans and _out_of_sync(exc):
            return replace(self, spans=True)
        block = _larger_block(exc, self.block, path)
        if block:
            return replace(self, block=block)
        if self.typed and _conversion_error(exc):
            return replace(self, typed=False)
        raise _arrow_error(exc, path, name) from None


def cannot_read(exc: BaseException, path: Path) -> InputDataError:
    """The error for a file the system could not read (an I/O error, a gzip file cut short)."""
    return InputDataError(f"{path}: cannot read ({exc}).", file=str(path))


def read_csv(path: Path, export: Export, spec: InputSpec) -> tuple[pa.Table, dict[str, str], Ragged]:
    """The whole file: mapped columns (dates and numbers typed where every value converts), the mapping,
    and the rows with the wrong number of fields (numbered by record: see Ragged.rejects)."""
    spec = file_spec(path, spec)
    plan = csv_plan(path, export, spec)
    ragged = Ragged(plan.sep)
    types = plan.types(export, spec, typed=False)
    if plan.header_only:
        return pa.table({s: pa.array([], pa.string()) for s in types}), plan.mapped, ragged
    # A first read uses both cores; only when it met rows with the wrong number of fields is the file
    # read again single-threaded, where pyarrow numbers them (1 = header).
    attempt, threads = Attempt.first(spans=bool(spec.skip_rows)), True
    while True:
        parse, convert = _csv_options(plan, plan.types(export, spec, attempt.typed), ragged, attempt.spans)
        read = pacsv.ReadOptions(encoding=spec.encoding or "utf8", block_size=attempt.block, use_threads=threads,
                                 skip_rows_after_names=spec.skip_rows)
        ragged.rows.clear()
        try:
            table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            attempt = attempt.after(exc, path, export.name)
            continue
        except (OSError, EOFError) as exc:
            raise cannot_read(exc, path) from None
        if not attempt.spans and any("\n" in r[3] or "\r" in r[3] for r in ragged.rows):
            attempt = replace(attempt, spans=True)  # a quoted value longer than a block, cut by the fast read
            continue
        if ragged.rows and threads:
            threads = False
            continue
        break
    return table, plan.mapped, ragged


def csv_batches(path: Path, export: Export, spec: InputSpec, plan: CsvPlan, typed: bool,  # noqa: ANN202
                 spans: bool = False, block: int | None = None):
    """The file in batches of about STREAM_BLOCK bytes; raises Fallback on a row with the wrong number of
    fields, ArrowInvalid when a typed value does not convert. Parsed on the calling thread only: read_ahead
    runs it beside the work on the batches, and Arrow's own threads would compete with that work for the
    cores (10 M usage rows: 2.0 s of CPU for tickets.csv single-threaded against 3.1 s with its threads,
    and load 0.4-1.9 s faster in alternated runs)."""
    ragged = Ragged(plan.sep)
    parse, convert = _csv_options(plan, plan.types(export, spec, typed), ragged, spans)
    read = pacsv.ReadOptions(encoding=spec.encoding or "utf8", block_size=block or STREAM_BLOCK, use_threads=False,
                             skip_rows_after_names=spec.skip_rows)
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except StopIteration:  # pragma: no cover - pyarrow raises this on a file with a header only
        return
    for batch in reader:
        if ragged.rows:
            raise Fallback
        yield pa.Table.from_batches([batch])
    if ragged.rows:
        raise Fallback
