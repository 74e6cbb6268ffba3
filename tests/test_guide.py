"""The guiding CLI: init writes a starter config and folder, validate checks without scoring (a table per
export; exit 1 on what would stop a run), and the terminal-only table and progress line."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pandas as pd
from conftest import run_cli as run
from conftest import write_text

from churnscore.config import load_config, preset_names
from churnscore.stages import Stages, rounded
from churnscore.terminal import StageLine, clear_progress, stage_line, top_table

VENDORS = Path(__file__).parent / "fixtures" / "vendors"



# ----------------------------------------------------------------------------- init


def test_init_writes_a_config_that_reads_dir_exports_and_the_layout_note(tmp_path):
    target = tmp_path / "acme"
    code, _, err = run("init", str(target), "--preset", "stripe", "--preset", "zendesk")
    assert code == 0, err
    config = target / "churnscore.yaml"
    assert err.splitlines() == [
        f"churnscore: wrote {config} and {target / 'exports' / 'README.txt'}",
        f"  1. put your exports in {target / 'exports'}/ (its README.txt lists files and columns)",
        f"  2. churnscore validate --config {config}",
        f"  3. churnscore score --config {config} --report {target / 'out' / 'report.html'}",
        f"     (the ranked list goes to {target / 'out' / 'ranked.csv'}: output.path of the config, relative to it)"]
    loaded = load_config(config)
    assert loaded.resolve(loaded.input_dir) == (target / "exports").resolve()
    assert loaded.presets == ("stripe", "zendesk")
    assert loaded.rules == load_config().rules  # the default's rules, with their comments
    assert (target / "exports").is_dir()
    readme = (target / "exports" / "README.txt").read_text()
    assert "  usage.csv      (required) account_id*, timestamp*, user_id, event, count, duration_seconds" in readme
    assert "presets: [stripe, zendesk]" in config.read_text()
    assert loaded.output_path == target.resolve() / "out" / "ranked.csv"


def test_init_from_the_parent_suggests_paths_that_land_in_dir_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("init", "acme")
    assert code == 0, err
    assert err.splitlines()[3:] == [
        "  3. churnscore score --config acme/churnscore.yaml --report acme/out/report.html",
        "     (the ranked list goes to acme/out/ranked.csv: output.path of the config, relative to it)"]
    text = (tmp_path / "acme" / "churnscore.yaml").read_text()
    assert text.splitlines()[3:10] == [
        "# Next steps, from the folder 'churnscore init' ran in (paths on the command line are relative to where "
        "you are):",
        "#   1. put your exports in exports/ (exports/README.txt lists the files and their columns)",
        "#   2. churnscore validate --config acme/churnscore.yaml",
        "#      then EDIT FIRST features.login_event and features.key_features below: your product's event names,",
        "#      picked from the events validate lists as most used",
        "#   3. churnscore score --config acme/churnscore.yaml --report acme/out/report.html",
        "#      the ranked list goes to out/ranked.csv next to this file (output.path below), from any working "
        "directory"]
    lines = text.splitlines()
    at = lines.index("features:")  # the event names: marked as the first thing to edit
    assert lines[at + 1].startswith("  # EDIT FIRST: the event names of YOUR product")
    assert lines[at + 4].startswith("  key_features:")
    at = lines.index("output:")
    assert lines[at + 1:at + 4] == [
        "  path: out/ranked.csv           # relative to this file, like input_dir, wherever churnscore runs;",
        "                                 # --out (relative to the working directory) overrides it",
        "  format: csv                    # csv | parquet | json"]


def test_init_config_writes_the_ranked_list_into_dir_out_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init", "acme")[0] == 0
    write_text(tmp_path / "acme" / "exports" / "usage.csv", "account_id,timestamp\nA1,2026-10-01\nA2,2026-10-05\n")
    cron = tmp_path / "home"  # a cron job runs with cwd=$HOME
    cron.mkdir()
    monkeypatch.chdir(cron)
    code, _, err = run("score", "--config", "../acme/churnscore.yaml")
    assert code == 0, err
    ranked = tmp_path / "acme" / "out" / "ranked.csv"
    # no event column, so no 'login' event: weak_start cannot judge and is off (it fired on both before)
    assert pd.read_csv(ranked, dtype=str)[["rank", "account_id", "risk_score", "risk_tier"]].values.tolist() == [
        ["1", "A1", "0.0", "low"], ["2", "A2", "0.0", "low"]]
    assert "  rule weak_start off: no 'login' event in usage; most frequent events: none" in err.splitlines()
    assert sorted(p.name for p in (tmp_path / "acme" / "out").iterdir()) == [
        "ranked.csv", "ranked.excluded.csv", "ranked.lock", "ranked.manifest.json", "ranked.rejects.csv"]
    assert list(cron.iterdir()) == []


def test_init_refuses_to_overwrite_a_config(tmp_path):
    run("init", str(tmp_path))
    code, _, err = run("init", str(tmp_path))
    assert code == 1
    assert err == (f"churnscore: error: {tmp_path / 'churnscore.yaml'}: already exists; pass --force to overwrite it, "
                   "or pick another folder.\n")
    assert run("init", str(tmp_path), "--force")[0] == 0


def test_init_with_an_unknown_preset_names_the_choices(tmp_path):
    code, _, err = run("init", str(tmp_path), "--preset", "zendsk")
    assert code == 1
    assert err == ("churnscore: error: config: unknown preset 'zendsk'. Did you mean 'zendesk'? Presets: "
                   f"{', '.join(preset_names())}.\n")
    assert not (tmp_path / "churnscore.yaml").exists()


# ----------------------------------------------------------------------------- validate


def test_validate_prints_a_table_per_export_and_passes(tmp_path):
    d = tmp_path / "in"
    write_text(d / "accounts.csv", "account_id,account_name\nA1,Acme\nA2,Bolt\n")
    write_text(d / "usage.csv", "Account_ID,Timestamp,event\nA1,2026-10-01,login\nA2,2026-10-05,login\n"
                                "A1,2026-10-07,login\n")
    code, out, _ = run("validate", "--input-dir", str(d))
    assert code == 0
    assert out.splitlines() == [
        "export    files        rows  accounts  date range             rejects  columns mapped",
        "accounts      1           2         2  -                            0  2/11",
        "usage         1           3         2  2026-10-01..2026-10-07       0  3/6",
        "nps           -           -         -  -                            -  not found: scored without its signals",
        "tickets       -           -         -  -                            -  not found: scored without its signals",
        "payments      -           -         -  -                            -  not found: scored without its signals",
        "",
        "columns:",
        "  accounts: not in the file (optional): plan, mrr, seats, signup_date, renewal_date, auto_renew, segment, "
        "churn_date, contract_term_months",
        "  usage: not in the file (optional): user_id, count, duration_seconds",
        "",
        "as of 2026-10-07 (latest usage date)",
        "",
        "events most used (share of the 2 accounts scored; pick features.login_event and key_features among them):",
        "  login                           100%",
        "",
        "rules switched off on this data:",
        "  - low_key_feature_adoption off: none of the key features ('report_created', 'dashboard_viewed', "
        "'integration_sync') in usage; most frequent events: login (100% of accounts)",
        "churnscore: validate: ok, ready to score (1 rule switched off, listed above)."]


def test_validate_lists_every_problem_at_once_and_exits_1(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv", "account_id,timestamp\nA1,2026-10-01\nA1,not a date\n")
    write_text(d / "payments.csv", "payment_id,account_id,due_date\nP1,A1,2026-10-01\n")
    code, out, _ = run("validate", "--input-dir", str(d))
    assert code == 1
    lines = out.splitlines()
    assert lines[5] == (f"payments  ERROR  {d / 'payments.csv'}: required column 'amount' not found; columns found: "
                        "payment_id, account_id, due_date.")
    assert lines[-3:] == [
        f"  - {d / 'payments.csv'}: required column 'amount' not found; columns found: payment_id, account_id, "
        "due_date.",
        "  - 50.0% of input rows rejected (usage: 1 of 2), above rejects.max_reject_rate 5.0%; 'churnscore score' would stop.",
        "churnscore: validate: 2 problems; fix before scoring."]
    assert f"  {d / 'usage.csv'}:3: unparseable datetime in timestamp (timestamp = 'not a date')" in lines


def test_validate_shows_the_vendor_mappings_and_unmapped_rows():
    args = ["validate", "--input-dir", str(VENDORS), "--as-of", "2026-10-31"]
    code, out, _ = run(*args, *[a for p in ("stripe", "zendesk", "delighted", "mixpanel") for a in ("--preset", p)])
    assert code == 1  # 4 of 23 rows have no mapping: above the default 5%
    lines = out.splitlines()
    assert lines[5] == "payments      1           5         3  2026-09-15..2026-10-15       1  6/9"
    assert ("  payments: payment_id <- id, account_id <- Customer, due_date <- Date (UTC), amount <- Amount Due, "
            "paid_at <- Paid At (UTC)") in lines
    assert "  tickets: 1 row with no account mapping (rejected)" in lines


def test_validate_missing_input_folder_is_one_line_exit_1(tmp_path):
    code, _, err = run("validate", "--input-dir", str(tmp_path / "nope"))
    assert code == 1
    assert err == (f"churnscore: error: {tmp_path / 'nope'}: input folder not found (--input-dir or input_dir in the "
                   "config).\n")


# ----------------------------------------------------------------------------- terminal


RANKED = pd.DataFrame({"rank": [1, 2, 3], "account_id": ["A1", "A2", "A3"],
                       "account_name": ["Acme & Sons Worldwide Holdings", "", "Corex"],
                       "risk_score": [66.8, 40.0, 5.0], "risk_tier": ["high", "medium", "low"],
                       "revenue_at_risk": [3340.0, 40.0, float("nan")],
                       "reasons": ["usage down 85% vs prior 30 days; NPS 3", "no activity for 15 days", ""]})


def test_top_table_is_fixed_width_and_cut_to_the_terminal():
    assert top_table(RANKED, n=2, width=80).splitlines() == [
        "  #  account                   score  tier    at risk/mo  top reason",
        "  1  Acme & Sons Worldwide H…   66.8  high         3,340  usage down 85% vs pri…",
        "  2  A2                         40.0  medium          40  no activity for 15 da…",
        "     ... 1 more in the ranked list"]


def test_top_table_shows_the_change_when_a_previous_list_was_given():
    ranked = RANKED.assign(previous_score=[60.0, float("nan"), 5.0], score_change=[6.8, float("nan"), 0.0])
    assert top_table(ranked, width=100).splitlines()[1:4] == [
        "  1  Acme & Sons Worldwide H…   66.8  high         3,340    +6.8  usage down 85% vs prior 30 days",
        "  2  A2                         40.0  medium          40     new  no activity for 15 days",
        "  3  Corex                       5.0  low                   +0.0  -"]


def test_top_table_colours_the_tier_only_when_asked():
    coloured = top_table(RANKED, n=1, colour=True).splitlines()[1]
    assert click.style("high  ", fg="red", bold=True) in coloured
    assert "\x1b[" not in top_table(RANKED, n=1)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("TERM", raising=False)
    assert stage_line(io.StringIO()) is None
    assert stage_line(FakeTerminal(), enabled=False) is None
    assert isinstance(stage_line(FakeTerminal()), StageLine)
    tty = FakeTerminal()
    ticks = iter([0.0, 0.1, 0.2, 0.5, 18.1, 27.5])
    line = StageLine(tty, clock=lambda: next(ticks))
    line("load")
    line.rows("accounts", 1000)  # the first rows read: shown
    line.rows("usage", 200000)  # 0.1 s after the last rows shown: too soon
    line.rows("usage", 400000)  # 0.4 s after: shown
    line("features")
    line("score")
    clear_progress()
    assert tty.getvalue().split("\r\x1b[K") == [
        "", "churnscore: reading the exports ...",
        "churnscore: reading the exports ... accounts: 1,000 rows",
        "churnscore: reading the exports ... usage: 400,000 rows",
        "churnscore: computing features ... (load 18.1 s)",
        "churnscore: scoring accounts ... (load 18.1 s, features 9.4 s)", ""]
    monkeypatch.setenv("TERM", "dumb")
    assert stage_line(FakeTerminal()) is None


def test_stages_time_each_stage_and_tell_the_progress_line():
    tty = FakeTerminal()
    line = StageLine(tty, clock=lambda: 0.0)
    ticks = iter([1.0, 3.5, 4.0, 10.0, 12.5, 13.0])
    stages = Stages(line, line.detail, clock=lambda: next(ticks))
    stages("load")  # 1.0
    stages("snapshots")  # 3.5
    stages.detail("2026-01-04, 1 of 2")
    stages("fit")  # 4.0
    stages("snapshots")  # 10.0: a stage named again adds up
    assert stages.stop() == {"load": 2.5, "snapshots": 0.5 + 2.5, "fit": 6.0}  # stopped at 12.5
    assert stages.stop() == {"load": 2.5, "snapshots": 3.0, "fit": 6.0}  # nothing running: no change
    assert rounded({"load": 2.00049, "fit": 1 / 3}) == {"load": 2.0, "fit": 0.333}
    line.clear()
    assert tty.getvalue().split("\r\x1b[K")[1:5] == [
        "churnscore: reading the exports ...", "churnscore: computing snapshots ... (load 0.0 s)",
        "churnscore: computing snapshots ... 2026-01-04, 1 of 2",
        "churnscore: fitting the model ... (load 0.0 s, snapshots 0.0 s)"]
    quiet = Stages(clock=lambda: 5.0)  # no display: only the timings
    quiet("load")
    assert quiet.stop() == {"load": 0.0}


def test_without_a_terminal_score_prints_no_progress_no_colour_and_no_table(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv", "account_id,timestamp\nA1,2026-10-01\n")
    code, out, err = run("score", "--input-dir", str(d), "--out", str(tmp_path / "r.csv"))
    assert code == 0
    assert out == ""
    assert "\x1b[" not in err and "\r" not in err
    assert "top reason" not in err
    assert err.splitlines()[-1].startswith("  timings: ")
