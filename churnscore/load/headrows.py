"""What a CSV file's first bytes say about reading it, beyond its header: UTF-16 with a byte-order mark
(Excel's "Unicode text"), and header rows after the first (Qualtrics writes three: the column ids, the
question texts, and a row of {"ImportId": ...} objects that also states the time zone of its dates;
SurveyMonkey two: the questions, then "Response" / "Open-Ended Response" / an option under each).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import zoneinfo
from pathlib import Path

from ..config import InputSpec
from .jsonfile import JSON_ENDINGS
from .sniff import HEAD_BYTES, SEPARATORS


def _head(path: Path) -> bytes:
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as fh:
            return fh.read(HEAD_BYTES)
    except OSError:
        return b""  # the reader names the problem


def bom_encoding(head: bytes) -> str | None:
    """"utf-16" for a file starting with a UTF-16 byte-order mark (either byte order), else None."""
    return "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else None


def _import_ids(record: list[str]) -> list[dict] | None:
    """The objects of a Qualtrics ImportId row, or None when ``record`` is not one."""
    cells = [c.strip() for c in record if c.strip()]
    if not cells or not all(c.startswith("{") and '"ImportId"' in c for c in cells):
        return None
    out = []
    for c in cells:
        try:
            out.append(json.loads(c))
        except ValueError:
            return None
    return out


def _surveymonkey_subheader(header: list[str], second: list[str]) -> bool:
    """Whether ``second`` is the second header row of a SurveyMonkey export: under Respondent ID and the other
    response columns nothing, under the questions "Response", "Open-Ended Response" or an option's text."""
    names = [h.strip().lower() for h in header]
    if not {"respondent id", "collector id"} <= set(names) or len(second) < 2:
        return False
    return not second[names.index("respondent id")].strip() and not second[names.index("collector id")].strip()


def file_spec(path: Path, spec: InputSpec) -> InputSpec:
    """``spec`` for reading this file: the encoding a BOM names (unless the config sets one), and the rows
    after the header to skip with the zone they state (unless the config sets inputs.<name>.timezone)."""
    if path.name.endswith(".parquet") or path.name.lower().endswith(JSON_ENDINGS) or spec.skip_rows:
        return spec
    head = _head(path)
    changes: dict = {}
    encoding = spec.encoding or bom_encoding(head)
    if encoding and not spec.encoding:
        changes["encoding"] = encoding
    text = head.decode(encoding or "utf-8-sig", errors="replace")
    if encoding == "utf-16" and text.startswith("\ufeff"):
        text = text[1:]
    first = text.split("\n", 1)[0]
    sep = spec.sep or max(SEPARATORS, key=lambda s: first.count(s))
    lines = io.StringIO(text)
    reader = csv.reader(lines, delimiter=sep)
    ids = None
    try:
        header = next(reader)
        header_lines = reader.line_num
        second = next(reader)
        second_lines = reader.line_num
        if _surveymonkey_subheader(header, second):
            changes["skip_rows"] = 1
            changes["skip_lines"] = second_lines - header_lines
        else:
            ids = _import_ids(next(reader))
    except (StopIteration, csv.Error):
        pass
    if ids is not None:
        changes["skip_rows"] = 2
        changes["skip_lines"] = reader.line_num - header_lines
        zones = {str(o["timeZone"]) for o in ids if isinstance(o, dict) and o.get("timeZone")}
        if len(zones) == 1 and not spec.timezone:
            zone = zones.pop()
            zone = "UTC" if zone.upper() == "Z" else zone
            try:
                zoneinfo.ZoneInfo(zone)
                changes["timezone"] = zone
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass  # a zone Python does not know: the times are read as UTC
    return dataclasses.replace(spec, **changes) if changes else spec
