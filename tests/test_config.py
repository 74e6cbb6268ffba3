"""config.py: YAML -> typed objects; every key checked, with the key path and the closest valid key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_text

from churnscore.config import (DEFAULT_CONFIG, AllOf, AnyOf, FeatureParams, InputSpec, Leaf, ModelParams, Output,
                               RuleSpec, Scoring, Windows, load_config, parse_config)
from churnscore.errors import ConfigError

RULE = {"name": "dormant", "when": {"feature": "days_since_last_activity", "op": "ge", "value": 14},
        "weight": 0.4, "reason": "quiet"}


def fails(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw)


@pytest.mark.parametrize("raw,message", [
    ({"windows": {"short_dayz": 30}}, "config: unknown key 'windows.short_dayz'. Did you mean 'short_days'?"),
    ({"windws": {}}, "config: unknown key 'windws'. Did you mean 'windows'?"),
    ({"features": {"login_evnt": "x"}}, "config: unknown key 'features.login_evnt'. Did you mean 'login_event'?"),
    ({"scoring": {"tiers": {"hi": 50}}}, "config: unknown key 'scoring.tiers.hi'. Did you mean 'high'?"),
    ({"inputs": {"usag": {}}}, "config: unknown key 'inputs.usag'. Did you mean 'usage'?"),
    ({"inputs": {"usage": {"columns": {"acount_id": "Customer"}}}},
     "config: unknown key 'inputs.usage.columns.acount_id'. Did you mean 'account_id'?"),
    ({"inputs": {"nps": {"values": {"scor": {}}}}}, "config: unknown key 'inputs.nps.values.scor'. Did you mean 'score'?"),
    ({"model": {"horizon_dayz": 9}}, "config: unknown key 'model.horizon_dayz'. Did you mean 'horizon_days'?"),
    ({"rules": [{**RULE, "wieght": 0.1}]}, "config: unknown key 'rules[0] (dormant).wieght'. Did you mean 'weight'?"),
    ({"rules": [{**RULE, "when": {"all": [{"feature": "mrr", "opp": "present"}]}}]},
     "config: unknown key 'rules[0] (dormant).when.all[0].opp'. Did you mean 'op'?"),
    ({"zzz": 1}, "config: unknown key 'zzz'. Valid keys: features, input_dir, inputs, limits, model, output, playbook, "
                 "presets, rejects, rules, scoring, windows."),
])
def test_unknown_key_anywhere_names_the_path_and_the_closest_key(raw, message):
    fails(raw, message)


@pytest.mark.parametrize("raw,message", [
    ({"windows": {"short_days": "30"}}, "config: 'windows.short_days' must be int, got '30'."),
    ({"windows": {"short_days": 30.5}}, "config: 'windows.short_days' must be int, got 30.5."),
    ({"windows": {"short_days": None}}, "config: 'windows.short_days' must be int, got None."),
    ({"windows": {"short_days": 0}}, "config: 'windows.short_days' must be >= 1, got 0."),
    ({"windows": {"short_days": 60, "long_days": 30}}, "config: 'windows.long_days' must be >= 'windows.short_days'."),
    ({"windows": [30]}, "config: 'windows' must be a mapping, got list [30]."),
    ({"features": {"login_event": True}}, "config: 'features.login_event' must be str, got True."),
    ({"features": {"key_features": "report"}}, "config: 'features.key_features' must be a list, got 'report'."),
    ({"features": {"key_features": None}}, "config: 'features.key_features' must be a list, got None."),
    ({"model": {"cv_folds": True}}, "config: 'model.cv_folds' must be int, got True."),
    ({"rejects": {"max_reject_rate": "5%"}}, "config: 'rejects.max_reject_rate' must be float, got '5%'."),
    ({"scoring": {"tiers": {"high": "60"}}}, "config: 'scoring.tiers.high' must be float, got '60'."),
    ({"scoring": {"tiers": {"high": 20, "medium": 40}}}, "config: 'scoring.tiers.medium' must be <= 'scoring.tiers.high'."),
    ({"scoring": {"rank_by": "money"}}, "config: 'scoring.rank_by' must be one of risk, revenue, got 'money'."),
    ({"output": {"format": "xlsx"}}, "config: 'output.format' must be one of csv, parquet, json, got 'xlsx'."),
    ({"output": {"top": 0}}, "config: 'output.top' must be >= 1, got 0."),
    ({"input_dir": 3}, "config: 'input_dir' must be a path, got 3."),
    ({"inputs": {"usage": {"sep": 5}}}, "config: 'inputs.usage.sep' must be a string, got 5."),
    ({"inputs": {"usage": {"path": ["a", "b"]}}}, "config: 'inputs.usage.path' must be a string, got ['a', 'b']."),
    ({"rules": {"dormant": RULE}}, "config: 'rules' must be a list of rules."),
])
def test_wrong_types_and_values_name_the_key_and_the_value(raw, message):
    fails(raw, message)


@pytest.mark.parametrize("weight,message", [
    (1.5, "config: 'rules[0] (dormant).weight' must be between 0 and 1, got 1.5."),
    (-0.1, "config: 'rules[0] (dormant).weight' must be >= 0.0, got -0.1."),
    ("high", "config: 'rules[0] (dormant).weight' must be float, got 'high'."),
    (True, "config: 'rules[0] (dormant).weight' must be float, got True."),
])
def test_rule_weight_out_of_range(weight, message):
    fails({"rules": [{**RULE, "weight": weight}]}, message)


def test_rule_weights_0_and_1_and_ints_are_accepted():
    rules = parse_config({"rules": [{**RULE, "weight": 0}, {**RULE, "name": "b", "weight": 1}]}).rules
    assert [r.weight for r in rules] == [0.0, 1.0]
    assert all(isinstance(r.weight, float) for r in rules)


def test_duplicate_rule_names():
    fails({"rules": [RULE, {**RULE, "weight": 0.1}]},
          "config: rule name 'dormant' is used twice; rule names must be unique.")


@pytest.mark.parametrize("rule,message", [
    ({k: v for k, v in RULE.items() if k != "reason"}, "config: rule 'rules[0] (dormant)' needs 'reason'."),
    ({**RULE, "when": {"all": []}}, "config: 'rules[0] (dormant).when.all' must be a non-empty list of conditions."),
    ({**RULE, "when": {"all": [RULE["when"]], "any": [RULE["when"]]}},
     "config: 'rules[0] (dormant).when' has both 'all' and 'any'; nest one inside the other."),
    ({**RULE, "when": {"feature": "mrr"}},
     "config: 'rules[0] (dormant).when' needs 'op' (a condition is feature, op, value; or all/any)."),
])
def test_malformed_rules(rule, message):
    fails({"rules": [rule]}, message)


def test_rules_parse_into_nested_conditions():
    when = {"all": [{"feature": "mrr", "op": "ge", "value": 100},
                    {"any": [{"feature": "nps_latest", "op": "le", "value": 6}, {"feature": "nps_latest", "op": "missing"}]}]}
    rules = parse_config({"rules": [{"name": "r", "when": when, "weight": 0.25, "reason": "why", "play": "do"},
                                    {"name": "s", "when": {"feature": "mrr", "op": "present"}, "weight": 0.5,
                                     "reason": "x"}]}).rules
    assert rules == (
        RuleSpec("r", AllOf((Leaf("mrr", "ge", 100), AnyOf((Leaf("nps_latest", "le", 6),
                                                            Leaf("nps_latest", "missing", None))))), 0.25, "why", "do"),
        RuleSpec("s", Leaf("mrr", "present", None), 0.5, "x", ""),
    )


def test_nullable_keys_accept_null():
    config = parse_config({"output": {"top": None}, "model": {"class_weight": None, "observation_count": None}})
    assert (config.output.top, config.model.class_weight, config.model.observation_count) == (None, None, None)


def test_empty_config_is_the_defaults(tmp_path):
    config = parse_config({}, base_dir=tmp_path)
    assert (config.windows, config.features, config.scoring, config.output, config.model) == (
        Windows(), FeatureParams(), Scoring(), Output(), ModelParams())
    assert config.rules == ()
    assert config.inputs["usage"] == InputSpec()
    assert sorted(config.inputs) == ["accounts", "nps", "payments", "tickets", "usage"]
    assert config.resolve("data") == tmp_path.resolve() / "data"
    assert config.resolve("/abs/x") == Path("/abs/x")


def test_inputs_are_parsed():
    config = parse_config({"inputs": {"usage": {"path": "u/*.parquet", "columns": {"account_id": "Customer ID"},
                                                "values": {"event": {"Logged In": "login", 1: 2}},
                                                "date_format": "%d/%m/%Y", "sep": ";", "encoding": "latin-1"}}})
    assert config.inputs["usage"] == InputSpec("u/*.parquet", {"account_id": "Customer ID"},
                                               {"event": {"Logged In": "login", "1": "2"}}, "%d/%m/%Y", ";", "latin-1")


def test_config_hash_depends_on_content_only():
    a = parse_config({"windows": {"short_days": 7, "long_days": 30}}, source="a.yaml")
    b = parse_config({"windows": {"long_days": 30, "short_days": 7}}, source="b.yaml")
    c = parse_config({"windows": {"short_days": 8, "long_days": 30}})
    assert a.hash == b.hash != c.hash
    assert re.fullmatch(r"[0-9a-f]{64}", a.hash)


# ----------------------------------------------------------------------------- files


def test_bad_yaml_names_line_and_column(tmp_path):
    path = write_text(tmp_path / "bad.yaml", "windows:\n  short_days: 30\n  long_days: [90\nrules: []\n")
    with pytest.raises(ConfigError, match=re.escape(f"config: {path}:4:6: not valid YAML (")):
        load_config(path)


def test_bad_yaml_tab_indent_names_line_and_column(tmp_path):
    path = write_text(tmp_path / "tab.yaml", "windows:\n\tshort_days: 30\n")
    with pytest.raises(ConfigError, match=re.escape(f"config: {path}:2:1: not valid YAML (found character '\\t' "
                                                    "that cannot start any token).")):
        load_config(path)


def test_missing_file_says_what_to_do(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=re.escape(
            f"config: {path}: no such file. Pass --config PATH, or run 'churnscore init DIR' to write a starter "
            "config.")):
        load_config(path)


def test_errors_from_a_file_name_the_file(tmp_path):
    path = write_text(tmp_path / "c.yaml", "windows:\n  short_dayz: 30\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"{path}: config: unknown key 'windows.short_dayz'. Did you mean 'short_days'?")):
        load_config(path)


def test_empty_file_is_the_defaults_and_paths_resolve_against_its_folder(tmp_path):
    path = write_text(tmp_path / "conf" / "empty.yaml", "# nothing\n")
    config = load_config(path)
    assert config.source == str(path)
    assert config.base_dir == (tmp_path / "conf").resolve()
    assert config.windows == Windows()


def test_default_config_loads():
    config = load_config()
    assert config.source == str(DEFAULT_CONFIG)
    assert config.base_dir == DEFAULT_CONFIG.parent
    assert config.input_dir is not None
    assert len(config.rules) > 0
    assert len({r.name for r in config.rules}) == len(config.rules)
    assert config.output.format in {"csv", "parquet", "json"}
    assert config.scoring.tier_medium <= config.scoring.tier_high


def test_contract_terms_and_the_accounts_snapshot_date_are_parsed():
    import datetime

    cfg = parse_config({"features": {"contract_terms": {"Enterprise": 12, "starter": 1}},
                        "inputs": {"accounts": {"snapshot_date": "2026-10-31"}}})
    assert cfg.features.contract_terms == {"enterprise": 12, "starter": 1}
    assert cfg.inputs["accounts"].snapshot_date == datetime.date(2026, 10, 31)
    assert parse_config({"inputs": {"accounts": {"snapshot_date": datetime.date(2026, 1, 2)}}}) \
        .inputs["accounts"].snapshot_date == datetime.date(2026, 1, 2)  # as YAML reads an unquoted date
    assert parse_config({}).features.contract_terms == {}


@pytest.mark.parametrize("raw, message", [
    ({"features": {"contract_terms": {"Enterprise": 0}}}, "'features.contract_terms.Enterprise' must be >= 1, got 0"),
    ({"features": {"contract_terms": {"Enterprise": "yearly"}}},
     "'features.contract_terms.Enterprise' must be int, got 'yearly'"),
    ({"features": {"contract_terms": [12]}}, "'features.contract_terms' must be a mapping"),
    ({"features": {"contract_terms": {"Pro": 12, "pro": 1}}}, "names plan 'pro' twice"),
    ({"inputs": {"accounts": {"snapshot_date": "last week"}}},
     "'inputs.accounts.snapshot_date' must be a date \\(YYYY-MM-DD\\), got 'last week'"),
    ({"inputs": {"usage": {"snapshot_date": "2026-10-31"}}}, "unknown key 'inputs.usage.snapshot_date'"),
])
def test_contract_terms_and_snapshot_date_reject_bad_values(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)
