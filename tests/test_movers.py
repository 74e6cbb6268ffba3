"""--previous: the previous rank and score beside each row, and who entered, left and moved most."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_text

from churnscore.cli import main
from churnscore.errors import InputDataError
from churnscore.movers import add_previous, movers, read_previous

RANKED = pd.DataFrame({"rank": [1, 2, 3, 4], "account_id": ["00123", "A2", "A3", "=A4"],
                       "account_name": ["Acme", "Bolt", "Corex", "Dyna"], "risk_score": [70.0, 40.0, 12.5, 5.0],
                       "risk_tier": ["high", "medium", "low", "low"]})
PREVIOUS_CSV = """rank,account_id,account_name,risk_score,risk_tier
1,A3,Corex,65.0,high
2,A2,Bolt,45.0,medium
3,A9,Gone,50.0,medium
4,'=A4,Dyna,5.0,low
"""


@pytest.fixture
def previous(tmp_path) -> pd.DataFrame:
    return read_previous(write_text(tmp_path / "prev.csv", PREVIOUS_CSV))


def test_read_previous_keeps_ids_as_text_and_undoes_the_formula_quote(previous):
    assert previous["account_id"].tolist() == ["A3", "A2", "A9", "=A4"]
    assert previous["risk_score"].tolist() == [65.0, 45.0, 50.0, 5.0]


def test_previous_rank_score_and_change_are_added_empty_for_new_accounts(previous):
    out = add_previous(RANKED, previous)
    expected = RANKED.assign(previous_rank=pd.array([None, 2, 1, 4], dtype="Int64"),
                             previous_score=[float("nan"), 45.0, 65.0, 5.0],
                             score_change=[float("nan"), -5.0, -52.5, 0.0])
    pd.testing.assert_frame_equal(out, expected)


def test_who_entered_left_and_moved_most(previous):
    m = movers(RANKED, previous)
    assert m.entered[["account_id", "risk_tier"]].values.tolist() == [["00123", "high"]]  # new: no previous score
    assert m.entered["previous_score"].isna().all()
    assert m.left[["account_id", "previous_rank", "previous_tier", "risk_tier"]].fillna("").values.tolist() == [
        ["A3", 1, "high", "low"], ["A9", 3, "medium", ""]]
    assert m.biggest[["account_id", "score_change"]].values.tolist() == [["A3", -52.5], ["A2", -5.0]]


@pytest.mark.parametrize("text,message", [
    ("rank,account_id\n1,A1\n", "prev.csv: previous ranked list has no column 'risk_score'; pass a list written by "
                                "'churnscore score'."),
    ("rank,account_id,risk_score\n1,A1,high\n", "prev.csv:2: previous ranked list row without a number in rank or "
                                               "risk_score."),
])
def test_a_previous_list_that_is_not_one_fails_clearly(tmp_path, text, message):
    with pytest.raises(InputDataError, match=re.escape(message)):
        read_previous(write_text(tmp_path / "prev.csv", text))


def test_score_previous_adds_the_columns_to_the_written_list(tmp_path):
    d = tmp_path / "in"
    write_text(d / "accounts.csv", "account_id,account_name,mrr,signup_date\n00123,Acme,100,2025-01-01\n"
                                   "A2,Bolt,50,2025-01-01\n")
    write_text(d / "usage.csv", "account_id,timestamp\n00123,2026-10-01\nA2,2026-10-30\n")
    prev = write_text(tmp_path / "prev.csv", "rank,account_id,account_name,risk_score,risk_tier\n"
                                             "1,00123,Acme,10.0,low\n")
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["score", "--input-dir", str(d), "--as-of", "2026-10-31", "--out", str(out),
                                       "--previous", str(prev)])
    assert result.exit_code == 0, result.stderr
    ranked = pd.read_csv(out, dtype=str, keep_default_na=False)
    # 00123: dormant 30 days (0.4); A2: nothing. (No event column: no key feature occurs in usage, so
    # low_key_feature_adoption cannot judge and is switched off.)
    assert ranked[["account_id", "risk_score", "previous_rank", "previous_score", "score_change"]].values.tolist() == [
        ["00123", "40.0", "1", "10.0", "30.0"], ["A2", "0.0", "", "", ""]]


def test_score_previous_missing_file_is_one_line_exit_1(tmp_path):
    result = CliRunner().invoke(main, ["score", "--previous", str(tmp_path / "nope.csv"), "--out",
                                       str(tmp_path / "r.csv")])
    assert result.exit_code == 1
    assert result.stderr == f"churnscore: error: {tmp_path / 'nope.csv'}: no such file (--previous).\n"
