"""discover.py: the login event and key features found in a hand-made history whose answer is known.

One snapshot, 2024-03-31 (as of 2024-04-30, horizon 30 days), short window 28 days = weeks 0-3 before it.
Stayers (S1-S4) use 'report' every active week; leavers (L1-L4, churned 2024-04-15) never do and use 'help'
instead; everybody uses 'open' every active day and 'export' every week; only S1 ever used 'rare'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import day, typed

from churnscore.config import parse_config
from churnscore.discover import discover, discovery_text, event_day_shares, regular_use
from churnscore.errors import ModelError
from churnscore.load import REJECT_COLUMNS, Loaded

AS_OF = pd.Timestamp("2024-04-30")  # the snapshot is AS_OF - horizon = conftest's AS_OF (2024-03-31)
STAYERS, LEAVERS = ["S1", "S2", "S3", "S4"], ["L1", "L2", "L3", "L4"]
ACTIVE_AGES = [1, 8, 15, 22]  # one active day in each of the four weeks before the snapshot


def _row(account, age, event):
    return {"account_id": account, "timestamp": day(age), "user_id": "u", "event": event, "count": 1}


def history() -> Loaded:
    rows = []
    for a in STAYERS + LEAVERS:
        for age in ACTIVE_AGES:
            rows += [_row(a, age, "open"), _row(a, age, "export"), _row(a, age, "report" if a in STAYERS else "help")]
    rows += [_row("S1", 1, "rare"), _row("Q", 40, "open")]  # Q: no active week in the window
    accounts = [{"account_id": a, "signup_date": "2023-01-01"} for a in STAYERS + ["Q"]]
    accounts += [{"account_id": a, "signup_date": "2023-01-01", "churn_date": "2024-04-15"} for a in LEAVERS]
    frames = {name: typed(name, None) for name in ("nps", "tickets", "payments")}
    frames.update(usage=typed("usage", rows), accounts=typed("accounts", accounts))
    return Loaded(frames, pd.DataFrame(columns=REJECT_COLUMNS), {}, [])


CONFIG = parse_config({"windows": {"short_days": 28, "long_days": 28},
                       "model": {"horizon_days": 30, "observation_interval_days": 30, "min_history_days": 0,
                                 "observation_count": 1}})


def test_login_is_the_event_on_the_most_active_account_days():
    shares = event_day_shares([history().frame("usage")], AS_OF)
    # 33 active account-days: 8 accounts x 4 days, and Q's one
    assert shares.index.tolist() == ["open", "export", "help", "report", "rare"]  # equal shares: by name
    np.testing.assert_array_equal(shares.to_numpy(), np.array([33, 32, 16, 16, 1]) / 33)


def test_regular_use_is_the_share_of_active_weeks_with_the_event():
    loaded = history()
    usage = loaded.frame("usage")
    usage = pd.concat([usage, typed("usage", [_row("S2", 2, "rare")])], ignore_index=True)
    index = pd.Index(["S1", "S2", "L1", "Q"], dtype="str")
    share = regular_use([usage], index, pd.Timestamp("2024-03-31"), 28, pd.Index(["report", "rare", "nothing"]))
    expected = pd.DataFrame({"report": [1.0, 1.0, 0.0, np.nan], "rare": [0.25, 0.25, 0.0, np.nan],
                             "nothing": [0.0, 0.0, 0.0, np.nan]}, index=index)
    pd.testing.assert_frame_equal(share, expected, check_exact=True)


def test_key_features_are_the_regular_events_of_the_accounts_that_stayed():
    found = discover(history(), CONFIG, AS_OF, min_share=0.2)
    assert (found.login_event, found.login_share) == ("open", 1.0)
    assert found.key_features == ["report"]  # rare: used by 1 of 8 (< 20%); export: AUC 0.5; help: 0
    assert (found.snapshots, found.rows, found.churners) == (1, 8, 4)  # Q: no active week, left out
    by_name = {f.event: f for f in found.events}
    assert [f.event for f in found.events] == ["open", "report", "rare", "export", "help"]
    assert (by_name["report"].roc_auc, by_name["report"].used_share) == (1.0, 0.5)
    assert (by_name["report"].churn_users, by_name["report"].churn_others) == (0.0, 1.0)
    assert by_name["rare"].roc_auc == 0.625  # S1 above the 4 leavers, 3 stayers tied with them: 10/16
    assert (by_name["export"].roc_auc, by_name["help"].roc_auc) == (0.5, 0.0)
    assert found.config_lines() == "features:\n  login_event: open\n  key_features: [report]"
    text = discovery_text(found)
    assert text.endswith("features:\n  login_event: open\n  key_features: [report]")
    assert "    report  used by  50%, AUC 1.00; churned 0.0% of users vs 100.0% of the rest  <- key" in text


def test_a_lower_minimum_share_lets_a_rare_event_in():
    assert discover(history(), CONFIG, AS_OF, min_share=0.1).key_features == ["report", "rare"]


def test_nothing_is_proposed_when_no_event_separates():
    found = discover(history(), CONFIG, AS_OF, min_auc=1.01)
    assert found.key_features == []
    assert found.config_lines() == "features:\n  login_event: open\n  key_features: []"
    assert found.notes == ["no event used by 10% of the accounts separates those that stayed from those that "
                           "left (ROC AUC 1.01 or more): no key features proposed."]


def test_history_without_churn_dates_is_refused():
    loaded = history()
    loaded.frames["accounts"] = typed("accounts", [{"account_id": "S1", "signup_date": "2023-01-01"}])
    with pytest.raises(ModelError, match="churn_date"):
        discover(loaded, CONFIG, AS_OF)


def test_a_spilled_usage_export_gives_the_in_memory_proposal(monkeypatch):
    """With usage on disk by account, each snapshot reads the parts: the same figures as in memory. On the
    sample the proposal is the login and the three key features its generator made."""
    from pathlib import Path

    import churnscore.load.spill as spill_mod
    from churnscore.config import DEFAULT_CONFIG, load_config
    from churnscore.load import load_all

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    config = load_config(DEFAULT_CONFIG, [])
    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    found = {}
    for where, threshold in (("memory", 1 << 60), ("disk", 0)):
        monkeypatch.setattr(spill_mod, "SPILL_BYTES", threshold)
        loaded = load_all(config, sample, spill=True)
        assert bool(loaded.spilled) == (where == "disk")
        found[where] = discover(loaded, config, pd.Timestamp("2026-10-31"))
        loaded.close()
    assert found["disk"] == found["memory"]
    assert found["memory"].login_event == "login"
    assert found["memory"].key_features == ["dashboard_viewed", "report_created", "integration_sync"]
