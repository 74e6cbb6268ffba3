"""JSON exports: JSON lines (plain, gzipped, .ndjson, .json) and one array, nested fields by dotted name, epoch
seconds or milliseconds, rejects naming file and line, and a line that is not JSON stopping the run by name."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import config, write_text

from churnscore.errors import InputDataError
from churnscore.load import load_all

NESTED = {"usage": {"columns": {"account_id": "properties.distinct_id", "timestamp": "properties.time",
                                "event": "event", "duration_seconds": "properties.$duration"}}}
RECORDS = [
    {"event": "login", "properties": {"time": 1788945000, "distinct_id": "A001"}},
    {"event": "report_created", "properties": {"time": 1789119000123, "distinct_id": "A001", "$duration": 45.5}},
    {"event": "login", "properties": {"time": "2026-10-30T08:15:00+01:00", "distinct_id": "A002",
                                      "tags": ["a", "b"]}},
    {"event": "login", "properties": {"time": "yesterday", "distinct_id": "A002"}},
]


def lines_text(records: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def usage_rows(loaded) -> list[tuple]:
    f = loaded.frame("usage")
    return [(a, str(t), e, None if d != d else d, int(line)) for a, t, e, d, line
            in f[["account_id", "timestamp", "event", "duration_seconds", "_line"]].itertuples(index=False)]


EXPECTED = [("A001", "2026-09-09 09:10:00", "login", None, 1),
            ("A001", "2026-09-11 09:30:00.123000", "report_created", 45.5, 2),
            ("A002", "2026-10-30 07:15:00", "login", None, 4)]


@pytest.mark.parametrize("name", ["usage.jsonl", "usage.ndjson", "usage.json"])
def test_json_lines_with_nested_fields_and_a_blank_line(tmp_path, name):
    text = lines_text(RECORDS[:2]) + "\n" + lines_text(RECORDS[2:])  # line 3 is blank
    write_text(tmp_path / name, text)
    loaded = load_all(config({"inputs": NESTED}, tmp_path), tmp_path)
    assert usage_rows(loaded) == EXPECTED
    assert loaded.rejects[["line", "column", "value", "reason"]].values.tolist() == [
        [5, "timestamp", "yesterday", "unparseable datetime in timestamp"]]
    assert Path(loaded.rejects["file"][0]).name == name


def test_gzipped_json_lines_in_small_blocks(tmp_path, monkeypatch):
    import churnscore.load.jsonfile as read_json
    monkeypatch.setattr(read_json, "BLOCK_BYTES", 64)  # several blocks, and lines longer than a block
    with gzip.open(tmp_path / "usage.jsonl.gz", "wt") as fh:
        fh.write(lines_text(RECORDS[:2]) + "\n" + lines_text(RECORDS[2:]))
    loaded = load_all(config({"inputs": NESTED}, tmp_path), tmp_path)
    assert usage_rows(loaded) == EXPECTED


def test_one_array_numbers_records(tmp_path):
    write_text(tmp_path / "usage.json", json.dumps(RECORDS))
    loaded = load_all(config({"inputs": NESTED}, tmp_path), tmp_path)
    assert usage_rows(loaded) == [(a, t, e, d, n - 1 if n > 3 else n) for a, t, e, d, n in EXPECTED]


def test_a_line_that_is_not_json_stops_the_run_naming_file_and_line(tmp_path):
    write_text(tmp_path / "usage.jsonl", lines_text(RECORDS[:2]) + '{"event": "login", "properties": {\n')
    with pytest.raises(InputDataError, match=r"usage.jsonl:3: not valid JSON \(.*\); fix or remove the line."):
        load_all(config({"inputs": NESTED}, tmp_path), tmp_path)


def test_a_required_field_missing_from_the_records_is_named(tmp_path):
    write_text(tmp_path / "usage.jsonl", lines_text(RECORDS))
    with pytest.raises(InputDataError, match=r"required column 'account_id' \(mapped from 'distinct_id'\) not "
                                             r"found; columns found: event, properties.time"):
        load_all(config({"inputs": {"usage": {"columns": {"account_id": "distinct_id",
                                                           "timestamp": "properties.time"}}}}, tmp_path), tmp_path)
