"""A reject's line is the line of the file it starts on, as an editor shows it (1 = header): a quoted value that
runs over several lines (LF, CR LF or a lone CR) moves every later row's line, in every batch, on disk as in
memory, and only within its own file. Parquet has no lines: its rows are numbered 2, 3, ... as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from conftest import config, write_text

import churnscore.load as load_mod
import churnscore.load.csvfile as csvfile
import churnscore.load.read as read_mod
import churnscore.load.spill as spill_mod
from churnscore.cli import main
from churnscore.contract import EXPORTS
from churnscore.load import load_all, read_file, text_breaks

NPS = "account_id,responded_at,score,comment\n"
USAGE = "account_id,timestamp,user_id,event,count\n"


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def rejected(tmp_path, **files: str) -> list[tuple]:
    """(file name, line, column, value, reason) of each reject of a folder with <name>.csv per keyword (a
    keyword with a / is a path in the folder: a file of an export folder)."""
    for name, text in files.items():
        write_text(tmp_path / f"{name}.csv" if "/" not in name else tmp_path / name, text)
    if "usage" not in files:
        write_text(tmp_path / "usage.csv", USAGE + "A1,2024-03-20T10:00:00Z,u1,login,2\n")
    rejects = load_all(config(None, base_dir=tmp_path), tmp_path).rejects
    return [(str(r.file).removeprefix(f"{tmp_path}/"), int(r.line), r.column, r.value, r.reason)
            for r in rejects.itertuples(index=False)]


def test_a_reject_after_a_comment_over_three_lines_names_the_line_it_is_on(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv", USAGE + "A1,2024-03-20T10:00:00Z,u1,login,2\n")
    write_text(d / "nps.csv", NPS + 'A1,2024-03-01,3,"a\nb\nc"\n'  # lines 2-4
                                    "A1,2024-03-02,11,\n"  # line 5
                                    "A1,2024-03-03,7,fine\n")  # line 6
    lenient = write_text(tmp_path / "churnscore.yaml", "rejects:\n  max_reject_rate: 1.0\n")  # 1 row of 4 is fine
    code, _, err = cli("score", "--config", lenient, "--input-dir", d, "--out", tmp_path / "out" / "ranked.csv",
                       "--as-of", "2024-03-31")
    assert code == 0, err
    rejects = pd.read_csv(tmp_path / "out" / "ranked.rejects.csv", dtype=str, keep_default_na=False)
    assert [tuple(r) for r in rejects.itertuples(index=False)] == [
        (str(d / "nps.csv"), "5", "score", "11", "score above 10")]
    nps = load_all(config(None, base_dir=d), d).frame("nps")
    assert nps["_line"].tolist() == [2, 6] and nps["comment"].tolist() == ["a\nb\nc", "fine"]
    frame, rejects, _, _ = read_file(d / "nps.csv", EXPORTS["nps"], config().inputs["nps"])  # the Dask engine's
    assert frame["_line"].tolist() == [2, 6] and rejects["line"].tolist() == [5]


def test_crlf_line_endings_and_a_value_holding_crlf_or_a_lone_cr(tmp_path):
    text = NPS + ('A1,2024-03-01,3,"x\r\ny"\n'  # lines 2-3: CR LF is one line break
                  'A1,2024-03-02,4,"p\rq"\n'  # lines 4-5: a lone CR is one too
                  "A1,2024-03-03,11,\n"  # line 6
                  'A1,2024-03-04,5,"u\nv\r\nw"\n'  # lines 7-9
                  "A1,2024-03-05,-1,\n")  # line 10
    assert rejected(tmp_path, nps=text.replace("\n", "\r\n").replace("\r\r\n", "\r\n")) == [
        ("nps.csv", 6, "score", "11", "score above 10"), ("nps.csv", 10, "score", "-1", "score below 0")]


def test_line_breaks_in_earlier_batches_move_the_lines_of_later_ones(tmp_path, monkeypatch):
    rows = [f"A{k},2024-03-{1 + k % 28:02d},{k % 10},ok\n" for k in range(1, 41)]  # record k on line k + 1
    rows[2] = 'A3,2024-03-04,3,"a\nb\nc"\n'  # record 3: 2 breaks
    rows[11] = 'A12,2024-03-13,2,"x\r\ny"\n'  # record 12: 1 break
    rows[7] = "A8,2024-03-09,11,ok\n"  # line 9 + 2
    rows[19] = "A20,2024-03-21,11,ok\n"  # line 21 + 3
    rows[29] = "A30,2024-03-03,11,ok\n"  # line 31 + 3
    # ~10 records a batch; no batch ends inside a value over lines (pyarrow, reading with newlines_in_values
    # off, stops there: "CSV parser got out of sync with chunker")
    monkeypatch.setattr(csvfile, "STREAM_BLOCK", 200)
    batches = []
    parse_table = load_mod.parse_table
    monkeypatch.setattr(read_mod, "parse_table", lambda table, *a, **k: batches.append(table.num_rows)
                        or parse_table(table, *a, **k))
    assert [r[:2] for r in rejected(tmp_path, nps=NPS + "".join(rows))] == [
        ("nps.csv", 11), ("nps.csv", 24), ("nps.csv", 34)]
    ends = np.cumsum(batches[1:])  # usage (one row) is read first
    assert ends[-1] == 40 and 8 <= ends[0] < 12 <= ends[1] < 20  # records 3 and 8, 12, then 20 and 30 apart


def test_each_file_of_a_folder_counts_its_own_lines(tmp_path):
    assert rejected(tmp_path, **{
        "nps/a.csv": NPS + 'A1,2024-03-01,3,"a\nb\nc"\nA1,2024-03-02,11,\n',  # line 5
        "nps/b.csv": NPS + "A2,2024-03-01,3,\nA2,2024-03-02,11,\n",  # line 3: a.csv's breaks are not its own
    }) == [("nps/a.csv", 5, "score", "11", "score above 10"), ("nps/b.csv", 3, "score", "11", "score above 10")]


def test_rows_with_the_wrong_number_of_fields_after_a_value_over_lines(tmp_path):
    """Such rows make the loader read the whole file at once, where pyarrow numbers them by record."""
    assert rejected(tmp_path, nps=NPS + 'A1,2024-03-01,3,"a\nb"\n'  # lines 2-3
                                        "A1,2024-03-02,4,x,extra\n"  # line 4
                                        'A1,2024-03-03,5,"c\r\nd"\n'  # lines 5-6
                                        "A1,2024-03-04,11,\n") == [  # line 7
        ("nps.csv", 4, "", "A1,2024-03-02,4,x,extra", "5 fields where the header has 4 (separator ',')"),
        ("nps.csv", 7, "score", "11", "score above 10")]


def test_an_unbalanced_quote_after_a_value_over_lines_stops_at_its_line(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv", USAGE + "A1,2024-03-20T10:00:00Z,u1,login,2\n")
    write_text(d / "nps.csv", NPS + 'A1,2024-03-01,3,"a\nb"\nA1,"2024-03-02,4,x\nA1,2024-03-03,5,y\n')
    code, _, err = cli("score", "--input-dir", d, "--out", tmp_path / "out" / "ranked.csv")
    assert (code, err) == (1, f"churnscore: error: {d / 'nps.csv'}:4: a quoted value runs over several lines "
                              "(an unbalanced quote?); fix the quoting of this row.\n")


def usage_text() -> str:
    rows = [f"A{k % 5},2024-03-{1 + k % 28:02d}T10:00:00Z,u{k},login,1\n" for k in range(60)]
    rows[1] = 'A1,2024-03-02T10:00:00Z,u1,"log\nin",1\n'  # lines 3-4: a reject of its own
    rows[9] = 'A4,2024-03-10T10:00:00Z,u9,"a\r\nb\r\nc",1\n'  # lines 11-13 + 1
    rows[20] = "A0,2024-03-21T10:00:00Z,u20,login,-1\n"  # line 22 + 3
    rows[40] = rows[30]  # line 42 + 3 repeats line 32 + 3
    return USAGE + "".join(rows)


def test_usage_on_disk_by_account_gives_the_lines_it_gives_in_memory(tmp_path, monkeypatch):
    write_text(tmp_path / "usage.csv", usage_text())
    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    got = {}
    for spill, threshold in (("memory", 1 << 60), ("disk", 0)):
        monkeypatch.setattr(spill_mod, "SPILL_BYTES", threshold)
        loaded = load_all(config(None, base_dir=tmp_path), tmp_path, spill=True)
        assert bool(loaded.spilled) == (spill == "disk")
        got[spill] = [(int(r.line), r.column, r.value, r.reason)  # those on disk too
                      for r in loaded.all_rejects().itertuples(index=False)]
        loaded.close()
    assert got["disk"] == got["memory"] == [
        (3, "event", "log\nin", "line break inside event (an unbalanced quote?)"),
        (12, "event", "a\r\nb\r\nc", "line break inside event (an unbalanced quote?)"),
        (25, "count", "-1", "count below 0"),
        (45, "", "", "duplicate row (same as line 35)")]


def test_validate_shows_a_value_with_line_breaks_on_one_line(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv", USAGE + 'A1,2024-03-20T10:00:00Z,u1,"log\r\nin",2\n'  # lines 2-3
                                        "A1,2024-03-21T10:00:00Z,u1,login,x\n")  # line 4
    code, out, _ = cli("validate", "--input-dir", d)
    assert code == 1  # 2 rows of 2 rejected
    lines = out.splitlines()
    first = lines.index("first rejects (2 in all):")
    assert lines[first + 1:first + 4] == [
        f"  {d / 'usage.csv'}:2: line break inside event (an unbalanced quote?) (event = 'log\\r\\nin')",
        f"  {d / 'usage.csv'}:4: count is not a number (count = 'x')",
        ""]


def test_parquet_rows_keep_their_numbers_whatever_their_text_holds(tmp_path):
    pq.write_table(pa.table({"account_id": ["A1", "A1", "A1"],
                             "responded_at": ["2024-03-01", "2024-03-02", "2024-03-03"],
                             "score": [3, 4, 11], "comment": ["a\nb\nc", "x\r\ny", None]}), tmp_path / "nps.parquet")
    assert rejected(tmp_path) == [("nps.parquet", 4, "score", "11", "score above 10")]  # row index + 2


def test_text_breaks_counts_crlf_lf_and_a_lone_cr_once_each_and_is_none_without_any():
    plain = pa.table({"id": pa.array(["a", "b", "c"]), "n": pa.array([1.0, 2.0, 3.0])})
    assert text_breaks(plain) is None
    table = pa.table({
        "event": pa.array(["x", "a\r\nb", None, "x"]).dictionary_encode(),
        "comment": pa.array(["1\n2\r3\r\n4", None, "\r\r\n\n", "no"]),
        "n": pa.array([1.0, 2.0, 3.0, 4.0]),
    })
    assert text_breaks(table).tolist() == [3, 1, 3, 0]


def test_a_block_of_the_file_that_ends_inside_a_value_over_lines_is_read_again_following_the_quotes(
        tmp_path, monkeypatch):
    """Read fast (values hold no line breaks), a block that ends inside a quoted value stops pyarrow ("CSV
    parser got out of sync with chunker"): a large NPS file of comments over lines would fail at random."""
    rows = [f'A{k},2024-03-{1 + k % 28:02d},{k % 10},"line one\nline two of comment {k}"\n' for k in range(1, 41)]
    rows[29] = "A30,2024-03-03,11,\n"  # record 30 on line 31 + 29 breaks before it
    monkeypatch.setattr(csvfile, "STREAM_BLOCK", 100)  # every block ends inside a comment, or nearly
    assert [r[:2] for r in rejected(tmp_path, nps=NPS + "".join(rows))] == [("nps.csv", 60)]
    rows[4] = "A5,2024-03-06,4,x,extra\n"  # line 10, too many fields: the whole file is read at once
    assert [r[:2] for r in rejected(tmp_path, nps=NPS + "".join(rows))] == [("nps.csv", 10), ("nps.csv", 59)]
