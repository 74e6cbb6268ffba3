"""JSON exports: JSON lines (.jsonl, .ndjson, or .json holding one object a line) or one array (.json), plain or
gzipped, read in blocks of records so that memory stays bounded like CSV's (an array file is read whole); and a
.zip of such files (Amplitude's export: gzipped JSON lines), its members read in name order as one file whose
lines count on from member to member (a reject's line is that count: the first member's lines, then the next's).

Nested objects are flattened into dotted names, so a mapping can name ``properties.time`` or
``properties.distinct_id`` (Mixpanel's raw export). Each batch carries the line of every record (``_json_line``,
1 = the first line) so that rejects name the file and line; a line that is not JSON stops the run naming it.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ..config import InputSpec
from ..contract import Export
from ..errors import InputDataError

JSON_ENDINGS = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz", ".zip")
MEMBER_ENDINGS = JSON_ENDINGS[:-1]  # the files of a zip that are read
BLOCK_BYTES = 1 << 24  # bytes of JSON lines per batch
LINE_COLUMN = "_json_line"


def is_json(path: Path) -> bool:
    return path.name.lower().endswith(JSON_ENDINGS)


def _open(path: Path):  # noqa: ANN202 - a binary file object
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


class _Counted:
    """A binary file whose lines are counted as they are read (a zip member's, for the next member's first line)."""

    def __init__(self, fh) -> None:  # noqa: ANN001
        self.fh, self.newlines, self.last = fh, 0, b"\n"

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        if data:
            self.newlines += data.count(b"\n")
            self.last = data[-1:]
        return data

    @property
    def lines(self) -> int:
        return self.newlines + (self.last != b"\n")


def zip_members(path: Path) -> list[str]:
    """The JSON files of a zip (folders and other files passed over), in name order."""
    with zipfile.ZipFile(path) as zf:
        return sorted(n for n in zf.namelist() if not n.endswith("/") and n.lower().endswith(MEMBER_ENDINGS))


def open_member(zf: zipfile.ZipFile, name: str):  # noqa: ANN201 - a binary file object
    fh = zf.open(name)
    return gzip.GzipFile(fileobj=fh) if name.lower().endswith(".gz") else fh


def _zip_blocks(path: Path, block: int) -> Iterator[pa.Table]:
    members = zip_members(path)
    if not members:
        raise InputDataError(f"{path}: the zip holds no JSON file (.json, .jsonl, .ndjson, each .gz too).",
                             file=str(path))
    start = 1
    with zipfile.ZipFile(path) as zf:
        for name in members:
            with open_member(zf, name) as raw:
                fh = _Counted(raw)
                for lines, numbers in _line_blocks(fh, block, start):
                    yield _arrow_lines(lines, numbers, path).append_column(LINE_COLUMN, pa.array(numbers))
                start += fh.lines


def _line_blocks(fh, block: int, start: int = 1) -> Iterator[tuple[list[bytes], np.ndarray]]:  # noqa: ANN001
    """Whole lines of about ``block`` bytes at a time, without the blank ones, and their line numbers (the first
    is ``start``)."""
    first, rest = start, b""
    while True:
        data = fh.read(block)
        if data:
            data = rest + data
            cut = data.rfind(b"\n")
            if cut < 0:  # a line longer than a block: read on
                rest = data
                continue
            rest, data = data[cut + 1:], data[:cut]
        elif rest:
            data, rest = rest, b""
        else:
            return
        lines = data.split(b"\n")
        if first == start and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]
        numbers = np.arange(first, first + len(lines), dtype="int64")
        first += len(lines)
        keep = [k for k, line in enumerate(lines) if line.strip()]
        if keep:
            yield [lines[k] for k in keep], numbers[keep]


def _records_table(records: list, numbers: np.ndarray, path: Path) -> pa.Table:
    """A table of Python records (flattened to dotted names, values as text where they are not numbers)."""
    rows = []
    for record, number in zip(records, numbers):
        if not isinstance(record, dict):
            raise InputDataError(f"{path}:{number}: a JSON {type(record).__name__}, not an object; each record "
                                 "must be an object ({...}).", file=str(path), line=int(number))
        rows.append(_flat(record))
    names = list(dict.fromkeys(k for row in rows for k in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kinds = {type(v) for v in values if v is not None}
        if kinds and kinds <= {int, float} and bool not in kinds:
            columns[name] = pa.array([None if v is None else float(v) for v in values], pa.float64()) \
                if float in kinds else pa.array(values, pa.int64())
        else:
            columns[name] = pa.array([None if v is None else _text(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(rows))})


def _text(value) -> str:  # noqa: ANN001
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def _python_lines(lines: list[bytes], numbers: np.ndarray, path: Path) -> pa.Table:
    """The lines parsed one by one: slower, and names a line that is not JSON."""
    records = []
    for line, number in zip(lines, numbers):
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            col = getattr(exc, "colno", None)
            where = f" at column {col}" if col else ""
            raise InputDataError(f"{path}:{number}: not valid JSON ({msg}{where}); fix or remove the line.",
                                 file=str(path), line=int(number)) from None
    return _records_table(records, numbers, path)


def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _arrow_lines(lines: list[bytes], numbers: np.ndarray, path: Path) -> pa.Table:
    data = b"\n".join(lines) + b"\n"
    try:
        read = pajson.ReadOptions(use_threads=False, block_size=max(len(data), 1 << 20))
        return _flatten(pajson.read_json(io.BytesIO(data), read_options=read))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _python_lines(lines, numbers, path)  # a bad line, or a field whose type changes between lines


def _blocks(path: Path, block: int) -> Iterator[pa.Table]:
    """Tables of the file's records, each with their lines in LINE_COLUMN."""
    try:
        if path.name.lower().endswith(".zip"):
            yield from _zip_blocks(path, block)
            return
        with _open(path) as fh:
            head = fh.read(4096)
            start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if start == b"[":  # one array: read whole (a JSON lines export is the way to bounded memory)
            with _open(path) as fh:
                try:
                    records = json.load(io.TextIOWrapper(fh, encoding="utf-8-sig"))
                except ValueError as exc:
                    line = getattr(exc, "lineno", None)
                    where = f":{line}" if line else ""
                    raise InputDataError(f"{path}{where}: not valid JSON ({getattr(exc, 'msg', exc)}); fix the "
                                         "file.", file=str(path), line=line) from None
            step = 100_000
            for k in range(0, len(records), step):  # an array's records are numbered 1, 2, ... (not lines)
                part = records[k:k + step]
                numbers = np.arange(k + 1, k + 1 + len(part), dtype="int64")
                yield _records_table(part, numbers, path).append_column(LINE_COLUMN, pa.array(numbers))
            return
        with _open(path) as fh:
            for lines, numbers in _line_blocks(fh, block):
                yield _arrow_lines(lines, numbers, path).append_column(LINE_COLUMN, pa.array(numbers))
    except (OSError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None


def _as_read(arr: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Numbers that are times (epoch seconds or milliseconds) as text, so that the time parser sees them as
    such; lists and other nested values as JSON text."""
    t = arr.type
    if kind in ("datetime", "date") and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return pc.cast(arr, pa.string())
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t) or pa.types.is_map(t):
        return pa.chunked_array([pa.array([None if v is None else json.dumps(v) for v in arr.to_pylist()],
                                          pa.string())])
    if pa.types.is_null(t):
        return pc.cast(arr, pa.string())
    return arr


def json_batches(path: Path, export: Export, spec: InputSpec,
                 map_columns: Callable[..., dict[str, str]], block: int = BLOCK_BYTES,
                 ) -> tuple[dict[str, str], Iterator[pa.Table]]:
    """(canonical -> source mapping, batches holding the mapped source columns and LINE_COLUMN). The mapping is
    made from the first block's fields; a mapped optional field a later block lacks is missing there."""
    blocks = _blocks(path, block)
    first = next(blocks, None)
    if first is None:
        raise InputDataError(f"{path}: empty file (no JSON records).", file=str(path), line=1)
    fields = [n for n in first.column_names if n != LINE_COLUMN]
    mapped = map_columns(export, spec, fields, path)
    kinds = {}
    for col in export.columns:
        if col.name in mapped:
            kinds.setdefault(mapped[col.name], col.kind)

    def select(table: pa.Table) -> pa.Table:
        n = table.num_rows
        cols = {}
        for source, kind in kinds.items():
            arr = table.column(source) if source in table.column_names else pa.chunked_array([pa.nulls(n)])
            cols[source] = _as_read(arr, kind)
        cols[LINE_COLUMN] = table.column(LINE_COLUMN)
        return pa.table(cols)

    def batches() -> Iterator[pa.Table]:
        yield select(first)
        for table in blocks:
            yield select(table)

    return mapped, batches()
