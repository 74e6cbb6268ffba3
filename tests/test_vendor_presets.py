"""The presets built from real export headers beyond the first four: each reads its fixture (the header as the
tool writes it, under the file name the tool gives it) into the contract with statuses mapped, and scores end
to end from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import config, typed, write_text

from churnscore.cli import main
from churnscore.config import DEFAULT_CONFIG
from churnscore.load import load_all

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
USAGE_OK = "account_id,timestamp\nA001,2026-10-30\nA002,2026-10-30\nA003,2026-10-30\n"


def folder(tmp_path: Path, fixture: str, usage: bool = True) -> Path:
    """The fixture under the name the tool gives it, the account map, the accounts and (unless the fixture is
    the usage export) a contract usage export."""
    for name in (fixture, "account_map.csv", "accounts.csv"):
        shutil.copy(VENDORS / name, tmp_path / name)
    if usage:
        write_text(tmp_path / "usage.csv", USAGE_OK)
    return tmp_path


def loaded(tmp_path: Path, preset: str, export: str, fixture: str, usage: bool = True):
    d = folder(tmp_path, fixture, usage)
    return load_all(config({"presets": [preset], "inputs": {export: {"path": fixture}}}, d), d)


def frame_of(result, name: str) -> pd.DataFrame:
    return result.frame(name).drop(columns=["_file"]).reset_index(drop=True)


def assert_rows(result, name: str, rows: list[dict]) -> None:
    pd.testing.assert_frame_equal(frame_of(result, name), typed(name, rows).drop(columns=["_file"]),
                                  check_categorical=False)


def rejects_of(result) -> list[tuple]:
    return [(Path(f).name, int(line), column, reason) for f, line, column, reason
            in result.rejects[["file", "line", "column", "reason"]].itertuples(index=False)]


def test_stripe_payments_become_charge_attempts_with_expired_and_declined_cards(tmp_path):
    result = loaded(tmp_path, "stripe_payments", "payments", "unified_payments.csv")
    assert_rows(result, "payments", [
        {"payment_id": "ch_1", "account_id": "A002", "due_date": "2026-09-15", "amount": 100.0, "status": "paid",
         "_line": 2},
        {"payment_id": "ch_2", "account_id": "A002", "due_date": "2026-10-15", "amount": 100.0, "status": "failed",
         "failure_reason": "expired_card", "_line": 3},
        {"payment_id": "ch_3", "account_id": "A001", "due_date": "2026-10-01", "amount": 500.0, "status": "failed",
         "failure_reason": "card_declined", "_line": 4},
        {"payment_id": "ch_4", "account_id": "A001", "due_date": "2026-10-01", "amount": 500.0, "status": "paid",
         "_line": 5}])
    assert rejects_of(result) == [("unified_payments.csv", 6, "payment_id", "missing payment_id"),
                                  ("unified_payments.csv", 7, "account_id", "no account mapping for 'cus_ZZ9'")]


def test_recurly_invoices_become_payments_with_statuses_mapped_and_pacific_times(tmp_path):
    result = loaded(tmp_path, "recurly", "payments", "invoices_summary.csv")
    ids = [f"b964b5439c2548a489b3a136e75aee0{k}" for k in range(6)]
    assert_rows(result, "payments", [
        # due_on 00:05 PDT is 07:05 UTC: the same day; a thousands separator in "1,200.00" read as such
        {"payment_id": ids[1], "account_id": "A001", "due_date": "2026-09-01", "amount": 500.0, "status": "paid",
         "_line": 2},
        {"payment_id": ids[2], "account_id": "A002", "due_date": "2026-09-15", "amount": 100.0, "status": "open",
         "_line": 3},
        {"payment_id": ids[3], "account_id": "A002", "due_date": "2026-08-15", "amount": 100.0, "status": "failed",
         "_line": 4},
        {"payment_id": ids[4], "account_id": "A003", "due_date": "2026-10-31", "amount": 1200.0, "status": "open",
         "_line": 5},
        {"payment_id": ids[5], "account_id": "A003", "due_date": "2026-07-01", "amount": 50.0, "status": "void",
         "_line": 6}])
    assert rejects_of(result) == []


FRESHDESK = "80000422910_tickets-October-31-2026-12_12.csv"


def test_freshdesk_tickets_become_tickets_with_statuses_priorities_and_ratings_mapped(tmp_path):
    result = loaded(tmp_path, "freshdesk", "tickets", FRESHDESK)
    assert_rows(result, "tickets", [
        {"ticket_id": "501", "account_id": "A001", "created_at": "2026-10-01 10:00", "status": "open",
         "priority": "urgent", "category": "Problem", "_line": 2},
        {"ticket_id": "502", "account_id": "A001", "created_at": "2026-10-05 09:30", "status": "pending",
         "priority": "high", "category": "Incident", "_line": 3},
        {"ticket_id": "503", "account_id": "A002", "created_at": "2026-10-10 08:00", "resolved_at": "2026-10-11 08:00",
         "status": "solved", "priority": "normal", "category": "Question", "csat": 2.33, "_line": 4}])
    assert rejects_of(result) == [(FRESHDESK, 5, "account_id", "no account mapping for 'sam@gmail.com'")]


HUBSPOT = "hubspot-crm-exports-all-tickets-2026-10-31.csv"


def test_hubspot_tickets_become_tickets_by_primary_company_with_statuses_and_priorities_mapped(tmp_path):
    result = loaded(tmp_path, "hubspot", "tickets", HUBSPOT)
    assert_rows(result, "tickets", [
        {"ticket_id": "701", "account_id": "A001", "created_at": "2026-10-01 10:00", "status": "new",
         "priority": "high", "category": "Product issue", "_line": 2},
        {"ticket_id": "702", "account_id": "A001", "created_at": "2026-10-05 09:30", "status": "pending",
         "priority": "urgent", "category": "Product issue", "_line": 3},
        {"ticket_id": "703", "account_id": "A002", "created_at": "2026-10-10 08:00", "resolved_at": "2026-10-11 08:00",
         "status": "closed", "priority": "normal", "category": "Billing issue", "_line": 4},
        # a status of another pipeline (the demo export's "Monitor"); a quoted name holding quotes and a comma
        {"ticket_id": "704", "account_id": "A002", "created_at": "2026-10-20 11:48", "resolved_at": "2026-10-20 13:00",
         "status": "solved", "_line": 5}])
    # a company not in the map, and a ticket with no company associated
    assert rejects_of(result) == [(HUBSPOT, 7, "account_id", "missing account_id"),
                                  (HUBSPOT, 6, "account_id", "no account mapping for 'Nobody Ltd'")]


def test_hubspot_times_are_read_in_the_portal_zone_given(tmp_path):
    d = folder(tmp_path, HUBSPOT)
    result = load_all(config({"presets": ["hubspot"], "inputs": {"tickets": {
        "path": HUBSPOT, "timezone": "America/Chicago"}}}, d), d)
    assert [str(t) for t in frame_of(result, "tickets")["created_at"]] == [
        "2026-10-01 15:00:00", "2026-10-05 14:30:00", "2026-10-10 13:00:00", "2026-10-20 16:48:00"]


def test_mixpanel_raw_export_json_lines_become_usage_with_nested_fields(tmp_path):
    result = loaded(tmp_path, "mixpanel_raw", "usage", "export.jsonl", usage=False)
    jane = "jane@acme.com"
    assert_rows(result, "usage", [
        {"account_id": "A001", "timestamp": "2026-09-09 09:10", "user_id": jane, "event": "login", "_line": 1},
        {"account_id": "A001", "timestamp": "2026-09-11 09:30", "user_id": jane, "event": "report_created",
         "duration_seconds": 45.0, "_line": 2},
        {"account_id": "A001", "timestamp": "2026-10-30 08:15", "user_id": jane, "event": "login", "_line": 4},
        {"account_id": "A002", "timestamp": "2026-10-31 10:00", "user_id": "bob@bolt.io", "event": "login",
         "_line": 5},
        {"account_id": "A003", "timestamp": "2026-08-01 12:00", "user_id": "carl@corex.com", "event": "login",
         "_line": 6}])
    assert rejects_of(result) == [("export.jsonl", 7, "timestamp", "unparseable datetime in timestamp"),
                                  ("export.jsonl", 8, "account_id", "no account mapping for 'x@unknown.org'")]


AMPLITUDE = "187452_2026-10-31_7#0.json.gz"


def test_amplitude_export_member_gzipped_json_lines_becomes_usage(tmp_path):
    result = loaded(tmp_path, "amplitude", "usage", AMPLITUDE, usage=False)
    jane = "jane@acme.com"
    assert_rows(result, "usage", [
        {"account_id": "A001", "timestamp": "2026-10-29 08:15:02.281", "user_id": jane, "event": "login",
         "_line": 1},
        {"account_id": "A001", "timestamp": "2026-10-30 09:00", "user_id": jane, "event": "report_created",
         "_line": 2},
        {"account_id": "A002", "timestamp": "2026-10-20 17:45:10.5", "user_id": "bob@bolt.io", "event": "login",
         "_line": 3},
        {"account_id": "A003", "timestamp": "2026-10-31 07:00", "user_id": "carl@corex.com", "event": "login",
         "_line": 4}])
    assert rejects_of(result) == [(AMPLITUDE, 5, "account_id", "no account mapping for 'x@unknown.org'")]


def amplitude_zip(path: Path) -> Path:
    """The Export API's answer as saved: a zip of a folder 187452/ holding two hours' gzipped JSON lines (the
    fixture, then an hour with one good event and one time that is not a time)."""
    import gzip
    import zipfile
    later = (b'{"$insert_id": "i6", "amplitude_id": 1002, "event_time": "2026-10-31 08:00:00.000000", '
             b'"event_type": "dashboard_viewed", "user_id": "bob@bolt.io"}\n'
             b'{"$insert_id": "i7", "amplitude_id": 1002, "event_time": "later", "event_type": "login", '
             b'"user_id": "bob@bolt.io"}\n')
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("187452/", b"")
        zf.writestr("187452/187452_2026-10-31_8#0.json.gz", gzip.compress(later, mtime=0))
        zf.writestr("187452/187452_2026-10-31_7#0.json.gz", (VENDORS / AMPLITUDE).read_bytes())
    return path


def test_amplitude_zip_is_read_member_by_member_in_name_order_lines_counting_on(tmp_path):
    d = folder(tmp_path, "accounts.csv", usage=False)
    amplitude_zip(d / "export.zip")
    result = load_all(config({"presets": ["amplitude"], "inputs": {"usage": {"path": "export.zip"}}}, d), d)
    usage = frame_of(result, "usage")
    assert usage[["account_id", "event", "_line"]].astype(str).values.tolist() == [
        ["A001", "login", "1"], ["A001", "report_created", "2"], ["A002", "login", "3"], ["A003", "login", "4"],
        ["A002", "dashboard_viewed", "6"]]
    assert rejects_of(result) == [("export.zip", 7, "timestamp", "unparseable datetime in timestamp"),
                                  ("export.zip", 5, "account_id", "no account mapping for 'x@unknown.org'")]


TYPEFORM = "responses-Ab12Cd-2026-10-31.csv"


def test_typeform_responses_become_nps_and_a_partial_response_is_a_reject(tmp_path):
    result = loaded(tmp_path, "typeform", "nps", TYPEFORM)
    assert_rows(result, "nps", [
        {"account_id": "A001", "responded_at": "2026-10-20 21:02:11", "score": 4.0, "user_id": "jane@acme.com",
         "_line": 2},
        {"account_id": "A002", "responded_at": "2026-10-01 16:00:00", "score": 9.0, "user_id": "bob@bolt.io",
         "_line": 3}])
    assert rejects_of(result) == [(TYPEFORM, 4, "responded_at", "missing responded_at")]


def score(tmp_path: Path, preset: str, export: str, fixture: str, usage: bool = True) -> tuple[list, list[str]]:
    """``score`` on a folder holding the fixture: the ranked (account, flags) and the summary's read lines."""
    (tmp_path / "in").mkdir()
    d = folder(tmp_path / "in", fixture, usage)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw.pop("input_dir")
    raw["rejects"] = {"max_reject_rate": 0.5}
    raw["inputs"] = {export: {"path": fixture}}
    cfg = write_text(d / "c.yaml", yaml.safe_dump(raw))  # paths in the config are read from its folder
    out = tmp_path / "ranked.csv"
    result = CliRunner().invoke(main, ["score", "--config", str(cfg), "--input-dir", str(d), "--as-of",
                                       "2026-10-31", "--out", str(out), "--preset", preset])
    assert result.exit_code == 0, result.stderr
    ranked = pd.read_csv(out, dtype=str, keep_default_na=False)
    reads = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("read ")]
    return ranked[["account_id", "red_flags"]].values.tolist(), reads


def test_stripe_payments_score_end_to_end(tmp_path):
    ranked, reads = score(tmp_path, "stripe_payments", "payments", "unified_payments.csv")
    # A002's card expired (a failed charge, unpaid); A001's declined charge was paid the same day: no flag
    assert ranked == [["A002", "payment_failed, overdue, auto_renew_off, renewal_soon_and_unhealthy"],
                      ["A001", ""], ["A003", ""]]
    assert "read payments           6 rows (2 rejected; 1 with no account mapping)" in reads


def test_segment_tracks_become_usage_with_utc_suffixed_times(tmp_path):
    result = loaded(tmp_path, "segment_tracks", "usage", "tracks.csv", usage=False)
    jane = "jane@acme.com"
    assert_rows(result, "usage", [
        {"account_id": "A001", "timestamp": "2026-10-29 08:15:02.281", "user_id": jane, "event": "login", "_line": 2},
        {"account_id": "A001", "timestamp": "2026-10-29 08:20:00", "user_id": jane, "event": "report_created",
         "_line": 3},
        {"account_id": "A002", "timestamp": "2026-10-30 09:05:00", "user_id": "bob@bolt.io", "event": "login",
         "_line": 4},
        {"account_id": "A003", "timestamp": "2026-08-01 12:00:00", "user_id": "carl@corex.com", "event": "login",
         "_line": 6}])
    assert rejects_of(result) == [("tracks.csv", 5, "account_id", "missing account_id")]


def test_posthog_events_become_usage(tmp_path):
    result = loaded(tmp_path, "posthog", "usage", "posthog_events.csv", usage=False)
    assert frame_of(result, "usage")[["account_id", "event", "_line"]].astype(str).values.tolist() == [
        ["A001", "login", "2"], ["A001", "report_created", "3"], ["A002", "$pageview", "4"], ["A003", "login", "5"]]
    assert [str(t) for t in frame_of(result, "usage")["timestamp"]] == [
        "2026-10-29 08:15:00.123000", "2026-10-29 08:20:00", "2026-10-30 09:05:00", "2026-08-01 12:00:00"]
    assert rejects_of(result) == [("posthog_events.csv", 6, "account_id", "no account mapping for 'x@unknown.org'")]


HEAP = "bq-results-20261031-120000-1793448000000.csv"


def test_heap_events_become_usage_by_identity_with_bigquery_times(tmp_path):
    result = loaded(tmp_path, "heap", "usage", HEAP, usage=False)
    jane = "jane@acme.com"
    assert_rows(result, "usage", [
        # BigQuery's "2026-10-29 08:15:02.281000 UTC": microseconds and the trailing zone read as they are
        {"account_id": "A001", "timestamp": "2026-10-29 08:15:02.281", "user_id": jane, "event": "login", "_line": 2},
        {"account_id": "A001", "timestamp": "2026-10-29 08:20:00", "user_id": jane, "event": "report_created",
         "_line": 3},
        {"account_id": "A001", "timestamp": "2026-10-29 08:20:00", "user_id": jane, "event": "pageviews", "_line": 4},
        {"account_id": "A002", "timestamp": "2026-10-30 09:05:00", "user_id": "bob@bolt.io", "event": "login",
         "_line": 5},
        {"account_id": "A003", "timestamp": "2026-08-01 12:00:00", "user_id": "carl@corex.com", "event": "login",
         "_line": 7}])
    # a user Heap never identified has no identity: a reject, as is an identity whose domain is not mapped
    assert rejects_of(result) == [(HEAP, 6, "account_id", "missing account_id"),
                                  (HEAP, 8, "account_id", "no account mapping for 'x@unknown.org'")]


def test_qualtrics_responses_skip_two_header_rows_and_read_dates_in_the_stated_zone(tmp_path):
    result = loaded(tmp_path, "qualtrics", "nps", "qualtrics_responses.csv")
    # header on line 1; the question texts span lines 2-3 (a line break in a question); ImportIds on line 4
    assert_rows(result, "nps", [
        {"account_id": "A001", "responded_at": "2026-10-20 20:02:48", "score": 4.0, "user_id": "jane@acme.com",
         "_line": 5},
        {"account_id": "A002", "responded_at": "2026-10-01 16:00:00", "score": 9.0, "user_id": "bob@bolt.io",
         "_line": 6}])
    assert rejects_of(result) == [("qualtrics_responses.csv", 7, "account_id", "missing account_id")]
    assert result.stats["nps"].rows_read == 3


def test_surveymonkey_responses_skip_the_second_header_row_and_read_us_dates_in_the_zone_given(tmp_path):
    d = folder(tmp_path, "surveymonkey_responses.csv")
    result = load_all(config({"presets": ["surveymonkey"], "inputs": {"nps": {
        "path": "surveymonkey_responses.csv", "timezone": "America/New_York"}}}, d), d)
    assert_rows(result, "nps", [
        {"account_id": "A001", "responded_at": "2026-10-20 18:02:48", "score": 4.0, "user_id": "jane@acme.com",
         "_line": 3},
        {"account_id": "A002", "responded_at": "2026-10-01 14:00:00", "score": 9.0, "user_id": "bob@bolt.io",
         "_line": 4}])
    assert rejects_of(result) == [("surveymonkey_responses.csv", 5, "account_id", "missing account_id")]


# Carl (A003) last logged in on 2026-08-01: dormant, which supersedes low_key_feature_adoption after 30 quiet
# days (issue 17: one fact, one reason); Jane's (A001) NPS of 4: a detractor
USAGE_RANKED = [["A002", "auto_renew_off, renewal_soon_and_unhealthy, low_key_feature_adoption"],
                ["A003", "dormant"], ["A001", "low_key_feature_adoption"]]


@pytest.mark.parametrize("preset,export,fixture,usage,read,expected", [
    ("segment_tracks", "usage", "tracks.csv", False, "read usage              5 rows (1 rejected)", USAGE_RANKED),
    ("posthog", "usage", "posthog_events.csv", False,
     "read usage              5 rows (1 rejected; 1 with no account mapping)", USAGE_RANKED),
    ("heap", "usage", HEAP, False, "read usage              7 rows (2 rejected; 1 with no account mapping)",
     USAGE_RANKED),
    ("mixpanel_raw", "usage", "export.jsonl", False,
     "read usage              7 rows (2 rejected; 1 with no account mapping)", USAGE_RANKED),
    ("amplitude", "usage", AMPLITUDE, False,
     "read usage              5 rows (1 rejected; 1 with no account mapping)",
     # A002 last seen 11 days before (not dormant), A003 on the day: every account used 1 of 3 key features or none
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy, low_key_feature_adoption"],
      ["A001", "low_key_feature_adoption"], ["A003", "low_key_feature_adoption"]]),
    ("qualtrics", "nps", "qualtrics_responses.csv", True, "read nps                3 rows (1 rejected)",
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy"], ["A001", "nps_detractor"], ["A003", ""]]),
    ("freshdesk", "tickets", FRESHDESK, True, "read tickets            4 rows (1 rejected; 1 with no account mapping)",
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy"], ["A001", "unresolved_tickets"], ["A003", ""]]),
    ("hubspot", "tickets", HUBSPOT, True, "read tickets            6 rows (2 rejected; 1 with no account mapping)",
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy"], ["A001", "unresolved_tickets"], ["A003", ""]]),
    ("typeform", "nps", TYPEFORM, True, "read nps                3 rows (1 rejected)",
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy"], ["A001", "nps_detractor"], ["A003", ""]]),
    ("recurly", "payments", "invoices_summary.csv", True, "read payments           5 rows",
     [["A002", "overdue, auto_renew_off, renewal_soon_and_unhealthy, late_payer"], ["A001", ""], ["A003", ""]]),
    ("surveymonkey", "nps", "surveymonkey_responses.csv", True, "read nps                3 rows (1 rejected)",
     [["A002", "auto_renew_off, renewal_soon_and_unhealthy"], ["A001", "nps_detractor"], ["A003", ""]]),
])
def test_each_preset_scores_end_to_end(tmp_path, preset, export, fixture, usage, read, expected):
    ranked, reads = score(tmp_path, preset, export, fixture, usage)
    assert ranked == expected
    assert read in reads


# Presets whose header no public copy confirmed (the preset's "# Source:" line says what was searched)
UNVERIFIED = {"delighted"}


def test_every_preset_names_the_source_of_its_header_and_has_a_readme_row():
    from churnscore.config import PRESET_DIR, preset_names
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in preset_names():
        assert f"| `{name}` |" in readme, name
        sources = [ln for ln in (PRESET_DIR / f"{name}.yaml").read_text().splitlines() if ln.startswith("# Source:")]
        assert len(sources) == 1, name
        assert sources[0].startswith("# Source: not verified") == (name in UNVERIFIED), name


def test_every_preset_is_named_in_score_help():
    from churnscore.config import preset_names
    help_text = " ".join(CliRunner().invoke(main, ["score", "--help"]).output.split())
    assert [name for name in preset_names() if name not in help_text] == []
