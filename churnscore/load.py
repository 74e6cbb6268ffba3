"""Read each export, map its columns onto the contract, parse types, and collect the rows that break it.

Every row read ends up either in a typed frame or in the rejects table (file, line, column, value,
reason); nothing is dropped silently. Line numbers are a CSV file's lines as an editor shows them, the header
line 1: a record that a quoted line break spreads over several lines has the line it starts on (see
text_breaks). Parquet rows, which have no lines, are numbered 2, 3, ... as if under a header.
"""

from __future__ import annotations

import glob as globmod
import gzip
import io
import errno
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .accounts_map import map_accounts
from .arrow_text import value_bytes, value_offsets
from .config import Config, InputSpec
from .contract import EXPORTS, FALSE_WORDS, FILE_ENDINGS, TRUE_WORDS, Export
from .errors import InputDataError
from .filetype import check_regular
from .headrows import file_spec
from .read_json import LINE_COLUMN, is_json, json_batches
from .memory import trim_heap
from .values import parse_formatted, parse_numbers, parse_times

REJECT_COLUMNS = ["file", "line", "column", "value", "reason"]


FREE_TEXT = frozenset({"comment", "account_name"})  # may hold a quoted line break; no other text column may
SEPARATORS = [",", ";", "\t", "|"]


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
        return f"{rejected / read:.1%} of input rows rejected ({per}), above rejects.max_reject_rate {limit:.1%}"
    over = [f"{name}: {st.rows_rejected:,} of {st.rows_read:,} rows rejected ({st.rows_rejected / st.rows_read:.1%})"
            for name, st in stats.items() if st.rows_read and st.rows_rejected / st.rows_read > limit]
    return f"{'; '.join(over)}, above rejects.max_reject_rate {limit:.1%}" if over else None


@dataclass
class Loaded:
    """All exports, typed, plus what was rejected and what was missing."""

    frames: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    stats: dict[str, FileStats]
    missing: list[str]
    after_as_of: dict[str, int] = field(default_factory=dict)  # rows dated after the as-of date, per export
    unknown_rows: dict[str, int] = field(default_factory=dict)  # rows for ids not in accounts, per export
    ids_seen: pd.Index | None = None  # every account id in any export (set by universe.account_universe)
    spilled: dict = field(default_factory=dict)  # export -> spill.UsageSpill; frames then hold its digest
    # rejects on disk (a spilled export's: rejectstore.RejectStore), each with the row of ``rejects`` it goes
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


# ----------------------------------------------------------------------------- finding files


def find_files(config: Config, name: str, input_dir: Path | None) -> list[Path]:
    """The files of one export: the config's path (file, folder or glob), or else the one of <input_dir>/<name>.csv,
    .csv.gz, .parquet and the folder <input_dir>/<name>/ that exists (more than one is an error, never a choice)."""
    spec = config.inputs[name]
    if spec.path:
        target = config.resolve(spec.path)
        if any(ch in str(spec.path) for ch in "*?["):
            files = sorted(Path(p) for p in globmod.glob(str(target)))
            if not files:
                raise InputDataError(f"{name}: the glob '{spec.path}' matches no file.", file=str(target))
            for p in files:
                check_regular(p, f"the {name} export")
            return files
        check_regular(target, f"the {name} export", folder_ok=True)  # a FIFO would block the run for ever
        if target.is_dir():
            return _folder_files(target, name)
        if not target.exists():
            raise InputDataError(f"{target}: no such file (inputs.{name}.path in the config).",
                                 file=str(target))
        return [target]
    if input_dir is None:
        return []
    for p in [input_dir / f"{name}{ending}" for ending in FILE_ENDINGS] + [input_dir / name]:  # a FIFO, device, dangling link ...
        if os.path.lexists(p):  # ... under an export's name is refused, not passed over as no export
            check_regular(p, f"the {name} export", folder_ok=p.name == name)
    files = [p for p in (input_dir / f"{name}{ending}" for ending in FILE_ENDINGS) if p.is_file()]
    folder = input_dir / name
    found = [str(p) for p in files] + ([f"{folder}{os.sep}"] if folder.is_dir() else [])
    if len(found) > 1:  # a stale usage.csv beside a usage/ folder of this week's files: never pick one silently
        listed = " and ".join(found) if len(found) == 2 else ", ".join(found[:-1]) + " and " + found[-1]
        raise InputDataError(f"{name}: more than one {name} export in the input folder: {listed}. Keep one, or set "
                             f"inputs.{name}.path in the config to the one to read.", file=str(input_dir))
    if files:
        return files
    if folder.is_dir():
        return _folder_files(folder, name)
    return []


def _folder_files(folder: Path, name: str) -> list[Path]:
    named = sorted(p for p in folder.iterdir() if p.name.endswith(FILE_ENDINGS))
    for p in named:
        check_regular(p, f"a file of the {name} export", folder_ok=True)  # a subfolder is passed over
    files = [p for p in named if p.is_file()]
    if not files:
        raise InputDataError(f"{folder}: folder for '{name}' has no .csv, .csv.gz, .parquet or JSON file.",
                             file=str(folder))
    return files


# ----------------------------------------------------------------------------- reading raw text


HEAD_BYTES = 65536


def _open(path: Path):  # noqa: ANN202 - a binary file object, gzip or plain
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _open_text_head(path: Path, nbytes: int = HEAD_BYTES) -> bytes:
    try:
        with _open(path) as fh:
            return fh.read(nbytes)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None


def _not_utf8(path: Path, name: str) -> InputDataError:
    """The error for a file that is not UTF-8, naming the first line (1 = header) and byte that is not."""
    fix = f"save it as UTF-8 or set inputs.{name}.encoding (e.g. latin-1) in the config."
    try:
        with _open(path) as fh:
            for line, raw in enumerate(fh, start=1):  # a newline byte never sits inside a UTF-8 character
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return InputDataError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); {fix}",
                                          file=str(path), line=line)
    except OSError:
        pass
    return InputDataError(f"{path}: not UTF-8; {fix}", file=str(path))


def _decode(head: bytes, path: Path, spec: InputSpec, name: str, complete: bool = False) -> str:
    """The file's first bytes as text; ``complete`` when they are the whole file (no character cut at the end)."""
    if spec.encoding:
        try:
            return head.decode(spec.encoding, errors="strict")
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputDataError(f"{path}: cannot decode with encoding '{spec.encoding}' "
                                 f"(inputs.{name}.encoding): {exc}.", file=str(path)) from None
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 4:  # a multi-byte character cut by the sample's end
            return head[: exc.start].decode("utf-8-sig")
        raise _not_utf8(path, name) from None


def _header_and_sep(text: str, path: Path, spec: InputSpec) -> tuple[list[str], str]:
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise InputDataError(f"{path}: empty file (no header row).", file=str(path), line=1)
    sep = spec.sep or max(SEPARATORS, key=lambda s: first.count(s))
    try:
        header = next(iter(pd.read_csv(io.StringIO(first), sep=sep, header=None, dtype=str,
                                       keep_default_na=False).itertuples(index=False)))
    except (ValueError, pd.errors.ParserError) as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputDataError(f"{path}:1: cannot read the header row ({problem}); check its quotes and "
                             f"separator.", file=str(path), line=1) from None
    return [str(h) for h in header], sep


def _shown_sep(sep: str) -> str:
    return "tab" if sep == "\t" else f"'{sep}'"


def _map_columns(export: Export, spec: InputSpec, header: list[str], path: Path,
                 sep: str | None = None) -> dict[str, str]:
    """canonical -> source header name, case- and space-insensitive. ``sep``: the CSV separator used."""
    by_norm: dict[str, list[str]] = {}
    for h in header:
        by_norm.setdefault(h.strip().lower(), []).append(h)
    mapped: dict[str, str] = {}
    for col in export.columns:
        wanted = spec.columns.get(col.name, col.name)
        sources = by_norm.get(wanted.strip().lower())
        if sources is not None and len(sources) > 1:  # which one holds the ids? never guess
            names = ", ".join(f"'{h}'" for h in sources)
            raise InputDataError(
                f"{path}: {len(sources)} columns match '{col.name}' ({names}); remove or rename all but one, "
                f"or map one with inputs.{export.name}.columns in the config.",
                file=str(path), line=1, column=col.name)
        if sources is not None:
            mapped[col.name] = sources[0]
        elif col.required:
            via = f" (mapped from '{wanted}')" if wanted != col.name else ""
            # NUL padding is no name (a file of zeros: pyarrow 24 reads its header as empty, 26 as NULs)
            found = ", ".join(h.strip().strip("\x00") for h in header if h.strip().strip("\x00")) or "none"
            sep_hint = ""
            if len(header) == 1 and sep is not None:
                tried = f"{_shown_sep(spec.sep)} from the config" if spec.sep else "',', ';', tab and '|' tried"
                sep_hint = (f" Only one column was found, so the separator looks wrong ({tried}); "
                            f"set inputs.{export.name}.sep in the config.")
            raise InputDataError(
                f"{path}: required column '{col.name}'{via} not found; columns found: {found}.{sep_hint}",
                file=str(path), line=1, column=col.name)
    return mapped


@dataclass
class _Ragged:
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
                       f"(separator {_shown_sep(self.sep)})" for r in self.rows],
        }, columns=REJECT_COLUMNS)


# Columns the CSV parser itself converts (in parallel, while reading): the string path below stays the
# fallback for a file where one value does not convert, and gives the same values and rejects.
TYPED = {"datetime": pa.timestamp("ns", tz="UTC"), "date": pa.date32(), "float": pa.float64(),
         "int": pa.float64()}
TEXT_DICT = pa.dictionary(pa.int32(), pa.string())
STREAM_BLOCK = 1 << 24  # bytes of CSV per batch (~290k usage rows); pyarrow reads several ahead
BLOCK_MAX = 1 << 28  # a quoted value longer than a block is read with blocks up to this large, then refused


class _Fallback(Exception):
    """A streamed read met rows only the whole-file read numbers exactly (wrong number of fields)."""


@dataclass
class _CsvPlan:
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


def _csv_plan(path: Path, export: Export, spec: InputSpec) -> _CsvPlan:
    head = _open_text_head(path)
    complete = len(head) < HEAD_BYTES
    text = _decode(head, path, spec, export.name, complete)
    header, sep = _header_and_sep(text, path, spec)
    mapped = _map_columns(export, spec, header, path, sep)
    header_only = complete and sum(1 for line in text.splitlines() if line.strip()) <= 1 + spec.skip_lines
    return _CsvPlan(sep, mapped, header_only)


def _csv_options(plan: _CsvPlan, types: dict[str, pa.DataType], ragged: "_Ragged", spans: bool = False,
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
        return _not_utf8(path, name)
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


def _read_csv(path: Path, export: Export, spec: InputSpec) -> tuple[pa.Table, dict[str, str], _Ragged]:
    """The whole file: mapped columns (dates and numbers typed where every value converts), the mapping,
    and the rows with the wrong number of fields (numbered by record: see _Ragged.rejects)."""
    spec = file_spec(path, spec)
    plan = _csv_plan(path, export, spec)
    ragged = _Ragged(plan.sep)
    types = plan.types(export, spec, typed=False)
    if plan.header_only:
        return pa.table({s: pa.array([], pa.string()) for s in types}), plan.mapped, ragged
    # A first read uses both cores; only when it met rows with the wrong number of fields is the file
    # read again single-threaded, where pyarrow numbers them (1 = header).
    typed, threads, spans, block = True, True, bool(spec.skip_rows), STREAM_BLOCK
    while True:
        parse, convert = _csv_options(plan, plan.types(export, spec, typed), ragged, spans)
        read = pacsv.ReadOptions(encoding=spec.encoding or "utf8", block_size=block, use_threads=threads,
                                 skip_rows_after_names=spec.skip_rows)
        ragged.rows.clear()
        try:
            table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            if not spans and _out_of_sync(exc):
                spans = True
                continue
            if _larger_block(exc, block, path):
                block = _larger_block(exc, block, path)
                continue
            if typed and _conversion_error(exc):
                typed = False
                continue
            raise _arrow_error(exc, path, export.name) from None
        except (OSError, EOFError) as exc:
            raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None
        if not spans and any("\n" in r[3] or "\r" in r[3] for r in ragged.rows):
            spans = True  # a quoted value longer than a block, cut by the fast read: follow the quotes
            continue
        if ragged.rows and threads:
            threads = False
            continue
        break
    return table, plan.mapped, ragged


def _csv_batches(path: Path, export: Export, spec: InputSpec, plan: _CsvPlan, typed: bool,  # noqa: ANN202
                 spans: bool = False, block: int | None = None):
    """The file in batches of about STREAM_BLOCK bytes; raises _Fallback on a row with the wrong number of
    fields, ArrowInvalid when a typed value does not convert. Parsed on the calling thread only: read_ahead
    runs it beside the work on the batches, and Arrow's own threads would compete with that work for the
    cores (10 M usage rows: 2.0 s of CPU for tickets.csv single-threaded against 3.1 s with its threads,
    and load 0.4-1.9 s faster in alternated runs)."""
    ragged = _Ragged(plan.sep)
    parse, convert = _csv_options(plan, plan.types(export, spec, typed), ragged, spans)
    read = pacsv.ReadOptions(encoding=spec.encoding or "utf8", block_size=block or STREAM_BLOCK, use_threads=False,
                             skip_rows_after_names=spec.skip_rows)
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except StopIteration:  # pragma: no cover - pyarrow raises this on a file with a header only
        return
    for batch in reader:
        if ragged.rows:
            raise _Fallback
        yield pa.Table.from_batches([batch])
    if ragged.rows:
        raise _Fallback


def _readable_type(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
            or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_timestamp(t)
            or pa.types.is_date(t) or pa.types.is_boolean(t) or pa.types.is_null(t))


# ----------------------------------------------------------------------------- parsing typed columns


def _clean_text(arr: pa.ChunkedArray, mapping: dict[str, str] | None) -> pa.ChunkedArray:
    """Trimmed strings, empty as null, values mapped through the config's value mapping."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    if mapping:
        s = arr.to_pandas().replace(mapping)
        arr = pa.chunked_array([pa.array(s, type=pa.string(), from_pandas=True)])
    return arr


def _encode_clean(arr: pa.ChunkedArray, mapping: dict[str, str] | None) -> pd.Series:
    """Repeating text as a categorical: trimmed, empty as missing and value-mapped, all done on the
    distinct values (the dictionary) and carried to the rows by their codes."""
    if pa.types.is_dictionary(arr.type):  # encoded while parsing: one dictionary for all chunks
        enc = arr.unify_dictionaries().combine_chunks() if arr.num_chunks else pc.dictionary_encode(
            pa.array([], pa.string()))
        if not pa.types.is_string(enc.dictionary.type):
            enc = pc.dictionary_encode(pc.cast(pc.cast(enc, enc.dictionary.type), pa.string()))
        if len(enc.dictionary) > 1024 and len(enc.dictionary) > len(enc) // 4:
            # a Parquet batch carries its row group's whole dictionary: keep the values this batch uses
            indices = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
            used = np.flatnonzero(np.bincount(indices + 1, minlength=len(enc.dictionary) + 1)[1:])
            remap = np.full(len(enc.dictionary) + 1, -1, dtype="int32")
            remap[used] = np.arange(len(used), dtype="int32")
            compact = remap[indices]  # -1 (missing) reads the last slot: -1
            enc = pa.DictionaryArray.from_arrays(pa.array(compact, mask=compact < 0), enc.dictionary.take(used))
    else:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pc.cast(arr, pa.string())
        enc = pc.dictionary_encode(arr.combine_chunks())
    cleaned = _clean_text(pa.chunked_array([enc.dictionary]), mapping)
    indices = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    if not mapping and cleaned.null_count == 0 and pc.all(pc.equal(cleaned, enc.dictionary)).as_py() is not False:
        # nothing to trim, empty or map (the usual case): the dictionary's values are the categories
        categories = pd.Index(pd.array(cleaned, dtype="str"))
        return pd.Series(pd.Categorical.from_codes(indices.astype("int32"), dtype=unique_dtype(categories),
                                                   validate=False))
    codes, uniques = pd.factorize(cleaned.to_pandas(), use_na_sentinel=True)
    lookup = np.append(codes, -1)  # a missing row (index -1 after fill) stays missing
    rows = lookup[indices]
    categories = pd.Index(np.asarray(uniques, dtype=object), dtype="str")
    return pd.Series(pd.Categorical.from_codes(rows.astype("int32"), dtype=unique_dtype(categories), validate=False))


def unique_dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """The categorical type of categories known to be distinct, without pandas hashing them all again to
    check (0.14 s per million values; done for every batch and every export it added up to seconds)."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas' own constructor without the check
    return fast(categories, False) if fast is not None else pd.CategoricalDtype(categories)


def _to_str_series(arr: pa.ChunkedArray, distinct: bool = False) -> pd.Series:
    """Text as a pandas categorical: ids, users, events and statuses repeat, so every later lookup,
    comparison and group-by works once per distinct value instead of once per row. Text that is
    different on every row (``distinct``) stays plain strings (zero-copy from Arrow)."""
    if distinct:
        return arr.to_pandas()
    out = pc.dictionary_encode(arr.combine_chunks()).to_pandas()
    if out.cat.categories.dtype != "str":  # e.g. no values at all
        out = out.cat.set_categories(out.cat.categories.astype("str"))
    return out


_NS_MIN, _NS_MAX = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
DATE_RANGE = "1677-09-22 to 2262-04-11"  # the whole days datetime64[ns] can hold


def _utc_ns(parsed: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """tz-aware UTC datetimes of any unit -> tz-naive datetime64[ns], and the mask of values it cannot hold
    (9999-12-31 sentinels, year 1): those become NaT instead of an overflow error."""
    outside = ((parsed < _NS_MIN) | (parsed > _NS_MAX)).to_numpy(dtype=bool, na_value=False)
    return parsed.where(~outside).dt.tz_localize(None).astype("datetime64[ns]"), outside


def _parse_datetime(arr: pa.ChunkedArray, fmt: str | None, timezone: str | None = None,
                    ) -> tuple[pd.Series, np.ndarray]:
    """To tz-naive UTC datetime64[ns], and the mask of values out of its range; unparseable and
    out-of-range values become NaT (the caller rejects them)."""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        try:  # the common case, without a pass through pandas' time zones: nanoseconds, UTC, tz-naive
            naive = pc.cast(arr, pa.timestamp("ns"))  # raises on a value outside datetime64[ns]
            return naive.to_pandas().astype("datetime64[ns]"), np.zeros(len(arr), bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if pa.types.is_date(arr.type):
            arr = pc.cast(arr, pa.timestamp("ms"))
        return _utc_ns(pd.to_datetime(arr.to_pandas(), utc=True))
    if fmt == "unix":  # seconds since 1970, UTC (e.g. Mixpanel's raw export)
        seconds = pd.to_numeric(pd.Series(arr.to_pandas(), dtype="object"), errors="coerce")
        seconds = seconds.where(seconds.abs() < 1e11)  # beyond year 5000: not seconds, a reject
        return _utc_ns(pd.to_datetime(seconds, unit="s", utc=True))
    if fmt is None and not timezone:
        for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
            try:
                out = pc.cast(arr, target).to_pandas()
                if getattr(out.dt, "tz", None) is not None:
                    out = out.dt.tz_localize(None)
                return out.astype("datetime64[ns]"), np.zeros(len(out), bool)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    s = arr.to_pandas()
    if fmt is None:  # ISO 8601 as people write it, epoch times, times in the export's zone (values.py)
        parsed = parse_times(s, timezone)
    else:
        parsed = parse_formatted(s, fmt, timezone)
    return _utc_ns(parsed)


def _parse_float(arr: pa.ChunkedArray, decimal: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """float64, and the mask of values whose separator is ambiguous (see values.parse_numbers)."""
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return pc.cast(arr, pa.float64()).to_pandas(), np.zeros(len(arr), bool)
    try:
        if decimal != ",":
            return pc.cast(arr, pa.float64()).to_pandas(), np.zeros(len(arr), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return parse_numbers(arr.to_pandas(), decimal)


def _parse_bool(text: pd.Series) -> pd.Series:
    low = text.str.lower()
    out = pd.Series(np.nan, index=text.index)
    out[low.isin(TRUE_WORDS)] = 1.0
    out[low.isin(FALSE_WORDS)] = 0.0
    return out


class _Problems:
    """Row-level contract breaks of one file; the first problem of a row is the one recorded.

    The per-row arrays are made at the first problem: a clean file costs one boolean mask.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.mask = np.zeros(n, bool)
        self.column = self.value = self.reason = None

    @classmethod
    def empty(cls, n: int) -> "_Problems":
        return cls(n)

    def add(self, bad: np.ndarray, column: str, values, reason: str) -> None:  # noqa: ANN001
        """``values``: the rows' text as an array, one text for all rows, or a function of the row
        positions giving their text (only the new problems' rows are asked for)."""
        new = bad & ~self.mask
        if not new.any():
            return
        if self.column is None:
            self.column, self.value, self.reason = (np.full(self.n, None, object) for _ in range(3))
        self.mask |= new
        self.column[new] = column
        if isinstance(values, str):
            self.value[new] = values
        elif callable(values):
            self.value[new] = np.asarray(values(np.flatnonzero(new)), dtype=object)
        else:
            self.value[new] = np.asarray(values, dtype=object)[new]
        self.reason[new] = reason


def _typed_text(arr: pa.ChunkedArray):  # noqa: ANN202 - a function of row positions
    """The text of typed values (dates and numbers the parser converted), for the rows that are rejects:
    whole numbers without a decimal point, as they were most likely written."""
    def text(rows: np.ndarray) -> list[str]:
        values = arr.take(pa.array(rows)).to_pylist()
        return ["" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e16
                else str(v) for v in values]
    return text


def line_break_anywhere(arr: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any value of a text array holds a CR or LF: one scan of its bytes, so that only a file with
    such a value pays for finding which (a search value by value took 1 s of a 10 M-row run)."""
    for chunk in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]):
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary
        if not len(chunk):
            continue
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True  # not text as expected: left to the search value by value
        data = value_bytes(chunk)
        if data is None:
            continue
        text = memoryview(data).tobytes()  # a copy, but searched by memchr: 4x faster than NumPy's == twice
        if b"\n" in text or b"\r" in text:
            return True
    return False


def _value_breaks(values: pa.Array) -> np.ndarray:
    """Line breaks in each text value: CR LF, LF and a lone CR count one each; a missing value none."""
    counts = [pc.count_substring(values, b) for b in ("\n", "\r", "\r\n")]
    count = pc.subtract(pc.add(counts[0], counts[1]), counts[2])
    return pc.fill_null(count, 0).to_numpy(zero_copy_only=False).astype("int64")


def text_breaks(table: pa.Table) -> np.ndarray | None:
    """Per row of a batch read from CSV, the line breaks inside its text values: the lines its record
    spans in the file beyond the one it starts on. None when no value holds one, found by one scan of each
    text column's bytes (line_break_anywhere), so that a file without them costs next to nothing. Dates and
    numbers the parser converted hold none (a value with a break does not convert). Columns not read (not
    in the contract) are not seen."""
    total = None
    for arr in table.columns:
        kind = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) or not line_break_anywhere(arr):
            continue
        parts = []
        for chunk in arr.chunks:
            if pa.types.is_dictionary(chunk.type):  # counted once per distinct value, carried by the codes
                per_value = np.append(_value_breaks(chunk.dictionary), 0)
                parts.append(per_value[pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False)])
            else:
                parts.append(_value_breaks(chunk))
        counts = np.concatenate(parts) if parts else np.zeros(table.num_rows, "int64")
        total = counts if total is None else total + counts
    return total


def breaks_before(breaks: np.ndarray) -> np.ndarray:
    """Per record, the line breaks inside the values of the records before it (of the same run): what its
    line is ahead of its record number."""
    before = np.zeros(len(breaks), dtype="int64")
    np.cumsum(breaks[:-1], out=before[1:])
    return before


def _too_long(arr: pa.ChunkedArray, limit: int) -> np.ndarray | None:
    """Rows whose text is longer than ``limit`` bytes, or None when there is none (or the column is not text)."""
    longest = 0  # first the longest value of each chunk (its dictionary's): a mask only when one is too long
    for chunk in arr.chunks:
        values = chunk.dictionary if isinstance(chunk, pa.DictionaryArray) else chunk
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
            return None
        if len(values):
            longest = max(longest, pc.max(pc.binary_length(values)).as_py() or 0)
    if longest <= limit:
        return None
    out = []
    for chunk in arr.chunks:
        values = chunk.dictionary if isinstance(chunk, pa.DictionaryArray) else chunk
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
            return None
        over = pc.fill_null(pc.greater(pc.binary_length(values), limit), False)
        if isinstance(chunk, pa.DictionaryArray):
            over = pc.fill_null(pc.take(over, chunk.indices), False)
        out.append(over.to_numpy(zero_copy_only=False))
    mask = np.concatenate(out) if out else np.zeros(0, bool)
    return mask if mask.any() else None


def _head_text(arr: pa.ChunkedArray, chars: int = 200):  # noqa: ANN202 - a function of row positions
    """The first ``chars`` characters of the rejected rows' values and their length: a 10 MB value is not
    copied into the rejects file."""
    def text(rows: np.ndarray) -> list[str]:
        values = arr.take(pa.array(rows))
        if pa.types.is_dictionary(values.type):
            values = pc.cast(values, values.type.value_type)
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            values = pc.cast(values, pa.large_string())  # may raise on bad UTF-8; checked before this point
        sizes = pc.binary_length(values).to_pylist()
        heads = pc.utf8_slice_codeunits(values, 0, chars).to_pylist()
        return [f"{h}… ({n:,} bytes)" for h, n in zip(heads, sizes)]
    return text


def parse_table(table: pa.Table, mapped: dict[str, str], export: Export, spec: InputSpec,
                label: str, lines: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed frame of the rows that keep the contract, and the rejects of the others.

    ``lines``: each row's line number (1 = header); default 2, 3, ... (no row skipped while reading).
    """
    n = table.num_rows
    problems = _Problems.empty(n)
    out: dict[str, pd.Series] = {}
    for col in export.columns:
        if col.name not in mapped:
            continue
        arr = table.column(mapped[col.name])
        too_long = _too_long(arr, spec.max_field_bytes)
        if too_long is not None:  # a reject, and out of the values hashed and encoded (10 MB ids made runs slow)
            problems.add(too_long, col.name, _head_text(arr),
                         f"{col.name} longer than {spec.max_field_bytes:,} bytes (limits.field_bytes)")
            dictionary = pa.types.is_dictionary(arr.type)
            plain = pc.cast(arr, arr.type.value_type) if dictionary else arr
            arr = pc.if_else(pa.chunked_array([too_long]), pa.scalar(None, plain.type), plain)
            if dictionary:  # without the long value in its dictionary either
                arr = pc.dictionary_encode(arr)
        typed = (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)
                 or pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type))
        if col.kind == "string" and not col.distinct:
            # repeating text: clean the dictionary of distinct values, not every row
            cat = _encode_clean(arr, spec.values.get(col.name))
            codes = cat.cat.codes.to_numpy()
            present = codes >= 0
            if col.required:
                problems.add(~present, col.name, "", f"missing {col.name}")
            if col.name not in FREE_TEXT and n and line_break_anywhere(pa.array(cat.cat.categories.array)):
                bad_cats = np.flatnonzero(cat.cat.categories.str.contains("[\r\n]", regex=True))
                broken = np.isin(codes, bad_cats)
                if broken.any():
                    problems.add(broken, col.name, cat.astype("str"),
                                 f"line break inside {col.name} (an unbalanced quote?)")
            out[col.name] = cat
            continue
        if typed and col.kind != "string" and col.kind != "bool":
            present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            shown = _typed_text(arr)
        else:
            arr = _clean_text(arr, spec.values.get(col.name))
            present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            shown = None  # filled lazily: only rejected rows need their text
        if col.required:
            problems.add(~present, col.name, "", f"missing {col.name}")
        if col.kind == "string":
            # a line break in an id or a status: a quote swallowed rows
            if col.name not in FREE_TEXT and n and line_break_anywhere(arr):
                broken = present & pc.fill_null(pc.match_substring_regex(arr, "[\r\n]"), False).to_numpy(
                    zero_copy_only=False)
                if broken.any():
                    problems.add(broken, col.name, arr.to_pandas(),
                                 f"line break inside {col.name} (an unbalanced quote?)")
            out[col.name] = _to_str_series(arr, col.distinct)
            continue
        if shown is None:
            text = arr.to_pandas()
            shown = text
        if col.kind in ("datetime", "date"):
            parsed, outside = _parse_datetime(arr, spec.date_format,
                                              spec.timezone if col.kind == "datetime" else None)
            problems.add(present & outside, col.name, shown,
                         f"{col.kind} out of range in {col.name} (supported: {DATE_RANGE})")
            problems.add(present & parsed.isna().to_numpy(), col.name, shown,
                         f"unparseable {col.kind} in {col.name}")
            out[col.name] = parsed.dt.normalize() if col.kind == "date" else parsed
            continue
        if col.kind == "bool":
            parsed = _parse_bool(text.astype("str"))
            problems.add(present & parsed.isna().to_numpy(), col.name, shown,
                         f"{col.name} is not true/false")
            out[col.name] = parsed
            continue
        parsed, ambiguous = _parse_float(arr, spec.decimal)
        values = parsed.to_numpy()
        problems.add(present & ambiguous, col.name, shown, f"{col.name} has an ambiguous separator (1,234: 1234 "
                     f"or 1.234?); set inputs.{export.name}.decimal in the config")
        problems.add(present & np.isnan(values), col.name, shown, f"{col.name} is not a number")
        problems.add(present & np.isinf(values), col.name, shown, f"{col.name} is not a finite number")
        with np.errstate(invalid="ignore"):
            if col.kind == "int":
                frac = present & ~np.isnan(values) & (values != np.floor(values))
                problems.add(frac, col.name, shown, f"{col.name} is not a whole number")
                problems.add(np.abs(values) > 2.0 ** 53, col.name, shown, f"{col.name} is too large")
            if col.min is not None:
                problems.add(values < col.min, col.name, shown, f"{col.name} below {col.min:g}")
            if col.max is not None:
                problems.add(values > col.max, col.name, shown, f"{col.name} above {col.max:g}")
        out[col.name] = parsed
    frame = pd.DataFrame(out, copy=False)  # the columns are new: no copy (1.7 ms a batch, 0.4 without)
    frame["_line"] = np.arange(2, n + 2, dtype="int64") if lines is None else np.asarray(lines, dtype="int64")
    bad = problems.mask
    if problems.column is None:  # a clean piece
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    rejects = pd.DataFrame({
        "file": label,
        "line": frame["_line"].to_numpy()[bad],
        "column": problems.column[bad],
        "value": problems.value[bad],
        "reason": problems.reason[bad],
    })
    if export.name == "accounts" and "account_id" in frame:  # whose row it was (see take_rejected_ids)
        rejects[REJECTED_ID] = frame["account_id"].to_numpy(dtype=object)[bad]
    frame = frame.loc[~bad].reset_index(drop=True)
    return frame, rejects


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
HASH_STEP = 1 << 20  # text values hashed at a time: the temporaries stay small
CANDIDATE_STEP = 1 << 22  # rows hashed at a time by _candidates
DEDUPE_STEP = 1 << 18  # candidate rows looked up at a time by _dedupe_rows (the table grows for each block)


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


def _value_codes(values: pd.Series) -> np.ndarray:
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
    h1 = np.zeros(batch.num_rows, dtype=np.uint64)
    h2 = np.full(batch.num_rows, _MISSING_HASH, dtype=np.uint64)
    for name, kind in columns:
        codes = _batch_codes(batch, name, kind).view(np.uint64)
        h1 ^= codes
        h1 *= _GOLDEN
        h2 ^= codes
        h2 *= _SECOND
    return _mix(h1), _mix(h2)


def _candidates(frame: pd.DataFrame, subset: list[str]) -> np.ndarray:
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
        piece = frame.iloc[start:start + step]
        part = np.zeros(len(piece), dtype=np.uint64)
        for name in subset:  # multiply-xor per column, one finalising mix: collisions are checked exactly
            part ^= _value_codes(piece[name]).view(np.uint64)
            part *= _GOLDEN
        h[start:start + step] = _mix(part)
    ordered = np.sort(h)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    # a hash table of the repeated hashes: np.isin would sort all of them again
    return pd.Series(h).isin(repeated).to_numpy() if len(repeated) else np.zeros(len(frame), bool)


def _dedupe(frame: pd.DataFrame, export: Export) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exact duplicate rows and repeated keys go to rejects; of exact duplicates the first occurrence is kept.

    Rows are compared across all files of the export (a folder is one export); each reject names its own
    file and line, and the first occurrence's line (and its file, when that is another one). A key whose rows
    differ keeps none of them: which came first is only file order, and a run must not depend on it.
    """
    cols = [c for c in frame.columns if c not in ("_line", "_file")]
    if not export.key:
        return _dedupe_rows(frame, cols)
    subset = [export.key] if export.key else cols
    candidates = _candidates(frame, subset)  # cheap; only these rows are compared exactly
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
    """_dedupe for an export without a key: of rows equal on ``cols`` the first is kept. The rows that may
    repeat (_candidates) are looked up, a block at a time in order, in a hash table of two 64-bit hashes
    per distinct row, and the reasons are a categorical of one text per row repeated: memory follows the
    distinct rows, not the duplicates (5 M copies of one row took 3 GB compared as frames)."""
    candidates = np.flatnonzero(_candidates(frame, cols))
    if not len(candidates):
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    seen, check = KeyTable(), _Grown("uint64")
    firsts = _Grown("int64")  # the row of each distinct row's first occurrence
    dup_rows, dup_codes = [], []
    for start in range(0, len(candidates), DEDUPE_STEP):
        at = candidates[start:start + DEDUPE_STEP]
        h1 = np.zeros(len(at), dtype=np.uint64)
        h2 = np.full(len(at), _MISSING_HASH, dtype=np.uint64)
        for name in cols:  # column by column, a block at a time: the temporaries stay small
            v = _value_codes(frame[name].iloc[at]).view(np.uint64)
            h1 ^= v
            h1 *= _GOLDEN
            h2 ^= v
            h2 *= _SECOND
        h1, h2 = _mix(h1), _mix(h2)
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


def _check_order(frame: pd.DataFrame, export: Export) -> tuple[pd.DataFrame, pd.DataFrame]:
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


# ----------------------------------------------------------------------------- public API


class _Grown:
    """A NumPy array that grows at its end, its room doubling: appending costs what is appended."""

    def __init__(self, dtype: str | np.dtype) -> None:
        self._data = np.zeros(1024, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        if self.size + len(values) > len(self._data):
            room = np.zeros(max(2 * len(self._data), self.size + len(values)), dtype=self._data.dtype)
            room[:self.size] = self._data[:self.size]
            self._data = room
        self._data[self.size:self.size + len(values)] = values
        self.size += len(values)

    @property
    def values(self) -> np.ndarray:
        return self._data[:self.size]


class KeyTable:
    """Integer codes 0, 1, ... for 64-bit keys, numbered as they are placed (a call's new keys after every
    earlier call's, in the same order for the same keys): an open-addressing hash table held in two NumPy
    arrays and probed for a whole array of keys at once (no Python per key)."""

    def __init__(self, size: int = 1 << 16) -> None:
        self._slot_code = np.full(size, -1, dtype=np.int64)  # code in each slot, -1: empty
        self._slot_key = np.zeros(size, dtype=np.uint64)
        self._count = 0  # keys placed
        self._shift = np.uint64(64 - (size.bit_length() - 1))

    def __len__(self) -> int:
        return self._count

    def codes(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(code of each key, positions in ``keys`` of the keys seen for the first time, in code order). Equal
        keys get one code."""
        keys = np.asarray(keys, dtype=np.uint64)
        if 2 * (len(self) + len(keys)) > len(self._slot_code):  # at most half full: short probes
            self._grow(len(self) + len(keys))
        out = np.full(len(keys), -1, dtype=np.int64)
        mask = np.uint64(len(self._slot_code) - 1)
        slot = (keys >> self._shift) & mask  # keys are well mixed hashes: their top bits are the slot
        pending = np.arange(len(keys))
        placed: list[np.ndarray] = []
        count = len(self)
        while len(pending):
            at = slot[pending].astype(np.int64)
            code = self._slot_code[at]
            empty = code < 0
            found = ~empty & (self._slot_key[at] == keys[pending])
            out[pending[found]] = code[found]
            if empty.any():
                # several pending keys may want one empty slot: each writes its mark there, last first (NumPy
                # assigns in order), so the first of them takes it; the others look again
                want, who = at[empty], pending[empty]
                self._slot_code[want[::-1]] = -2 - who[::-1]
                winners = who[self._slot_code[want] == -2 - who]
                taken = slot[winners].astype(np.int64)
                self._slot_code[want] = -1
                new = count + np.arange(len(winners))
                count += len(winners)
                self._slot_code[taken] = new
                self._slot_key[taken] = keys[winners]
                out[winners] = new
                placed.append(winners)
            moving = ~empty & ~found  # another key there: the next slot
            slot[pending[moving]] = (slot[pending[moving]] + np.uint64(1)) & mask
            pending = pending[out[pending] < 0]
        first = np.concatenate(placed) if placed else np.zeros(0, dtype=np.int64)
        self._count = count
        return out, first

    def _grow(self, wanted: int) -> None:
        """A table of at least twice ``wanted`` slots with the known keys laid out again, in one pass: keys in
        order of their home slot each take the first free slot from there (linear probing's layout); the
        few that run past the end go round to the start, as probing does. Read in the old table's slot
        order the keys come almost sorted by their new home (its top bits are the old home), so the stable
        sort that orders them is nearly one pass (at 4 M keys: 0.02 s, against 0.28 s for keys unordered)."""
        size = len(self._slot_code)
        while size < 2 * wanted:
            size *= 2
        old_code, old_key = self._slot_code, self._slot_key
        self._shift = np.uint64(64 - (size.bit_length() - 1))
        self._slot_code = np.full(size, -1, dtype=np.int64)
        self._slot_key = np.zeros(size, dtype=np.uint64)
        occupied = np.flatnonzero(old_code >= 0)
        if not len(occupied):
            return
        codes, keys = old_code[occupied], old_key[occupied]
        del old_code, old_key
        home = (keys >> self._shift).astype(np.int64)
        order = np.argsort(home, kind="stable")  # keys of one home slot may come in any order
        home, codes, keys = home[order], codes[order], keys[order]
        step = np.arange(len(order))
        at = np.maximum.accumulate(home - step) + step  # no free slot between a key's home and its place
        inside = at < size
        self._slot_code[at[inside]] = codes[inside]
        self._slot_key[at[inside]] = keys[inside]
        past = np.flatnonzero(~inside)  # past the end: the first free slots from the start, in order
        if len(past):
            free = np.flatnonzero(self._slot_code < 0)[:len(past)]
            self._slot_code[free] = codes[past]
            self._slot_key[free] = keys[past]


_CHECK_SEED = 0x2545F4914F6CDD1D  # the codebook's second hash


class _Codebook:
    """The categories of one repeating text column over every batch and file of an export: each batch's
    own categories (its distinct values) become positions in one growing list, so rows keep small integer
    codes, never text. Values are found by their 64-bit text_hash in a KeyTable and checked with a second,
    independently seeded 64-bit hash: two values that share the first (about one pair in 10^7 at a million
    values) are told apart by the second and then looked up as text; taking one for the other would need
    both hashes to agree (about 1 in 10^19 even for such a pair)."""

    def __init__(self) -> None:
        self._table = KeyTable()
        self._values: list[pa.Array] = []  # large_string, in code order
        self._check = _Grown(np.uint64)  # the second hash of each code's value (its size: the values' count)
        self._shared_hash: dict[str, int] = {}  # values whose hash an earlier value has: looked up as text
        self._dtype: pd.CategoricalDtype | None = None

    def codes(self, cat: pd.Series) -> np.ndarray:
        values = pa.array(cat.cat.categories.array)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        values = pc.cast(values, pa.large_string())
        pos, first = self._table.codes(text_hash(values))
        check = text_hash(values, seed=_CHECK_SEED)
        if len(first):
            self._append(values.take(pa.array(first)), check[first])
        other = np.flatnonzero(self._check.values[pos] != check)
        for i in other.tolist():  # rare: another value has this value's first hash
            text = values[i].as_py()
            if text not in self._shared_hash:
                self._shared_hash[text] = len(self)
                self._append(pa.array([text], pa.large_string()), check[i:i + 1])
            pos[i] = self._shared_hash[text]
        lookup = np.append(pos, -1).astype("int32")  # code -1 (missing) reads the last slot
        return lookup[cat.cat.codes.to_numpy()]

    def _append(self, values: pa.Array, check: np.ndarray) -> None:
        self._values.append(values)
        self._check.extend(check)
        if len(self._values) > 32:  # few chunks: the categories are built from them quickly
            self._values = [pa.concat_arrays(self._values)]

    def _all(self) -> pa.ChunkedArray:
        return pa.chunked_array(self._values, pa.large_string())

    def __len__(self) -> int:
        return self._check.size

    @property
    def categories(self) -> pd.Index:
        return self.dtype().categories

    def dtype(self) -> pd.CategoricalDtype:
        """The categorical type of the values so far; the same object until a value is added, so the
        frames of a codebook shared by several exports share their categories (lookups by account id
        are then done once for all of them)."""
        if self._dtype is None or len(self._dtype.categories) != len(self):
            self._dtype = unique_dtype(pd.Index(pd.array(self._all(), dtype="str")))
        return self._dtype

    def recode(self, ids: pd.Series) -> pd.Series:
        """``ids`` of an earlier dtype() of this codebook with the current categories (codes stay: values are
        only ever added at the end)."""
        codes = ids.cat.codes.to_numpy().astype(code_type(len(self)))
        return pd.Series(pd.Categorical.from_codes(codes, dtype=self.dtype(), validate=False),
                         index=ids.index, name=ids.name)


def code_type(categories: int) -> str:
    """The narrowest integer type that holds codes of that many categories (and -1), as pandas keeps them."""
    return "int8" if categories < 127 else "int16" if categories < 32767 else "int32"


class _Rows:
    """An export's rows as compact columns, gathered piece by piece (a batch, or a whole file): repeating
    text as codes into one codebook per column, the rest as typed arrays. A file's pieces are kept apart
    until the file is read to its end, so a file read again another way is not counted twice."""

    def __init__(self, export: Export, spill_parts: int = 0, shared: dict[str, _Codebook] | None = None) -> None:
        self.export = export
        shared = shared or {}
        self.books = {c.name: shared[c.name] if c.name in shared else _Codebook() for c in export.columns
                      if c.kind == "string" and not c.distinct}
        self.pieces: list[tuple[int, dict[str, object]]] = []
        self.staged: list[tuple[int, dict[str, object]]] = []
        self.files: list[str] = []
        self.spill = None  # spill.UsageSpill: the pieces go to disk by account as they come
        if spill_parts:
            from .spill import UsageSpill

            self.spill = UsageSpill(export, spill_parts, self.books)
            self.spill.files = self.files
            self.spill.start_rejects()

    def add(self, frame: pd.DataFrame, file: int) -> None:
        cols: dict[str, object] = {}
        for name in frame.columns:
            values = frame[name]
            if name in self.books:
                codes = self.books[name].codes(values)
                cols[name] = codes.astype(code_type(len(self.books[name])))
            elif values.dtype.kind in "fMi":
                cols[name] = values.to_numpy()
            else:
                cols[name] = values
        cols["_file"] = np.full(len(frame), file, dtype="int16" if file < (1 << 15) else "int32")
        if self.spill is not None:  # on disk in one schema (spill.py); narrower types only in memory
            self.spill.add(cols, file)
            return
        count = cols.get("count")
        if count is not None and len(count):  # counts are whole numbers: 4 bytes hold them exactly
            small = count.astype("float32")
            if np.array_equal(small, count, equal_nan=True):
                cols["count"] = small
        cols["_line"] = narrow_lines(cols["_line"])
        self.staged.append((len(frame), cols))

    def commit(self) -> None:
        self.pieces.extend(self.staged)
        self.staged = []

    def rollback(self) -> None:
        self.staged = []
        if self.spill is not None:
            self.spill.rollback(len(self.files) - 1)

    def frame(self) -> pd.DataFrame:
        """One frame of every committed piece, in order (see assemble)."""
        dtypes = {name: book.dtype() for name, book in self.books.items()}
        dtypes["_file"] = pd.CategoricalDtype(pd.Index(self.files, dtype="str"))
        frame = assemble(self.export, self.pieces, dtypes)
        self.pieces = []
        return frame


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


def _parquet_columns(table: pa.Table, mapped: dict[str, str], path: Path,
                     keep_dictionary: frozenset[str] = frozenset()) -> pa.Table:
    """Dictionary columns as their values (but text in ``keep_dictionary``, which parse_table encodes
    from its dictionary); a column of a type no contract column can be read from stops."""
    for canonical, source in mapped.items():
        column_type = table.column(source).type
        if (pa.types.is_dictionary(column_type) and source in keep_dictionary
                and pa.types.is_string(column_type.value_type)):
            continue
        if pa.types.is_dictionary(column_type):
            table = table.set_column(table.column_names.index(source), source,
                                     pc.cast(table.column(source), column_type.value_type))
            column_type = column_type.value_type
        if not _readable_type(column_type):
            raise InputDataError(f"{path}: column '{source}' has Parquet type {column_type}, which cannot be "
                                 f"read as {canonical}; write it as text, a number or a timestamp.",
                                 file=str(path), column=canonical)
    return table


def _batches(path: Path, export: Export, spec: InputSpec, typed: bool, spans: bool = False,  # noqa: ANN202
             block: int | None = None):
    """(mapping, batches) of one file, streamed; see _csv_batches."""
    if path.name.endswith(".parquet"):
        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(f"{path}: cannot read as Parquet ({exc}).", file=str(path)) from None
        mapped = _map_columns(export, spec, list(pf.schema_arrow.names), path)
        sources = list(dict.fromkeys(mapped.values()))
        for canonical, source in mapped.items():  # a list or struct column: named here, not a KeyError below
            column_type = pf.schema_arrow.field(source).type
            if pa.types.is_dictionary(column_type):
                column_type = column_type.value_type
            if not _readable_type(column_type):
                raise InputDataError(f"{path}: column '{source}' has Parquet type {column_type}, which cannot be "
                                     f"read as {canonical}; write it as text, a number or a timestamp.",
                                     file=str(path), column=canonical)
        # repeating text straight from Parquet's dictionary pages: no hashing of every row
        repeating = frozenset(mapped[c.name] for c in export.columns
                              if c.name in mapped and c.kind == "string" and not c.distinct)
        try:
            pf = pq.ParquetFile(path, read_dictionary=sorted(repeating))
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(f"{path}: cannot read as Parquet ({exc}).", file=str(path)) from None

        def parquet():  # noqa: ANN202
            try:
                for batch in pf.iter_batches(batch_size=1 << 20, columns=sources):
                    yield _parquet_columns(pa.Table.from_batches([batch]), mapped, path, repeating)
            except (OSError, pa.ArrowException) as exc:
                if isinstance(exc, InputDataError):
                    raise
                raise InputDataError(f"{path}: cannot read as Parquet ({exc}).", file=str(path)) from None
        return mapped, parquet()
    if is_json(path):  # JSON lines or an array, nested fields as dotted names (read_json.py)
        return json_batches(path, export, spec, _map_columns)
    spec = file_spec(path, spec)
    spans = spans or bool(spec.skip_rows)  # rows to skip are counted by record: follow the quotes
    plan = _csv_plan(path, export, spec)
    if plan.header_only:
        return plan.mapped, iter(())
    return plan.mapped, _csv_batches(path, export, spec, plan, typed, spans, block)


READ_AHEAD = 2  # batches parsed ahead of the one being worked on
JOIN_WAIT = 2.0  # seconds a reader leaving early waits for the parsing thread (one batch takes a few hundredths)


def _hand(ready: queue.Queue, stop: threading.Event, item: object) -> bool:
    """Queue ``item`` for the reader; False once the reader has left (``stop`` is set)."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def read_ahead(batches: Iterator[pa.Table], depth: int = READ_AHEAD) -> Iterator[pa.Table]:
    """The same batches, parsed by a thread of their own up to ``depth`` ahead: Arrow parses without
    holding Python's lock, so the next batch is parsed on one core while this one is worked on on the
    other (pyarrow's streaming reader does little of that by itself: 1M accounts read in 9.5 s, not 12-17).
    An error while parsing is raised here, at the batch where it happened; leaving early stops the thread."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def hand(item: object) -> bool:
        return _hand(ready, stop, item)

    def parse() -> None:
        try:
            for batch in batches:
                if not hand(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            hand(exc)
            return
        hand(end)

    worker = threading.Thread(target=parse, name="churnscore-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # bounded: a thread blocked in a read (a FIFO, a hung mount) must not hold up a run that is stopping
        worker.join(JOIN_WAIT)
        close = getattr(batches, "close", None)
        if close is not None and not worker.is_alive():  # else the thread still runs it, and ends on ``stop``
            close()


class Prefetch:
    """Every file of a load, parsed in the order they are read by one thread, up to ``depth`` batches ahead
    of the reader and across files: while the reader finishes a file (its last batches, duplicate search,
    spill), the next file's first batches are parsed, and the first file's parsing overlaps nothing else.
    Files are parsed typed (see _batches); a file read any other way is read by its reader. A reader that
    asks for another file than the next, or leaves a file before its end, ends the prefetch: the files
    after are then read by their readers (read_ahead)."""

    def __init__(self, files: list[tuple[Path, Export, InputSpec]], depth: int = READ_AHEAD) -> None:
        self._files = files
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._next = 0  # the file the reader takes next
        self._thread = threading.Thread(target=self._parse, name="churnscore-read-ahead", daemon=True)
        self._thread.start()

    def _hand(self, item: tuple) -> bool:
        return _hand(self._ready, self._stop, item)

    def _parse(self) -> None:
        for k, (path, export, spec) in enumerate(self._files):
            batches = None
            try:
                mapped, batches = _batches(path, export, spec, True)
                if not self._hand((k, "mapped", mapped)):
                    return
                for batch in batches:
                    if not self._hand((k, "batch", batch)):
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
                if not self._hand((k, "error", exc)):
                    return
                continue
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
            if not self._hand((k, "end", None)):
                return

    def _get(self, k: int) -> tuple[str, object]:
        item = self._ready.get()
        if item[0] != k:  # pragma: no cover - the reader takes the files in order
            raise RuntimeError(f"prefetch out of order: file {item[0]} where {k} was expected")
        return item[1], item[2]

    def take(self, path: Path) -> tuple[dict[str, str], Iterator[pa.Table]] | None:
        """(column mapping, batches) of ``path`` when it is the next file parsed here; None otherwise (the
        caller reads it itself). An error met opening or parsing the file is raised as _batches raises it."""
        if self._stop.is_set() or self._next >= len(self._files) or self._files[self._next][0] != path:
            self.close()
            return None
        k = self._next
        self._next += 1
        kind, value = self._get(k)
        if kind == "error":
            raise value  # type: ignore[misc]
        return value, self._stream(k)  # type: ignore[return-value]

    def _stream(self, k: int) -> Iterator[pa.Table]:
        done = False
        try:
            while True:
                kind, value = self._get(k)
                if kind == "end":
                    done = True
                    return
                if kind == "error":
                    done = True
                    raise value  # type: ignore[misc]
                yield value  # type: ignore[misc]
        finally:
            if not done:  # left early: the thread's place among the files is lost
                self.close()

    def close(self) -> None:
        """Stop the thread (it ends after the batch it is parsing). The wait is bounded: a thread blocked in a
        read (a FIFO, a hung mount) is a daemon and is left behind, so a stopped run still ends at once."""
        self._stop.set()
        self._thread.join(JOIN_WAIT)


def _read_into(rows: _Rows, path: Path, export: Export, spec: InputSpec, prefetch: Prefetch | None = None,
               on_rows: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, dict[str, str], int]:
    """Read one file into ``rows`` batch by batch: (rejects in line order, column mapping, rows read).
    ``on_rows`` is told the file's rows read so far after each batch (progress).

    Dates and numbers are converted by the parser; when one value does not convert the file is streamed
    again as text (the value is then a reject); a row with the wrong number of fields (rare, and only
    numbered exactly by a single-threaded read of the whole file) reads the file whole.
    """
    label = str(path)
    rows.files.append(label)
    file = len(rows.files) - 1
    csv = not path.name.endswith(".parquet") and not is_json(path)  # Parquet has no lines: rows 2, 3, ...
    spec = file_spec(path, spec)
    typed, spans, block = True, False, STREAM_BLOCK
    while True:
        rejects: list[pd.DataFrame] = []
        read = 0
        shift = 0  # line breaks inside the values of the file's earlier batches
        try:
            taken = prefetch.take(path) if typed and not spans and prefetch is not None else None
            mapped, batches = taken if taken is not None else _batches(path, export, spec, typed, spans, block)
            for table in (batches if taken is not None else read_ahead(batches)):
                n = table.num_rows
                # one line a record (1 = header), moved on by the lines that quoted values span, if any
                lines = np.arange(read + 2, read + n + 2) + spec.skip_lines
                if LINE_COLUMN in table.column_names:  # JSON: each record's own line
                    lines = table.column(LINE_COLUMN).to_numpy()
                breaks = text_breaks(table) if csv else None
                if shift:
                    lines += shift
                if breaks is not None:
                    lines += breaks_before(breaks)
                    shift += int(breaks.sum())
                frame, rej = parse_table(table, mapped, export, spec, label, lines)
                del table
                rows.add(frame, file)
                if len(rej):
                    rejects.append(rej)
                read += n
                if on_rows is not None:
                    on_rows(read)
        except _Fallback:
            rows.rollback()
            break
        except pa.ArrowInvalid as exc:
            rows.rollback()
            if not spans and _out_of_sync(exc):
                spans = True
                continue
            if _larger_block(exc, block, path):
                block = _larger_block(exc, block, path)
                continue
            if typed and _conversion_error(exc):
                typed = False
                continue
            raise _arrow_error(exc, path, export.name) from None
        except (OSError, EOFError) as exc:
            rows.rollback()
            raise InputDataError(f"{path}: cannot read ({exc}).", file=label) from None
        rows.commit()
        out = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
        return out, mapped, read
    # the whole file, single-threaded where it has rows with the wrong number of fields
    table, mapped, ragged_rows = _read_csv(path, export, spec)
    read = table.num_rows + len(ragged_rows.rows)
    if any(r[0] is None for r in ragged_rows.rows):  # pragma: no cover - _read_csv reads them numbered
        ragged_rows.rejects(path)  # raises
    numbers = np.array([r[0] for r in ragged_rows.rows], dtype="int64")
    kept = np.setdiff1d(np.arange(2, read + 2), numbers)  # the records read, by number (1 = header)
    breaks = text_breaks(table)  # a ragged row holds none: one that spans lines stops the read
    line_of = None  # each record's line, at its number - 2, where values span lines
    if breaks is not None:
        per_record = np.zeros(read, dtype="int64")
        per_record[kept - 2] = breaks
        line_of = np.arange(2, read + 2) + breaks_before(per_record)
    ragged = ragged_rows.rejects(path, line_of)
    lines = (kept if line_of is None else line_of[kept - 2]) + spec.skip_lines
    frame, rejects = parse_table(table, mapped, export, spec, label, lines)
    del table
    rows.add(frame, file)
    rows.commit()
    if len(ragged):
        rejects = pd.concat([ragged, rejects], ignore_index=True).sort_values("line", kind="stable")
        rejects = rejects.reset_index(drop=True).astype({"line": "int64"})
    return rejects, mapped, read


def read_file(path: Path, export: Export, spec: InputSpec) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str], int]:
    """One file of an export: (typed frame labelled with its file, rejects in line order, column mapping,
    rows read). Both engines read files through here (the pandas engine all of an export's files at once)."""
    rows = _Rows(export)
    rejects, mapped, read = _read_into(rows, path, export, spec)
    return rows.frame(), rejects, mapped, read


def read_export(config: Config, name: str, files: list[Path], spill_parts: int = 0,  # noqa: ANN201
                shared: dict[str, _Codebook] | None = None, prefetch: Prefetch | None = None,
                on_rows: Callable[[str, int], None] | None = None):
    """Read all files of one export into one typed frame; returns (frame, rejects, stats).

    With ``spill_parts`` the rows go to disk in that many parts by account (see spill.py) and the result
    is (two dates per account, rejects, stats, the spill). ``shared``: codebooks (by column) this export
    shares with others, so that their categoricals use one set of codes. ``prefetch``: a Prefetch parsing
    these files ahead (see load_all). ``on_rows``: told (export, rows read so far) after each batch."""
    export = EXPORTS[name]
    spec = config.inputs[name]
    rows = _Rows(export, spill_parts, shared)
    rejects = []
    stats = FileStats(name, files)
    try:
        for path in files:
            done = stats.rows_read
            rej, mapped, read = _read_into(rows, path, export, spec, prefetch,
                                           None if on_rows is None else lambda n: on_rows(name, done + n))
            stats.columns = mapped
            stats.rows_read += read
            stats.file_rows[str(path)] = read
            if rows.spill is not None:
                rows.spill.add_rejects(rej)
            else:
                rejects.append(rej)
    except BaseException:
        if rows.spill is not None:
            rows.spill.close()
            rows.spill.rejects.close()
        raise
    problem = export.no_rows_problem(str(files[0])) if stats.rows_read == 0 else None
    if problem is not None:
        if rows.spill is not None:
            rows.spill.close()
            rows.spill.rejects.close()
        raise InputDataError(problem, file=str(files[0]), line=2)
    if rows.spill is not None:  # on disk by account: the duplicate search part by part, the rejects on disk
        rows.spill.finish()
        rows.spill.rejects.finish()
        extra = []
        frame = rows.spill.digest_frame(export.date_column)
    else:
        frame = rows.frame()
        frame, order_rejects = _check_order(frame, export)
        frame, dup_rejects = _dedupe(frame, export)
        extra = [order_rejects, dup_rejects]
    all_rejects = pd.concat([r for r in rejects + extra if len(r)], ignore_index=True) \
        if any(len(r) for r in rejects + extra) else pd.DataFrame(columns=REJECT_COLUMNS)
    all_rejects = take_rejected_ids(all_rejects, stats)
    stats.rows_rejected = len(all_rejects) + (rows.spill.rejects.count if rows.spill is not None else 0)
    if rows.spill is not None:
        return frame, all_rejects, stats, rows.spill
    for col in export.columns:  # absent optional columns: present as all-missing, typed
        if col.name not in frame:
            frame[col.name] = empty_frame(export)[col.name].reindex(frame.index)
    if "count" in frame:
        frame["count"] = fill_counts(frame["count"])
    ordered = [c.name for c in export.columns] + ["_line", "_file"]
    return frame[ordered], all_rejects, stats


def load_all(config: Config, input_dir: str | Path | None = None, *, spill: bool = False,
             on_rows: Callable[[str, int], None] | None = None) -> Loaded:
    """Read every export the config and input folder provide. Only usage is required.

    ``spill``: a large usage export may go to disk by account (Loaded.spilled; see spill.py): for callers
    that read it through Loaded.spilled, as pipeline.score does. ``on_rows``: told (export, rows read so
    far) after each batch (progress on a terminal)."""
    base = Path(input_dir) if input_dir is not None else (
        config.resolve(config.input_dir) if config.input_dir else None)
    if base is not None and not base.is_dir():
        raise InputDataError(f"{base}: input folder not found (--input-dir or input_dir in the config).",
                             file=str(base))
    frames: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    stats: dict[str, FileStats] = {}
    missing: list[str] = []
    spilled: dict = {}
    on_disk: list = []  # (where in the rejects, rejectstore.RejectStore)
    accounts = _Codebook()  # one set of account codes for every export (see _Codebook.dtype)
    found = {name: find_files(config, name, base) for name in EXPORTS}
    for name, export in EXPORTS.items():
        if not found[name] and export.required:
            where = base if base is not None else "the config's inputs"
            raise InputDataError(f"{where}: no {name} export found (looked for {name}.csv, {name}.csv.gz, "
                                 f"{name}.parquet or a folder {name}/); usage is required.", file=str(where))
    # one thread parses every file in turn, ahead of the reading: the reader waited for each file's first
    # batches, and parsing stood still while a file's last ones were worked on (load at 1 M usage rows in
    # alternated runs: 6.4-7.6 s before, 5.3-6.2 s after; at 10 M CSV 9.8 s before, 8.6-9.2 s after)
    prefetch = Prefetch([(path, export, config.inputs[name]) for name, export in EXPORTS.items()
                         for path in found[name]])
    try:
        for name, export in EXPORTS.items():
            files = found[name]
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
    rejects.extend(map_accounts(config, base, frames, stats))  # vendor keys -> account ids (account_map.csv)
    all_rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    return Loaded(frames, all_rejects, stats, missing, spilled=spilled, rejects_on_disk=on_disk)


def parts_to_spill(config: Config, name: str, files: list[Path]) -> int:
    """How many parts the export goes to disk in (0: it stays in memory): usage files over SPILL_BYTES in
    all, unless a mapping file turns its keys into account ids (that needs the whole export at once)."""
    from . import spill as spill_mod

    if name != "usage" or config.inputs[name].account_source:
        return 0
    size = sum(_csv_bytes(p) for p in files)
    return spill_mod.parts_for(size) if size > spill_mod.SPILL_BYTES else 0


CSV_ROW_BYTES = 55  # a usage row as CSV text, to weigh a Parquet file by its rows


def _csv_bytes(path: Path) -> int:
    """What a usage file weighs as CSV text, to choose between memory and disk: a Parquet file by the row
    count in its metadata (60 M rows compress to 4 MB), a gzip file by the larger of 4 times its size and
    the uncompressed size its trailer gives (modulo 4 GiB), a CSV file by its size."""
    size = path.stat().st_size
    if path.name.endswith(".parquet"):
        try:
            return pq.ParquetFile(path).metadata.num_rows * CSV_ROW_BYTES
        except (OSError, pa.ArrowException):
            return size * 4  # the reader names what is wrong with it
    if path.name.endswith(".gz") and size >= 18:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            trailer = int.from_bytes(fh.read(4), "little")
        return max(size * 4, trailer)
    return size
