"""Hostile inputs (issue 20): bounded sizes and nesting of configs and models, duplicate keys, aliases, error
lines that stay short and printable, no non-finite number in a JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from churnscore.cli import main
from churnscore.config import load_config
from churnscore.errors import ConfigError
from churnscore.limits import CONFIG_MAX_BYTES, error_text, json_safe, shown


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
windows: [*c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


def test_billion_laughs_config_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", LAUGHS)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == (f"config: {p}:2:8: alias '*a' refused: aliases are not allowed in a config, write "
                              "the value out.")


def test_duplicate_key_names_both_places(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", "windows:\n  short_days: 30\n  long_days: 90\n  short_days: 45\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == (f"config: {p}:4:3: duplicate key 'short_days' (first at line 2, column 3); keep "
                              "one of them.")


def test_duplicate_rule_keys_inside_a_list_are_found_too(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", "rules:\n  - name: a\n    weight: 0.1\n    weight: 0.9\n")
    with pytest.raises(ConfigError, match=r":4:5: duplicate key 'weight' \(first at line 3, column 5\)"):
        load_config(p)


@pytest.mark.parametrize("text", ["windows: " + "[" * 100_000 + "]" * 100_000,
                                  "windows:\n" + "".join("  " * i + "- \n" for i in range(200))])
def test_deep_nesting_is_one_error_not_a_recursion_traceback(tmp_path: Path, text: str) -> None:
    p = write(tmp_path / "c.yaml", text + "\n")
    with pytest.raises(ConfigError, match=r"nested deeper than 64 levels; refused\.$"):
        load_config(p)


def test_config_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", "input_dir: " + "x" * CONFIG_MAX_BYTES + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == (f"config: {p}: larger than 1,048,576 bytes; a config is a few kilobytes (is this "
                              "the right file?).")


def test_config_from_dev_zero_stops_at_the_limit() -> None:
    code, _, err = run("validate", "--config", "/dev/zero")
    assert code == 1
    assert err == ("churnscore: error: config: /dev/zero: larger than 1,048,576 bytes; a config is a few "
                   "kilobytes (is this the right file?).\n")


def test_long_value_is_quoted_to_200_characters(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", 'windows: {short_days: "' + "y" * 500_000 + '"}\n')
    code, _, err = run("validate", "--config", str(p))
    assert code == 1
    assert err == (f"churnscore: error: {p}: config: 'windows.short_days' must be int, got '{'y' * 199}… "
                   "(499,802 more characters).\n")


def test_empty_rules_list_is_a_config_error(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", "rules: []\n")
    with pytest.raises(ConfigError, match=r"'rules' is an empty list: every account would score 0 and tier low"):
        load_config(p)


def test_deep_config_under_json_logs_is_one_json_error_line(tmp_path: Path) -> None:
    p = write(tmp_path / "c.yaml", "windows: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = run("--log-format", "json", "validate", "--config", str(p))
    assert code == 1
    assert json.loads(err) == {"error": "ConfigError", "event": "error", "exit_code": 1, "level": "error",
                               "message": f"config: {p}:1:73: nested deeper than 64 levels; refused."}


def test_error_text_shows_controls_counts_runs_and_cuts_the_middle() -> None:
    assert error_text("bad value '\x00\x00\x00\x00\x00\x00' in a.csv") == "bad value '\\x00[×6]' in a.csv"
    assert error_text("a\x1b[2Jb\nc") == "a\\x1b[2Jb c"
    long = "start " + "x" * 5000 + " end"
    cut = error_text(long)
    assert cut.startswith("start xxx") and cut.endswith("xxx end")
    assert "(3,010 characters left out)" in cut
    assert len(cut) < 2100


def test_shown_quotes_at_most_200_characters() -> None:
    assert shown("ab") == "'ab'"
    assert shown("z" * 1000) == "'" + "z" * 199 + "… (802 more characters)"


def test_json_safe_turns_non_finite_numbers_into_null() -> None:
    import numpy as np

    value = {"a": float("nan"), "b": [1.5, float("inf"), np.float64("-inf")], "c": "x", "d": np.float64(2.0)}
    assert json.dumps(json_safe(value), allow_nan=False) == '{"a": null, "b": [1.5, null, null], "c": "x", "d": 2.0}'
