"""Reading one file, and all files of one export, into typed frames and rejects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..config import Config, InputSpec
from ..contract import EXPORTS, Export
from ..errors import InputDataError
from .codes import Codebook
from .csvfile import Attempt, Fallback, cannot_read, csv_batches, csv_plan, read_csv
from .duplicates import check_order, dedupe
from .frames import empty_frame, fill_counts
from .headrows import file_spec
from .jsonfile import LINE_COLUMN, is_json, json_batches
from .lines import breaks_before, text_breaks
from .parquetfile import parquet_batches
from .parse import parse_table
from .readahead import Prefetch, read_ahead
from .rejects import REJECT_COLUMNS
from .result import FileStats, take_rejected_ids
from .rows import Rows
from .sniff import map_columns


def _read_into(rows: Rows, path: Path, export: Export, spec: InputSpec, prefetch: Prefetch | None = None,
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
    attempt = Attempt.first()
    while True:
        rejects: list[pd.DataFrame] = []
        read = 0
        shift = 0  # line breaks inside the values of the file's earlier batches
        try:
            taken = prefetch.take(path) if attempt.typed and not attempt.spans and prefetch is not None else None
            mapped, batches = taken if taken is not None else open_batches(path, export, spec, attempt.typed,
                                                                           attempt.spans, attempt.block)
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
        except Fallback:
            rows.rollback()
            break
        except pa.ArrowInvalid as exc:
            rows.rollback()
            attempt = attempt.after(exc, path, export.name)
            continue
        except (OSError, EOFError) as exc:
            rows.rollback()
            raise cannot_read(exc, path) from None
        rows.commit()
        out = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
        return out, mapped, read
    # the whole file, single-threaded where it has rows with the wrong number of fields
    table, mapped, ragged_rows = read_csv(path, export, spec)
    read = table.num_rows + len(ragged_rows.rows)
    if any(r[0] is None for r in ragged_rows.rows):  # pragma: no cover - read_csv reads them numbered
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


def open_batches(path: Path, export: Export, spec: InputSpec, typed: bool, spans: bool = False,  # noqa: ANN202
                 block: int | None = None):
    """(column mapping, batches) of one file, streamed, by its format: Parquet, JSON (lines, an array, a zip
    of them) or CSV (``typed``, ``spans``, ``block``: see csvfile.Attempt and csv_batches)."""
    if path.name.endswith(".parquet"):
        return parquet_batches(path, export, spec)
    if is_json(path):  # JSON lines or an array, nested fields as dotted names (jsonfile.py)
        return json_batches(path, export, spec, map_columns)
    spec = file_spec(path, spec)
    spans = spans or bool(spec.skip_rows)  # rows to skip are counted by record: follow the quotes
    plan = csv_plan(path, export, spec)
    if plan.header_only:
        return plan.mapped, iter(())
    return plan.mapped, csv_batches(path, export, spec, plan, typed, spans, block)


def read_file(path: Path, export: Export, spec: InputSpec) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str], int]:
    """One file of an export: (typed frame labelled with its file, rejects in line order, column mapping,
    rows read). Both engines read files through here (the pandas engine all of an export's files at once)."""
    rows = Rows(export)
    rejects, mapped, read = _read_into(rows, path, export, spec)
    return rows.frame(), rejects, mapped, read


def read_export(config: Config, name: str, files: list[Path], spill_parts: int = 0,  # noqa: ANN201
                shared: dict[str, Codebook] | None = None, prefetch: Prefetch | None = None,
                on_rows: Callable[[str, int], None] | None = None):
    """Read all files of one export into one typed frame; returns (frame, rejects, stats).

    With ``spill_parts`` the rows go to disk in that many parts by account (see spill.py) and the result
    is (two dates per account, rejects, stats, the spill). ``shared``: codebooks (by column) this export
    shares with others, so that their categoricals use one set of codes. ``prefetch``: a Prefetch parsing
    these files ahead (see load_all). ``on_rows``: told (export, rows read so far) after each batch."""
    export = EXPORTS[name]
    spec = config.inputs[name]
    rows = Rows(export, spill_parts, shared)
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
        frame, order_rejects = check_order(frame, export)
        frame, dup_rejects = dedupe(frame, export)
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
