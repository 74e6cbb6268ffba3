"""rank.py (order, ties, revenue ranking, tiers) and write.py (atomic writes, formula safety, formats, run files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnscore.config import Scoring
from churnscore.rank import RANKED_COLUMNS, rank, tiers
from churnscore.write import neutralise, write_run, write_table
from churnscore.files import atomic_write, sibling

NAN = np.nan


def words(ids, flags=None):
    flags = flags or [""] * len(ids)
    return pd.DataFrame({"red_flags": flags, "reasons": [f.replace("_", " ") for f in flags],
                         "suggested_play": ["call" if f else "" for f in flags]}, index=ids)


def ranked(scores: dict[str, float], mrr: dict[str, float] | None = None, **kwargs) -> pd.DataFrame:
    ids = list(scores)
    score = pd.Series(list(scores.values()), index=pd.Index(ids, name="account_id"), dtype="float64")
    mrr_s = pd.Series(mrr or {}, dtype="float64")
    names = pd.Series({i: f"Name {i}" for i in ids}, dtype="str")
    return rank(score, words(ids), mrr_s, names, kwargs.pop("scoring", Scoring()), **kwargs)


def test_rank_orders_by_risk_with_ties_broken_by_account_id():
    out = ranked({"c": 50.0, "b": 70.0, "a": 50.0, "d": 0.0, "e": 50.04},
                 {"a": 100.0, "b": 10.0, "c": 1000.0, "d": 5.0})
    expected = pd.DataFrame({
        "rank": np.arange(1, 6),
        "account_id": ["b", "a", "c", "e", "d"],  # e's 50.04 shows as 50.0: tied with a and c
        "account_name": ["Name b", "Name a", "Name c", "Name e", "Name d"],
        "risk_score": [70.0, 50.0, 50.0, 50.0, 0.0],
        "risk_tier": ["high", "medium", "medium", "medium", "low"],
        "mrr": [10.0, 100.0, 1000.0, NAN, 5.0],
        "revenue_at_risk": [7.0, 50.0, 500.0, NAN, 0.0],
        "red_flags": [""] * 5, "reasons": [""] * 5, "suggested_play": [""] * 5,
    }).astype({"account_id": "str", "account_name": "str", "risk_tier": "str", "red_flags": "str",
               "reasons": "str", "suggested_play": "str"})
    assert list(out.columns) == RANKED_COLUMNS
    pd.testing.assert_frame_equal(out, expected, check_exact=True)


def test_a_finer_figure_orders_accounts_whose_shown_score_is_the_same():
    """A model's probabilities 0.9996 and 0.9999 both show as 100.0: the finer one orders them, not the id."""
    scores = {"a": 99.96, "b": 99.99, "c": 50.0, "d": 50.0}
    finer = pd.Series(scores)
    assert ranked(scores)["account_id"].tolist() == ["a", "b", "c", "d"]
    assert ranked(scores, finer=finer)["account_id"].tolist() == ["b", "a", "c", "d"]  # c, d: a true tie
    out = ranked(scores, {"a": 10.0, "b": 10.0, "c": 20.0, "d": 20.0}, rank_by="revenue", finer=finer)
    assert out[["account_id", "revenue_at_risk"]].values.tolist() == [["b", 10.0], ["a", 10.0], ["c", 10.0],
                                                                      ["d", 10.0]]


def test_rank_by_revenue_puts_the_most_revenue_at_risk_first_and_unknown_mrr_last():
    scores = {"a": 50.0, "b": 20.0, "c": 90.0, "d": 80.0, "e": 40.0}
    mrr = {"a": 100.0, "b": 1000.0, "c": 10.0, "e": 250.0}
    out = ranked(scores, mrr, rank_by="revenue")
    # revenue at risk: a 50, b 200, c 9, d unknown, e 100
    assert out["account_id"].tolist() == ["b", "e", "a", "c", "d"]
    assert out["revenue_at_risk"].tolist()[:4] == [200.0, 100.0, 50.0, 9.0]
    # equal revenue at risk: the higher risk first, then account_id
    tie = ranked({"x": 10.0, "y": 50.0, "w": 50.0}, {"x": 500.0, "y": 100.0, "w": 100.0},
                 scoring=Scoring(rank_by="revenue"))
    assert tie["account_id"].tolist() == ["w", "y", "x"]


def test_tiers_at_the_exact_thresholds():
    score = pd.Series([100.0, 60.0, 59.9, 30.0, 29.9, 0.0])
    assert tiers(score, Scoring()).tolist() == ["high", "high", "medium", "medium", "low", "low"]
    assert tiers(score, Scoring(tier_high=59.9, tier_medium=0.0)).tolist() == [
        "high", "high", "high", "medium", "medium", "medium"]


def test_the_tier_follows_the_shown_score():
    out = ranked({"a": 59.96, "b": 59.94, "c": 29.94})
    assert out[["account_id", "risk_score", "risk_tier"]].to_dict("records") == [
        {"account_id": "a", "risk_score": 60.0, "risk_tier": "high"},
        {"account_id": "b", "risk_score": 59.9, "risk_tier": "medium"},
        {"account_id": "c", "risk_score": 29.9, "risk_tier": "low"},
    ]


def test_extra_columns_are_appended_aligned_to_accounts():
    ids = ["a", "b"]
    score = pd.Series([10.0, 90.0], index=ids)
    extra = pd.DataFrame({"churn_probability": [0.9, 0.1]}, index=["b", "a"])
    out = rank(score, words(ids), pd.Series(dtype="float64"), pd.Series(dtype="str"), Scoring(), extra=extra)
    assert list(out.columns) == RANKED_COLUMNS + ["churn_probability"]
    assert out[["account_id", "churn_probability", "account_name"]].to_dict("records") == [
        {"account_id": "b", "churn_probability": 0.9, "account_name": ""},
        {"account_id": "a", "churn_probability": 0.1, "account_name": ""}]


def test_rank_puts_an_unknown_score_last_and_aligns_words_given_in_another_order():
    ids = pd.Index(["c", "a", "b"], name="account_id", dtype="str")
    score = pd.Series([50.0, NAN, 50.0], index=ids)
    out = rank(score, words(["b", "c", "a"], ["x_b", "x_c", "x_a"]), pd.Series({"a": 10.0, "c": -4.0}),
               pd.Series({"a": "Alpha"}, dtype="str"), Scoring())
    expected = pd.DataFrame({
        "rank": np.arange(1, 4),
        "account_id": ["b", "c", "a"],
        "account_name": ["", "", "Alpha"],
        "risk_score": [50.0, 50.0, NAN],
        "risk_tier": ["medium", "medium", "low"],
        "mrr": [NAN, -4.0, 10.0],
        "revenue_at_risk": [NAN, -2.0, NAN],
        "red_flags": ["x_b", "x_c", "x_a"], "reasons": ["x b", "x c", "x a"], "suggested_play": ["call"] * 3,
    }).astype({c: "str" for c in ("account_id", "account_name", "risk_tier", "red_flags", "reasons",
                                  "suggested_play")})
    pd.testing.assert_frame_equal(out, expected, check_exact=True)


def test_rank_by_revenue_treats_negative_zero_as_a_tie_broken_by_account_id():
    out = ranked({"x": 0.0, "y": 0.0, "w": 0.0, "v": 10.0}, {"x": -1.0, "y": 1.0, "w": -2.0, "v": -10.0},
                 rank_by="revenue")
    assert out["account_id"].tolist() == ["w", "x", "y", "v"]
    assert [str(v) for v in out["revenue_at_risk"]] == ["-0.0", "-0.0", "0.0", "-1.0"]


def test_rank_of_no_accounts_keeps_the_columns_and_their_types():
    ids = pd.Index([], name="account_id", dtype="str")
    out = rank(pd.Series([], index=ids, dtype="float64"), words([]).set_axis(ids).astype("str"),
               pd.Series([], dtype="float64"), pd.Series([], dtype="str"), Scoring())
    assert list(out.columns) == RANKED_COLUMNS and len(out) == 0
    # as pandas types a column of no Python strings: object (the parquet and json files depend on it)
    assert out.dtypes.astype(str).tolist() == ["int64", "str", "object", "float64", "object", "float64",
                                               "float64", "object", "object", "object"]


# ----------------------------------------------------------------------------- write


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_table_is_atomic_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "sub" / "ranked.csv"
    write_table(pd.DataFrame({"a": [1]}), out)
    write_table(pd.DataFrame({"a": [2, 3]}), out)
    assert out.read_text() == "a\n2\n3\n"
    assert leftovers(out.parent) == []
    umask = os.umask(0o022)  # the mode follows the umask (test_hostile checks a stricter one)
    os.umask(umask)
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o666 & ~umask)


def test_failed_write_keeps_the_previous_file_and_removes_the_temp_file(tmp_path):
    out = tmp_path / "ranked.csv"
    write_table(pd.DataFrame({"a": [1]}), out)

    def half_then_fail(fh):
        fh.write(b"a\npartial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(out, half_then_fail)
    assert out.read_text() == "a\n1\n"
    assert leftovers(tmp_path) == []


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"format must be one of \('csv', 'parquet', 'json'\), got 'xlsx'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx", "xlsx")
    assert list(tmp_path.iterdir()) == []


def test_neutralise_quotes_formula_text_and_leaves_numbers_alone():
    frame = pd.DataFrame({
        "text": pd.Series(["=x", "+1", "-2", "@a", "ok", None, "a=b", "\tx"], dtype="str"),
        "obj": pd.Series(["=HYPERLINK()", "fine", None, "-", "x", "y", "z", "w"], dtype="object"),
        "num": [-1.0, 2.0, NAN, -3.5, 0.0, 1.0, 1.0, 1.0],
        "int": [-1, 2, 3, 4, 5, 6, 7, 8],
    })
    out = neutralise(frame)
    assert out["text"].tolist()[:5] == ["'=x", "'+1", "'-2", "'@a", "ok"]
    assert pd.isna(out["text"][5])
    assert out["text"].tolist()[6:] == ["a=b", "'\tx"]
    assert out["obj"].tolist()[:2] == ["'=HYPERLINK()", "fine"]
    assert out["obj"][2] is None
    assert out["obj"][3] == "'-"
    pd.testing.assert_series_equal(out["num"], frame["num"])
    pd.testing.assert_series_equal(out["int"], frame["int"])
    assert frame["text"][0] == "=x"  # the input is not changed


def test_csv_output_is_formula_safe(tmp_path):
    out = write_table(pd.DataFrame({"account_id": ["=cmd|' /C calc'!A0", "A2"], "risk_score": [-1.5, 2.0]}),
                      tmp_path / "r.csv")
    assert out.read_text() == "account_id,risk_score\n'=cmd|' /C calc'!A0,-1.5\nA2,2.0\n"


FRAME = pd.DataFrame({
    "rank": np.array([1, 2], dtype="int64"),
    "account_id": pd.Series(["007", "A-2"], dtype="str"),
    "risk_score": [72.5, 0.0],
    "mrr": [1234.5, NAN],
    "reasons": pd.Series(["usage down 64%; NPS 3", ""], dtype="str"),
})


def test_csv_round_trip(tmp_path):
    out = write_table(FRAME, tmp_path / "r.csv", "csv")
    back = pd.read_csv(out, dtype={"account_id": "str", "reasons": "str"}, keep_default_na=False,
                       na_values={"mrr": [""]})
    pd.testing.assert_frame_equal(back, FRAME)


def test_json_round_trip(tmp_path):
    out = write_table(FRAME, tmp_path / "r.json", "json")
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records == [
        {"rank": 1, "account_id": "007", "risk_score": 72.5, "mrr": 1234.5, "reasons": "usage down 64%; NPS 3"},
        {"rank": 2, "account_id": "A-2", "risk_score": 0.0, "mrr": None, "reasons": ""}]


@pytest.mark.parametrize("block", [1, 2, 1000])
def test_json_is_written_block_by_block_as_pandas_writes_it_whole(tmp_path, monkeypatch, block):
    monkeypatch.setattr("churnscore.write.CSV_BLOCK_ROWS", block)
    frame = pd.DataFrame({"rank": [1, 2, 3], "account_id": pd.Series(["007", None, "é"], dtype="str"),
                          "previous_rank": pd.array([4, None, 1], dtype="Int64"), "mrr": [1.5, np.nan, 0.0]})
    out = write_table(frame, tmp_path / "r.json", "json")
    assert out.read_text(encoding="utf-8") == (
        '[\n {\n  "rank":1,\n  "account_id":"007",\n  "previous_rank":4,\n  "mrr":1.5\n },\n'
        ' {\n  "rank":2,\n  "account_id":null,\n  "previous_rank":null,\n  "mrr":null\n },\n'
        ' {\n  "rank":3,\n  "account_id":"é",\n  "previous_rank":1,\n  "mrr":0.0\n }\n]\n')
    assert out.read_bytes() == frame.to_json(orient="records", indent=1, force_ascii=False).encode() + b"\n"
    empty = write_table(frame.iloc[:0], tmp_path / "e.json", "json")
    assert empty.read_text() == "[\n\n]\n"


def test_parquet_round_trip(tmp_path):
    out = write_table(FRAME, tmp_path / "r.parquet", "parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), FRAME)


def test_sibling_names():
    assert sibling("out/ranked.csv", "rejects") == Path("out/ranked.rejects.csv")
    assert sibling("out/ranked.parquet", "rejects", ".csv") == Path("out/ranked.rejects.csv")
    assert sibling("ranked.csv", "manifest", ".json") == Path("ranked.manifest.json")
    assert sibling("/x/scores", "excluded", ".csv") == Path("/x/scores.excluded.csv")


def test_write_run_writes_ranked_rejects_and_excluded_beside_it(tmp_path):
    ranked_frame = pd.DataFrame({"rank": [1, 2, 3], "account_id": ["c", "a", "b"]})
    rejects = pd.DataFrame({"file": ["usage.csv"], "line": [7], "column": ["score"], "value": ["=1+1"],
                            "reason": ["score above 10"]})
    excluded = pd.DataFrame({"account_id": pd.Series([], dtype="str"), "reason": pd.Series([], dtype="str")})
    paths = write_run(ranked_frame, rejects, excluded, tmp_path / "out" / "ranked.json", fmt="json", top=2)
    assert paths == {"ranked": tmp_path / "out" / "ranked.json",
                     "rejects": tmp_path / "out" / "ranked.rejects.csv",
                     "excluded": tmp_path / "out" / "ranked.excluded.csv"}
    assert json.loads(paths["ranked"].read_text()) == [{"rank": 1, "account_id": "c"}, {"rank": 2, "account_id": "a"}]
    assert paths["rejects"].read_text() == "file,line,column,value,reason\nusage.csv,7,score,'=1+1,score above 10\n"
    assert paths["excluded"].read_text() == "account_id,reason\n"  # header only: no stale file lingers
    assert leftovers(tmp_path / "out") == []
