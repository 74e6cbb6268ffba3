"""churnscore.load reads every file in batches: the frame, the rejects and their line numbers do not depend on where the
batches break, on whether the parser typed a column itself, or on CSV against Parquet."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import config, write_text

import churnscore.load as load_mod
from churnscore.errors import InputDataError
from churnscore.load import REJECT_COLUMNS, load_all
from churnscore.load import codes as codes_mod, csvfile, duplicates as dedupe_mod, hashing, read as read_mod

HEADER = "account_id,timestamp,user_id,event,count,duration_seconds\n"


def usage_lines(n: int) -> list[str]:
    """n distinct clean rows: 7 accounts, 5 users each, 3 events, whole-second UTC times."""
    return [f"A{i % 7},2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:{i % 60:02d}Z,U{i % 7}-{i % 5},"
            f"{('login', 'search', 'export')[i % 3]},{1 + i % 4},{(i % 50) / 2}\n" for i in range(n)]


def read(tmp_path, text: str, block: int | None = None, monkeypatch=None):  # noqa: ANN201
    write_text(tmp_path / "usage.csv", text)
    if block is not None:
        monkeypatch.setattr(csvfile, "STREAM_BLOCK", block)
    return load_all(config(None, base_dir=tmp_path), tmp_path)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text as text, so frames with categories in another order compare by value."""
    return frame.assign(**{c: frame[c].astype("str").where(frame[c].notna(), None)
                           for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def test_many_small_batches_give_the_frame_of_one_batch(tmp_path, monkeypatch):
    text = HEADER + "".join(usage_lines(400))
    whole = read(tmp_path, text)
    pieces = []
    parse_table = load_mod.parse_table
    monkeypatch.setattr(read_mod, "parse_table", lambda table, *a, **k: pieces.append(table.num_rows)
                        or parse_table(table, *a, **k))
    batched = read(tmp_path, text, block=512, monkeypatch=monkeypatch)  # ~10 rows a batch
    assert len(pieces) > 20 and sum(pieces) == 400
    pd.testing.assert_frame_equal(batched.frame("usage"), whole.frame("usage"), check_exact=True)
    assert batched.frame("usage")["_line"].tolist() == list(range(2, 402))
    assert batched.frame("usage")["account_id"].cat.categories.tolist() == [f"A{i}" for i in range(7)]
    assert batched.stats["usage"].rows_read == 400 and len(batched.rejects) == 0


def test_rejects_in_later_batches_keep_their_line_numbers_and_text(tmp_path, monkeypatch):
    rows = usage_lines(300)
    rows[149] = "A1,2024-03-02T00:00:00Z,U1-1,login,-3,12.5\n"  # line 151: count below 0 (typed by the parser)
    rows[249] = "A2,2024-03-02T00:00:00Z,U2-1,login,2,1e400\n"  # line 251: not finite (the parser reads inf)
    rows[279] = rows[10]  # line 281 repeats line 12, many batches earlier
    loaded = read(tmp_path, HEADER + "".join(rows), block=1024, monkeypatch=monkeypatch)
    path = str(tmp_path / "usage.csv")
    expected = pd.DataFrame([
        (path, 151, "count", "-3", "count below 0"),
        (path, 251, "duration_seconds", "inf", "duration_seconds is not a finite number"),
        (path, 281, "", "", "duplicate row (same as line 12)"),
    ], columns=REJECT_COLUMNS)
    got = loaded.rejects.astype({"line": "int64"}).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.astype({"line": "int64"}), check_dtype=False)
    assert loaded.stats["usage"].rows_read == 300 and len(loaded.frame("usage")) == 297


def test_a_value_the_parser_cannot_type_reads_the_file_as_text_counted_once(tmp_path, monkeypatch):
    rows = usage_lines(200)
    rows[180] = "A3,yesterday,U3-0,login,1,5\n"  # line 182, in a late batch: earlier batches were typed already
    loaded = read(tmp_path, HEADER + "".join(rows), block=1024, monkeypatch=monkeypatch)
    assert loaded.stats["usage"].rows_read == 200
    assert len(loaded.frame("usage")) == 199
    assert loaded.rejects[["line", "column", "value", "reason"]].values.tolist() == [
        [182, "timestamp", "yesterday", "unparseable datetime in timestamp"]]


def test_a_row_with_too_many_fields_in_a_late_batch_is_numbered_exactly(tmp_path, monkeypatch):
    rows = usage_lines(200)
    rows[170] = "A3,2024-03-05T00:00:00Z,U3-0,login,1,5,surplus\n"  # line 172
    loaded = read(tmp_path, HEADER + "".join(rows), block=1024, monkeypatch=monkeypatch)
    assert loaded.rejects[["line", "reason"]].values.tolist() == [[172, "7 fields where the header has 6 "
                                                                      "(separator ',')"]]
    assert loaded.frame("usage")["_line"].tolist() == [n for n in range(2, 202) if n != 172]


def test_parquet_in_row_groups_with_dictionary_text_gives_the_csv_frame(tmp_path):
    text = HEADER + "".join(usage_lines(300))
    from_csv = read(tmp_path, text).frame("usage")
    (tmp_path / "usage.csv").unlink()
    table = pa.Table.from_pandas(pd.read_csv(pd.io.common.StringIO(text), dtype=str), preserve_index=False)
    table = table.set_column(1, "timestamp", pa.compute.cast(pa.compute.strptime(
        table.column("timestamp"), format="%Y-%m-%dT%H:%M:%SZ", unit="s", error_is_null=False), pa.timestamp("ns", "UTC")))
    for name in ("count", "duration_seconds"):
        i = table.column_names.index(name)
        table = table.set_column(i, name, pa.compute.cast(table.column(name), pa.float64()))
    pq.write_table(table, tmp_path / "usage.parquet", row_group_size=64, use_dictionary=True)
    from_parquet = load_all(config(None, base_dir=tmp_path), tmp_path).frame("usage")
    assert pq.ParquetFile(tmp_path / "usage.parquet").metadata.num_row_groups == 5
    pd.testing.assert_frame_equal(plain(from_parquet.drop(columns="_file")), plain(from_csv.drop(columns="_file")),
                                  check_exact=True)


@pytest.mark.parametrize("values, expected", [([1.0, 2.0, 1.0], [False, False, False]),
                                              ([1.0, float("nan"), float("nan")], [False, True, True])])
def test_duplicate_candidates_treat_missing_as_equal(values, expected):
    frame = pd.DataFrame({"a": pd.Categorical(["x", "x", "x"]), "d": values,
                          "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"])})
    assert load_mod.repeat_candidates(frame, ["a", "d", "t"]).tolist() == expected


def test_text_hash_is_equal_for_equal_text_wherever_it_sits():
    values = ["x", "", None, "abcdefgh", "abcdefgh\x00", "abcdefghi", "T0000001", "T0000002", "ü" * 7,
              "a long value that takes several words", "a long value that takes several wordz", None, "x"]
    one = load_mod.text_hash(pa.array(values))
    # the same values in chunks of other sizes, as large strings, and as a slice of a longer array
    chunked = load_mod.text_hash(pa.chunked_array([pa.array(values[:4]), pa.array(values[4:5]), pa.array(values[5:])]))
    large = load_mod.text_hash(pa.array(values, pa.large_string()))
    sliced = load_mod.text_hash(pa.array(["zzzzzzzzzzzz"] * 3 + values + ["q"])[3:3 + len(values)])
    series = load_mod.text_hash(pd.Series(values, dtype="str"))
    for other in (chunked, large, sliced, series):
        assert other.tolist() == one.tolist()
    # equal text, equal hash (missing alike); every distinct value its own hash here
    assert one[0] == one[12] and one[2] == one[11]
    assert len(set(one.tolist())) == 11
    # a value alone at the end of its buffer (read byte by byte) hashes as it does elsewhere
    assert load_mod.text_hash(pa.array(["abcdefghi"]))[0] == one[5]
    assert load_mod.text_hash(pa.array(["x"]))[0] == one[0]


def test_duplicate_candidates_of_text_are_found_across_hashing_pieces(monkeypatch):
    monkeypatch.setattr(dedupe_mod, "CANDIDATE_STEP", 3)
    monkeypatch.setattr(hashing, "HASH_STEP", 2)
    frame = pd.DataFrame({"a": pd.Categorical(["x"] * 7),
                          "c": pd.Series(["hi", "there", "ok", None, "hi", None, "new"], dtype="str")})
    assert load_mod.repeat_candidates(frame, ["a", "c"]).tolist() == [True, False, False, True, True, True, False]
    assert load_mod.repeat_candidates(frame, ["c"]).tolist() == [True, False, False, True, True, True, False]


def test_key_table_gives_codes_in_order_of_first_sight_across_calls_and_growth():
    table = load_mod.KeyTable(4)  # grows several times below
    keys = np.array([5, 7, 5, 9], dtype=np.uint64) << np.uint64(60)  # one home slot for several keys
    codes, first = table.codes(keys)
    assert codes.tolist() == [0, 1, 0, 2] and first.tolist() == [0, 1, 3]
    more = np.arange(1, 40, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    codes, first = table.codes(np.concatenate([more, keys]))
    assert codes[-4:].tolist() == [0, 1, 0, 2]  # known keys keep their codes after growing
    assert sorted(codes[:39].tolist()) == list(range(3, 42)) and len(table) == 42
    assert codes[first].tolist() == list(range(3, 42))  # first: the new keys' positions, in code order
    again, first = table.codes(np.concatenate([keys, more]))
    assert again.tolist() == codes[-4:].tolist() + codes[:39].tolist() and len(first) == 0


def test_codebook_tells_apart_values_that_share_a_hash(monkeypatch):
    # every value of the same length gets the same first hash: the second one must keep them apart
    real = load_mod.text_hash
    monkeypatch.setattr(codes_mod, "text_hash", lambda arr, seed=0: real(arr, seed) if seed else
                        pc.utf8_length(arr).to_numpy().astype(np.uint64))
    book = load_mod.Codebook()
    batches = [["A1", "B2", None, "A1", "C33"], ["B2", "D4", "C33", "E55", "A1"], ["E55", "D4"]]
    codes = [book.codes(pd.Series(pd.Categorical(b))) for b in batches]
    categories = book.categories.tolist()
    assert sorted(categories) == ["A1", "B2", "C33", "D4", "E55"]
    for batch, got in zip(batches, codes):
        assert [categories[c] if c >= 0 else None for c in got] == batch


def test_read_ahead_gives_every_batch_in_order_and_raises_where_parsing_failed():
    assert list(load_mod.read_ahead(iter(range(7)), depth=2)) == list(range(7))

    def failing():
        yield 1
        yield 2
        raise pa.ArrowInvalid("CSV parse error: row 3")

    got = []
    with pytest.raises(pa.ArrowInvalid, match="row 3"):
        for batch in load_mod.read_ahead(failing()):
            got.append(batch)
    assert got == [1, 2]


def test_read_ahead_stops_its_thread_and_closes_the_reader_when_left_early():
    closed = []

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.append(True)

    reader = load_mod.read_ahead(endless(), depth=1)
    assert [next(reader), next(reader)] == [1, 2]
    reader.close()  # as when the loop over it stops on an error
    assert closed == [True]
    assert not any(t.name == "churnscore-read-ahead" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("values, categories, codes", [
    (["b", "a", None, "b"], ["b", "a"], [0, 1, -1, 0]),  # nothing to clean: the dictionary as it is
    ([" b", "a", "", "b ", "a"], ["b", "a"], [0, 1, -1, 0, 1]),  # trimmed and empty: values merge
])
def test_encoded_text_is_cleaned_whether_or_not_the_dictionary_needs_it(values, categories, codes):
    cat = load_mod.encode_clean(pa.chunked_array([pa.array(values).dictionary_encode()]), None)
    assert cat.cat.categories.tolist() == categories and cat.cat.codes.tolist() == codes
    mapped = load_mod.encode_clean(pa.chunked_array([pa.array(values).dictionary_encode()]), {"a": "z"})
    assert mapped.astype(object).where(mapped.notna(), None).tolist() == \
        [None if c < 0 else {"a": "z"}.get(categories[c], categories[c]) for c in codes]


def _fake_files(opened: list):  # noqa: ANN202
    """An opener for made-up paths: 'bad' fails to open, 'late' fails after its third batch, others give 3."""
    def batches(path, export, spec, typed):  # noqa: ANN001, ANN202
        opened.append(path.name)
        if path.name == "bad":
            raise InputDataError("bad: no header", file="bad")

        def gen():  # noqa: ANN202
            for i in range(3):
                yield f"{path.name}{i}"
            if path.name == "late":
                raise pa.ArrowInvalid("late: CSV parse error")
        return {"file": path.name}, gen()
    return batches


def _prefetch_thread_alive() -> bool:
    return any(t.name == "churnscore-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_prefetch_gives_each_file_its_batches_in_order_and_an_error_at_its_file():
    from pathlib import Path

    opened: list = []
    prefetch = load_mod.Prefetch([(Path(n), None, None) for n in ("a", "bad", "late", "b")], _fake_files(opened),
                                 depth=1)
    mapped, batches = prefetch.take(Path("a"))
    assert mapped == {"file": "a"} and list(batches) == ["a0", "a1", "a2"]
    with pytest.raises(InputDataError, match="bad: no header"):
        prefetch.take(Path("bad"))
    mapped, batches = prefetch.take(Path("late"))
    got = []
    with pytest.raises(pa.ArrowInvalid, match="late: CSV parse error"):
        for batch in batches:
            got.append(batch)
    assert got == ["late0", "late1", "late2"]
    mapped, batches = prefetch.take(Path("b"))
    assert mapped == {"file": "b"} and list(batches) == ["b0", "b1", "b2"]
    prefetch.close()
    assert opened == ["a", "bad", "late", "b"] and not _prefetch_thread_alive()


def test_prefetch_ends_when_asked_for_another_file_or_left_early():
    from pathlib import Path

    opened: list = []
    files = [(Path(n), None, None) for n in ("a", "b", "c")]
    prefetch = load_mod.Prefetch(files, _fake_files(opened), depth=1)
    assert prefetch.take(Path("b")) is None  # not the next file: its reader reads it itself
    assert not _prefetch_thread_alive() and prefetch.take(Path("a")) is None

    prefetch = load_mod.Prefetch(files, _fake_files(opened), depth=1)
    mapped, batches = prefetch.take(Path("a"))
    assert next(batches) == "a0"
    batches.close()  # left early, as when the reader stops on an error of its own
    assert not _prefetch_thread_alive() and prefetch.take(Path("b")) is None


def test_key_table_keeps_keys_that_wrap_round_the_end_when_it_grows():
    table = load_mod.KeyTable(8)
    top = (np.uint64(0xFFFFFFFFFFFFFFFF) - np.arange(5, dtype=np.uint64))  # all in the last home slot
    low = np.arange(3, dtype=np.uint64)  # home slot 0, where the wrapped keys also go
    codes, _ = table.codes(np.concatenate([top, low]))
    assert sorted(codes.tolist()) == list(range(8)) and table.slots == 16  # grown on the way in
    assert table.occupied()[:7].all()  # home 0 holds low; 4 of top wrapped round from slot 15
    table.reserve(40)  # laid out again: the keys past the end take the first free slots from the start
    assert table.slots == 128 and table.occupied()[:4].all()
    again, first = table.codes(np.concatenate([top, low]))
    assert again.tolist() == codes.tolist() and len(first) == 0


def test_load_all_tells_the_rows_read_of_each_export_after_each_batch(tmp_path, monkeypatch):
    write_text(tmp_path / "accounts.csv", "account_id,account_name\nA0,x\nA1,y\n")
    write_text(tmp_path / "usage.csv", HEADER + "".join(usage_lines(30)))
    monkeypatch.setattr(csvfile, "STREAM_BLOCK", 512)  # ~10 rows a batch
    batches: list = []
    parse_table = load_mod.parse_table
    monkeypatch.setattr(read_mod, "parse_table", lambda table, *a, **k: batches.append(table.num_rows)
                        or parse_table(table, *a, **k))
    told: list = []
    load_all(config(None, base_dir=tmp_path), tmp_path, on_rows=lambda export, n: told.append((export, n)))
    assert batches[0] == 2 and len(batches) > 3 and sum(batches[1:]) == 30  # accounts, then usage's batches
    assert told == [("accounts", 2)] + [("usage", int(n)) for n in np.cumsum(batches[1:])]
