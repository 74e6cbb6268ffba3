"""pipeline's stages, each a public function, on a tiny folder of exports: load_exports -> as_of_for ->
note_rows and universe -> event_use and feature_table -> judge_rules -> ranked_list; and score, which calls
them in turn and reads what they return into its summary."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import QUIET_RULES as RULES
from conftest import TINY_ACCOUNTS as ACCOUNTS
from conftest import TINY_USAGE as USAGE
from conftest import config, write_text

from churnscore.asof import GIVEN, LATEST, AsOf, accounts_date, as_of_for, parse_as_of
from churnscore.errors import InputDataError
from churnscore.pipeline import (event_use, feature_table, judge_rules, load_exports, ranked_list, score)
from churnscore.universe import RowNotes, note_rows, universe


@pytest.fixture
def folder(tmp_path):
    write_text(tmp_path / "accounts.csv", ACCOUNTS)
    write_text(tmp_path / "usage.csv", USAGE)
    return tmp_path


def test_parse_as_of_makes_one_utc_calendar_day():
    assert parse_as_of("2026-10-01T23:30:00-02:00") == AsOf(pd.Timestamp("2026-10-02"), GIVEN)
    assert parse_as_of(pd.Timestamp("2026-10-01 17:45")) == AsOf(pd.Timestamp("2026-10-01"), GIVEN)
    given = parse_as_of("2026-10-01")
    assert parse_as_of(given) is given and parse_as_of(None) is None
    assert given.end == pd.Timestamp("2026-10-02")
    with pytest.raises(InputDataError, match=r"^--as-of: '10/32/2026' is not a date \(use YYYY-MM-DD\)\.$"):
        parse_as_of("10/32/2026")


def test_the_default_as_of_is_the_latest_usage_day_before_the_horizon(folder):
    loaded = load_exports(config(RULES, base_dir=folder), folder)
    assert as_of_for(loaded, None) == AsOf(pd.Timestamp("2026-10-15"), LATEST, None)
    # run on 2026-10-10: the horizon ends after 2026-10-11, so the row of 2026-10-15 is ignored
    early = as_of_for(loaded, None, today=pd.Timestamp("2026-10-10"))
    assert (early.day, early.source, early.beyond.rows) == (pd.Timestamp("2026-09-25"), LATEST, 1)
    assert early.beyond.latest == pd.Timestamp("2026-10-15 10:00")
    given = parse_as_of("2026-10-01")
    assert as_of_for(loaded, given) is given
    # the accounts export's day: the default as-of (taken from the run's AsOf when it is the default)
    cfg = config(RULES, base_dir=folder)
    assert accounts_date(loaded, cfg, given) == pd.Timestamp("2026-10-15")
    assert accounts_date(loaded, cfg, AsOf(pd.Timestamp("2026-10-15"), LATEST)) == pd.Timestamp("2026-10-15")


def test_each_stage_returns_what_it_found(folder):
    cfg = config(RULES, base_dir=folder)
    loaded = load_exports(cfg, folder)
    when = as_of_for(loaded, parse_as_of("2026-10-01"))
    assert note_rows(loaded, when) == RowNotes({"usage": 1}, {"usage": 1})
    found = universe(loaded, when.day)
    assert found.index.tolist() == ["A1", "A2"]
    assert found.excluded.values.tolist() == [["A3", "signed up after the as-of date"],
                                              ["A9", "not in the accounts export"]]
    assert sorted(found.ids_seen) == ["A1", "A2", "A3", "A9"]
    events = event_use(cfg, loaded, found.index, when, always=True)
    assert events.seen == frozenset({"login", "report"})
    assert (events.accounts.to_dict(), events.total) == ({"login": 2, "report": 1}, 2)
    table = feature_table(loaded, found.index, when, cfg, None)
    assert table["usage_events_30d"].tolist() == [2.0, 1.0]
    assert table["mrr"].tolist() == [100.0, 200.0]
    judged = judge_rules(cfg, table, events)
    assert judged.flags["quiet"].tolist() == [False, True]
    assert judged.score.tolist() == [0.0, 50.0]
    ranked = ranked_list(cfg, table, judged, loaded.frame("accounts"), when)
    assert ranked[["account_id", "risk_score", "risk_tier"]].values.tolist() == [["A2", 50.0, "medium"],
                                                                              ["A1", 0.0, "low"]]
    loaded.close()


def test_score_reads_the_stages_results_into_its_summary(folder):
    result = score(config(RULES, base_dir=folder), input_dir=folder, as_of="2026-10-01")
    summary = result.summary()
    assert (summary["as_of"], summary["as_of_source"]) == ("2026-10-01", "--as-of")
    assert summary["accounts_in_inputs"] == 4 and summary["accounts_scored"] == 2
    assert summary["accounts_excluded"] == {"not in the accounts export": 1, "signed up after the as-of date": 1}
    usage = summary["files"]["usage"]
    assert (usage["rows_after_as_of"], usage["rows_unknown_account"]) == (1, 1)
    assert summary["files"]["accounts"]["rows_after_as_of"] == 0
    assert result.ranked["account_id"].tolist() == ["A2", "A1"]
    latest = score(config(RULES, base_dir=folder), input_dir=folder).summary()
    assert (latest["as_of"], latest["as_of_source"], latest["warnings"]) == ("2026-10-15", "latest usage date", [])
