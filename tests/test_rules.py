"""rules.py: the operator registry, all/any, missing values, the noisy-OR score, reasons and plays, check_rules."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from churnscore.config import load_config, parse_config
from churnscore.errors import ConfigError
from churnscore.features import FEATURE_NAMES
from churnscore.rules import OPERATORS, check_rules, evaluate, explain, rule_score

NAN = np.nan
IDS = pd.Index(["a", "b", "c", "d"], name="account_id")


def rules(*specs):
    """RuleSpecs parsed from YAML-like dicts; name defaults to r<i>, weight 0.5, reason to the name."""
    raw = [{"name": f"r{i}", "weight": 0.5, "reason": f"r{i}", **s} for i, s in enumerate(specs)]
    return parse_config({"rules": raw}).rules


def fired(when, table):
    return evaluate(rules({"when": when}), table)["r0"].tolist()


X = pd.DataFrame({"nps_latest": [1.0, 2.0, 3.0, NAN]}, index=IDS)

OPERATOR_CASES = {
    "lt": (2, [True, False, False, False]),
    "le": (2, [True, True, False, False]),
    "gt": (2, [False, False, True, False]),
    "ge": (2, [False, True, True, False]),
    "eq": (2, [False, True, False, False]),
    "ne": (2, [True, False, True, False]),
    "between": ([2, 3], [False, True, True, False]),
    "in": ([1, 3], [True, False, True, False]),
    "missing": (None, [False, False, False, True]),
    "present": (None, [True, True, True, False]),
}


def test_every_operator_is_covered():
    assert set(OPERATOR_CASES) == set(OPERATORS)


@pytest.mark.parametrize("op", sorted(OPERATOR_CASES))
def test_operator(op):
    value, expected = OPERATOR_CASES[op]
    assert fired({"feature": "nps_latest", "op": op, "value": value}, X) == expected


@pytest.mark.parametrize("op,value", [("lt", 99), ("gt", -99), ("ne", 5), ("between", [-99, 99]),
                                      ("in", [1, NAN]), ("eq", NAN)])
def test_a_missing_value_never_fires_a_comparison(op, value):
    table = pd.DataFrame({"nps_latest": [NAN]}, index=["a"])
    assert fired({"feature": "nps_latest", "op": op, "value": value}, table) == [False]


def test_all_and_any_nest():
    table = pd.DataFrame({"nps_latest": [3.0, 3.0, 8.0, NAN], "tickets_open": [0.0, 5.0, 5.0, 5.0],
                          "mrr": [NAN, 10.0, NAN, NAN]}, index=IDS)
    when = {"all": [{"feature": "tickets_open", "op": "ge", "value": 1},
                    {"any": [{"feature": "nps_latest", "op": "le", "value": 6},
                             {"feature": "mrr", "op": "missing"}]}]}
    assert fired(when, table) == [False, True, True, True]
    either = {"any": [{"feature": "nps_latest", "op": "ge", "value": 8}, {"feature": "mrr", "op": "present"}]}
    assert fired(either, table) == [False, True, True, False]


def test_evaluate_gives_one_bool_column_per_rule_in_config_order():
    table = pd.DataFrame({"nps_latest": [3.0, 9.0]}, index=["a", "b"])
    specs = rules({"name": "z_low", "when": {"feature": "nps_latest", "op": "le", "value": 6}},
                  {"name": "a_high", "when": {"feature": "nps_latest", "op": "gt", "value": 6}})
    expected = pd.DataFrame({"z_low": [True, False], "a_high": [False, True]}, index=["a", "b"])
    pd.testing.assert_frame_equal(evaluate(specs, table), expected)


# ----------------------------------------------------------------------------- score


def test_rule_score_is_a_noisy_or_of_the_fired_weights():
    specs = rules({"weight": 0.5, "when": {"feature": "mrr", "op": "present"}},
                  {"weight": 0.2, "when": {"feature": "mrr", "op": "present"}},
                  {"weight": 0.25, "when": {"feature": "mrr", "op": "present"}})
    flags = pd.DataFrame({"r0": [False, True, True, True, True, False],
                          "r1": [False, False, True, False, True, False],
                          "r2": [False, False, False, True, True, True]}, index=list("abcdef"))
    expected = pd.Series([0.0, 50.0, 60.0, 62.5, 70.0, 25.0], index=list("abcdef"), name="rule_score")
    pd.testing.assert_series_equal(rule_score(flags, specs), expected, check_exact=True)


def test_weight_one_makes_the_score_100():
    specs = rules({"weight": 1.0, "when": {"feature": "mrr", "op": "present"}},
                  {"weight": 0.3, "when": {"feature": "mrr", "op": "present"}})
    flags = pd.DataFrame({"r0": [True], "r1": [True]}, index=["a"])
    assert rule_score(flags, specs).tolist() == [100.0]


# ----------------------------------------------------------------------------- words


WORD_TABLE = pd.DataFrame({
    "usage_trend_30d": [-0.64, -0.4, NAN],
    "days_since_last_activity": [20.4, 3.0, 16.6],
    "nps_latest": [5.66, 7.0, NAN],
    "mrr": [12345.6, 99.0, 1500.0],
}, index=["a", "b", "c"])

WORD_RULES = (
    {"name": "usage_drop", "weight": 0.2, "when": {"feature": "usage_trend_30d", "op": "le", "value": -0.5},
     "reason": "usage down {usage_trend_30d:pct}", "play": "call the champion"},
    {"name": "dormant", "weight": 0.4, "when": {"feature": "days_since_last_activity", "op": "ge", "value": 14},
     "reason": "no activity for {days_since_last_activity:int} days", "play": "win-back email"},
    {"name": "unhappy", "weight": 0.3,
     "when": {"any": [{"feature": "nps_latest", "op": "le", "value": 6}, {"feature": "nps_latest", "op": "missing"}]},
     "reason": "NPS {nps_latest:num} ({nps_latest}), MRR {mrr:money}", "play": "close the loop"},
    {"name": "big", "weight": 0.4, "when": {"feature": "mrr", "op": "ge", "value": 10000},
     "reason": "big account", "play": ""},
)


def test_reasons_are_formatted_and_told_heaviest_first_with_the_heaviest_play():
    specs = rules(*WORD_RULES)
    words = explain(evaluate(specs, WORD_TABLE), specs, WORD_TABLE)
    expected = pd.DataFrame({
        "red_flags": ["dormant, big, unhappy, usage_drop", "", "dormant, unhappy"],
        "reasons": ["no activity for 20 days; big account; NPS 5.7 (5.7), MRR 12,346; usage down 64%", "",
                    "no activity for 17 days; NPS unknown (unknown), MRR 1,500"],
        "suggested_play": ["win-back email", "", "win-back email"],
    }, index=["a", "b", "c"], dtype="str")
    pd.testing.assert_frame_equal(words, expected)


def test_suggested_play_is_the_heaviest_fired_rules_and_config_order_breaks_ties():
    specs = rules(*WORD_RULES)
    table = WORD_TABLE.assign(days_since_last_activity=[0.0, 0.0, 0.0])
    words = explain(evaluate(specs, table), specs, table)
    # a: big (0.4, no play) and unhappy (0.3) -> unhappy's play; c: unhappy only
    assert words["red_flags"].tolist() == ["big, unhappy, usage_drop", "", "unhappy"]
    assert words["suggested_play"].tolist() == ["close the loop", "", "close the loop"]
    tie = rules({"name": "first", "weight": 0.3, "when": {"feature": "mrr", "op": "present"}, "play": "one"},
                {"name": "second", "weight": 0.3, "when": {"feature": "mrr", "op": "present"}, "play": "two"})
    assert explain(evaluate(tie, table), tie, table)["suggested_play"].tolist() == ["one"] * 3


@pytest.mark.parametrize("fmt,value,shown", [
    ("pct", 0.05, "5%"), ("pct", -1.234, "123%"), ("int", 2.5, "2"), ("int", 3.5, "4"), ("num", 3.04, "3"),
    ("num", 1234.56, "1,234.6"), ("abs", -7.0, "7"), ("abs", 2.25, "2.2"), ("money", 1234567.4, "1,234,567"),
    ("money", 0.0, "0"), ("pct", NAN, "unknown"), ("int", NAN, "unknown"), ("num", NAN, "unknown"),
    ("money", NAN, "unknown"), ("days", 1.0, "1 day"), ("days", 16.0, "16 days"), ("seconds", 45.0, "45 seconds"),
    ("seconds", 150.0, "2.5 minutes"),
])
def test_reason_formats(fmt, value, shown):
    specs = rules({"when": {"feature": "mrr", "op": "missing"}, "reason": f"<{{mrr:{fmt}}}>"},
                  {"when": {"feature": "mrr", "op": "present"}, "reason": f"<{{mrr:{fmt}}}>"})
    table = pd.DataFrame({"mrr": [value]}, index=["a"])
    assert explain(evaluate(specs, table), specs, table)["reasons"].tolist() == [f"<{shown}>"]


def test_money_rounds_half_to_even_and_groups_digits_by_threes():
    values = [0.0, -0.0, -0.4, 0.5, 2.5, 3.5, -2.5, 999.5, 1000.0, -1000.0, 123456789.0, -1234567.6, 9.3e18]
    shown = ["0", "0", "0", "0", "2", "4", "-2", "1,000", "1,000", "-1,000", "123,456,789", "-1,234,568",
             "9,300,000,000,000,000,000"]
    specs = rules({"when": {"feature": "mrr", "op": "present"}, "reason": "{mrr:money}"})
    table = pd.DataFrame({"mrr": values}, index=[f"a{i}" for i in range(len(values))])
    assert explain(evaluate(specs, table), specs, table)["reasons"].tolist() == shown


# ----------------------------------------------------------------------------- check_rules


def check(spec):
    check_rules(rules(spec))


def test_unknown_feature_names_the_rule():
    with pytest.raises(ConfigError, match=re.escape(
            "config: rule 'r0' uses unknown feature 'usage_trend'. See 'churnscore features --list' for the "
            f"{len(FEATURE_NAMES)} features.")):
        check({"when": {"feature": "usage_trend", "op": "lt", "value": 0}})


def test_unknown_feature_deep_in_all_any_is_found():
    with pytest.raises(ConfigError, match="rule 'deep' uses unknown feature 'nope'"):
        check({"name": "deep", "when": {"all": [{"feature": "mrr", "op": "present"},
                                                {"any": [{"feature": "nope", "op": "present"}]}]}})


def test_unknown_operator_lists_the_choices():
    with pytest.raises(ConfigError, match=re.escape(
            "config: rule 'r0' uses unknown operator 'less'; choose one of between, eq, ge, gt, in, le, lt, "
            "missing, ne, present.")):
        check({"when": {"feature": "mrr", "op": "less", "value": 1}})


@pytest.mark.parametrize("op,value,want", [
    ("lt", "5", "a number, got '5'"),
    ("ge", True, "a number, got True"),
    ("eq", None, "a number, got None"),
    ("between", [1], "a list [low, high] of numbers, got [1]"),
    ("between", [1, "x"], "a list [low, high] of numbers, got [1, 'x']"),
    ("in", 3, "a list of values, got 3"),
])
def test_bad_value_shape_says_what_the_operator_needs(op, value, want):
    with pytest.raises(ConfigError, match=re.escape(f"config: rule 'r0': operator '{op}' on 'mrr' needs {want}.")):
        check({"when": {"feature": "mrr", "op": op, "value": value}})


def test_unknown_placeholder_in_reason():
    with pytest.raises(ConfigError, match=re.escape("config: rule 'r0': reason names unknown feature '{nps}'.")):
        check({"when": {"feature": "mrr", "op": "present"}, "reason": "NPS {nps:num}"})


def test_unknown_reason_format_lists_the_choices():
    with pytest.raises(ConfigError, match=re.escape(
            "config: rule 'r0': reason format ':pc' unknown; choose one of abs, days, int, money, nps, num, "
            "of_key, pct, seconds, span.")):
        check({"when": {"feature": "mrr", "op": "present"}, "reason": "{mrr:pc}"})


def test_default_config_rules_all_pass_check_rules():
    config = load_config()
    assert len(config.rules) > 0
    check_rules(config.rules)


def test_explain_with_an_empty_reason_a_rule_that_never_fires_and_an_account_without_flags():
    specs = rules({"name": "quiet", "weight": 0.9, "when": {"feature": "mrr", "op": "missing"}, "play": "never"},
                  {"name": "plain", "weight": 0.5, "when": {"feature": "mrr", "op": "ge", "value": 1000},
                   "reason": "", "play": ""},
                  {"name": "small", "weight": 0.5, "when": {"feature": "mrr", "op": "lt", "value": 10000},
                   "reason": "MRR {mrr:int}", "play": "upsell"})
    words = explain(evaluate(specs, WORD_TABLE), specs, WORD_TABLE)
    expected = pd.DataFrame({
        "red_flags": ["plain", "small", "plain, small"],
        "reasons": ["", "MRR 99", "; MRR 1,500"],
        "suggested_play": ["", "upsell", "upsell"],
    }, index=["a", "b", "c"], dtype="str")
    pd.testing.assert_frame_equal(words, expected)


def test_explain_of_no_accounts_is_an_empty_frame_with_the_three_columns():
    specs = rules(*WORD_RULES)
    table = WORD_TABLE.iloc[:0]
    words = explain(evaluate(specs, table), specs, table)
    expected = pd.DataFrame({"red_flags": [], "reasons": [], "suggested_play": []},
                            index=pd.Index([], dtype="str"), dtype="str")
    pd.testing.assert_frame_equal(words, expected)


# ----------------------------------------------------------------------------- supersedes


def test_a_superseding_rule_tells_one_fact_once_and_the_score_keeps_every_flag():
    specs = rules({"name": "never", "weight": 0.4, "when": {"feature": "never_active", "op": "eq", "value": 1},
                   "reason": "never used", "play": "kick-off", "supersedes": ["weak", "dormant"]},
                  {"name": "dormant", "weight": 0.45, "when": {"feature": "tenure_days", "op": "ge", "value": 14},
                   "reason": "quiet", "play": "win-back", "supersedes": ["drop"]},
                  {"name": "drop", "weight": 0.35, "when": {"feature": "tenure_days", "op": "ge", "value": 20},
                   "reason": "usage down"},
                  {"name": "weak", "weight": 0.3, "when": {"feature": "tenure_days", "op": "ge", "value": 0},
                   "reason": "weak start"})
    table = pd.DataFrame({"never_active": [1.0, 0.0, 0.0], "tenure_days": [30.0, 30.0, 5.0]}, index=["a", "b", "c"])
    flags = evaluate(specs, table)
    words = explain(flags, specs, table)
    # a: never used hides dormant and weak; dormant (fired, hidden) still hides drop
    assert words["red_flags"].tolist() == ["never", "dormant, weak", "weak"]
    assert words["reasons"].tolist() == ["never used", "quiet; weak start", "weak start"]
    assert words["suggested_play"].tolist() == ["kick-off", "win-back", ""]
    assert rule_score(flags, specs).round(6).tolist() == [
        round(100 * (1 - 0.6 * 0.55 * 0.65 * 0.7), 6), round(100 * (1 - 0.55 * 0.65 * 0.7), 6), 30.0]


def test_supersedes_must_name_another_rule():
    with pytest.raises(ConfigError, match=re.escape(
            "config: 'rules[0] (r0).supersedes' names 'nope', no rule; choose among r1.")):
        rules({"when": {"feature": "mrr", "op": "present"}, "supersedes": ["nope"]},
              {"when": {"feature": "mrr", "op": "present"}})


def test_a_supersession_with_a_condition_hides_the_other_reason_only_where_it_holds():
    specs = rules({"name": "dormant", "weight": 0.4, "reason": "quiet",
                   "when": {"feature": "days_since_last_activity", "op": "ge", "value": 14},
                   "supersedes": [{"rule": "keys", "when": {"feature": "days_since_last_activity", "op": "ge",
                                                            "value": 30}}]},
                  {"name": "keys", "weight": 0.15, "reason": "no key features",
                   "when": {"feature": "key_feature_adoption", "op": "lt", "value": 0.34}})
    table = pd.DataFrame({"days_since_last_activity": [17.0, 31.0, NAN], "key_feature_adoption": [0.0, 0.0, 0.0]},
                         index=["a", "b", "c"])
    assert explain(evaluate(specs, table), specs, table)["reasons"].tolist() == [
        "quiet; no key features", "quiet", "no key features"]
