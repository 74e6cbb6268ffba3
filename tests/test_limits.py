"""Hostile inputs (issue 20): bounded sizes and nesting of configs and models, duplicate keys, aliases, error
lines that stay short and printable, no non-finite number in a JSON line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_cli as run

from churnscore.config import load_config
from churnscore.errors import ConfigError
from churnscore.limits import CONFIG_MAX_BYTES, error_text, json_safe, shown



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
    assert err == ("churnscore: error: /dev/zero: the config (--config) is a character device, not a regular "
                   "file; give a regular file.\n")  # refused before a byte is read


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


# ----------------------------------------------------------------------------- models


def _model_doc(path: Path, **params: object) -> Path:
    """A saved two-input model with ``params`` laid over its own, its sha256 recomputed (as an attacker
    would: the hash proves integrity, not that the numbers make sense)."""
    import hashlib

    import numpy as np

    from churnscore.model import LinearChurnModel, save_model

    save_model(LinearChurnModel(["a", "b"], np.array([1.0, 2.0]), [1], np.array([0.0, 0.0, 0.0]),
                                np.array([1.0, 2.0, 1.0]), np.array([1.0, -1.0, 0.5]), -0.5, {}), path)
    doc = json.loads(path.read_text())
    doc["params"].update(params)
    body = {k: v for k, v in doc.items() if k != "sha256"}
    doc["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("params,message", [
    ({"coef": [1.0, float("nan"), 0.5]}, "'params.coef[1]' is nan, not a finite number"),
    ({"medians": [float("nan"), 2.0]}, "'params.medians[0]' is nan, not a finite number"),
    ({"mean": [0.0, float("inf"), 0.0]}, "'params.mean[1]' is inf, not a finite number"),
    ({"scale": [1.0, 0.0, 1.0]}, "'params.scale[1]' is 0.0; a scale must be above 0"),
    ({"scale": [1.0, 2.0, -1.0]}, "'params.scale[2]' is -1.0; a scale must be above 0"),
    ({"intercept": "1e3"}, "'params.intercept' must be a number, got '1e3'"),
    ({"intercept": float("-inf")}, "'params.intercept' is -inf, not a finite number"),
    ({"coef": [1.0, True, 0.5]}, "'params.coef[1]' must be a number, got True"),
    ({"columns": ["a", 7]}, "'params.columns' must be a list of column names (strings)"),
    ({"indicators": ["1"]}, "'params.indicators' must be a list of whole numbers"),
])
def test_model_with_numbers_that_would_score_quietly_wrong_is_refused(tmp_path: Path, params, message) -> None:
    from churnscore.errors import ModelError
    from churnscore.model import load_model

    path = _model_doc(tmp_path / "m.json", **params)
    with pytest.raises(ModelError) as err:
        load_model(path)
    assert message in str(err.value)


def test_model_from_dev_zero_stops_at_the_limit() -> None:
    from churnscore.errors import ModelError
    from churnscore.model import load_model

    with pytest.raises(ModelError, match=r"^/dev/zero: the model file is a character device, not a regular file"):
        load_model("/dev/zero")


def test_deeply_nested_model_is_one_error(tmp_path: Path) -> None:
    from churnscore.errors import ModelError
    from churnscore.model import load_model

    path = tmp_path / "m.json"
    path.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelError, match=r"nested deeper than 64 levels, not a churnscore model file\.$"):
        load_model(path)


# ----------------------------------------------------------------------------- amounts


def test_amounts_above_the_ceiling_are_rejects_and_no_infinity_reaches_an_output(tmp_path: Path) -> None:
    from churnscore.synth import write_sample

    src = tmp_path / "in"
    write_sample(src, n_accounts=40, months=3, fmt="csv")
    header, first, *rest = (src / "accounts.csv").read_text().splitlines(keepends=True)
    cells = first.rstrip("\n").split(",")
    cells[header.split(",").index("mrr")] = "1e308"
    (src / "accounts.csv").write_text(header + ",".join(cells) + "\n" + "".join(rest))
    out = tmp_path / "o" / "r.csv"
    code, _, err = run("--log-format", "json", "score", "--input-dir", str(src), "--as-of", "2026-10-31",
                       "--out", str(out))
    assert code == 0, err
    assert (tmp_path / "o" / "r.rejects.csv").read_text().splitlines() == [
        "file,line,column,value,reason", f"{src / 'accounts.csv'},2,mrr,1e+308,mrr above 1e+12"]
    for path in (out, tmp_path / "o" / "r.manifest.json"):
        text = path.read_text()
        assert "inf" not in text.lower() and "nan" not in text.lower()
    for line in err.splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in a JSON log line"))


# ----------------------------------------------------------------------------- unreadable exports


def _sample(tmp_path: Path) -> Path:
    from churnscore.synth import write_sample

    src = tmp_path / "in"
    write_sample(src, n_accounts=20, months=2, fmt="csv")
    return src


def test_a_tickets_symlink_loop_stops_the_run_naming_it(tmp_path: Path) -> None:
    src = _sample(tmp_path)
    (src / "tickets.csv").unlink()
    (src / "tickets.csv").symlink_to("tickets.csv")
    code, _, err = run("score", "--input-dir", str(src), "--out", str(tmp_path / "o" / "r.csv"))
    assert (code, err) == (1, f"churnscore: error: {src / 'tickets.csv'}: the tickets export is a symbolic link "
                              "that loops, not a regular file; give a regular file.\n")
    assert not (tmp_path / "o" / "r.csv").exists()


@pytest.mark.parametrize("name", ["tickets", "usage"])
def test_a_folder_named_like_an_export_file_stops_the_run_naming_it(tmp_path: Path, name: str) -> None:
    src = _sample(tmp_path)
    (src / f"{name}.csv").unlink()
    (src / f"{name}.csv").mkdir()
    code, out, err = run("validate", "--input-dir", str(src))
    assert code == 1
    assert (f"{src / f'{name}.csv'}: the {name} export is a folder, not a regular file; give a regular "
            "file.") in out + err


def test_a_dangling_symlink_in_an_export_folder_is_named(tmp_path: Path) -> None:
    src = _sample(tmp_path)
    (src / "nps").mkdir()
    (src / "nps.csv").rename(src / "nps" / "a.csv")
    (src / "nps" / "b.csv").symlink_to(tmp_path / "gone.csv")
    code, _, err = run("score", "--input-dir", str(src), "--out", str(tmp_path / "o" / "r.csv"))
    assert (code, err) == (1, f"churnscore: error: {src / 'nps' / 'b.csv'}: a file of the nps export is a broken "
                              "symbolic link, not a regular file or a folder; give a regular file or a folder.\n")


@pytest.mark.parametrize("values,shown_type", [([["U1"], ["U2"]], "list<element: string>"),
                                               ([{"a": "U1"}, {"a": "U2"}], "struct<a: string>")])
def test_a_nested_parquet_column_is_one_error_naming_it(tmp_path: Path, values, shown_type: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"account_id": ["A1", "A2"], "timestamp": ["2026-10-01T00:00:00Z"] * 2,
                             "user_id": values, "event": ["login"] * 2}), src / "usage.parquet")
    code, _, err = run("score", "--input-dir", str(src), "--out", str(tmp_path / "o" / "r.csv"))
    assert (code, err) == (1, f"churnscore: error: {src / 'usage.parquet'}: column 'user_id' has Parquet type "
                              f"{shown_type}, which cannot be read as user_id; write it as text, a number or a "
                              "timestamp.\n")


# ----------------------------------------------------------------------------- field length


def test_a_value_over_the_field_limit_makes_its_row_a_reject_with_its_head_shown(tmp_path: Path) -> None:
    src = _sample(tmp_path)
    long_id = "A" + "9" * 1_500_000  # over the default 1 MiB
    with open(src / "usage.csv", "a") as fh:
        fh.write(f"{long_id},2026-06-01T00:00:00Z,U000001,login,1,10.0\n")
    lines = len((src / "usage.csv").read_text().splitlines())
    code, _, err = run("score", "--input-dir", str(src), "--out", str(tmp_path / "o" / "r.csv"))
    assert code == 0, err
    rejects = list(csv.reader(open(tmp_path / "o" / "r.rejects.csv", encoding="utf-8")))
    assert rejects == [["file", "line", "column", "value", "reason"],
                       [str(src / "usage.csv"), str(lines), "account_id", f"{long_id[:200]}… (1,500,001 bytes)",
                        "account_id longer than 1,048,576 bytes (limits.field_bytes)"]]


def test_the_field_limit_is_set_in_the_config(tmp_path: Path) -> None:
    src = _sample(tmp_path)
    with open(src / "usage.csv", "a") as fh:
        fh.write(f"A00001,2026-06-01T00:00:00Z,{'U' * 1500},login,1,10.0\n")
    cfg = write(tmp_path / "c.yaml", f"input_dir: {src}\nlimits:\n  field_bytes: 1024\n")
    code, _, err = run("score", "--config", str(cfg), "--out", str(tmp_path / "o" / "r.csv"))
    assert code == 0, err
    rejects = list(csv.reader(open(tmp_path / "o" / "r.rejects.csv", encoding="utf-8")))
    assert rejects[1][2:] == ["user_id", f"{'U' * 200}… (1,500 bytes)", "user_id longer than 1,024 bytes "
                              "(limits.field_bytes)"]
    assert load_config(cfg).limits.field_bytes == 1024
    with pytest.raises(ConfigError, match=r"'limits.field_bytes' must be >= 1024, got 10"):
        load_config(write(tmp_path / "d.yaml", "limits: {field_bytes: 10}\n"))


def test_a_quoted_value_longer_than_a_block_is_read_and_rejected_not_a_straddling_error(tmp_path: Path) -> None:
    src = _sample(tmp_path)
    rows = list(csv.reader(open(src / "nps.csv", encoding="utf-8")))
    rows[1][rows[0].index("comment")] = "log line\n" * 2_000_000  # 18 MB, over the 16 MiB first block
    with open(src / "nps.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    cfg = write(tmp_path / "c.yaml", f"input_dir: {src}\nrejects: {{max_reject_rate: 0.5}}\n")  # 1 of 6 nps rows
    code, _, err = run("score", "--config", str(cfg), "--out", str(tmp_path / "o" / "r.csv"))
    assert code == 0, err
    rejects = list(csv.reader(open(tmp_path / "o" / "r.rejects.csv", encoding="utf-8")))
    assert rejects[1][:3] == [str(src / "nps.csv"), "2", "comment"]
    assert rejects[1][3].endswith("… (18,000,000 bytes)")
    assert rejects[1][4] == "comment longer than 1,048,576 bytes (limits.field_bytes)"
    assert len(rejects) == 2


def test_a_gzip_of_zeros_is_one_short_printable_error_line(tmp_path: Path) -> None:
    import gzip

    src = tmp_path / "in"
    src.mkdir()
    with gzip.open(src / "usage.csv.gz", "wb") as fh:
        fh.write(b"\0" * (1 << 22))
    code, _, err = run("score", "--input-dir", str(src), "--out", str(tmp_path / "o" / "r.csv"))
    assert code == 1
    assert err == (f"churnscore: error: {src / 'usage.csv.gz'}: required column 'account_id' not found; columns "
                   "found: none. Only one column was found, so the separator looks wrong (',', ';', "
                   "tab and '|' tried); set inputs.usage.sep in the config.\n")


# ----------------------------------------------------------------------------- memory: disk or memory


def test_a_small_parquet_file_of_many_rows_goes_to_disk_by_its_row_count(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnscore.config import parse_config
    from churnscore.load import parts_to_spill

    n = 5_000_000  # over 256 MiB as CSV text at 55 bytes a row; a few hundred kilobytes as Parquet
    pq.write_table(pa.table({"account_id": pa.repeat("A1", n), "timestamp": pa.repeat("2026-10-01T00:00:00Z", n),
                             "event": pa.repeat("login", n)}), tmp_path / "usage.parquet")
    assert (tmp_path / "usage.parquet").stat().st_size < 1 << 20
    assert parts_to_spill(parse_config({}), "usage", [tmp_path / "usage.parquet"]) == 2


def test_a_small_gzip_of_many_rows_goes_to_disk_by_its_uncompressed_size(tmp_path: Path) -> None:
    import gzip

    from churnscore.config import parse_config
    from churnscore.load import parts_to_spill

    row = b"A1,2026-10-01T00:00:00Z,U1,login,1,10.0\n"
    with gzip.open(tmp_path / "usage.csv.gz", "wb", compresslevel=1) as fh:
        fh.write(b"account_id,timestamp,user_id,event,count,duration_seconds\n")
        block = row * 100_000
        for _ in range(70):  # 287 MB of text
            fh.write(block)
    assert (tmp_path / "usage.csv.gz").stat().st_size < 8 << 20
    assert parts_to_spill(parse_config({}), "usage", [tmp_path / "usage.csv.gz"]) == 2


def test_previous_list_that_is_a_device_or_too_large_is_refused_unread(tmp_path: Path) -> None:
    from churnscore.errors import InputDataError
    from churnscore.movers import read_previous

    with pytest.raises(InputDataError, match=r"^/dev/zero: the previous ranked list \(--previous\) is a character device"):
        read_previous("/dev/zero")
    big = tmp_path / "prev.csv"
    with open(big, "wb") as fh:
        fh.truncate((1 << 30) + 1)  # sparse: no disk used
    with pytest.raises(InputDataError, match=r"larger than 1,073,741,824 bytes, not a ranked list"):
        read_previous(big)


def _limited(args: list[str], cwd: Path) -> tuple[int, str]:
    """churnscore in a subprocess whose address space is capped at 1 GiB: reading without bound fails there
    with a MemoryError traceback instead of taking the machine."""
    import resource
    import subprocess
    import sys

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run([sys.executable, "-m", "churnscore.cli", *args], preexec_fn=cap, cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr


@pytest.mark.parametrize("args,message", [
    (["validate", "--config", "/dev/zero"], "/dev/zero: the config (--config) is a character device"),
    (["score", "--model", "/dev/zero"], "/dev/zero: the model file is a character device"),
    (["score", "--config", "laughs.yaml"], "alias '*a' refused"),
])
def test_unbounded_inputs_stop_within_a_1_gib_address_space(tmp_path: Path, args, message) -> None:
    write(tmp_path / "laughs.yaml", LAUGHS.replace("windows: [*c", "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nwindows: [*e"))
    code, err = _limited(args, tmp_path)
    assert code == 1
    assert err.startswith("churnscore: error: ") and message in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_error_text_and_printable_are_one_sanitiser() -> None:
    from churnscore.limits import printable

    hostile = "name\u202eevil\tx\x1b[2J"
    assert printable(hostile) == "name\\u202eevil\\tx\\x1b[2J"
    assert error_text(hostile) == printable(hostile)  # a one-line message: the same escapes
    assert error_text("one\ntwo") == "one two" and printable("one\ntwo") == "one\\ntwo"
