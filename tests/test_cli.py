"""The command line through click's CliRunner: exit codes, exact messages, the files written."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd
import pytest
from conftest import run_cli as run

from churnscore.cli import main
from churnscore.config import DEFAULT_CONFIG, Output, load_config

ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date,contract_term_months
A001,Acme,pro,500,5,2025-01-01,2026-12-01,true,SMB,,12
A002,=Evil,starter,100,2,2025-06-01,2027-01-01,false,SMB,,12
A003,Gone Inc,pro,300,3,2025-01-01,2026-12-01,true,SMB,2026-09-01,12
A004,Future,pro,300,3,2026-11-01,2027-11-01,true,SMB,,12
"""  # yearly terms: --as-of 2026-10-31 is before the latest usage day (2026-11-05), the export's day
USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2026-10-30T10:00:00Z,u1,login,3,200
A001,2026-09-15T10:00:00Z,u1,login,10,200
A001,2026-09-15T10:00:00Z,u2,report_created,10,20
A002,2026-08-01T10:00:00Z,u3,login,1,30
A005,2026-10-01T10:00:00Z,u9,login,1,30
A001,2026-11-05T10:00:00Z,u1,login,3,200
"""
TICKETS = """ticket_id,account_id,created_at,resolved_at,status,priority,category,csat
T1,A001,2026-10-01T00:00:00Z,,open,high,bug,
T2,A001,2026-10-02T00:00:00Z,2026-11-03T00:00:00Z,solved,normal,bug,2
"""


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "usage.csv").write_text(USAGE)
    (d / "tickets.csv").write_text(TICKETS)
    return d



def test_score_writes_ranked_list_excluded_and_summary(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "ranked.csv"
    code, _, err = run("score", "--input-dir", str(inputs), "--as-of", "2026-10-31", "--out", str(out))
    assert code == 0, err
    ranked = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(ranked.columns) == ["rank", "account_id", "account_name", "risk_score", "risk_tier", "mrr",
                                    "revenue_at_risk", "red_flags", "reasons", "suggested_play", "play_owner",
                                    "play_due"]
    assert ranked[["rank", "account_id", "account_name", "risk_score", "risk_tier"]].values.tolist() == [
        ["1", "A001", "Acme", "66.8", "high"], ["2", "A002", "'=Evil", "64.3", "high"]]
    assert ranked.loc[0, "reasons"] == ("usage down 85% vs prior 30 days; 2 tickets open 14+ days; "
                                        "renewal in 31 days; uses none of the 3 key features in 30 days")
    excluded = pd.read_csv(out.with_name("ranked.excluded.csv"), dtype=str)
    assert excluded.values.tolist() == [["A003", "churned on or before the as-of date"],
                                        ["A004", "signed up after the as-of date"],
                                        ["A005", "not in the accounts export"]]
    assert "accounts: 5 in inputs = 2 scored + 3 excluded" in err
    assert "read usage              6 rows (1 after as-of, not used; 1 for accounts not in accounts)" in err
    assert "no nps export: scoring without its signals" in err
    manifest = json.loads(out.with_name("ranked.manifest.json").read_text())
    assert manifest["as_of"] == "2026-10-31"
    assert manifest["counts"]["accounts_scored"] == 2
    assert {i["export"] for i in manifest["inputs"]} == {"accounts", "usage", "tickets"}


def team_config(tmp_path: Path, output_path: str) -> Path:
    """tmp_path/team/churnscore.yaml: the default config (its rules and all) reading tmp_path/in (the inputs
    fixture) through a config-relative input_dir, with output.path set to ``output_path``."""
    text = DEFAULT_CONFIG.read_text()
    assert "input_dir: ../data/sample\n" in text and "\n  path: null " in text
    path = tmp_path / "team" / "churnscore.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("input_dir: ../data/sample\n", "input_dir: ../in\n")
                    .replace("\n  path: null ", f"\n  path: {output_path} "))
    return path


def test_output_path_of_a_config_is_relative_to_the_config_not_the_working_directory(
        inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team_config(tmp_path, "out/ranked.csv")
    monkeypatch.chdir(tmp_path)  # the config's parent, as a cron job in $HOME would be
    code, _, err = run("score", "--config", "team/churnscore.yaml", "--as-of", "2026-10-31")
    assert code == 0, err
    out = tmp_path.resolve() / "team" / "out"
    assert f"  wrote {out / 'ranked.csv'} (manifest {out / 'ranked.manifest.json'})" in err.splitlines()
    ranked = pd.read_csv(out / "ranked.csv", dtype=str, keep_default_na=False)
    assert ranked[["rank", "account_id", "risk_score"]].values.tolist() == [["1", "A001", "66.8"],
                                                                           ["2", "A002", "64.3"]]
    assert not (tmp_path / "out").exists()


def test_out_on_the_command_line_stays_relative_to_the_working_directory(
        inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = team_config(tmp_path, "out/ranked.csv")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code, _, err = run("score", "--config", str(config), "--as-of", "2026-10-31", "--out", "mine/r.csv")
    assert code == 0, err
    assert "  wrote mine/r.csv (manifest mine/r.manifest.json)" in err.splitlines()
    assert pd.read_csv(here / "mine" / "r.csv", dtype=str)["account_id"].tolist() == ["A001", "A002"]
    assert not (tmp_path / "team" / "out").exists()


def test_without_output_path_the_list_goes_to_out_in_the_working_directory(
        inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/default.yaml sets none: 'churnscore score' from the repository root writes out/ranked.csv there."""
    assert load_config().output == Output(path=None) and load_config().output_path == Path("out/ranked.csv")
    for args in ([], ["--config", str(team_config(tmp_path, "null"))]):
        here = tmp_path / f"run{len(args)}"
        here.mkdir()
        monkeypatch.chdir(here)
        code, _, err = run("score", *args, "--input-dir", str(inputs), "--as-of", "2026-10-31")
        assert code == 0, err
        assert "  wrote out/ranked.csv (manifest out/ranked.manifest.json)" in err.splitlines()
        assert pd.read_csv(here / "out" / "ranked.csv", dtype=str)["account_id"].tolist() == ["A001", "A002"]


def test_the_manifest_records_normalised_absolute_paths(inputs: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    team_config(tmp_path, "out/ranked.csv")  # input_dir: ../in, so the files are found as team/../in/...
    monkeypatch.chdir(tmp_path)
    code, _, err = run("score", "--config", "team/churnscore.yaml", "--as-of", "2026-10-31", "--out", "o/r.csv")
    assert code == 0, err
    manifest = json.loads((tmp_path / "o" / "r.manifest.json").read_text())
    root = tmp_path.resolve()
    assert manifest["config"]["path"] == str(root / "team" / "churnscore.yaml")
    names = ["accounts", "usage", "tickets"]
    assert [(i["export"], i["path"]) for i in manifest["inputs"]] == [(n, str(root / "in" / f"{n}.csv")) for n in names]
    assert {n: (f["files"], list(f["per_file"])) for n, f in manifest["files"].items()} == {
        n: ([str(root / "in" / f"{n}.csv")], [str(root / "in" / f"{n}.csv")]) for n in names}
    assert manifest["outputs"] == {"ranked": str(root / "o" / "r.csv"), "rejects": str(root / "o" / "r.rejects.csv"),
                                   "excluded": str(root / "o" / "r.excluded.csv")}


def test_score_is_byte_identical_on_rerun(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranked.csv"
    run("score", "--input-dir", str(inputs), "--out", str(out))
    first = out.read_bytes()
    run("score", "--input-dir", str(inputs), "--out", str(out))
    assert out.read_bytes() == first


def test_default_as_of_is_latest_usage_date(inputs: Path, tmp_path: Path) -> None:
    code, _, err = run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.csv"))
    assert code == 0
    assert err.splitlines()[0] == "churnscore: as of 2026-11-05 (latest usage date)"


def test_top_and_json_format(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, _, _ = run("score", "--input-dir", str(inputs), "--as-of", "2026-10-31", "--out", str(out),
                     "--format", "json", "--top", "1")
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["account_id"] for r in rows] == ["A001"]


def test_missing_input_dir_is_one_line_exit_1(tmp_path: Path) -> None:
    code, out, err = run("score", "--input-dir", str(tmp_path / "nope"))
    assert code == 1
    assert err == f"churnscore: error: {tmp_path / 'nope'}: input folder not found (--input-dir or input_dir in the config).\n"


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "usage.csv").write_text("account_id,when\nA1,2026-01-01\n")
    code, _, err = run("score", "--input-dir", str(d))
    assert code == 1
    assert err == (f"churnscore: error: {d / 'usage.csv'}: required column 'timestamp' not found; "
                   "columns found: account_id, when.\n")


def test_json_log_format_for_errors(tmp_path: Path) -> None:
    code, _, err = run("--log-format", "json", "score", "--input-dir", str(tmp_path / "nope"))
    assert code == 1
    assert json.loads(err) == {"event": "error", "level": "error", "exit_code": 1, "error": "InputDataError",
                               "message": f"{tmp_path / 'nope'}: input folder not found (--input-dir or "
                                          "input_dir in the config)."}


def test_features_sample_data_and_init_log_one_json_line_each_with_json_logs(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    code, stdout, err = run("--log-format", "json", "features", "--input-dir", str(inputs), "--out", str(out))
    assert code == 0 and stdout == ""
    [event] = [json.loads(line) for line in err.splitlines()]
    assert set(event.pop("timings_s")) == {"load", "features", "score", "write"}
    # as of the latest usage date: A001, A002 and A004 (signed up 2026-11-01); A003 churned, A005 is unknown
    assert event == {"event": "features.done", "level": "info", "path": str(out), "accounts": 3, "features": 56,
                     "as_of": "2026-11-05"}
    assert pd.read_csv(out)["account_id"].tolist() == ["A001", "A002", "A004"]
    code, _, err = run("--log-format", "json", "sample-data", "--accounts", "5", "--months", "2", "--format", "csv",
                       "--out", str(tmp_path / "sd"))
    [event] = [json.loads(line) for line in err.splitlines()]
    names = ["accounts", "usage", "nps", "tickets", "payments"]
    assert (code, event) == (0, {"event": "sample_data.done", "level": "info",
                                 "outputs": {n: str(tmp_path / "sd" / f"{n}.csv") for n in names}})
    code, _, err = run("--log-format", "json", "init", str(tmp_path / "team"))
    [event] = [json.loads(line) for line in err.splitlines()]
    assert (code, event) == (0, {"event": "init.done", "level": "info",
                                 "outputs": {"config": str(tmp_path / "team" / "churnscore.yaml"),
                                             "readme": str(tmp_path / "team" / "exports" / "README.txt")}})


def test_features_text_summary_ends_with_the_stage_timings(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    code, _, err = run("features", "--input-dir", str(inputs), "--out", str(out))
    first, timings = err.splitlines()
    assert (code, first) == (0, f"churnscore: 3 accounts x 56 features as of 2026-11-05 -> {out}")
    assert [part.split()[0] for part in timings.removeprefix("  timings: ").split(", ")] == [
        "load", "features", "score", "write"]


def test_bad_usage_exits_2() -> None:
    code, _, err = run("score", "--top", "0")
    assert code == 2
    assert "Invalid value for '--top'" in err


def test_unknown_config_key_exit_1(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("windows:\n  short_dayz: 30\n")
    code, _, err = run("score", "--config", str(cfg))
    assert code == 1
    assert err == f"churnscore: error: {cfg}: config: unknown key 'windows.short_dayz'. Did you mean 'short_days'?\n"


def test_features_list_prints_every_feature() -> None:
    from churnscore.features import CATALOGUE

    code, out, _ = run("features", "--list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [f.name for f in CATALOGUE]
    assert lines[0].split()[1:4] == ["usage", "last", "30"]


def test_features_writes_the_table(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    code, _, err = run("features", "--input-dir", str(inputs), "--as-of", "2026-10-31", "--out", str(out))
    assert code == 0
    table = pd.read_csv(out, dtype={"account_id": str})
    assert table["account_id"].tolist() == ["A001", "A002"]
    assert table.loc[0, "usage_events_30d"] == 3.0
    assert "2 accounts x 56 features as of 2026-10-31" in err


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    return [(f"{prefix}{name}", cmd) for name, cmd in group.commands.items()]


@pytest.mark.parametrize("name,cmd", _commands(main))
def test_every_command_has_help_with_an_example(name: str, cmd: click.Command) -> None:
    code, out, _ = run(name, "--help")
    assert code == 0
    assert cmd.help and "Example" in cmd.help, f"'churnscore {name} --help' has no example"
    assert "Exit codes:" in out


def test_lock_held_by_another_run_exits_3(inputs: Path, tmp_path: Path) -> None:
    from churnscore.runlock import output_lock

    out = tmp_path / "r.csv"
    with output_lock(out):
        code, _, err = run("score", "--input-dir", str(inputs), "--out", str(out))
    assert code == 3
    assert err.startswith(f"churnscore: error: {out}: another churnscore run (pid ")
    assert not out.exists()


# ----------------------------------------------------------------------------- outputs that cannot be written


def test_an_unwritable_report_path_fails_before_the_work_and_leaves_the_list(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert run("score", "--input-dir", str(inputs), "--out", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("r.*")}
    (tmp_path / "afile").write_text("")
    code, _, err = run("score", "--input-dir", str(inputs), "--out", str(out), "--report", str(tmp_path / "afile" / "r.html"))
    assert (code, err) == (1, f"churnscore: error: {tmp_path / 'afile' / 'r.html'}: cannot write there: "
                              f"{tmp_path / 'afile'} is a file, not a folder.\n")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("r.*")} == before
    code, _, err = run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "afile" / "sub" / "r.csv"))
    assert (code, err) == (1, f"churnscore: error: {tmp_path / 'afile' / 'sub' / 'r.csv'}: cannot write there: "
                              f"{tmp_path / 'afile'} is a file, not a folder.\n")
    code, _, err = run("train", "--input-dir", str(inputs), "--model-out", str(tmp_path / "afile" / "m.json"))
    assert (code, err) == (1, f"churnscore: error: {tmp_path / 'afile' / 'm.json'}: cannot write there: "
                              f"{tmp_path / 'afile'} is a file, not a folder.\n")


def test_a_write_the_file_system_refuses_is_one_line_and_keeps_the_list(inputs: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import churnscore.outset as outset_mod

    out = tmp_path / "r.csv"
    assert run("score", "--input-dir", str(inputs), "--out", str(out))[0] == 0
    before = out.read_bytes()

    def full(path, write, digest=False):  # noqa: ANN001, ANN202 - the disk fills up as the first file is written
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outset_mod, "write_temp", full)
    code, _, err = run("score", "--input-dir", str(inputs), "--out", str(out))
    assert (code, err) == (1, f"churnscore: error: {out}: No space left on device.\n")
    assert out.read_bytes() == before


def test_the_output_format_follows_the_file_name_unless_given(inputs: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.parquet"))[0] == 0
    assert pd.read_parquet(tmp_path / "r.parquet")["account_id"].tolist() == ["A002", "A001", "A004"]
    assert run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.JSON"))[0] == 0
    assert [r["account_id"] for r in json.loads((tmp_path / "r.JSON").read_text())] == ["A002", "A001", "A004"]
    assert run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.json"), "--format", "csv")[0] == 0
    assert (tmp_path / "r.json").read_text().startswith("rank,account_id,")
    assert run("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.txt"))[0] == 0  # the config's: csv
    assert (tmp_path / "r.txt").read_text().startswith("rank,account_id,")
    monkeypatch.chdir(tmp_path)  # no --out: out/ranked.csv here, in the format given
    assert run("score", "--input-dir", str(inputs), "--format", "json")[0] == 0
    assert [r["account_id"] for r in json.loads((tmp_path / "out" / "ranked.csv").read_text())] == [
        "A002", "A001", "A004"]
    assert run("features", "--input-dir", str(inputs), "--out", str(tmp_path / "f.json"))[0] == 0
    assert [r["account_id"] for r in json.loads((tmp_path / "f.json").read_text())] == ["A001", "A002", "A004"]


# ----------------------------------------------------------------------------- usage errors


def test_a_date_that_is_not_one_is_a_usage_error() -> None:
    for command in ("score", "validate", "features", "train", "evaluate"):
        code, _, err = run(command, "--as-of", "2026-13-01")
        assert code == 2, command
        assert err.splitlines()[-1] == "Error: Invalid value for '--as-of': '2026-13-01' is not a date (use YYYY-MM-DD)."


def test_usage_errors_and_validate_are_one_json_line_with_json_logs(inputs: Path, tmp_path: Path) -> None:
    code, _, err = run("--log-format", "json", "score", "--bogus")
    assert (code, json.loads(err)) == (2, {"event": "error", "level": "error", "error": "NoSuchOption",
                                           "exit_code": 2, "message": "No such option '--bogus'. Did you mean '--out'?"})
    code, _, err = run("--log-format", "json", "score", "--scheduler", "tcp://x:8786")
    assert (code, json.loads(err)) == (2, {"event": "error", "level": "error", "error": "UsageError", "exit_code": 2,
                                           "message": "--scheduler needs --engine dask."})
    code, stdout, err = run("--log-format", "json", "validate", "--input-dir", str(inputs))
    assert code == 0 and stdout.splitlines()[0].startswith("export")
    assert json.loads(err) == {"event": "validate.done", "level": "info", "ok": True, "problems": [],
                               "notes": ["usage: 1 row for 1 account id not in the accounts export (they are "
                                         "not scored)."]}
    (inputs / "accounts.csv").write_text("account_id,mrr\n")
    code, _, err = run("--log-format", "json", "validate", "--input-dir", str(inputs))
    problem = (f"{inputs / 'accounts.csv'}: the accounts export has a header but no rows, so no account could be "
               "scored; export the accounts again, or remove the file to score every account the other exports name.")
    assert (code, json.loads(err)) == (1, {"event": "error", "level": "error", "error": "ValidationFailed",
                                           "exit_code": 1, "message": f"validate: 1 problem(s): {problem}",
                                           "ok": False, "problems": [problem], "notes": []})


def test_a_library_warning_is_one_json_line_with_json_logs(inputs: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    import churnscore.pipeline as pipeline_mod

    real = pipeline_mod.score

    def warns(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - as distributed warns of a busy dashboard port
        warnings.warn("Port 8787 is already in use.", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_mod, "score", warns)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # the CLI sets it for the run; put it back
    code, _, err = run("--log-format", "json", "score", "--input-dir", str(inputs), "--out", str(tmp_path / "r.csv"))
    events = [json.loads(line) for line in err.splitlines()]
    assert code == 0
    assert [e["event"] for e in events] == ["warning", "score.done"]
    assert {k: v for k, v in events[0].items() if k != "source"} == {
        "event": "warning", "level": "warning", "warning": "UserWarning", "message": "Port 8787 is already in use."}


def test_the_memory_is_tuned_before_a_date_option_brings_pandas_in() -> None:
    """tune_memory must run before pandas and Arrow allocate anything: an --as-of read first (it imports
    pandas) raised the peak of a 10 M-row run by 0.28 GB. In a fresh process, since this one has pandas."""
    import subprocess
    import sys

    code = ("import sys\nimport churnscore.cli as cli\nseen = []\n"
            "cli.tune_memory = lambda: seen.append(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n"
            "try:\n    cli.main(['validate', '--as-of', '2026-10-31', '--input-dir', '/nonexistent'])\n"
            "except SystemExit:\n    pass\nprint(seen)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "[[]]", done.stderr


# ----------------------------------------------------------------------------- the reject policy, every command


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """Usage with 1 row of 2 rejected: 50%, above the default rejects.max_reject_rate 5%."""
    d = tmp_path / "broken"
    d.mkdir()
    (d / "usage.csv").write_text("account_id,timestamp\nA1,2026-10-01\nA1,not a date\n")
    return d


TOO_MANY = "50.0% of input rows rejected (usage: 1 of 2), above rejects.max_reject_rate 5.0%"


def test_train_stops_on_too_many_rejects_as_score_does(broken: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    code, _, err = run("train", "--input-dir", str(broken), "--model-out", str(model))
    assert (code, err) == (1, f"churnscore: error: {TOO_MANY}; the model would be unreliable. The first: "
                              f"{broken / 'usage.csv'}:3: unparseable datetime in timestamp; 'churnscore validate' "
                              "lists them all. No model was written.\n")
    assert not model.exists()
    code, _, err = run("score", "--input-dir", str(broken), "--out", str(tmp_path / "r.csv"))
    assert (code, err) == (1, f"churnscore: error: {TOO_MANY}; the ranking would be unreliable. See "
                              f"{tmp_path / 'r.failed.rejects.csv'}; the previous ranked list was left as it was.\n")


def test_train_under_the_limit_goes_on_to_training(broken: Path, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rejects:\n  max_reject_rate: 0.5\n")  # 50% is not above 50%
    code, _, err = run("train", "--config", str(lenient), "--input-dir", str(broken), "--model-out",
                       str(tmp_path / "m.json"))
    assert (code, err) == (1, "churnscore: error: no observation date fits: the usage history before 2026-10-01 is "
                              "shorter than min_history_days + horizon_days (60 + 90).\n")


@pytest.mark.parametrize(("command", "option", "what", "kept"), [
    ("evaluate", "--json", "the backtest", "Nothing was written."),
    ("tune-rules", "--out", "the rule weights", "No config was written."),
])
def test_evaluate_and_tune_rules_stop_on_too_many_rejects_and_write_nothing(
        broken: Path, tmp_path: Path, command: str, option: str, what: str, kept: str) -> None:
    written = tmp_path / "written"
    code, out, err = run(command, "--input-dir", str(broken), option, str(written))
    assert (code, out, err) == (1, "", f"churnscore: error: {TOO_MANY}; {what} would be unreliable. The first: "
                                       f"{broken / 'usage.csv'}:3: unparseable datetime in timestamp; "
                                       f"'churnscore validate' lists them all. {kept}\n")
    assert not written.exists()
    code, _, err = run("--log-format", "json", command, "--input-dir", str(broken), option, str(written))
    assert code == 1
    assert {k: v for k, v in json.loads(err).items() if k != "message"} == {
        "event": "error", "level": "error", "error": "RejectLimitError", "exit_code": 1}


def test_validate_names_the_limit_and_exits_1_where_score_would_stop(broken: Path, tmp_path: Path) -> None:
    code, out, _ = run("validate", "--input-dir", str(broken))
    assert code == 1
    assert out.splitlines()[-2:] == [f"  - {TOO_MANY}; 'churnscore score' would stop.",
                                     "churnscore: validate: 1 problem; fix before scoring."]
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rejects:\n  max_reject_rate: 0.5\n")
    code, out, _ = run("validate", "--config", str(lenient), "--input-dir", str(broken))
    assert code == 0
    assert ("  - 1 row rejected (usage: 1; 50.0%, within rejects.max_reject_rate 50.0%): 'churnscore score' lists "
            "them in its rejects file.") in out.splitlines()
    assert run("score", "--config", str(lenient), "--input-dir", str(broken), "--out", str(tmp_path / "r.csv"))[0] == 0


@pytest.mark.parametrize(("command", "option", "kept"), [
    ("train", "--model-out", "No model was written."),
    ("evaluate", "--json", "Nothing was written."),
    ("tune-rules", "--out", "No config was written."),
])
def test_strict_stops_train_evaluate_and_tune_rules_on_any_reject_as_it_stops_score(
        broken: Path, tmp_path: Path, command: str, option: str, kept: str) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rejects:\n  max_reject_rate: 0.5\n")  # 50% is within it: only --strict stops the run
    written = tmp_path / "written"
    code, out, err = run(command, "--config", str(lenient), "--input-dir", str(broken), option, str(written),
                         "--strict")
    assert (code, out, err) == (1, "", "churnscore: error: 1 input row rejected (usage: 1) and --strict is set. "
                                       f"The first: {broken / 'usage.csv'}:3: unparseable datetime in timestamp; "
                                       f"'churnscore validate' lists them all. {kept}\n")
    assert not written.exists()
    code, _, err = run("score", "--config", str(lenient), "--input-dir", str(broken), "--out",
                       str(tmp_path / "r.csv"), "--strict")
    assert (code, err) == (1, "churnscore: error: 1 input row rejected (usage: 1) and --strict is set. See "
                              f"{tmp_path / 'r.failed.rejects.csv'}; the previous ranked list was left as it was.\n")


def test_validate_strict_names_any_reject_as_a_problem(broken: Path, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rejects:\n  max_reject_rate: 0.5\n")
    assert run("validate", "--config", str(lenient), "--input-dir", str(broken))[0] == 0
    code, out, _ = run("validate", "--config", str(lenient), "--input-dir", str(broken), "--strict")
    assert code == 1
    assert out.splitlines()[-2:] == ["  - 1 input row rejected (usage: 1) and --strict is set; 'churnscore score' "
                                     "would stop.",
                                     "churnscore: validate: 1 problem; fix before scoring."]
