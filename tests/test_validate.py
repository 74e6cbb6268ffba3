"""validate.validate through Python: the as-of date it settles on, the rows it says are left out, who would be
scored, and the rules it finds switched off; the same stage functions score calls."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import QUIET_RULES as RULES
from conftest import TINY_ACCOUNTS as ACCOUNTS
from conftest import TINY_USAGE as USAGE
from conftest import config, write_text

from churnscore.errors import InputDataError
from churnscore.limits import horizon_end
from churnscore.validate import validate

UNKNOWN = "usage: 1 row for 1 account id not in the accounts export (they are not scored)."


def folder(tmp_path, usage: str = USAGE):
    write_text(tmp_path / "accounts.csv", ACCOUNTS)
    write_text(tmp_path / "usage.csv", usage)
    return tmp_path


def test_a_given_as_of_date_notes_the_rows_after_it_and_for_unknown_ids(tmp_path):
    d = folder(tmp_path)
    v = validate(config(RULES, base_dir=d), d, "2026-10-01")
    assert (v.as_of, v.as_of_source, v.ok) == (pd.Timestamp("2026-10-01"), "--as-of", True)
    assert v.notes == ["usage: 1 rows dated after the as-of date 2026-10-01 are not used.", UNKNOWN]
    assert v.rule_checks.events.top() == [("login", 1.0), ("report", 0.5)]  # of A1 and A2, scored
    assert v.rule_checks.off == ()


def test_the_default_as_of_is_the_latest_usage_day(tmp_path):
    d = folder(tmp_path)
    v = validate(config(RULES, base_dir=d), d)
    assert (v.as_of, v.as_of_source) == (pd.Timestamp("2026-10-15"), "latest usage date")
    assert v.notes == [UNKNOWN]


def test_usage_past_the_run_date_is_left_out_of_the_default(tmp_path):
    d = folder(tmp_path, USAGE + "A2,2099-01-01T10:00:00Z,u2,login,1,30\n")
    v = validate(config(RULES, base_dir=d), d)
    assert (v.as_of, v.as_of_source) == (pd.Timestamp("2026-10-15"), "latest usage date")
    last = (horizon_end() - pd.Timedelta(days=1)).date()
    assert v.notes == [f"usage: 1 rows dated after {last} (the run date plus 1 day) are ignored for the default "
                       "as-of date; the latest 2099-01-01.",
                       "usage: 1 rows dated after the as-of date 2026-10-15 are not used.", UNKNOWN]


def test_an_as_of_date_before_every_account_is_a_problem(tmp_path):
    d = folder(tmp_path)
    v = validate(config(RULES, base_dir=d), d, pd.Timestamp("2024-01-01 12:00"))
    assert v.as_of == pd.Timestamp("2024-01-01") and v.rule_checks is None and not v.ok
    assert v.problems == ["no account left to score as of 2024-01-01: all 4 accounts in the inputs excluded "
                          "(1 not in the accounts export; 3 signed up after the as-of date); 'churnscore score' "
                          "would stop."]


def test_a_missing_input_folder_is_an_error(tmp_path):
    with pytest.raises(InputDataError, match=r"nope: input folder not found \(--input-dir or input_dir in the "
                                             r"config\)\.$"):
        validate(config(RULES, base_dir=tmp_path), tmp_path / "nope")



def test_the_rules_switched_off_are_those_score_switches_off_before_the_accounts_exports_day(tmp_path):
    """Before the day the accounts export describes (its latest usage day, 2026-10-15), renewal dates with no
    contract term are left empty, in validate as in score: a rule on them cannot judge in either; on that day
    both judge with it."""
    from churnscore.pipeline import score

    ids = [f"A{i:02d}" for i in range(1, 25)]  # rulecheck judges a rule's inputs from 20 accounts
    write_text(tmp_path / "accounts.csv", ACCOUNTS.splitlines()[0] + "\n" + "".join(
        f"{a},{a},pro,100,3,2025-01-01,2027-0{1 + i % 9}-01,true,SMB,\n" for i, a in enumerate(ids)))
    write_text(tmp_path / "usage.csv", USAGE.splitlines()[0] + "\n" + "".join(
        f"{a},2026-10-{1 + i % 15:02d}T10:00:00Z,u{i},login,1,30\n" for i, a in enumerate(ids)))
    raw = {"rules": [{"name": "renews_soon", "weight": 0.5, "reason": "renews soon",
                      "when": {"feature": "days_to_renewal", "op": "lt", "value": 200}}], "playbook": []}
    for day, off in (("2026-10-10", ["renews_soon"]), ("2026-10-15", [])):
        checked = validate(config(raw, base_dir=tmp_path), tmp_path, day).rule_checks
        scored = score(config(raw, base_dir=tmp_path), input_dir=tmp_path, as_of=day).checks
        assert [o.rule for o in checked.off] == [o.rule for o in scored.off] == off, day
