"""What a CSV file's first bytes say: its encoding, its separator, its header and how the header's columns
map onto the contract's."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd

from ..config import InputSpec
from ..contract import Export
from ..errors import InputDataError

SEPARATORS = [",", ";", "\t", "|"]  # tried in this order: the one the header line holds most of
HEAD_BYTES = 65536  # bytes of a file read to find its encoding, separator and header


def _open(path: Path):  # noqa: ANN202 - a binary file object, gzip or plain
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def read_head(path: Path, nbytes: int = HEAD_BYTES) -> bytes:
    """The first ``nbytes`` bytes of a file (uncompressed when it is gzipped)."""
    try:
        with _open(path) as fh:
            return fh.read(nbytes)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc}).", file=str(path)) from None


def not_utf8(path: Path, name: str) -> InputDataError:
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


def decode_head(head: bytes, path: Path, spec: InputSpec, name: str, complete: bool = False) -> str:
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
        raise not_utf8(path, name) from None


def header_and_sep(text: str, path: Path, spec: InputSpec) -> tuple[list[str], str]:
    """The header row's names and the separator: the config's, or else the one of SEPARATORS the first line
    holds most of."""
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


def shown_sep(sep: str) -> str:
    """A separator as messages name it ('tab' or quoted)."""
    return "tab" if sep == "\t" else f"'{sep}'"


def map_columns(export: Export, spec: InputSpec, header: list[str], path: Path,
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
                tried = f"{shown_sep(spec.sep)} from the config" if spec.sep else "',', ';', tab and '|' tried"
                sep_hint = (f" Only one column was found, so the separator looks wrong ({tried}); "
                            f"set inputs.{export.name}.sep in the config.")
            raise InputDataError(
                f"{path}: required column '{col.name}'{via} not found; columns found: {found}.{sep_hint}",
                file=str(path), line=1, column=col.name)
    return mapped
