"""Issue 4, bad input: each case through the command line, with the exact one-line error or the exact reject rows.

A whole-file problem stops the run: exit code 1 and one line on stderr naming the file (and line and column when
known) and the fix. A row-level problem never stops it: the row goes to <out>.rejects.csv with its file, line,
column, value and reason, and the run goes on.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import config, write_text

from churnscore.cli import main
from churnscore.config import DEFAULT_CONFIG
from churnscore.load import load_all

AS_OF = "2024-03-31"
USAGE = "account_id,timestamp,user_id,event,count\nA1,2024-03-20T10:00:00Z,u1,login,2\n"
ACCOUNTS = "account_id,account_name,mrr,signup_date\nA1,Acme,100,2023-01-01\n"


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def inputs(tmp_path: Path, encoding: str = "utf-8", **files: str) -> Path:
    """A folder with <name>.csv for each keyword (usage.csv defaults to USAGE)."""
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    files.setdefault("usage", USAGE)
    for name, text in files.items():
        write_text(d / f"{name}.csv", text, encoding)
    return d


def lenient(tmp_path: Path) -> Path:
    """The default config (rules and all) with max_reject_rate 1: a few bad rows in a tiny file are not a flood."""
    text = DEFAULT_CONFIG.read_text()
    assert "max_reject_rate: 0.05" in text
    return write_text(tmp_path / "lenient.yaml", text.replace("max_reject_rate: 0.05", "max_reject_rate: 1.0"))


def score(d: Path, *extra: object, out: Path | None = None) -> tuple[int, str, str]:
    out = out or d.parent / "out" / "ranked.csv"
    return cli("score", "--input-dir", d, "--out", out, "--as-of", AS_OF, *extra)


def fails(d: Path, message: str, *extra: object) -> None:
    """The run stops: exit 1, exactly one line on stderr, the ranked list not touched."""
    ranked = d.parent / "out" / "ranked.csv"
    before = ranked.read_bytes() if ranked.exists() else None
    code, out, err = score(d, *extra)
    assert (code, out, err) == (1, "", f"churnscore: error: {message}\n")
    assert (ranked.read_bytes() if ranked.exists() else None) == before


def scored(d: Path, *extra: object) -> tuple[pd.DataFrame, list[tuple[str, ...]], str]:
    """The run succeeds: the ranked list, the rejects file's rows, and the summary on stderr.

    Unless a --config is given, the default config with max_reject_rate 1 (see test_reconcile for the limit).
    """
    if "--config" not in extra:
        extra = ("--config", lenient(d.parent), *extra)
    code, _, err = score(d, *extra)
    assert code == 0, err
    out = d.parent / "out"
    ranked = pd.read_csv(out / "ranked.csv", dtype=str, keep_default_na=False)
    rejects = pd.read_csv(out / "ranked.rejects.csv", dtype=str, keep_default_na=False)
    assert list(rejects.columns) == ["file", "line", "column", "value", "reason"]
    return ranked, [tuple(r) for r in rejects.itertuples(index=False)], err


def write_config(tmp_path: Path, text: str) -> Path:
    return write_text(tmp_path / "churnscore.yaml", text)


# ----------------------------------------------------------------------------- files that cannot be used


def test_missing_file_named_in_the_config(tmp_path):
    cfg = write_config(tmp_path, "inputs:\n  usage:\n    path: exports/usage.csv\n")
    code, _, err = cli("score", "--config", cfg, "--out", tmp_path / "out.csv")
    assert (code, err) == (1, f"churnscore: error: {tmp_path / 'exports' / 'usage.csv'}: no such file "
                              "(inputs.usage.path in the config).\n")


def test_missing_required_export_in_the_input_folder(tmp_path):
    d = tmp_path / "in"
    write_text(d / "accounts.csv", ACCOUNTS)
    fails(d, f"{d}: no usage export found (looked for usage.csv, usage.csv.gz, usage.parquet or a folder usage/); "
             "usage is required.")


STALE_USAGE = "account_id,timestamp\nOLD,2023-01-01\n"  # last year's one-row export, left behind
FOLDER_USAGE = ("account_id,timestamp,user_id,event,count\nA1,2024-03-20T10:00:00Z,u1,login,2\n",
                "account_id,timestamp,user_id,event,count\nA2,2024-03-25T10:00:00Z,u2,login,1\n")


def stale_file_beside_folder(tmp_path: Path) -> Path:
    """in/usage.csv (one stale row) beside in/usage/ (this week's two files), and an accounts export."""
    d = inputs(tmp_path, usage=STALE_USAGE, accounts="account_id,account_name\nA1,Acme\nA2,Bolt\n")
    for i, text in enumerate(FOLDER_USAGE):
        write_text(d / "usage" / f"part-{i}.csv", text)
    return d


def test_a_file_beside_a_folder_of_the_same_export_stops_the_run_naming_both(tmp_path):
    d = stale_file_beside_folder(tmp_path)
    fails(d, f"usage: more than one usage export in the input folder: {d / 'usage.csv'} and {d / 'usage'}/. Keep "
             "one, or set inputs.usage.path in the config to the one to read.")


def test_two_file_kinds_of_one_export_stop_the_run_naming_every_one(tmp_path):
    d = inputs(tmp_path, nps="account_id,responded_at,score\nA1,2024-03-01,9\n")
    write_text(d / "nps.csv.gz", "")  # the name alone makes it a candidate
    pd.DataFrame({"account_id": ["A1"], "responded_at": ["2024-03-02"], "score": [3]}).to_parquet(d / "nps.parquet")
    fails(d, f"nps: more than one nps export in the input folder: {d / 'nps.csv'}, {d / 'nps.csv.gz'} and "
             f"{d / 'nps.parquet'}. Keep one, or set inputs.nps.path in the config to the one to read.")


def test_validate_reports_the_ambiguous_export_and_exits_1(tmp_path):
    d = stale_file_beside_folder(tmp_path)
    code, out, _ = cli("validate", "--input-dir", d)
    message = (f"usage: more than one usage export in the input folder: {d / 'usage.csv'} and {d / 'usage'}/. Keep "
               "one, or set inputs.usage.path in the config to the one to read.")
    assert code == 1
    lines = out.splitlines()
    assert lines[:3] == [
        "export    files        rows  accounts  date range             rejects  columns mapped",
        "accounts      1           2         2  -                            0  2/11",
        f"usage     ERROR  {message}"]
    assert lines[-3:] == ["problems:", f"  - {message}", "churnscore: validate: 1 problem; fix before scoring."]


@pytest.mark.parametrize("path,read", [
    ("in/usage", "  read usage              2 rows"),
    ("in/usage/*.csv", "  read usage              2 rows"),
    ("in/usage.csv", "  read usage              1 rows (1 for accounts not in accounts)")])
def test_an_explicit_inputs_path_is_not_ambiguous(tmp_path, path, read):
    d = stale_file_beside_folder(tmp_path)
    cfg = write_config(tmp_path, f"inputs:\n  usage:\n    path: {path}\n")
    code, out, _ = cli("validate", "--config", cfg, "--input-dir", d)
    assert code == 0, out
    ranked, _, err = scored(d, "--config", cfg)
    assert ranked["account_id"].tolist() == ["A1", "A2"]
    assert read in err.splitlines()  # the one named: the folder's two files, or the stale file


def test_empty_file(tmp_path):
    d = inputs(tmp_path, usage="")
    fails(d, f"{d / 'usage.csv'}: empty file (no header row).")


def test_empty_optional_export_is_also_an_error(tmp_path):
    d = inputs(tmp_path, nps="")
    fails(d, f"{d / 'nps.csv'}: empty file (no header row).")


@pytest.mark.parametrize("text", ["account_id,timestamp\n", "account_id,timestamp", "account_id,timestamp\n\n\n"])
def test_header_only_required_export(tmp_path, text):
    d = inputs(tmp_path, usage=text)
    fails(d, f"{d / 'usage.csv'}: the usage export has a header but no rows; usage is required.")


def test_header_only_optional_export_scores_without_its_rows(tmp_path):
    d = inputs(tmp_path, nps="account_id,responded_at,score")
    ranked, rejects, err = scored(d)
    assert ranked["account_id"].tolist() == ["A1"] and rejects == []
    assert "  read nps                0 rows\n" in err


def test_required_column_missing_names_file_column_and_the_columns_found(tmp_path):
    d = inputs(tmp_path, tickets="ticket_id,account,created_at\nT1,A1,2024-03-01\n")
    fails(d, f"{d / 'tickets.csv'}: required column 'account_id' not found; "
             "columns found: ticket_id, account, created_at.")


def test_a_column_that_appears_twice_is_not_guessed(tmp_path):
    d = inputs(tmp_path, usage="account_id,timestamp,Account_ID\nA1,2024-03-20,B7\n")
    fails(d, f"{d / 'usage.csv'}: 2 columns match 'account_id' ('account_id', 'Account_ID'); remove or rename all "
             "but one, or map one with inputs.usage.columns in the config.")


def test_corrupt_gzip_and_parquet(tmp_path):
    d = tmp_path / "in"
    write_text(d / "usage.csv.gz", "account_id,timestamp\n")  # not gzip at all
    fails(d, f"{d / 'usage.csv.gz'}: cannot read (Not a gzipped file (b'ac')).")
    (d / "usage.csv.gz").unlink()
    (d / "usage.parquet").write_bytes(b"PAR1 truncated")
    fails(d, f"{d / 'usage.parquet'}: cannot read as Parquet (Parquet magic bytes not found in footer. Either the "
             "file is corrupted or this is not a parquet file.).")


# ----------------------------------------------------------------------------- separators and encodings


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_detected_and_read(tmp_path, sep):
    usage = "\n".join(sep.join(row) for row in [("account_id", "timestamp", "event", "count"),
                                                ("A1", "2024-03-20T10:00:00Z", "login", "2"),
                                                ("A2", "2024-03-21", "report,created", "3")]) + "\n"
    accounts = "\n".join(sep.join(row) for row in [("account_id", "account_name", "mrr"),
                                                   ("A1", "Acme, Inc.", "100.5"), ("A2", "Beta", "20")]) + "\n"
    d = inputs(tmp_path, usage=usage, accounts=accounts)
    ranked, rejects, err = scored(d)
    assert rejects == []
    assert ranked[["account_id", "account_name", "mrr"]].values.tolist() == [["A1", "Acme, Inc.", "100.5"],
                                                                            ["A2", "Beta", "20.0"]]
    assert "  read usage              2 rows\n" in err


def test_unknown_separator_says_the_separator_looks_wrong(tmp_path):
    d = inputs(tmp_path, usage="account_id:timestamp:event\nA1:2024-03-20:login\n")
    fails(d, f"{d / 'usage.csv'}: required column 'account_id' not found; columns found: account_id:timestamp:event. "
             "Only one column was found, so the separator looks wrong (',', ';', tab and '|' tried); "
             "set inputs.usage.sep in the config.")


def test_configured_separator_is_used_and_named_when_wrong(tmp_path):
    d = inputs(tmp_path, usage="account_id:timestamp\nA1:2024-03-20\n")
    good = write_config(tmp_path, f"input_dir: {d}\ninputs:\n  usage:\n    sep: ':'\n")
    ranked, _, _ = scored(d, "--config", good)
    assert ranked["account_id"].tolist() == ["A1"]
    bad = write_config(tmp_path, f"input_dir: {d}\ninputs:\n  usage:\n    sep: '|'\n")
    fails(d, f"{d / 'usage.csv'}: required column 'account_id' not found; columns found: account_id:timestamp. "
             "Only one column was found, so the separator looks wrong ('|' from the config); "
             "set inputs.usage.sep in the config.", "--config", bad)


def test_utf8_with_bom_reads_the_first_column_name_and_the_text(tmp_path):
    d = inputs(tmp_path, usage="\ufeffaccount_id,timestamp\nÅ1,2024-03-20\n",
               accounts="\ufeffaccount_id,account_name\nÅ1,Société Générale\n")
    ranked, rejects, _ = scored(d)
    assert rejects == []
    assert ranked[["account_id", "account_name"]].values.tolist() == [["Å1", "Société Générale"]]


def test_latin1_fails_naming_the_file_the_line_the_byte_and_the_encoding_key(tmp_path):
    d = inputs(tmp_path, accounts="account_id,account_name\nA1,Acme\nA2,Société Générale\n", encoding="latin-1")
    fails(d, f"{d / 'accounts.csv'}:3: not UTF-8 (byte 0xe9); save it as UTF-8 or set inputs.accounts.encoding "
             "(e.g. latin-1) in the config.")


def test_latin1_beyond_the_sniffed_head_names_its_line_too(tmp_path):
    rows = "".join(f"A1,2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:00Z,u{i},login,1\n" for i in range(3000))
    d = inputs(tmp_path, usage="account_id,timestamp,user_id,event,count\n" + rows + "A1,2024-03-02,u1,café,1\n",
               encoding="latin-1")
    assert (d / "usage.csv").stat().st_size > 65536  # the encoding problem is past what is read up front
    fails(d, f"{d / 'usage.csv'}:3002: not UTF-8 (byte 0xe9); save it as UTF-8 or set inputs.usage.encoding "
             "(e.g. latin-1) in the config.")


def test_latin1_reads_with_the_encoding_set_in_the_config(tmp_path):
    d = inputs(tmp_path, accounts="account_id,account_name\nA1,Société Générale\n", encoding="latin-1")
    cfg = write_config(tmp_path, f"input_dir: {d}\ninputs:\n  accounts:\n    encoding: latin-1\n")
    ranked, rejects, _ = scored(d, "--config", cfg)
    assert rejects == []
    assert ranked[["account_id", "account_name"]].values.tolist() == [["A1", "Société Générale"]]


# ----------------------------------------------------------------------------- rows that break the contract


def test_unparseable_and_out_of_range_dates_are_rejected(tmp_path):
    d = inputs(tmp_path, usage="account_id,timestamp\nA1,2024-03-20\nA1,yesterday\nA1,2024-02-30\n"
                               "A1,0001-01-01\nA1,2024-03-21T10:00:00Z\n",
               payments="payment_id,account_id,due_date,amount,card_expiry\nP1,A1,31/01/2024,10,\n"
                        "P2,A1,2024-01-31,10,9999-12-31\nP3,A1,2024-02-29,10,2027-01-01\n")
    ranked, rejects, err = scored(d)
    u, p = str(d / "usage.csv"), str(d / "payments.csv")
    assert rejects == [
        (u, "3", "timestamp", "yesterday", "unparseable datetime in timestamp"),
        (u, "4", "timestamp", "2024-02-30", "unparseable datetime in timestamp"),
        (u, "5", "timestamp", "0001-01-01", "datetime out of range in timestamp (supported: 1677-09-22 to 2262-04-11)"),
        (p, "2", "due_date", "31/01/2024", "unparseable date in due_date"),
        (p, "3", "card_expiry", "9999-12-31", "date out of range in card_expiry (supported: 1677-09-22 to 2262-04-11)"),
    ]
    assert "  read usage              5 rows (3 rejected)\n" in err
    assert "  read payments           3 rows (2 rejected)\n" in err


def test_mixed_time_zone_offsets_are_converted_to_utc(tmp_path):
    d = inputs(tmp_path, usage="account_id,timestamp\n"
                               "A1,2024-03-31T10:00:00Z\n"
                               "A1,2024-03-31T10:00:00+02:00\n"
                               "A1,2024-03-31T23:30:00-05:00\n"  # 2024-04-01 04:30 UTC: after the as-of date
                               "A1,2024-04-01T01:30:00+03:00\n"  # 2024-03-31 22:30 UTC: on it
                               "A1,2024-03-31 07:30:00\n")
    usage = load_all(config(base_dir=tmp_path), d).frame("usage")
    assert usage["timestamp"].tolist() == [pd.Timestamp("2024-03-31 10:00"), pd.Timestamp("2024-03-31 08:00"),
                                           pd.Timestamp("2024-04-01 04:30"), pd.Timestamp("2024-03-31 22:30"),
                                           pd.Timestamp("2024-03-31 07:30")]
    _, rejects, err = scored(d)
    assert rejects == []
    assert "  read usage              5 rows (1 after as-of, not used)\n" in err


def test_duplicate_rows_keep_the_first_and_conflicting_ticket_and_payment_ids_keep_none(tmp_path):
    d = inputs(tmp_path,
               usage=USAGE + "A1,2024-03-20T10:00:00Z,u1,login,2\n",
               tickets="ticket_id,account_id,created_at,priority\nT1,A1,2024-03-01,high\nT1,A1,2024-03-01,high\n"
                       "T2,A1,2024-03-02,low\nT2,A1,2024-03-05,urgent\n",
               payments="payment_id,account_id,due_date,amount\nP1,A1,2024-03-01,10\nP1,A1,2024-03-01,12\n")
    _, rejects, err = scored(d)
    u, t, p = (str(d / f"{n}.csv") for n in ("usage", "tickets", "payments"))
    assert rejects == [
        (u, "3", "", "", "duplicate row (same as line 2)"),
        (t, "3", "ticket_id", "T1", "duplicate row (first at line 2)"),
        (t, "4", "ticket_id", "T2", "ticket_id T2 has 2 different rows (lines 4, 5); none kept"),
        (t, "5", "ticket_id", "T2", "ticket_id T2 has 2 different rows (lines 4, 5); none kept"),
        (p, "2", "payment_id", "P1", "payment_id P1 has 2 different rows (lines 2, 3); none kept"),
        (p, "3", "payment_id", "P1", "payment_id P1 has 2 different rows (lines 2, 3); none kept"),
    ]
    assert "  read tickets            4 rows (3 rejected)\n" in err


def test_nps_outside_0_to_10_and_not_whole_is_rejected(tmp_path):
    d = inputs(tmp_path, nps="account_id,responded_at,score\nA1,2024-03-01,11\nA1,2024-03-02,-1\n"
                             "A1,2024-03-03,7.5\nA1,2024-03-04,ten\nA1,2024-03-05,0\nA1,2024-03-06,10\n")
    _, rejects, _ = scored(d)
    n = str(d / "nps.csv")
    # the rejects file is formula-safe like every CSV churnscore writes: a cell starting with - gets a '
    assert rejects == [(n, "2", "score", "11", "score above 10"), (n, "3", "score", "'-1", "score below 0"),
                       (n, "4", "score", "7.5", "score is not a whole number"),
                       (n, "5", "score", "ten", "score is not a number")]


def test_negative_non_numeric_and_infinite_amounts_are_rejected(tmp_path):
    d = inputs(tmp_path, payments="payment_id,account_id,due_date,amount\nP1,A1,2024-03-01,-5\n"
                                  "P2,A1,2024-03-01,12abc\nP3,A1,2024-03-01,inf\nP4,A1,2024-03-01,\n"
                                  "P5,A1,2024-03-01,0\nP6,A1,2024-03-01,19.99\n")
    _, rejects, _ = scored(d)
    p = str(d / "payments.csv")
    assert rejects == [(p, "2", "amount", "'-5", "amount below 0"), (p, "3", "amount", "12abc", "amount is not a number"),
                       (p, "4", "amount", "inf", "amount is not a finite number"),
                       (p, "5", "amount", "", "missing amount")]


def test_rows_with_the_wrong_number_of_fields_are_rejected_and_the_others_keep_their_lines(tmp_path):
    d = inputs(tmp_path, usage="account_id,timestamp,event\nA1,2024-03-20,login\nA1,2024-03-20,login,extra\n"
                               "A1\nA1,bad,login\n")
    _, rejects, err = scored(d)
    u = str(d / "usage.csv")
    assert rejects == [(u, "3", "", "A1,2024-03-20,login,extra", "4 fields where the header has 3 (separator ',')"),
                       (u, "4", "", "A1", "1 field where the header has 3 (separator ',')"),
                       (u, "5", "timestamp", "bad", "unparseable datetime in timestamp")]
    assert "  read usage              4 rows (3 rejected)\n" in err


def test_an_unbalanced_quote_that_swallows_rows_is_a_reject_not_a_silent_loss(tmp_path):
    d = inputs(tmp_path, usage='account_id,timestamp,event\nA1,2024-03-20,login\nA1,2024-03-21,"login\n'
                               "A1,2024-03-22,login\n")
    _, rejects, _ = scored(d)
    assert rejects == [(str(d / "usage.csv"), "3", "event", "login\nA1,2024-03-22,login",
                        "line break inside event (an unbalanced quote?)")]


def test_an_unbalanced_quote_that_breaks_the_row_shape_stops_the_run_at_its_line(tmp_path):
    d = inputs(tmp_path, usage='account_id,timestamp,event\nA1,2024-03-20,login\nA1,"2024-03-21,login\n'
                               "A1,2024-03-22,login\n")
    fails(d, f"{d / 'usage.csv'}:3: a quoted value runs over several lines (an unbalanced quote?); "
             "fix the quoting of this row.")


def test_a_quoted_line_break_in_a_free_text_column_is_kept(tmp_path):
    d = inputs(tmp_path, nps='account_id,responded_at,score,comment\nA1,2024-03-01,3,"slow.\nvery slow"\n')
    nps = load_all(config(base_dir=tmp_path), d).frame("nps")
    assert nps[["account_id", "score", "comment"]].values.tolist() == [["A1", 3.0, "slow.\nvery slow"]]


def test_ids_with_leading_zeros_or_spaces_stay_strings_trimmed_and_join(tmp_path):
    d = inputs(tmp_path, accounts="account_id,account_name,mrr\n  007 ,Bond,10\n00123,Zeros,20\n",
               usage="account_id,timestamp\n007,2024-03-20\n 00123,2024-03-20\n",
               nps="account_id,responded_at,score\n007  ,2024-03-01,2\n")
    ranked, rejects, err = scored(d)
    assert rejects == []
    # "  007 " in accounts, "007" in usage and "007  " in nps are one account; the NPS 2 reaches it
    assert ranked[["account_id", "account_name", "red_flags"]].values.tolist() == [
        ["007", "Bond", "nps_detractor"], ["00123", "Zeros", ""]]  # no 'login' event: weak_start is off
    assert "accounts: 2 in inputs = 2 scored + 0 excluded" in err
    features = d.parent / "features.csv"
    code, _, _ = cli("features", "--input-dir", d, "--as-of", AS_OF, "--out", features)
    assert code == 0
    table = pd.read_csv(features, dtype={"account_id": str}).set_index("account_id")
    assert table.loc["007", "nps_latest"] == 2.0 and np.isnan(table.loc["00123", "nps_latest"])


def test_rows_dated_after_the_as_of_date_are_counted_and_not_used(tmp_path):
    d = inputs(tmp_path, usage="account_id,timestamp,count\nA1,2024-03-20,3\nA1,2024-04-01T00:00:00Z,50\n"
                               "A1,2024-05-01,50\n",
               tickets="ticket_id,account_id,created_at\nT1,A1,2024-04-02\n")
    _, rejects, err = scored(d)
    assert rejects == []
    assert "  read usage              3 rows (2 after as-of, not used)\n" in err
    assert "  read tickets            1 rows (1 after as-of, not used)\n" in err
    features = d.parent / "features.csv"
    assert cli("features", "--input-dir", d, "--as-of", AS_OF, "--out", features)[0] == 0
    table = pd.read_csv(features).set_index("account_id")
    assert table.loc["A1", ["usage_events_30d", "tickets_opened_30d"]].tolist() == [3.0, 0.0]


def test_rows_for_accounts_not_in_the_accounts_export_are_reported_and_listed(tmp_path):
    d = inputs(tmp_path, accounts=ACCOUNTS, usage=USAGE + "ZZ9,2024-03-20T10:00:00Z,u9,login,1\n",
               nps="account_id,responded_at,score\nZZ9,2024-03-01,3\nYY8,2024-03-01,9\n")
    ranked, rejects, err = scored(d)
    assert ranked["account_id"].tolist() == ["A1"] and rejects == []
    assert "  read usage              2 rows (1 for accounts not in accounts)\n" in err
    assert "  read nps                2 rows (2 for accounts not in accounts)\n" in err
    assert "  accounts: 3 in inputs = 1 scored + 2 excluded\n    excluded 2: not in the accounts export\n" in err
    excluded = pd.read_csv(d.parent / "out" / "ranked.excluded.csv", dtype=str)
    assert excluded.values.tolist() == [["YY8", "not in the accounts export"], ["ZZ9", "not in the accounts export"]]


def test_an_account_with_no_usage_at_all_is_scored_as_never_active(tmp_path):
    d = inputs(tmp_path, accounts=ACCOUNTS + "A2,Quiet Co,50,2024-01-01\n")
    ranked, rejects, err = scored(d)
    assert rejects == [] and "accounts: 2 in inputs = 2 scored + 0 excluded" in err
    quiet = ranked.set_index("account_id").loc["A2"]
    # a customer for 90 days, but the usage export covers 11 of them: the reason says no more than it knows
    assert quiet["reasons"].startswith("no product usage in the 11 days of the usage export")
    features = d.parent / "features.csv"
    assert cli("features", "--input-dir", d, "--as-of", AS_OF, "--out", features)[0] == 0
    table = pd.read_csv(features).set_index("account_id")
    assert table["never_active"].to_dict() == {"A1": 0.0, "A2": 1.0}


# ----------------------------------------------------------------------------- config and model


@pytest.mark.parametrize("yaml,message", [
    ("windows:\n  short_dayz: 30\n", "config: unknown key 'windows.short_dayz'. Did you mean 'short_days'?"),
    ("rejects:\n  max_rejects_rate: 0.1\n", "config: unknown key 'rejects.max_rejects_rate'. "
                                             "Did you mean 'max_reject_rate'?"),
    ("inputs:\n  usage:\n    encodng: latin-1\n", "config: unknown key 'inputs.usage.encodng'. Did you mean 'encoding'?"),
])
def test_config_with_an_unknown_key_or_a_typo_names_it_and_the_closest_key(tmp_path, yaml, message):
    cfg = write_config(tmp_path, yaml)
    code, _, err = cli("score", "--config", cfg, "--out", tmp_path / "out.csv")
    assert (code, err) == (1, f"churnscore: error: {cfg}: {message}\n")


def test_rule_on_an_unknown_feature_names_the_rule(tmp_path):
    d = inputs(tmp_path)
    cfg = write_config(tmp_path, f"input_dir: {d}\nrules:\n  - name: quiet_champion\n"
                                 "    when: {feature: champion_logins_30d, op: lt, value: 1}\n"
                                 "    weight: 0.2\n    reason: champion quiet\n")
    fails(d, "config: rule 'quiet_champion' uses unknown feature 'champion_logins_30d'. "
             "See 'churnscore features --list' for the 56 features.", "--config", cfg)


def _model_for(raw: dict, path: Path) -> Path:
    from churnscore.model import LinearChurnModel, feature_config_hash, model_columns, save_model

    cfg = config(raw)
    n = len(model_columns(cfg))
    model = LinearChurnModel(model_columns(cfg), np.zeros(n), [], np.zeros(n), np.ones(n), np.zeros(n), 0.0,
                             {"feature_config_hash": feature_config_hash(cfg)})
    save_model(model, path)
    return path


def test_model_that_does_not_match_the_config(tmp_path):
    d = inputs(tmp_path)
    model = _model_for({}, tmp_path / "model.json")  # trained without rules
    with_rule = write_config(tmp_path, f"input_dir: {d}\nrules:\n  - name: dormant\n"
                                       "    when: {feature: days_since_last_activity, op: ge, value: 14}\n"
                                       "    weight: 0.4\n    reason: quiet\n")
    fails(d, f"{model}: model features do not match the config (not in the model: flag_dormant); "
             "retrain with 'churnscore train --config ...'.", "--config", with_rule, "--model", model)
    other_windows = write_config(tmp_path, f"input_dir: {d}\nwindows:\n  short_days: 14\n")
    fails(d, f"{model}: model was trained with other windows, feature parameters or rule conditions than this "
             "config; retrain with 'churnscore train --config ...'.", "--config", other_windows, "--model", model)
    same = write_config(tmp_path, f"input_dir: {d}\n")
    ranked, _, _ = scored(d, "--config", same, "--model", model)
    assert ranked["churn_probability"].tolist() == ["0.5"]


def test_model_file_that_is_not_a_model(tmp_path):
    d = inputs(tmp_path)
    bad = write_text(tmp_path / "model.json", "not json")
    fails(d, f"{bad}: not a churnscore model file (expected a JSON document written by 'churnscore train'; pickles "
             "and other formats are refused because loading them can run code).", "--model", bad)


def test_gzip_export_with_bad_rows_names_the_gz_file(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    with gzip.open(d / "usage.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("account_id,timestamp\nA1,2024-03-20\n,2024-03-20\n")
    _, rejects, _ = scored(d)
    assert rejects == [(str(d / "usage.csv.gz"), "3", "account_id", "", "missing account_id")]
