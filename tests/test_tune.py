"""audit.py and tune.py: every rule on hand-made history where the right answer is known, and tune-rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from click.testing import CliRunner

from churnscore.audit import FIRES_ON_MOST, INVERTED, NEVER_FIRES, audit_rules, audit_text
from churnscore.cli import main
from churnscore.config import load_config, parse_config
from churnscore.load import load_all
from churnscore.tune import fit_noisy_or, tier_at, tune, tuned_yaml, weights_of

AS_OF = pd.Timestamp("2025-12-31")
RULES = [
    {"name": "small", "when": {"feature": "seats", "op": "le", "value": 2}, "weight": 0.1,
     "reason": "only {seats:int} seats", "play": "Call the buyer."},
    {"name": "big", "when": {"feature": "mrr", "op": "ge", "value": 500}, "weight": 0.3,
     "reason": "big account", "play": "Say thanks."},
    {"name": "huge", "when": {"feature": "seats", "op": "ge", "value": 1000}, "weight": 0.2,
     "reason": "huge", "play": ""},
    {"name": "everyone", "when": {"feature": "seats", "op": "ge", "value": 0}, "weight": 0.2,
     "reason": "a customer", "play": ""},
]


def history(folder: Path) -> Path:
    """200 accounts over 2025: most small ones (1 seat, every 4th) churn through the year, the big ones (MRR 1000)
    never do, a few others do; one usage row a month until churn. No account has 1000 seats."""
    accounts, usage = [], []
    for i in range(200):
        small, big = i % 4 == 0, i % 4 == 1
        churn = None
        if small and (i // 4) % 5:  # four in five small accounts churn
            churn = pd.Timestamp("2025-03-15") + pd.DateOffset(months=(i // 4) % 9)
        elif i % 20 == 2:
            churn = pd.Timestamp("2025-04-10") + pd.DateOffset(months=(i // 20) % 6)
        accounts.append({"account_id": f"A{i:03d}", "seats": 1 if small else 10, "mrr": 1000 if big else 100,
                         "signup_date": "2024-12-01", "churn_date": churn.date().isoformat() if churn else ""})
        for day in pd.date_range("2025-01-01", AS_OF, freq="MS").append(pd.DatetimeIndex([AS_OF])):
            if churn is None or day < churn:
                usage.append({"account_id": f"A{i:03d}", "timestamp": day.date().isoformat(), "event": "login"})
    folder.mkdir()
    pd.DataFrame(accounts).to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame(usage).to_csv(folder / "usage.csv", index=False)
    return folder


def config(folder: Path):
    return parse_config({"input_dir": str(folder), "rules": RULES,
                         "model": {"horizon_days": 60, "min_history_days": 30, "cv_folds": 2}})


def test_audit_counts_each_rule_and_warns():
    flags = pd.DataFrame({"small": [True, True, False, False, False, False],
                          "big": [False, False, True, True, True, True],
                          "huge": [False] * 6})
    y = np.array([1, 1, 0, 0, 1, 0])
    rules = parse_config({"rules": RULES}).rules
    small, big, huge, _ = audit_rules(flags, y, rules)
    assert (small.fired, small.share, small.churn_when_fired, small.churn_when_not, small.lift, small.warnings) == (
        2, 2 / 6, 1.0, 0.25, 2.0, ())
    assert (big.fired, big.churn_when_fired, big.churn_when_not, big.warnings) == (4, 0.25, 1.0,
                                                                                  (INVERTED, FIRES_ON_MOST))
    assert (huge.fired, huge.warnings) == (0, (NEVER_FIRES,))
    assert np.isnan(huge.churn_when_fired) and np.isnan(huge.lift)
    assert audit_text([small, big, huge]).splitlines() == [
        "rules on the training snapshots (6 rows; churn within the horizon):",
        "rule                         weight   fired churn fired churn not   lift  warning",
        "small                          0.10   33.3%      100.0%     25.0%  2.00x",
        "big                            0.30   66.7%       25.0%    100.0%  0.50x  inverted, fires on most accounts",
        "huge                           0.20    0.0%           -     50.0%      -  never fires"]


def test_the_noisy_or_fit_recovers_known_chances():
    # no flag: 10% churn; flag a alone: 1 - 0.9 * (1 - w_a) = 55% -> w_a = 0.5; flag b: never more than base
    rows = [([0, 0], 100, 10), ([1, 0], 100, 55), ([0, 1], 100, 10)]
    flags = np.array([f for f, n, _ in rows for _ in range(n)], dtype=float)
    y = np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for _, n, k in rows])
    b, t = fit_noisy_or(flags, y)
    assert round(float(-np.expm1(-b)), 3) == 0.1
    assert list(weights_of(t)) == [0.5, 0.0]


def test_tier_at_keeps_the_share_of_rows():
    scores = np.array([50.0, 40.04, 40.0, 10.0, 0.0])
    assert tier_at(scores, 0.4) == 40.0
    assert tier_at(scores, 0.2) == 50.0
    assert tier_at(scores, 0.0) == 100.0
    assert tier_at(scores, 1.0) == 0.1  # a score of 0 (no rule fired) is never at risk


def test_tune_gives_the_predictive_rule_weight_and_leaves_out_inverted_and_silent_ones(tmp_path):
    cfg = config(history(tmp_path / "in"))
    loaded = load_all(cfg)
    tuned = tune(loaded, cfg, AS_OF, test_dates=2)
    assert list(tuned.weights) == ["small"]
    assert tuned.weights["small"] > 0.15 > 0.05 > tuned.base  # a red flag, well above the base chance
    assert tuned.dropped["huge"] == "never fires on history (1,310 rows)"
    assert tuned.dropped["big"] == ("inverted on history: fired on 26.7% of 1,310 rows; churn 0.0% when fired, "
                                    "8.2% when not (lift 0.00x)")
    assert tuned.after["roc_auc"] >= tuned.before["roc_auc"]
    text = tuned_yaml(cfg, tuned, tmp_path / "tuned.yaml")
    lines = text.splitlines()
    at = lines.index("rules:")
    assert lines[at + 1:at + 6] == [
        "  - name: small",
        "    when: {feature: seats, op: le, value: 2}",
        f"    weight: {tuned.weights['small']}",
        "    reason: only {seats:int} seats",
        "    play: Call the buyer.",
    ]
    assert lines[at + 6] == f"  # big left out: {tuned.dropped['big']}"
    assert lines[at + 7] == f"  # huge left out: {tuned.dropped['huge']}"
    assert lines[at + 8] == ("  # everyone left out: fires on every row of history (1,310 rows): it cannot tell "
                             "accounts apart")
    assert [r["name"] for r in yaml.safe_load(text)["rules"]] == ["small"]


def test_tune_rules_command_writes_a_config_that_scores(tmp_path):
    folder = history(tmp_path / "in")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"input_dir": "in", "rules": RULES, "model": {
        "horizon_days": 60, "min_history_days": 30, "cv_folds": 2}}))
    out = tmp_path / "tuned" / "tuned.yaml"
    result = CliRunner().invoke(main, ["tune-rules", "--config", str(tmp_path / "c.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("  rules only, held-out test dates: ROC AUC ")
    assert "  big                          0.30 -> " not in result.output
    tuned = load_config(out)
    assert [r.name for r in tuned.rules] == ["small"]
    assert tuned.resolve(tuned.input_dir) == folder.resolve()  # written elsewhere: the input folder still found
    scored = CliRunner().invoke(main, ["score", "--config", str(out), "--out", str(tmp_path / "r.csv")])
    assert scored.exit_code == 0, scored.output


def test_tune_leaves_out_a_rule_switched_off_on_todays_data(tmp_path):
    folder = history(tmp_path / "in")
    start = {"name": "start", "when": {"feature": "first30_logins_per_day", "op": "lt", "value": 0.5}, "weight": 0.3,
             "reason": "weak start", "play": ""}
    cfg = parse_config({"input_dir": str(folder), "rules": RULES + [start], "features": {"login_event": "signin"},
                        "model": {"horizon_days": 60, "min_history_days": 30, "cv_folds": 2}})
    tuned = tune(load_all(cfg), cfg, AS_OF, test_dates=2)
    assert tuned.dropped["start"].startswith("switched off on the data of 2025-12-31: no 'signin' event in usage; "
                                             "most frequent events: login (100% of accounts)")
    assert list(tuned.weights) == ["small"]
