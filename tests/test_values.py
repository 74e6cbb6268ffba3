"""Values as people's files hold them: decimal commas and thousands separators, booleans in any case, hours
without zero padding, a trailing UTC, epoch times, a time zone per export, UTF-16 with a BOM, and the extra
header rows of a Qualtrics export skipped (not rejects), its stated time zone used."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import config, write_text

from churnscore.errors import ConfigError
from churnscore.load import load_all
from churnscore.load import parse_formatted, parse_numbers, parse_times

USAGE_OK = "account_id,timestamp\nA001,2026-10-30\n"


def load(tmp_path, files: dict[str, str], inputs: dict | None = None, encoding: str = "utf-8"):
    for name, text in files.items():
        write_text(tmp_path / name, text, encoding)
    if "usage.csv" not in files:
        write_text(tmp_path / "usage.csv", USAGE_OK)
    return load_all(config({"inputs": inputs or {}}, tmp_path), tmp_path)


def rows(loaded, name: str, columns: list[str]) -> list[tuple]:
    frame = loaded.frame(name)
    return [tuple(None if pd.isna(v) else (str(v) if isinstance(v, pd.Timestamp) else v) for v in r)
            for r in frame[columns].itertuples(index=False)]


def test_numbers_with_either_decimal_mark_detected_per_column():
    values, ambiguous = parse_numbers(pd.Series(["104,40", "1.234,56", "7", None, "1 234,5", "-0,5"]))
    assert values.tolist()[:3] == [104.4, 1234.56, 7.0] and pd.isna(values[3])
    assert values.tolist()[4:] == [1234.5, -0.5] and not ambiguous.any()
    values, ambiguous = parse_numbers(pd.Series(["1,234.56", "12.5", "1,000,000"]))
    assert values.tolist() == [1234.56, 12.5, 1000000.0] and not ambiguous.any()


def test_a_column_that_does_not_show_its_mark_is_ambiguous_unless_the_config_says():
    values, ambiguous = parse_numbers(pd.Series(["1,234", "5"]))
    assert ambiguous.tolist() == [True, False] and values[1] == 5.0
    assert parse_numbers(pd.Series(["1,234", "5"]), ",")[0].tolist() == [1.234, 5.0]
    assert parse_numbers(pd.Series(["1.234", "5"]), ",")[0].tolist() == [1234.0, 5.0]
    assert parse_numbers(pd.Series(["1,234", "5"]), ".")[0].tolist() == [1234.0, 5.0]
    bad = parse_numbers(pd.Series(["1,23,4", "1.5"]), ",")[0]
    assert pd.isna(bad[0]) and pd.isna(bad[1])  # 1.5 with a decimal comma: a thousands group of one digit


def test_times_as_spreadsheets_and_warehouses_write_them():
    got = parse_times(pd.Series(["2025-02-27 9:56", "2025-02-03 08:00:00.281 UTC", "1740646560",
                                 "1740646560000", "2025-02-27T10:00:00+01:00", "2025-02-27", "soon"]))
    assert [None if pd.isna(t) else str(t) for t in got] == [
        "2025-02-27 09:56:00+00:00", "2025-02-03 08:00:00.281000+00:00", "2025-02-27 08:56:00+00:00",
        "2025-02-27 08:56:00+00:00", "2025-02-27 09:00:00+00:00", "2025-02-27 00:00:00+00:00", None]


def test_zone_abbreviations_after_the_time_are_offsets():
    got = parse_times(pd.Series(["2012-02-19 12:01:33 PST", "2012-07-19 12:01:33 PDT", "2012-02-19 12:01:33 utc"]))
    assert [str(t) for t in got] == ["2012-02-19 20:01:33+00:00", "2012-07-19 19:01:33+00:00",
                                     "2012-02-19 12:01:33+00:00"]


def test_a_time_zone_applies_to_times_without_an_offset_only():
    got = parse_times(pd.Series(["2025-07-01 12:00", "2025-01-01 12:00", "2025-07-01 12:00 UTC",
                                 "2025-07-01T12:00:00Z"]), "Europe/Berlin")
    assert [str(t) for t in got] == ["2025-07-01 10:00:00+00:00", "2025-01-01 11:00:00+00:00",
                                     "2025-07-01 12:00:00+00:00", "2025-07-01 12:00:00+00:00"]


EU_STRIPE = ('id;Customer;Date (UTC);Amount Due;Paid;Status\n'
             'in_1;cus_A;2025-02-27 9:56;"104,40";TRUE;paid\n'
             'in_2;cus_B;2025-03-01 10:00;"1.234,56";FALSE;open\n')


def test_an_invoice_export_resaved_in_a_european_locale_reads_without_editing(tmp_path):
    loaded = load(tmp_path, {"payments.csv": EU_STRIPE}, {"payments": {"columns": {
        "payment_id": "id", "account_id": "Customer", "due_date": "Date (UTC)", "amount": "Amount Due"}}})
    assert rows(loaded, "payments", ["payment_id", "due_date", "amount"]) == [
        ("in_1", "2025-02-27 00:00:00", 104.4), ("in_2", "2025-03-01 00:00:00", 1234.56)]
    assert len(loaded.rejects) == 0


def test_decimal_comma_from_the_config_reads_a_point_as_thousands(tmp_path):
    text = "account_id,timestamp,duration_seconds\nA001,2026-10-30,\"1.234\"\nA001,2026-10-30,\"2,5\"\n"
    loaded = load(tmp_path, {"usage.csv": text}, {"usage": {"decimal": ","}})
    assert rows(loaded, "usage", ["duration_seconds"]) == [(1234.0,), (2.5,)]


def test_an_ambiguous_amount_is_a_reject_naming_the_setting(tmp_path):
    text = "account_id,timestamp,duration_seconds\nA001,2026-10-30,\"1,234\"\nA001,2026-10-30,5\n"
    loaded = load(tmp_path, {"usage.csv": text})
    assert rows(loaded, "usage", ["duration_seconds"]) == [(5.0,)]
    assert loaded.rejects[["line", "value", "reason"]].values.tolist() == [
        [2, "1,234", "duration_seconds has an ambiguous separator (1,234: 1234 or 1.234?); "
                     "set inputs.usage.decimal in the config"]]


def test_booleans_in_any_case_and_as_digits(tmp_path):
    text = "account_id,auto_renew\nA1,TRUE\nA2,FALSE\nA3,yes\nA4,No\nA5,1\nA6,0\n"
    loaded = load(tmp_path, {"accounts.csv": text})
    assert rows(loaded, "accounts", ["auto_renew"]) == [(1.0,), (0.0,), (1.0,), (0.0,), (1.0,), (0.0,)]


def test_segment_times_epoch_times_and_a_zone_per_export(tmp_path):
    text = ("account_id,timestamp\nA001,2025-02-03 08:00:00.281 UTC\nA001,1740646560\nA001,1740646561000\n"
            "A001,2025-07-01 12:00\n")
    loaded = load(tmp_path, {"usage.csv": text}, {"usage": {"timezone": "Europe/Berlin"}})
    assert rows(loaded, "usage", ["timestamp"]) == [
        ("2025-02-03 08:00:00.281000",), ("2025-02-27 08:56:00",), ("2025-02-27 08:56:01",),
        ("2025-07-01 10:00:00",)]


def test_an_unknown_time_zone_or_decimal_mark_fails_at_start():
    with pytest.raises(ConfigError, match="'inputs.usage.timezone' is not a time zone: 'Mars/Base'"):
        config({"inputs": {"usage": {"timezone": "Mars/Base"}}})
    with pytest.raises(ConfigError, match="'inputs.usage.decimal' must be"):
        config({"inputs": {"usage": {"decimal": ";"}}})


def test_utf16_with_a_bom_is_recognised(tmp_path):
    text = "account_id\ttimestamp\tevent\nA001\t2026-10-30 09:00\tlogin\nA002\t2026-10-31 9:05\tlögin\n"
    loaded = load(tmp_path, {"usage.csv": text}, encoding="utf-16")
    assert rows(loaded, "usage", ["account_id", "timestamp", "event"]) == [
        ("A001", "2026-10-30 09:00:00", "login"), ("A002", "2026-10-31 09:05:00", "lögin")]


QUALTRICS = (
    'StartDate,EndDate,RecordedDate,ResponseId,RecipientEmail,Q1_NPS_GROUP,Q1\n'
    '"Start Date","End Date","Recorded Date","Response ID","Recipient Email","Q1 - Group","How likely are you\n'
    'to recommend us?"\n'
    '"{""ImportId"":""startDate"",""timeZone"":""America/Denver""}","{""ImportId"":""endDate"",""timeZone"":'
    '""America/Denver""}","{""ImportId"":""recordedDate"",""timeZone"":""America/Denver""}",'
    '"{""ImportId"":""_recordId""}","{""ImportId"":""recipientEmail""}","{""ImportId"":""QID1_NPS_GROUP""}",'
    '"{""ImportId"":""QID1""}"\n'
    '2025-02-01 10:00:00,2025-02-01 10:02:00,2025-02-01 10:02:01,R_1,jane@acme.com,Detractor,3\n'
    '2025-02-02 11:00:00,2025-02-02 11:01:00,2025-02-02 11:01:30,R_2,bob@bolt.io,Promoter,eleven\n')


def test_qualtrics_extra_header_rows_are_skipped_and_their_zone_used(tmp_path):
    loaded = load(tmp_path, {"nps.csv": QUALTRICS}, {"nps": {"columns": {
        "account_id": "RecipientEmail", "responded_at": "RecordedDate", "score": "Q1"}}})
    assert rows(loaded, "nps", ["account_id", "responded_at", "score", "_line"]) == [
        ("jane@acme.com", "2025-02-01 17:02:01", 3.0, 5)]
    assert loaded.rejects[["line", "column", "value"]].values.tolist() == [[6, "score", "eleven"]]
    assert loaded.stats["nps"].rows_read == 2


def test_a_date_format_reads_times_in_the_zone_given():
    got = parse_formatted(pd.Series(["10/20/2026 02:02:48 PM", "03/08/2026 02:30:00 AM", "soon"]),
                          "%m/%d/%Y %I:%M:%S %p", "America/New_York")
    assert [None if pd.isna(t) else str(t) for t in got] == ["2026-10-20 18:02:48+00:00", None, None]  # 2:30 skipped


STRIPE_EU = (  # Stripe's invoices export re-saved by a spreadsheet in a German locale (semicolons, TRUE)
    "id;Amount Due;Billing;Closed;Currency;Customer;Date (UTC);Due Date (UTC);Number;Paid;Subscription;Subtotal;"
    "Total Discount Amount;Applied Coupons;Tax;Tax Percent;Total;Amount Paid;Status\n"
    'in_1;"104,40";charge_automatically;TRUE;eur;cus_A1;2025-02-27 9:56;;A-1;TRUE;sub_1;"104,40";"0,00";;"0,00";;'
    '"104,40";"104,40";paid\n'
    'in_2;"1.234,56";send_invoice;FALSE;eur;cus_B2;2025-03-01 10:00;;B-1;FALSE;sub_2;"1.234,56";"0,00";;"0,00";;'
    '"1.234,56";"0,00";open\n')


def test_the_stripe_preset_reads_an_export_resaved_in_an_eu_locale(tmp_path):
    write_text(tmp_path / "account_map.csv", "source,key,account_id\nstripe,cus_A1,A001\nstripe,cus_B2,A002\n")
    write_text(tmp_path / "payments.csv", STRIPE_EU)
    write_text(tmp_path / "usage.csv", USAGE_OK)
    loaded = load_all(config({"presets": ["stripe"]}, tmp_path), tmp_path)
    assert rows(loaded, "payments", ["payment_id", "account_id", "due_date", "amount", "status"]) == [
        ("in_1", "A001", "2025-02-27 00:00:00", 104.4, "paid"),
        ("in_2", "A002", "2025-03-01 00:00:00", 1234.56, "open")]
    assert len(loaded.rejects) == 0
