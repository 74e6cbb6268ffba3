"""Reading a Parquet file in batches, repeating text straight from its dictionary pages."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import InputSpec
from ..contract import Export
from ..errors import InputDataError
from .sniff import map_columns


def _readable_type(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
            or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_timestamp(t)
            or pa.types.is_date(t) or pa.types.is_boolean(t) or pa.types.is_null(t))


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


def parquet_batches(path: Path, export: Export, spec: InputSpec):  # noqa: ANN201
    """(column mapping, batches of about a million rows) of a Parquet file; a column of a type no contract
    column can be read from stops before the first batch."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot read as Parquet ({exc}).", file=str(path)) from None
    mapped = map_columns(export, spec, list(pf.schema_arrow.names), path)
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
