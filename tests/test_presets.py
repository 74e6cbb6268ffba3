"""Vendor presets and the account-mapping file: each preset reads its fixture (the vendor's real header row)
into the contract, the mapping joins vendor keys to account ids, and unmapped rows are rejects, counted."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import config, typed, write_text

from churnscore.cli import main
from churnscore.config import DEFAULT_CONFIG, load_config, parse_config, preset_names
from churnscore.errors import ConfigError, InputDataError
from churnscore.load import REJECT_COLUMNS, load_all

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
PRESETS = ["stripe", "zendesk", "delighted", "mixpanel"]
USAGE_OK = "account_id,timestamp\nA001,2026-10-30\n"


def vendor_dir(tmp_path: Path, *files: str, usage: bool = True) -> Path:
    """A folder with the named fixture files, the account map and (unless given) a contract usage export."""
    for name in (*files, "account_map.csv"):
        shutil.copy(VENDORS / name, tmp_path / name)
    if usage and "usage.csv" not in files:
        write_text(tmp_path / "usage.csv", USAGE_OK)
    return tmp_path


def frame_of(loaded, name: str) -> pd.DataFrame:
    return loaded.frame(name).drop(columns=["_file"]).reset_index(drop=True)


def assert_rows(loaded, name: str, rows: list[dict]) -> None:
    """The export's typed frame equals the hand-written rows (text compared as values, not categories)."""
    pd.testing.assert_frame_equal(frame_of(loaded, name), typed(name, rows).drop(columns=["_file"]),
                                  check_categorical=False)


def test_the_four_presets_ship():
    assert {"delighted", "mixpanel", "stripe", "zendesk"} <= set(preset_names())  # more in test_vendor_presets


def test_stripe_invoices_become_payments(tmp_path):
    loaded = load_all(config({"presets": ["stripe"]}, tmp_path), vendor_dir(tmp_path, "payments.csv"))
    assert_rows(loaded, "payments", [
        {"payment_id": "in_1001", "account_id": "A002", "due_date": "2026-09-15", "amount": 100.0,
         "paid_at": "2026-09-15 08:00", "status": "paid", "_line": 2},
        {"payment_id": "in_1002", "account_id": "A002", "due_date": "2026-10-15", "amount": 100.0,
         "status": "failed", "_line": 3},
        {"payment_id": "in_1003", "account_id": "A001", "due_date": "2026-10-01", "amount": 500.0,
         "paid_at": "2026-10-03 12:00", "status": "paid", "_line": 4},
        {"payment_id": "in_1004", "account_id": "A003", "due_date": "2026-10-01", "amount": 300.0,
         "status": "open", "_line": 5}])
    assert loaded.stats["payments"].rows_unmapped == 1


def test_zendesk_tickets_become_tickets_with_status_priority_and_rating_mapped(tmp_path):
    loaded = load_all(config({"presets": ["zendesk"]}, tmp_path), vendor_dir(tmp_path, "tickets.csv"))
    assert_rows(loaded, "tickets", [
        {"ticket_id": "501", "account_id": "A001", "created_at": "2026-10-01 10:00", "status": "open",
         "priority": "urgent", "_line": 2},
        {"ticket_id": "502", "account_id": "A001", "created_at": "2026-10-05 09:30", "status": "pending",
         "priority": "high", "_line": 3},
        {"ticket_id": "503", "account_id": "A002", "created_at": "2026-10-10 08:00", "resolved_at": "2026-10-11 08:00",
         "status": "solved", "priority": "normal", "csat": 5.0, "_line": 4}])


def test_delighted_responses_become_nps_by_email_domain_in_utc(tmp_path):
    loaded = load_all(config({"presets": ["delighted"]}, tmp_path), vendor_dir(tmp_path, "nps.csv"))
    assert_rows(loaded, "nps", [
        {"account_id": "A001", "responded_at": "2026-10-20 21:02:11", "score": 4.0, "user_id": "jane@acme.com",
         "comment": "Reports are slow, <b>please</b> fix", "_line": 2},
        {"account_id": "A002", "responded_at": "2026-10-01 16:00:00", "score": 9.0, "user_id": "bob@bolt.io",
         "comment": "Love it", "_line": 3}])


def test_mixpanel_events_become_usage_with_unix_times(tmp_path):
    loaded = load_all(config({"presets": ["mixpanel"]}, tmp_path), vendor_dir(tmp_path, "usage.csv"))
    jane, bob, carl = "jane@acme.com", "bob@bolt.io", "carl@corex.com"
    assert_rows(loaded, "usage", [
        {"account_id": "A001", "timestamp": "2026-09-10 09:00", "user_id": jane, "event": "login", "_line": 2},
        {"account_id": "A001", "timestamp": "2026-09-12 09:30", "user_id": jane, "event": "report_created",
         "duration_seconds": 45.0, "_line": 3},
        {"account_id": "A001", "timestamp": "2026-09-20 09:00", "user_id": jane, "event": "login", "_line": 4},
        {"account_id": "A001", "timestamp": "2026-10-29 08:15", "user_id": jane, "event": "login", "_line": 5},
        {"account_id": "A002", "timestamp": "2026-10-30 10:00", "user_id": bob, "event": "login", "_line": 6},
        {"account_id": "A002", "timestamp": "2026-10-30 10:05", "user_id": bob, "event": "report_created",
         "duration_seconds": 30.0, "_line": 7},
        {"account_id": "A003", "timestamp": "2026-08-01 12:00", "user_id": carl, "event": "login", "_line": 8}])


def test_unmapped_rows_are_rejects_with_the_key_and_counted_per_export(tmp_path):
    raw = {"presets": PRESETS}
    loaded = load_all(config(raw, tmp_path), vendor_dir(tmp_path, "usage.csv", "nps.csv", "tickets.csv",
                                                         "payments.csv"))
    rejects = loaded.rejects.assign(file=loaded.rejects["file"].map(lambda f: Path(f).name))
    pd.testing.assert_frame_equal(rejects.reset_index(drop=True), pd.DataFrame([
        ("usage.csv", 9, "account_id", "x@unknown.org", "no account mapping for 'x@unknown.org'"),
        ("nps.csv", 4, "account_id", "sam@gmail.com", "no account mapping for 'sam@gmail.com'"),
        ("tickets.csv", 5, "account_id", "Nobody Ltd", "no account mapping for 'Nobody Ltd'"),
        ("payments.csv", 6, "account_id", "cus_ZZ9", "no account mapping for 'cus_ZZ9'")],
        columns=REJECT_COLUMNS).astype({"line": "int64"}), check_dtype=False)
    assert {n: (s.rows_read, s.rows_rejected, s.rows_unmapped) for n, s in loaded.stats.items()} == {
        "usage": (8, 1, 1), "nps": (3, 1, 1), "tickets": (4, 1, 1), "payments": (5, 1, 1)}


def test_config_values_win_over_a_preset_and_null_unsets(tmp_path):
    c = parse_config({"presets": ["stripe"], "inputs": {"payments": {"columns": {"amount": "Total"},
                                                                     "account_source": None}}})
    spec = c.inputs["payments"]
    assert (spec.columns["amount"], spec.columns["account_id"], spec.account_source) == ("Total", "Customer", None)
    assert spec.values == {"status": {"uncollectible": "failed", "draft": "void"}}
    assert c.presets == ("stripe",)


def test_presets_from_the_command_line_add_to_the_configs_in_order(tmp_path):
    path = write_text(tmp_path / "c.yaml", "presets: [zendesk]\n")
    assert load_config(path, presets=("stripe", "zendesk")).presets == ("zendesk", "stripe")
    assert load_config(path).raw["inputs"]["tickets"]["columns"]["ticket_id"] == "Id"


@pytest.mark.parametrize("raw,message", [
    ({"presets": ["strpe"]}, "config: unknown preset 'strpe'. Did you mean 'stripe'? Presets: "
                             f"{', '.join(preset_names())}."),
    ({"presets": "stripe"}, "config: 'presets' must be a list of preset names, got 'stripe'."),
    ({"inputs": {"payments": {"account_source": 3}}}, "config: 'inputs.payments.account_source' must be a string, "
                                                       "got 3."),
    ({"inputs": {"account_map": {"paht": "m.csv"}}}, "config: unknown key 'inputs.account_map.paht'. Did you mean "
                                                     "'path'?"),
])
def test_preset_and_mapping_config_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw)


def test_a_null_value_mapping_empties_the_cell_instead_of_rejecting_it(tmp_path):
    write_text(tmp_path / "tickets.csv", "ticket_id,account_id,created_at,csat\nT1,A1,2026-10-01,Offered\n"
                                          "T2,A1,2026-10-02,Good\n")
    write_text(tmp_path / "usage.csv", USAGE_OK)
    loaded = load_all(config({"inputs": {"tickets": {"values": {"csat": {"Good": 5, "Offered": None}}}}}, tmp_path),
                      tmp_path)
    assert loaded.frame("tickets")["csat"].tolist()[1] == 5.0
    assert pd.isna(loaded.frame("tickets")["csat"].tolist()[0])
    assert len(loaded.rejects) == 0


def test_unix_times_that_are_not_numbers_are_rejected(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp\nA1,1792800000\nA1,yesterday\n")
    loaded = load_all(config({"inputs": {"usage": {"date_format": "unix"}}}, tmp_path), tmp_path)
    assert loaded.frame("usage")["timestamp"].tolist() == [pd.Timestamp("2026-10-24 00:00")]  # 1792800000 s
    assert loaded.rejects[["line", "reason"]].values.tolist() == [[3, "unparseable datetime in timestamp"]]


# ----------------------------------------------------------------------------- the mapping file


def test_keys_match_trimmed_and_case_insensitively_then_by_email_domain(tmp_path):
    write_text(tmp_path / "account_map.csv", "Source,Key,Account_ID\nZendesk, ACME Inc ,A001\nzendesk,bolt.io,A002\n"
                                             "zendesk,boss@bolt.io,A009\n")
    write_text(tmp_path / "tickets.csv", "ticket_id,account_id,created_at\nT1,acme inc,2026-10-01\n"
                                         "T2,Eve@Bolt.io,2026-10-01\nT3,boss@bolt.io,2026-10-01\n")
    write_text(tmp_path / "usage.csv", USAGE_OK)
    loaded = load_all(config({"inputs": {"tickets": {"account_source": "zendesk"}}}, tmp_path), tmp_path)
    assert loaded.frame("tickets")["account_id"].tolist() == ["A001", "A002", "A009"]


def test_without_a_mapping_file_keys_are_kept_as_account_ids(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp\ncus_1,2026-10-30\n")
    loaded = load_all(config({"inputs": {"usage": {"account_source": "stripe"}}}, tmp_path), tmp_path)
    assert loaded.frame("usage")["account_id"].tolist() == ["cus_1"]


def test_an_export_without_account_source_is_not_mapped(tmp_path):
    write_text(tmp_path / "account_map.csv", "source,key,account_id\nstripe,A1,A9\n")
    write_text(tmp_path / "usage.csv", "account_id,timestamp\nA1,2026-10-30\n")
    assert load_all(config({}, tmp_path), tmp_path).frame("usage")["account_id"].tolist() == ["A1"]


@pytest.mark.parametrize("text,message", [
    ("source,key\nstripe,cus_1\n", "account_map.csv: required column 'account_id' not found; an account mapping "
                                   "file has the columns source, key, account_id; columns found: source, key."),
    ("source,key,account_id\nstripe,cus_1,\n", "account_map.csv:2: empty account_id; every row needs source, key "
                                               "and account_id."),
    ("source,key,account_id\nstripe,cus_1,A1\nstripe,CUS_1,A2\n",
     "account_map.csv:3: key 'cus_1' of source 'stripe' maps to 'A2' here and to 'A1' on line 2; keep one."),
])
def test_a_bad_mapping_file_stops_the_run_naming_file_and_line(tmp_path, text, message):
    write_text(tmp_path / "account_map.csv", text)
    write_text(tmp_path / "usage.csv", USAGE_OK)
    with pytest.raises(InputDataError, match=re.escape(message)):
        load_all(config({"inputs": {"usage": {"account_source": "stripe"}}}, tmp_path), tmp_path)


def test_the_mapping_file_can_be_named_in_the_config(tmp_path):
    write_text(tmp_path / "maps" / "ids.csv", "source,key,account_id\nmixpanel,a@x.com,A1\n")
    write_text(tmp_path / "usage.csv", "account_id,timestamp\na@x.com,2026-10-30\n")
    raw = {"inputs": {"account_map": {"path": "maps/ids.csv"}, "usage": {"account_source": "mixpanel"}}}
    assert load_all(config(raw, tmp_path), tmp_path).frame("usage")["account_id"].tolist() == ["A1"]
    raw["inputs"]["account_map"]["path"] = "maps/nope.csv"
    with pytest.raises(InputDataError, match=re.escape(f"{tmp_path / 'maps' / 'nope.csv'}: no such file "
                                                       "(inputs.account_map.path in the config).")):
        load_all(config(raw, tmp_path), tmp_path)


# ----------------------------------------------------------------------------- end to end


def test_all_four_vendor_exports_score_end_to_end(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw.pop("input_dir")
    raw["rejects"] = {"max_reject_rate": 0.5}  # a tiny file each: one bad NPS row of 3 is a third of that export
    cfg = write_text(tmp_path / "c.yaml", yaml.safe_dump(raw))
    out = tmp_path / "ranked.csv"
    args = ["score", "--config", str(cfg), "--input-dir", str(VENDORS), "--as-of", "2026-10-31", "--out", str(out)]
    result = CliRunner().invoke(main, args + [a for p in PRESETS for a in ("--preset", p)])
    assert result.exit_code == 0, result.stderr
    ranked = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert ranked[["rank", "account_id", "account_name", "risk_score", "risk_tier", "red_flags"]].values.tolist() == [
        ["1", "A002", "'=Bolt <Co>", "78.3", "high",
         "payment_failed, overdue, auto_renew_off, renewal_soon_and_unhealthy, low_key_feature_adoption"],
        # dormant for 30 days or more: low_key_feature_adoption fires (the score counts it) but is not told
        ["2", "A003", "Corex", "64.3", "high", "dormant, overdue"],
        ["3", "A001", "Acme & Sons", "52.2", "medium", "nps_detractor, unresolved_tickets, low_key_feature_adoption"]]
    lines = result.stderr.splitlines()
    assert lines[1:6] == ["  read accounts           3 rows",
                          "  read usage              8 rows (1 rejected; 1 with no account mapping)",
                          "  read nps                3 rows (1 rejected; 1 with no account mapping)",
                          "  read tickets            4 rows (1 rejected; 1 with no account mapping)",
                          "  read payments           5 rows (1 rejected; 1 with no account mapping)"]
    rejects = pd.read_csv(out.with_name("ranked.rejects.csv"), dtype=str)
    assert rejects["reason"].tolist() == ["no account mapping for 'x@unknown.org'",
                                          "no account mapping for 'sam@gmail.com'",
                                          "no account mapping for 'Nobody Ltd'", "no account mapping for 'cus_ZZ9'"]
