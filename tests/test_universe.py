"""Who is scored and who is excluded, and the row counts beside them: the same whether the exports' account
ids share the loader's one codebook (sets worked out on codes) or not (sets of text, as the Dask engine's)."""

from __future__ import annotations

import pytest
from conftest import config, write_text

from churnscore.asof import parse_as_of
from churnscore.load import load_all
from churnscore.universe import RowNotes, note_rows, shared_ids, universe

AS_OF = parse_as_of("2026-10-01")
ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A1,One,pro,100,3,2025-01-01,2027-01-01,true,SMB,
A2,Two,pro,100,3,2025-01-01,2027-01-01,true,SMB,2026-09-01
A3,Three,pro,100,3,2026-11-01,2027-11-01,true,SMB,
"""
USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A1,2026-09-20T10:00:00Z,u1,login,1,30
A4,2026-09-21T10:00:00Z,u2,login,1,30
A5,2026-10-15T10:00:00Z,u3,login,1,30
A1,2026-09-22T10:00:00Z,u1,login,1,30
"""
TICKETS = """ticket_id,account_id,created_at,resolved_at,status,priority,category,csat
T1,A2,2026-08-01T10:00:00Z,,open,high,bug,
T2,A6,2026-09-01T10:00:00Z,,open,high,bug,
"""


def loaded_from(tmp_path, with_accounts: bool, as_text: bool):  # noqa: ANN001, ANN201
    write_text(tmp_path / "usage.csv", USAGE)
    write_text(tmp_path / "tickets.csv", TICKETS)
    if with_accounts:
        write_text(tmp_path / "accounts.csv", ACCOUNTS)
    loaded = load_all(config(None, base_dir=tmp_path), tmp_path)
    assert shared_ids([f["account_id"] for f in loaded.frames.values()]) is not None
    if as_text:  # ids as plain text: no shared codes
        for frame in loaded.frames.values():
            frame["account_id"] = frame["account_id"].astype("str")
        assert shared_ids([f["account_id"] for f in loaded.frames.values()]) is None
    return loaded


@pytest.mark.parametrize("as_text", [False, True])
def test_with_accounts_the_accounts_export_decides_and_other_ids_are_unknown(tmp_path, as_text):
    loaded = loaded_from(tmp_path, True, as_text)
    rows = note_rows(loaded, AS_OF)
    found = universe(loaded, AS_OF.day)
    index, excluded = found.index, found.excluded
    assert index.tolist() == ["A1"]
    assert excluded.values.tolist() == [["A2", "churned on or before the as-of date"],
                                        ["A3", "signed up after the as-of date"],
                                        ["A4", "not in the accounts export"],
                                        ["A5", "not in the accounts export"],
                                        ["A6", "not in the accounts export"]]
    assert sorted(found.ids_seen) == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert rows == RowNotes({"usage": 1, "tickets": 0}, {"usage": 2, "tickets": 1})
    # validate's count of the distinct ids: A4 and A5 in usage, A6 in tickets
    assert note_rows(loaded, AS_OF, count_ids=True) == RowNotes({"usage": 1, "tickets": 0},
                                                                {"usage": 2, "tickets": 1},
                                                                {"usage": 2, "tickets": 1})


@pytest.mark.parametrize("as_text", [False, True])
def test_without_accounts_an_id_with_a_row_by_the_as_of_date_is_a_customer(tmp_path, as_text):
    loaded = loaded_from(tmp_path, False, as_text)
    rows = note_rows(loaded, AS_OF)
    found = universe(loaded, AS_OF.day)
    index, excluded = found.index, found.excluded
    assert index.tolist() == ["A1", "A2", "A4", "A6"]
    assert excluded.values.tolist() == [["A5", "no rows on or before the as-of date"]]
    assert sorted(found.ids_seen) == ["A1", "A2", "A4", "A5", "A6"]
    assert rows == RowNotes({"usage": 1, "tickets": 0}, {})
