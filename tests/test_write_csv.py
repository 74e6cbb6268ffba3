"""write.csv_chunks: the CSV bytes built with Arrow are the bytes pandas' to_csv (after neutralise) writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnscore.write import csv_chunks, neutralise, write_table

NAN = np.nan


def fast(frame: pd.DataFrame) -> bytes:
    chunks = csv_chunks(frame)
    assert chunks is not None, "expected the Arrow writer to handle this frame"
    return b"".join(bytes(c) for c in chunks)


def pandas_bytes(frame: pd.DataFrame) -> bytes:
    return neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


FLOATS = [0.1, 1.0, 1e-05, 123456789.0, NAN, -0.0, 0.0, 2.5, -123.456, 0.0001, 0.00012345, 9.99e-05, 1e10,
          1e15, 9999999999999998.0, 1e16, 1.2345e16, 1e22, 1.7976931348623157e308, 5e-324, np.inf, -np.inf,
          99999999999999.98, 0.3, 100.0, 1e-06]
FLOATS_SHOWN = ["0.1", "1.0", "1e-05", "123456789.0", "", "-0.0", "0.0", "2.5", "-123.456", "0.0001",
                "0.00012345", "9.99e-05", "10000000000.0", "1000000000000000.0", "9999999999999998.0", "1e+16",
                "1.2345e+16", "1e+22", "1.7976931348623157e+308", "5e-324", "inf", "-inf", "99999999999999.98",
                "0.3", "100.0", "1e-06"]


def test_floats_are_written_as_python_repr_and_nan_as_nothing():
    frame = pd.DataFrame({"x": FLOATS, "i": np.arange(len(FLOATS))})
    expected = "x,i\n" + "".join(f"{shown},{i}\n" for i, shown in enumerate(FLOATS_SHOWN))
    assert fast(frame) == expected.encode()
    assert fast(frame) == pandas_bytes(frame)


TEXTS = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\ronly", "", None, "=SUM(A1)", "+1", "-2", "@x", "\tx",
         "\rx", "x=1", "'already", "é ünïcode, ok", " padded ", '"', ",", "=a,b", '-"q"']
TEXTS_SHOWN = ["plain", '"a,b"', '"say ""hi"""', '"two\nlines"', "cr\ronly", "", "", "'=SUM(A1)", "'+1", "'-2",
               "'@x", "'\tx", "'\rx", "x=1", "''already", '"é ünïcode, ok"', " padded ", '""""', '","',
               "\"'=a,b\"", '"\'-""q"""']


@pytest.mark.parametrize("dtype", ["str", object])
def test_text_is_quoted_only_where_needed_and_formulas_are_neutralised(dtype):
    frame = pd.DataFrame({"t": pd.Series(TEXTS, dtype=dtype), "n": np.arange(len(TEXTS))})
    expected = "t,n\n" + "".join(f"{shown},{i}\n" for i, shown in enumerate(TEXTS_SHOWN))
    assert fast(frame) == expected.encode("utf-8")
    assert fast(frame) == pandas_bytes(frame)


def test_ints_bools_labels_needing_quotes_and_the_last_column_empty():
    frame = pd.DataFrame({"a,b": np.array([1, -2, 0], dtype="int64"), 'say "x"': [True, False, True],
                          "u": np.array([0, 7, 2**64 - 1], dtype="uint64"), "i8": np.array([-1, 2, 3], dtype="int8"),
                          "last": pd.Series(["", "z", None], dtype="str")})
    expected = '"a,b","say ""x""",u,i8,last\n1,True,0,-1,\n-2,False,7,2,z\n0,True,18446744073709551615,3,\n'
    assert fast(frame) == expected.encode()
    assert fast(frame) == pandas_bytes(frame)


def test_no_rows_is_the_header_alone():
    frame = pd.DataFrame({"account_id": pd.Series([], dtype="str"), "reason": pd.Series([], dtype="object"),
                          "x": pd.Series([], dtype="float64")})
    assert fast(frame) == b"account_id,reason,x\n" == pandas_bytes(frame)


def test_random_floats_at_every_magnitude_match_pandas():
    rng = np.random.default_rng(20261201)
    bits = rng.integers(0, 2**64, size=20_000, dtype=np.uint64).view(np.float64)
    scaled = rng.random(20_000) * 10.0 ** rng.integers(-12, 22, size=20_000)
    cents = np.round(rng.normal(0, 1e6, size=20_000), 2)
    edges = np.array([1e-4, np.nextafter(1e-4, 0), 1e16, np.nextafter(1e16, 0), 1e10, np.nextafter(1e10, 0),
                      1e15, np.nextafter(1e15, 0), 2.0**53, 2.0**53 + 2, 0.1 + 0.2])
    values = np.concatenate([bits, -bits, scaled, -scaled, cents, edges, -edges])
    frame = pd.DataFrame({"v": values, "w": values[::-1].copy()})
    assert fast(frame) == pandas_bytes(frame)


def test_a_ranked_list_like_frame_matches_pandas():
    frame = pd.DataFrame({
        "rank": np.arange(1, 5),
        "account_id": pd.Series(["A1", "=A2", "A3", "A4"], dtype="str"),
        "risk_score": [96.2, 50.0, 0.0, NAN],
        "red_flags": pd.Series(["dormant, overdue", "dormant", "", ""], dtype="str"),
        "reasons": pd.Series(['no activity for 59 days; said "no"', "x", "", ""], dtype="str"),
        "mrr": [299.4, NAN, 1e-05, 12345678.9],
    })
    assert fast(frame) == (
        b"rank,account_id,risk_score,red_flags,reasons,mrr\n"
        b'1,A1,96.2,"dormant, overdue","no activity for 59 days; said ""no""",299.4\n'
        b"2,'=A2,50.0,dormant,x,\n"
        b"3,A3,0.0,,,1e-05\n"
        b"4,A4,,,,12345678.9\n")
    assert fast(frame) == pandas_bytes(frame)


@pytest.mark.parametrize("dtype", ["Int64", "Int8", "UInt32", "int64[pyarrow]"])
def test_nullable_integers_are_written_as_digits_and_missing_as_nothing(dtype):
    # previous_rank with --previous: an account new to the list has none
    big = 2**62 if dtype in ("Int64", "int64[pyarrow]") else 100
    frame = pd.DataFrame({"previous_rank": pd.array([3, None, 120 if dtype != "Int8" else 12, big], dtype=dtype),
                          "x": [1.5, NAN, 0.0, 2.0]})
    shown = "120" if dtype != "Int8" else "12"
    assert fast(frame) == f"previous_rank,x\n3,1.5\n,\n{shown},0.0\n{big},2.0\n".encode()
    assert fast(frame) == pandas_bytes(frame)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"only": ["", "a"]}),  # one column: the csv module quotes an empty row
    pd.DataFrame({"f32": np.array([0.1, 2.5], dtype="float32"), "x": [1, 2]}),
    pd.DataFrame({"when": pd.to_datetime(["2026-10-31", None]), "x": [1, 2]}),
    pd.DataFrame({"c": pd.Categorical(["=a", "b"]), "x": [1, 2]}),
    pd.DataFrame({"line": pd.Series([7, "=1+1"], dtype="object"), "x": [1, 2]}),
    pd.DataFrame({1: ["a", "b"], "x": [1, 2]}),
], ids=["one-column", "float32", "datetime", "categorical", "mixed-object", "int-label"])
def test_frames_it_does_not_handle_are_left_to_pandas(frame, tmp_path):
    assert csv_chunks(frame) is None
    out = write_table(frame, tmp_path / "t.csv")
    assert out.read_bytes() == pandas_bytes(frame)


def test_write_table_writes_the_same_bytes_as_pandas(tmp_path):
    frame = pd.DataFrame({"t": pd.Series(TEXTS, dtype="str"), "f": FLOATS[:len(TEXTS)]})
    out = write_table(frame, tmp_path / "t.csv")
    assert out.read_bytes() == pandas_bytes(frame)


def test_rows_written_in_several_blocks_are_the_same_bytes(monkeypatch):
    frame = pd.DataFrame({"t": pd.Series(TEXTS, dtype="str"), "f": FLOATS[:len(TEXTS)],
                          "o": pd.Series(["x"] * 5 + ["y,z"] + ["w"] * (len(TEXTS) - 6), dtype="object")})
    whole = fast(frame)
    monkeypatch.setattr("churnscore.write.CSV_BLOCK_ROWS", 4)
    assert len(list(csv_chunks(frame))) == 1 + -(-len(TEXTS) // 4)  # the header, then the blocks
    assert fast(frame) == whole == pandas_bytes(frame)
