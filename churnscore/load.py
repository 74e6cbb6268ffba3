"""Read each export, map its columns onto the contract, parse types, and collect the rows that break it.

Every row read ends up either in a typed frame or in the rejects table (file, line, column, value,
reason); nothing is dropped silently. Line numbers count the header as line 1.
"""

from __future__ import annotations

import glob as globmod
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .config import Config, InputSpec
from .contract import EXPORTS, FALSE_WORDS, FILE_ENDINGS, TRUE_WORDS, Export
from .errors import InputDataError

REJECT_COLUMNS = ["file", "line", "column", "value", "reason"]
SEPARATORS = [",", ";", "\t", "|"]


@dataclass
class FileStats:
    """What was read from one export (possibly several files)."""

    export: str
    files: list[Path]
    rows_read: int = 0
    rows_rejected: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source column name


@dataclass
class Loaded:
    """All exports, typed, plus what was rejected and what was missing."""

    frames: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    stats: dict[str, FileStats]
    missing: list[str]
    after_as_of: dict[str, int] = field(default_factory=dict)  # rows dated after the as-of date, per export
    unknown_rows: dict[str, int] = field(default_factory=dict)  # rows for ids not in accounts, per export

    def frame(self, name: str) -> pd.DataFrame:
        """The typed frame of an export, or an empty one with the contract's columns when it was absent."""
        if name in self.frames:
            return self.frames[name]
        return empty_frame(EXPORTS[name])


def empty_frame(export: Export) -> pd.DataFrame:
    dtypes = {"string": "str", "datetime": "datetime64[ns]", "date": "datetime64[ns]",
              "float": "float64", "int": "float64", "bool": "float64"}
    frame = pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.kind]) for c in export.columns})
    if "count" in frame:
        frame["count"] = frame["count"].astype("int64")
    frame["_line"] = pd.Series([], dtype="int64")
    frame["_file"] = pd.Series([], dtype="str")
    return frame


# ----------------------------------------------------------------------------- finding files


def find_files(config: Config, name: str, input_dir: Path | None) -> list[Path]:
    """The files of one export: the config's path (file, folder or glob) or <input_dir>/<name>.<ending>."""
    spec = config.inputs[name]
    if spec.path:
        target = config.resolve(spec.path)
        if any(ch in str(spec.path) for ch in "*?["):
            files = sorted(Path(p) for p in globmod.glob(str(target)))
            if not files:
                raise InputDataError(f"{name}: the glob '{spec.path}' matches no file.", file=str(target))
            return files
        if target.is_dir():
            return _folder_files(target, name)
        if not target.exists():
            raise InputDataError(f"{target}: no such file (inputs.{name}.path in the config).",
                                 file=str(target))
        return [target]
    if input_dir is None:
        return []
    for ending in FILE_ENDINGS:
        candidate = input_dir / f"{name}{ending}"
        if candidate.is_file():
            return [candidate]
    folder = input_dir / name
    if folder.is_dir():
        return _folder_files(folder, name)
    return []


def _folder_files(folder: Path, name: str) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(FILE_ENDINGS))
    if not files:
        raise InputDataError(f"{folder}: folder for '{name}' has no .csv, .csv.gz or .parquet file.",
                             file=str(folder))
    return files


# ----------------------------------------------------------------------------- reading raw text


def _open_text_head(path: Path, nbytes: int = 65536) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(nbytes)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None


def _decode(head: bytes, path: Path, spec: InputSpec, name: str) -> str:
    if spec.encoding:
        try:
            return head.decode(spec.encoding, errors="strict")
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputDataError(f"{path}: cannot decode with encoding '{spec.encoding}' "
                                 f"(inputs.{name}.encoding): {exc}.", file=str(path)) from None
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multi-byte character cut by the sample's end
            return head[: exc.start].decode("utf-8-sig")
        line = head[: exc.start].count(b"\n") + 1
        raise InputDataError(
            f"{path}:{line}: not UTF-8 (byte 0x{head[exc.start]:02x}); save it as UTF-8 or set "
            f"inputs.{name}.encoding (e.g. latin-1) in the config.", file=str(path), line=line) from None


def _header_and_sep(text: str, path: Path, spec: InputSpec) -> tuple[list[str], str]:
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise InputDataError(f"{path}: empty file (no header row).", file=str(path), line=1)
    sep = spec.sep or max(SEPARATORS, key=lambda s: first.count(s))
    header = next(iter(pd.read_csv(io.StringIO(first), sep=sep, header=None, dtype=str,
                                   keep_default_na=False).itertuples(index=False)))
    return [str(h) for h in header], sep


def _map_columns(export: Export, spec: InputSpec, header: list[str], path: Path) -> dict[str, str]:
    """canonical -> source header name, case- and space-insensitive."""
    by_norm: dict[str, str] = {}
    for h in header:
        by_norm.setdefault(h.strip().lower(), h)
    mapped: dict[str, str] = {}
    for col in export.columns:
        wanted = spec.columns.get(col.name, col.name)
        source = by_norm.get(wanted.strip().lower())
        if source is not None:
            mapped[col.name] = source
        elif col.required:
            via = f" (mapped from '{wanted}')" if wanted != col.name else ""
            found = ", ".join(h.strip() for h in header) or "none"
            sep_hint = ""
            if len(header) == 1 and any(s in header[0] for s in SEPARATORS):
                sep_hint = " The separator looks wrong; set inputs.%s.sep in the config." % export.name
            raise InputDataError(
                f"{path}: required column '{col.name}'{via} not found; columns found: {found}.{sep_hint}",
                file=str(path), line=1, column=col.name)
    return mapped


def _read_csv(path: Path, export: Export, spec: InputSpec) -> tuple[pa.Table, dict[str, str]]:
    text = _decode(_open_text_head(path), path, spec, export.name)
    header, sep = _header_and_sep(text, path, spec)
    mapped = _map_columns(export, spec, header, path)
    sources = list(dict.fromkeys(mapped.values()))
    read = pacsv.ReadOptions(encoding=spec.encoding or "utf8", block_size=1 << 24)
    parse = pacsv.ParseOptions(delimiter=sep, newlines_in_values=False)
    convert = pacsv.ConvertOptions(
        include_columns=sources,
        column_types={s: pa.string() for s in sources},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    try:
        table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "UTF8" in msg or "utf8" in msg.lower():
            raise InputDataError(f"{path}: not UTF-8; save it as UTF-8 or set inputs.{export.name}.encoding "
                                 "(e.g. latin-1) in the config.", file=str(path)) from None
        raise InputDataError(f"{path}: cannot parse as CSV ({msg.splitlines()[0]}).", file=str(path)) from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None
    return table, mapped


def _read_parquet(path: Path, export: Export, spec: InputSpec) -> tuple[pa.Table, dict[str, str]]:
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot read as Parquet ({exc}).", file=str(path)) from None
    mapped = _map_columns(export, spec, list(schema.names), path)
    table = pq.read_table(path, columns=list(dict.fromkeys(mapped.values())))
    return table, mapped


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


def _to_str_series(arr: pa.ChunkedArray) -> pd.Series:
    return arr.to_pandas().astype("str").where(pc.is_valid(arr).to_numpy(zero_copy_only=False))


def _parse_datetime(arr: pa.ChunkedArray, fmt: str | None) -> pd.Series:
    """To tz-naive UTC datetime64[ns]; unparseable values become NaT (the caller rejects them)."""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        s = arr.to_pandas()
        s = pd.to_datetime(s, utc=True)
        return s.dt.tz_localize(None).astype("datetime64[ns]")
    if fmt is None:
        for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
            try:
                out = pc.cast(arr, target).to_pandas()
                if getattr(out.dt, "tz", None) is not None:
                    out = out.dt.tz_localize(None)
                return out.astype("datetime64[ns]")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    s = arr.to_pandas()
    if fmt is None:
        parsed = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(s, format=fmt, utc=True, errors="coerce")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _parse_float(arr: pa.ChunkedArray) -> pd.Series:
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return pc.cast(arr, pa.float64()).to_pandas()
    try:
        return pc.cast(arr, pa.float64()).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(arr.to_pandas(), errors="coerce").astype("float64")


def _parse_bool(text: pd.Series) -> pd.Series:
    low = text.str.lower()
    out = pd.Series(np.nan, index=text.index)
    out[low.isin(TRUE_WORDS)] = 1.0
    out[low.isin(FALSE_WORDS)] = 0.0
    return out


@dataclass
class _Problems:
    """Row-level contract breaks of one file; the first problem of a row is the one recorded."""

    mask: np.ndarray
    column: np.ndarray
    value: np.ndarray
    reason: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "_Problems":
        return cls(np.zeros(n, bool), np.full(n, None, object), np.full(n, None, object),
                   np.full(n, None, object))

    def add(self, bad: np.ndarray, column: str, values: pd.Series | np.ndarray, reason: str) -> None:
        new = bad & ~self.mask
        if not new.any():
            return
        self.mask |= new
        self.column[new] = column
        vals = np.asarray(values, dtype=object)
        self.value[new] = vals[new]
        self.reason[new] = reason


def parse_table(table: pa.Table, mapped: dict[str, str], export: Export, spec: InputSpec,
                label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed frame of the rows that keep the contract, and the rejects of the others."""
    n = table.num_rows
    problems = _Problems.empty(n)
    out: dict[str, pd.Series] = {}
    for col in export.columns:
        if col.name not in mapped:
            continue
        arr = table.column(mapped[col.name])
        typed = (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)
                 or pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type))
        if typed and col.kind != "string" and col.kind != "bool":
            present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            shown: pd.Series | np.ndarray = np.full(n, "", object)
        else:
            arr = _clean_text(arr, spec.values.get(col.name))
            present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            shown = None  # filled lazily: only rejected rows need their text
        if col.required:
            problems.add(~present, col.name, np.full(n, "", object), f"missing {col.name}")
        if col.kind == "string":
            out[col.name] = _to_str_series(arr)
            continue
        if shown is None:
            shown = arr.to_pandas()
        if col.kind in ("datetime", "date"):
            parsed = _parse_datetime(arr, spec.date_format)
            problems.add(present & parsed.isna().to_numpy(), col.name, shown,
                         f"unparseable {col.kind} in {col.name}")
            out[col.name] = parsed.dt.normalize() if col.kind == "date" else parsed
            continue
        if col.kind == "bool":
            parsed = _parse_bool(shown.astype("str"))
            problems.add(present & parsed.isna().to_numpy(), col.name, shown,
                         f"{col.name} is not true/false")
            out[col.name] = parsed
            continue
        parsed = _parse_float(arr)
        values = parsed.to_numpy()
        problems.add(present & np.isnan(values), col.name, shown, f"{col.name} is not a number")
        with np.errstate(invalid="ignore"):
            if col.kind == "int":
                frac = present & ~np.isnan(values) & (values != np.floor(values))
                problems.add(frac, col.name, shown, f"{col.name} is not a whole number")
            if col.min is not None:
                problems.add(values < col.min, col.name, shown, f"{col.name} below {col.min:g}")
            if col.max is not None:
                problems.add(values > col.max, col.name, shown, f"{col.name} above {col.max:g}")
        out[col.name] = parsed
    frame = pd.DataFrame(out)
    frame["_line"] = np.arange(2, n + 2, dtype="int64")
    bad = problems.mask
    rejects = pd.DataFrame({
        "file": label,
        "line": frame["_line"].to_numpy()[bad],
        "column": problems.column[bad],
        "value": problems.value[bad],
        "reason": problems.reason[bad],
    })
    frame = frame.loc[~bad].reset_index(drop=True)
    return frame, rejects


def _dedupe(frame: pd.DataFrame, export: Export) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exact duplicate rows and repeated keys go to rejects; the first occurrence is kept.

    Rows are compared across all files of the export (a folder is one export); each reject names its own
    file and line, and the first occurrence's line (and its file, when that is another one).
    """
    cols = [c for c in frame.columns if c not in ("_line", "_file")]
    subset = [export.key] if export.key else cols
    dup = frame.duplicated(subset=subset, keep="first")
    if not dup.any():
        return frame, pd.DataFrame(columns=REJECT_COLUMNS)
    rows = frame.loc[dup]
    involved = frame.loc[frame.duplicated(subset=subset, keep=False)]
    grouped = involved.groupby(subset, dropna=False, sort=False)
    first_line = grouped["_line"].transform("first").loc[rows.index].astype("int64").astype(str)
    first_file = grouped["_file"].transform("first").loc[rows.index].astype(str)
    where = "line " + first_line
    where = where.where(first_file == rows["_file"], where + " of " + first_file)
    if export.key:
        exact = frame.duplicated(subset=cols, keep=False).loc[dup].to_numpy()
        reason = pd.Series(np.where(exact, "duplicate row", f"duplicate {export.key}"), index=rows.index)
        reason = reason + " (first at " + where + ")"
        column, value = export.key, rows[export.key].to_numpy()
    else:
        reason = "duplicate row (same as " + where + ")"
        column, value = "", ""
    rejects = pd.DataFrame({"file": rows["_file"].to_numpy(), "line": rows["_line"].to_numpy(), "column": column,
                            "value": value, "reason": reason.to_numpy()})
    return frame.loc[~dup].reset_index(drop=True), rejects


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
    rejects = pd.DataFrame({"file": rows["_file"].to_numpy(), "line": rows["_line"].to_numpy(), "column": second,
                            "value": rows[second].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                            "reason": f"{second} before {first}"})
    return frame.loc[~bad].reset_index(drop=True), rejects


# ----------------------------------------------------------------------------- public API


def read_export(config: Config, name: str, files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame, FileStats]:
    """Read all files of one export into one typed frame; returns (frame, rejects, stats)."""
    export = EXPORTS[name]
    spec = config.inputs[name]
    frames, rejects = [], []
    stats = FileStats(name, files)
    for path in files:
        if path.name.endswith(".parquet"):
            table, mapped = _read_parquet(path, export, spec)
        else:
            table, mapped = _read_csv(path, export, spec)
        stats.columns = mapped
        stats.rows_read += table.num_rows
        frame, rej = parse_table(table, mapped, export, spec, str(path))
        frame["_file"] = str(path)
        frames.append(frame)
        rejects.append(rej)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if export.required and stats.rows_read == 0:
        raise InputDataError(f"{files[0]}: the {name} export has a header but no rows; "
                             f"{name} is required.", file=str(files[0]), line=2)
    frame, order_rejects = _check_order(frame, export)
    frame, dup_rejects = _dedupe(frame, export)
    extra = [order_rejects, dup_rejects]
    all_rejects = pd.concat([r for r in rejects + extra if len(r)], ignore_index=True) \
        if any(len(r) for r in rejects + extra) else pd.DataFrame(columns=REJECT_COLUMNS)
    stats.rows_rejected = len(all_rejects)
    for col in export.columns:  # absent optional columns: present as all-missing, typed
        if col.name not in frame:
            frame[col.name] = empty_frame(export)[col.name].reindex(frame.index)
    if "count" in frame:
        frame["count"] = frame["count"].fillna(1).astype("int64")
    ordered = [c.name for c in export.columns] + ["_line", "_file"]
    return frame[ordered], all_rejects, stats


def load_all(config: Config, input_dir: str | Path | None = None) -> Loaded:
    """Read every export the config and input folder provide. Only usage is required."""
    base = Path(input_dir) if input_dir is not None else (
        config.resolve(config.input_dir) if config.input_dir else None)
    if base is not None and not base.is_dir():
        raise InputDataError(f"{base}: input folder not found (--input-dir or input_dir in the config).",
                             file=str(base))
    frames: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    stats: dict[str, FileStats] = {}
    missing: list[str] = []
    for name, export in EXPORTS.items():
        files = find_files(config, name, base)
        if not files:
            if export.required:
                where = base if base is not None else "the config's inputs"
                raise InputDataError(f"{where}: no {name} export found (looked for {name}.csv, {name}.csv.gz, "
                                     f"{name}.parquet or a folder {name}/); usage is required.",
                                     file=str(where))
            missing.append(name)
            continue
        frame, rej, st = read_export(config, name, files)
        frames[name], stats[name] = frame, st
        if len(rej):
            rejects.append(rej)
    all_rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    return Loaded(frames, all_rejects, stats, missing)
