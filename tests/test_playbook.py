"""The playbook (who does what by when), the revenue-at-risk headline and the report's owners."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from reportdata import FLAGS, RANKED, RULES, SCORING, SUMMARY

from churnscore import words
from churnscore.config import load_config, parse_config
from churnscore.errors import ConfigError
from churnscore.pipeline import ScoreResult
from churnscore.playbook import check_playbook, choose
from churnscore.report import score_report

AS_OF = pd.Timestamp("2026-10-31")
IDS = ["big", "small", "mid", "calm"]


def situation():
    ranked = pd.DataFrame({"account_id": IDS, "risk_score": [80.0, 70.0, 45.0, 5.0],
                           "risk_tier": ["high", "high", "medium", "low"],
                           "suggested_play": ["rule play A", "rule play B", "rule play C", ""]})
    table = pd.DataFrame({"mrr": [45060.0, 49.0, 900.0, 100.0], "days_to_renewal": [5.0, 200.0, 20.0, np.nan]},
                         index=pd.Index(IDS, name="account_id"))
    told = pd.DataFrame({"dormant": [True, True, False, False], "never_used": [False] * 4,
                         "payment_failed": [False] * 4, "overdue": [False] * 4},
                        index=pd.Index(IDS, name="account_id"))
    return ranked, table, told


def test_the_first_matching_entry_chooses_play_owner_and_due_date():
    playbook = parse_config({"playbook": [
        {"name": "big_renewal", "owner": "account executive", "due_days": 3, "play": "renewal call",
         "when": {"all": [{"feature": "mrr", "op": "ge", "value": 5000},
                          {"feature": "days_to_renewal", "op": "le", "value": 30}]}},
        {"name": "small_dormant", "owner": "e-mail sequence", "due_days": 2, "play": "win-back sequence",
         "when": {"all": [{"feature": "mrr", "op": "lt", "value": 500}, {"feature": "flag_dormant", "op": "eq",
                                                                       "value": 1}]}},
        {"name": "at_risk", "owner": "customer success manager", "due_days": 14, "play": None,
         "when": {"feature": "risk_tier", "op": "in", "value": ["high", "medium"]}},
        {"name": "watch", "owner": "nobody yet", "due_days": 30}]}).playbook
    ranked, table, told = situation()
    got = choose(playbook, ranked, table, told, AS_OF)
    assert got.to_dict("list") == {
        "suggested_play": ["renewal call", "win-back sequence", "rule play C", ""],
        "play_owner": ["account executive", "e-mail sequence", "customer success manager", "nobody yet"],
        "play_due": ["2026-11-03", "2026-11-02", "2026-11-14", "2026-11-30"]}


def test_the_default_playbook_sends_a_large_renewal_to_its_executive_and_a_small_dormant_one_to_e_mail():
    config = load_config(None)
    ranked, table, told = situation()
    got = choose(config.playbook, ranked, table, told, AS_OF)
    assert got["play_owner"].tolist()[:2] == ["account executive", "e-mail sequence"]
    assert got["play_due"].tolist()[0] <= "2026-11-07"  # this week


def test_without_a_playbook_the_rule_play_stays_and_no_owner_is_named():
    ranked, table, told = situation()
    got = choose((), ranked, table, told, AS_OF)
    assert got["suggested_play"].tolist() == ["rule play A", "rule play B", "rule play C", ""]
    assert got["play_owner"].tolist() == [""] * 4


def test_a_playbook_condition_names_known_fields_and_ends_with_a_default():
    rules = load_config(None).rules
    bad = parse_config({"playbook": [{"name": "x", "owner": "o", "due_days": 1,
                                      "when": {"feature": "revenue", "op": "ge", "value": 1}},
                                     {"name": "d", "owner": "o", "due_days": 1}]}).playbook
    with pytest.raises(ConfigError, match=re.escape("config: playbook[0] (x) names 'revenue'")):
        check_playbook(bad, rules)
    tier = parse_config({"playbook": [{"name": "t", "owner": "o", "due_days": 1,
                                       "when": {"feature": "risk_tier", "op": "ge", "value": 1}},
                                      {"name": "d", "owner": "o", "due_days": 1}]}).playbook
    with pytest.raises(ConfigError, match="risk_tier is high, medium or low"):
        check_playbook(tier, rules)
    with pytest.raises(ConfigError, match=re.escape("the last playbook entry ('x') needs no 'when'")):
        parse_config({"playbook": [{"name": "x", "owner": "o", "due_days": 1,
                                    "when": {"feature": "mrr", "op": "ge", "value": 1}}]})


def headline_of(ranked, tiers=("high", "medium"), currency=None):
    result = ScoreResult(ranked, None, None, None, None, AS_OF, "--as-of", revenue_tiers=tiers, currency=currency)
    return result.headline()


def test_revenue_at_risk_counts_the_configured_tiers_in_the_configured_currency():
    ranked = pd.DataFrame({"risk_tier": ["high", "medium", "low"], "mrr": [1000.0, 500.0, 300.0],
                           "revenue_at_risk": [750.0, 200.0, 30.0]})
    assert headline_of(ranked) == {"revenue_at_risk": 950.0, "revenue_at_risk_tiers": ["high", "medium"],
                                   "currency": None}
    assert headline_of(ranked, ("high",), "EUR")["revenue_at_risk"] == 750.0
    assert words.headline(headline_of(ranked, ("high",), "EUR")) == "EUR 750.00 a month (risk x MRR, high tiers)"
    assert words.headline(headline_of(ranked)) == "950.00 a month (risk x MRR, high and medium tiers)"
    none = ranked.assign(mrr=np.nan, revenue_at_risk=np.nan)
    assert headline_of(none)["revenue_at_risk"] is None
    assert words.headline(headline_of(none)) == "unknown (no account has MRR)"


def test_the_config_names_the_tiers_and_the_currency():
    config = parse_config({"scoring": {"revenue_at_risk_tiers": ["high"]}, "output": {"currency": "USD"}})
    assert (config.scoring.revenue_at_risk_tiers, config.output.currency) == (("high",), "USD")
    assert parse_config({}).scoring.revenue_at_risk_tiers == ("high", "medium")
    with pytest.raises(ConfigError, match="scoring.revenue_at_risk_tiers"):
        parse_config({"scoring": {"revenue_at_risk_tiers": ["severe"]}})


def test_the_report_groups_the_top_accounts_by_owner_and_gives_the_headline_definition():
    ranked = RANKED.assign(play_owner=["account executive", "e-mail sequence", "account executive"],
                           play_due=["2026-11-03", "2026-11-02", "2026-11-30"])
    summary = {**SUMMARY, "revenue_at_risk": 950.0, "revenue_at_risk_tiers": ["high", "medium"], "currency": "EUR"}
    html = score_report(ranked, FLAGS, summary, rules=RULES, scoring=SCORING,
                        generated=datetime(2026, 11, 1, tzinfo=timezone.utc))
    owners = re.findall(r"<h3 class='owner'>([^<]*)<span class='note'>\(([^)]*)\)", html)
    assert owners == [("account executive ", "2 accounts"), ("e-mail sequence ", "1 account")]
    assert "(by 2026-11-03)" in html
    assert "EUR 950.00" in html and "summed over the high and medium tiers" in html
