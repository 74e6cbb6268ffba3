"""rulecheck.py: rules that cannot judge on the data are switched off with why; the events of usage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnscore.config import AnyOf, FeatureParams, Leaf, parse_config
from churnscore.features import feature
from churnscore.rulecheck import (MIN_ACCOUNTS, EventUse, RuleOff, event_accounts, events_seen, flags_of, judge)

N = MIN_ACCOUNTS
IDS = pd.Index([f"A{i:02d}" for i in range(N)], name="account_id")
PARAMS = FeatureParams(key_features=("report", "export"), login_event="login")
EVENTS = EventUse(frozenset({"login", "report", "export", "page_view"}),
                  pd.Series([18, 10, 4], index=pd.Index(["page_view", "login", "report"], dtype="str")), N)


def rules(*specs):
    raw = [{"name": f"r{i}", "weight": 0.5, "reason": f"r{i}", **s} for i, s in enumerate(specs)]
    return parse_config({"rules": raw}).rules


def table(**cols):
    return pd.DataFrame({name: np.asarray(v, dtype="float64") for name, v in cols.items()}, index=IDS)


VARIED = np.arange(N, dtype="float64")


def test_the_catalogue_names_the_event_settings_features_are_built_from():
    assert feature("first30_logins_per_day").events == "login_event"
    assert feature("first_session_seconds").events == "login_event"
    assert feature("key_feature_adoption").events == "key_features"
    assert feature("key_feature_events_30d").events == "key_features"
    assert feature("usage_events_30d").events == ""


def test_a_rule_on_an_absent_login_event_is_off_and_says_which_events_are_used():
    rs = rules({"name": "weak_start", "when": {"any": [{"feature": "first30_logins_per_day", "op": "lt", "value": 0.5},
                                                       {"feature": "first_session_seconds", "op": "lt", "value": 120}]}},
               {"name": "busy", "when": {"feature": "usage_events_30d", "op": "ge", "value": 5}})
    events = EventUse(frozenset({"page_view", "report"}), EVENTS.accounts.drop("login"), N)
    checks = judge(rs, table(first30_logins_per_day=np.zeros(N), first_session_seconds=VARIED,
                             usage_events_30d=VARIED), PARAMS, events)
    assert checks.off == (RuleOff("weak_start", "no 'login' event in usage; most frequent events: page_view (90% of "
                                                "accounts), report (20% of accounts)"),)
    assert [r.name for r in checks.rules] == ["busy"]
    assert checks.lines() == ["weak_start off: no 'login' event in usage; most frequent events: page_view (90% of "
                              "accounts), report (20% of accounts)"]


def test_an_all_rule_with_a_constant_or_empty_input_is_off():
    rs = rules({"name": "quiet", "when": {"all": [{"feature": "tickets_open", "op": "ge", "value": 1},
                                                  {"feature": "usage_events_30d", "op": "ge", "value": 5}]}},
               {"name": "nps", "when": {"feature": "nps_latest", "op": "le", "value": 6}},
               {"name": "no_nps", "when": {"feature": "nps_latest", "op": "missing"}},
               {"name": "busy", "when": {"feature": "usage_events_30d", "op": "ge", "value": 5}})
    checks = judge(rs, table(tickets_open=np.zeros(N), usage_events_30d=VARIED, nps_latest=np.full(N, np.nan)),
                   PARAMS, EVENTS)
    assert checks.off == (RuleOff("quiet", "'tickets_open' is 0 for every account"),
                          RuleOff("nps", "'nps_latest' is empty for every account"),
                          RuleOff("no_nps", "'nps_latest' is empty for every account"))
    assert [r.name for r in checks.rules] == ["busy"]


def test_constant_among_the_accounts_that_have_a_value_and_present_for_all():
    values = np.where(VARIED < 5, np.nan, 7.0)  # 7 wherever known
    rs = rules({"name": "cmp", "when": {"feature": "nps_latest", "op": "le", "value": 8}},
               {"name": "missing", "when": {"feature": "nps_latest", "op": "missing"}},
               {"name": "present", "when": {"feature": "seats", "op": "present"}})
    checks = judge(rs, table(nps_latest=values, seats=VARIED), PARAMS, EVENTS)
    assert checks.off == (RuleOff("cmp", "'nps_latest' is 7 for every account that has one"),
                          RuleOff("present", "'seats' is present for every account"))
    assert [r.name for r in checks.rules] == ["missing"]  # some missing, some not: it tells accounts apart


def test_an_any_rule_drops_only_the_branch_that_cannot_judge():
    rs = rules({"name": "either", "weight": 0.3, "reason": "why", "play": "call",
                "when": {"any": [{"feature": "tickets_open", "op": "ge", "value": 1},
                                 {"feature": "usage_events_30d", "op": "le", "value": 3}]}})
    checks = judge(rs, table(tickets_open=np.zeros(N), usage_events_30d=VARIED), PARAMS, EVENTS)
    assert checks.off == ()
    (rule,) = checks.rules
    assert (rule.name, rule.weight, rule.reason, rule.play) == ("either", 0.3, "why", "call")
    assert rule.when == AnyOf((Leaf("usage_events_30d", "le", 3),))
    assert checks.notes == ("either: one 'any' branch dropped ('tickets_open' is 0 for every account)",)
    flags = flags_of(checks, rs, table(tickets_open=np.zeros(N), usage_events_30d=VARIED))
    assert flags["either"].tolist() == [True] * 4 + [False] * (N - 4)


def test_few_accounts_are_not_judged_constant_but_absent_events_are():
    few = IDS[:3]
    rs = rules({"name": "quiet", "when": {"feature": "tickets_open", "op": "ge", "value": 1}},
               {"name": "keys", "when": {"feature": "key_feature_adoption", "op": "lt", "value": 0.5}})
    t = pd.DataFrame({"tickets_open": [0.0, 0.0, 0.0], "key_feature_adoption": [0.0, 0.0, 0.0]}, index=few)
    checks = judge(rs, t, PARAMS, EventUse(frozenset({"login"})))
    assert checks.off == (RuleOff("keys", "none of the key features ('report', 'export') in usage; most frequent "
                                          "events: login"),)


def test_some_key_features_absent_keeps_the_rule_with_a_note():
    rs = rules({"name": "keys", "when": {"feature": "key_feature_adoption", "op": "lt", "value": 0.5}})
    checks = judge(rs, table(key_feature_adoption=VARIED / N), PARAMS, EventUse(frozenset({"report", "login"})))
    assert checks.off == ()
    assert checks.notes == ("key features never in usage: export (adoption is counted out of 2; fix "
                            "features.key_features)",)


def test_flags_of_gives_every_rule_a_column_false_when_off():
    rs = rules({"name": "quiet", "when": {"feature": "tickets_open", "op": "ge", "value": 0}},
               {"name": "busy", "when": {"feature": "usage_events_30d", "op": "ge", "value": 18}})
    t = table(tickets_open=np.zeros(N), usage_events_30d=VARIED)
    flags = flags_of(judge(rs, t, PARAMS, EVENTS), rs, t)
    assert list(flags.columns) == ["quiet", "busy"]
    assert flags.sum().to_dict() == {"quiet": 0, "busy": 2}


def test_event_accounts_counts_accounts_per_event_by_the_as_of_date():
    usage = pd.DataFrame({
        "account_id": pd.Series(["A", "A", "B", "B", "C", "Z", "A"], dtype="category"),
        "event": pd.Series(["login", "login", "login", "report", "report", "login", "export"], dtype="category"),
        "timestamp": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-31T23:00", "2024-03-05",
                                     "2024-03-05", "2024-04-01"], format="ISO8601"),
    })
    counts = event_accounts(usage, pd.Index(["A", "B", "C"]), pd.Timestamp("2024-03-31"))
    # Z is not scored; A's export is after the as-of date
    assert counts.to_dict() == {"login": 2, "report": 2}
    assert list(counts.index) == ["login", "report"]
    assert events_seen(usage) == frozenset({"login", "report", "export"})
    use = EventUse(events_seen(usage), counts, 3)
    assert use.top() == [("login", 2 / 3), ("report", 2 / 3)]
    assert use.words() == "login (67% of accounts), report (67% of accounts)"


def test_score_names_the_rules_off_in_the_summary_manifest_and_report(tmp_path):
    import json

    from click.testing import CliRunner

    from churnscore.cli import main

    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text("account_id,signup_date\nA1,2024-03-20\nA2,2024-01-01\n")
    (d / "usage.csv").write_text("account_id,timestamp,event\nA1,2024-03-25,page_view\nA2,2024-03-30,page_view\n"
                                 "A2,2024-03-31,export\n")
    out = tmp_path / "out" / "ranked.csv"
    result = CliRunner().invoke(main, ["score", "--input-dir", str(d), "--out", str(out), "--report",
                                       str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    weak = ("weak_start off: no 'login' event in usage; most frequent events: page_view (100% of accounts), "
            "export (50% of accounts)")
    keys = ("low_key_feature_adoption off: none of the key features ('report_created', 'dashboard_viewed', "
            "'integration_sync') in usage; most frequent events: page_view (100% of accounts), export (50% of "
            "accounts)")
    assert [ln for ln in result.output.splitlines() if ln.startswith("  rule ")] == [f"  rule {keys}", f"  rule {weak}"]
    manifest = json.loads((tmp_path / "out" / "ranked.manifest.json").read_text())
    assert [o["rule"] for o in manifest["rules_off"]] == ["low_key_feature_adoption", "weak_start"]
    html = (tmp_path / "r.html").read_text()
    assert "<li><b>weak_start</b> off: no &#x27;login&#x27; event in usage;" in html
