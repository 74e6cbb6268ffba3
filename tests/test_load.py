"""load.py: finding files, mapping columns, parsing types, and every rejected row with its place and reason."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest
from conftest import config, typed, write_text

from churnscore.errors import InputDataError
from churnscore.load import REJECT_COLUMNS, load_all

USAGE_OK = "account_id,timestamp\nA1,2024-03-01\n"


def load(tmp_path, raw=None):
    return load_all(config(raw, base_dir=tmp_path), tmp_path)


def rejects(*rows):
    """Expected rejects frame: (file, line, column, value, reason) tuples."""
    return pd.DataFrame(rows, columns=REJECT_COLUMNS).astype({"line": "int64", "file": "str", "column": "str",
                                                              "value": "str", "reason": "str"})


def assert_rejects(loaded, *rows):
    pd.testing.assert_frame_equal(loaded.rejects.reset_index(drop=True), rejects(*rows))


# ----------------------------------------------------------------------------- columns


def test_column_names_match_case_and_space_insensitively(tmp_path):
    write_text(tmp_path / "usage.csv", " Account_ID ,TIMESTAMP,User_Id , EVENT\nA1,2024-03-01,u1,login\n")
    usage = load(tmp_path).frame("usage")
    assert usage[["account_id", "timestamp", "user_id", "event"]].to_dict("records") == [
        {"account_id": "A1", "timestamp": pd.Timestamp("2024-03-01"), "user_id": "u1", "event": "login"}]


def test_config_columns_map_source_names_onto_the_contract(tmp_path):
    write_text(tmp_path / "events.csv", "Customer ID,Event Time,What,Extra\nC-9,2024-03-01T10:00:00Z,Logged In,x\n")
    raw = {"inputs": {"usage": {"path": "events.csv",
                                "columns": {"account_id": "customer id", "timestamp": "EVENT TIME", "event": "What"},
                                "values": {"event": {"Logged In": "login"}}}}}
    loaded = load(tmp_path, raw)
    expected = typed("usage", [{"account_id": "C-9", "timestamp": "2024-03-01 10:00", "event": "login",
                                "_file": str(tmp_path / "events.csv")}])
    pd.testing.assert_frame_equal(loaded.frame("usage"), expected)
    assert loaded.stats["usage"].columns == {"account_id": "Customer ID", "timestamp": "Event Time",
                                             "event": "What"}


def test_account_ids_stay_strings_with_leading_zeros_and_trimmed_spaces(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp\n00123,2024-03-01\n  007  ,2024-03-01\n1e5,2024-03-01\n")
    ids = load(tmp_path).frame("usage")["account_id"]
    assert isinstance(ids.dtype, pd.CategoricalDtype) and ids.cat.categories.dtype == "str"
    assert ids.tolist() == ["00123", "007", "1e5"]


def test_dates_with_z_offset_and_naive_become_utc_naive(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp\n"
               "A,2024-03-01T10:00:00Z\n"
               "B,2024-03-01T10:00:00+02:00\n"
               "C,2024-03-01T23:30:00-05:00\n"
               "D,2024-03-01 07:30:00\n"
               "E,2024-03-01\n")
    ts = load(tmp_path).frame("usage")["timestamp"]
    assert ts.dtype == "datetime64[ns]"
    assert ts.tolist() == [pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-01 08:00"),
                           pd.Timestamp("2024-03-02 04:30"), pd.Timestamp("2024-03-01 07:30"),
                           pd.Timestamp("2024-03-01")]


def test_date_columns_drop_the_time_and_config_date_format_is_used(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    write_text(tmp_path / "payments.csv", "payment_id,account_id,due_date,amount\np1,A1,05/03/2024 18:00,10\n")
    loaded = load(tmp_path, {"inputs": {"payments": {"date_format": "%d/%m/%Y %H:%M"}}})
    assert loaded.frame("payments")["due_date"].tolist() == [pd.Timestamp("2024-03-05")]


def test_bools_and_absent_optional_columns_are_typed(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    write_text(tmp_path / "accounts.csv", "account_id,auto_renew,mrr\nA1,Yes,10.5\nA2,0,\nA3,n,0\n")
    acc = load(tmp_path).frame("accounts")
    expected = typed("accounts", [
        {"account_id": "A1", "auto_renew": 1.0, "mrr": 10.5},
        {"account_id": "A2", "auto_renew": 0.0, "mrr": np.nan},
        {"account_id": "A3", "auto_renew": 0.0, "mrr": 0.0},
    ]).assign(_file=pd.Categorical([str(tmp_path / "accounts.csv")] * 3))
    pd.testing.assert_frame_equal(acc, expected)


# ----------------------------------------------------------------------------- file kinds


def test_csv_gz_and_parquet_are_read(tmp_path):
    with gzip.open(tmp_path / "usage.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("account_id,timestamp,count\n007,2024-03-01T12:00:00Z,3\n")
    pd.DataFrame({"account_id": ["007"], "responded_at": pd.to_datetime(["2024-03-02T09:00:00+01:00"]),
                  "score": [7]}).to_parquet(tmp_path / "nps.parquet")
    loaded = load(tmp_path)
    usage, nps = loaded.frame("usage"), loaded.frame("nps")
    assert usage[["account_id", "timestamp", "count", "_file"]].to_dict("records") == [
        {"account_id": "007", "timestamp": pd.Timestamp("2024-03-01 12:00"), "count": 3,
         "_file": str(tmp_path / "usage.csv.gz")}]
    assert nps[["account_id", "responded_at", "score", "_line"]].to_dict("records") == [
        {"account_id": "007", "responded_at": pd.Timestamp("2024-03-02 08:00"), "score": 7.0, "_line": 2}]
    assert nps["responded_at"].dtype == "datetime64[ns]"


def test_a_folder_of_files_is_one_export_with_line_numbers_per_file(tmp_path):
    a = write_text(tmp_path / "usage" / "part-a.csv", "account_id,timestamp\nA,2024-03-01\nB,bad\n")
    b = write_text(tmp_path / "usage" / "part-b.csv", "account_id,timestamp\nC,2024-03-02\nD,2024-13-01\nA,2024-03-01\n")
    write_text(tmp_path / "usage" / "notes.txt", "ignored")
    loaded = load(tmp_path)
    usage = loaded.frame("usage")
    assert usage[["account_id", "_file", "_line"]].to_dict("records") == [
        {"account_id": "A", "_file": str(a), "_line": 2},
        {"account_id": "C", "_file": str(b), "_line": 2},
    ]
    assert loaded.stats["usage"].files == [a, b]
    assert (loaded.stats["usage"].rows_read, loaded.stats["usage"].rows_rejected) == (5, 3)
    assert_rejects(loaded,
                   (str(a), 3, "timestamp", "bad", "unparseable datetime in timestamp"),
                   (str(b), 3, "timestamp", "2024-13-01", "unparseable datetime in timestamp"),
                   (str(b), 4, "", "", f"duplicate row (same as line 2 of {a})"))


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separators_are_detected(tmp_path, sep):
    write_text(tmp_path / "usage.csv", sep.join(["account_id", "timestamp", "count"]) + "\n"
               + sep.join(["A1", "2024-03-01", "2"]) + "\n")
    usage = load(tmp_path).frame("usage")
    assert usage[["account_id", "timestamp", "count"]].to_dict("records") == [
        {"account_id": "A1", "timestamp": pd.Timestamp("2024-03-01"), "count": 2}]


def test_utf8_bom_header_is_read(tmp_path):
    write_text(tmp_path / "usage.csv", "\ufeffaccount_id,timestamp,event\nÅ1,2024-03-01,café\n")
    usage = load(tmp_path).frame("usage")
    assert usage[["account_id", "event"]].to_dict("records") == [{"account_id": "Å1", "event": "café"}]


def test_latin1_file_fails_clearly_naming_the_file(tmp_path):
    path = write_text(tmp_path / "usage.csv", "account_id,timestamp,event\nA1,2024-03-01,café\nA2,2024-03-01,x\n",
                      encoding="latin-1")
    with pytest.raises(InputDataError, match=re.escape(f"{path}:2: not UTF-8 (byte 0xe9); save it as UTF-8 or "
                                                       "set inputs.usage.encoding (e.g. latin-1)")) as info:
        load(tmp_path)
    assert (info.value.file, info.value.line) == (str(path), 2)


def test_latin1_file_reads_with_configured_encoding(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp,event\nA1,2024-03-01,café\n", encoding="latin-1")
    usage = load(tmp_path, {"inputs": {"usage": {"encoding": "latin-1"}}}).frame("usage")
    assert usage["event"].tolist() == ["café"]


# ----------------------------------------------------------------------------- whole-file errors


def test_missing_required_column_names_file_column_and_columns_found(tmp_path):
    path = write_text(tmp_path / "usage.csv", "acct,timestamp,event\nA1,2024-03-01,x\n")
    with pytest.raises(InputDataError, match=re.escape(
            f"{path}: required column 'account_id' not found; columns found: acct, timestamp, event.")) as info:
        load(tmp_path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), 1, "account_id")


def test_missing_mapped_column_says_what_it_was_mapped_from(tmp_path):
    path = write_text(tmp_path / "usage.csv", "Customer,timestamp\nA1,2024-03-01\n")
    raw = {"inputs": {"usage": {"columns": {"account_id": "Customer ID"}}}}
    with pytest.raises(InputDataError, match=re.escape(
            f"{path}: required column 'account_id' (mapped from 'Customer ID') not found; "
            "columns found: Customer, timestamp.")):
        load(tmp_path, raw)


def test_missing_required_column_of_an_optional_export_also_stops(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "nps.csv", "account_id,responded_at\nA1,2024-03-01\n")
    with pytest.raises(InputDataError, match=re.escape(f"{path}: required column 'score' not found")):
        load(tmp_path)


def test_empty_file_is_an_error(tmp_path):
    path = write_text(tmp_path / "usage.csv", "")
    with pytest.raises(InputDataError, match=re.escape(f"{path}: empty file (no header row).")):
        load(tmp_path)


def test_header_only_usage_is_an_error(tmp_path):
    path = write_text(tmp_path / "usage.csv", "account_id,timestamp\n")
    with pytest.raises(InputDataError, match=re.escape(
            f"{path}: the usage export has a header but no rows; usage is required.")):
        load(tmp_path)


def test_header_only_optional_export_is_an_empty_typed_frame(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    write_text(tmp_path / "nps.csv", "account_id,responded_at,score\n")
    loaded = load(tmp_path)
    pd.testing.assert_frame_equal(loaded.frame("nps"), typed("nps"), check_categorical=False)
    assert loaded.missing == ["accounts", "tickets", "payments"]


def test_missing_optional_exports_are_listed(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    write_text(tmp_path / "tickets.csv", "ticket_id,account_id,created_at\nt1,A1,2024-03-01\n")
    loaded = load(tmp_path)
    assert loaded.missing == ["accounts", "nps", "payments"]
    assert sorted(loaded.frames) == ["tickets", "usage"]
    pd.testing.assert_frame_equal(loaded.frame("payments"), typed("payments"))


def test_usage_missing_is_an_error(tmp_path):
    write_text(tmp_path / "accounts.csv", "account_id\nA1\n")
    with pytest.raises(InputDataError, match=re.escape(
            f"{tmp_path}: no usage export found (looked for usage.csv, usage.csv.gz, usage.parquet or a "
            "folder usage/); usage is required.")):
        load(tmp_path)


def test_two_candidates_for_one_export_are_an_error_not_a_choice(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    pd.DataFrame({"account_id": ["A2"], "timestamp": ["2024-03-02"]}).to_parquet(tmp_path / "usage.parquet")
    with pytest.raises(InputDataError, match=re.escape(
            f"usage: more than one usage export in the input folder: {tmp_path / 'usage.csv'} and "
            f"{tmp_path / 'usage.parquet'}. Keep one, or set inputs.usage.path in the config to the one to "
            "read.")) as caught:
        load(tmp_path)
    assert caught.value.file == str(tmp_path)
    loaded = load(tmp_path, {"inputs": {"usage": {"path": "usage.parquet"}}})  # named: nothing to choose
    assert loaded.frame("usage")["account_id"].tolist() == ["A2"]
    assert loaded.stats["usage"].files == [tmp_path / "usage.parquet"]


def test_configured_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(InputDataError, match=re.escape(
            f"{tmp_path / 'nope.csv'}: no such file (inputs.usage.path in the config).")):
        load(tmp_path, {"inputs": {"usage": {"path": "nope.csv"}}})


# ----------------------------------------------------------------------------- rejects


def test_usage_rejects_have_file_line_column_value_reason(tmp_path):
    path = write_text(tmp_path / "usage.csv", "account_id,timestamp,user_id,count\n"
                      "A1,2024-03-01,u1,2\n"          # 2 ok
                      ",2024-03-01,u1,1\n"            # 3 missing account_id
                      "A2,yesterday,u1,1\n"           # 4 unparseable date
                      "A3,2024-03-01,u1,-1\n"         # 5 negative count
                      "A4,2024-03-01,u1,1.5\n"        # 6 not whole
                      "A5,2024-03-01,u1,many\n"       # 7 not a number
                      "A1,2024-03-01,u1,2\n")         # 8 duplicate of 2
    loaded = load(tmp_path)
    assert loaded.frame("usage")["account_id"].tolist() == ["A1"]
    p = str(path)
    assert_rejects(loaded,
                   (p, 3, "account_id", "", "missing account_id"),
                   (p, 4, "timestamp", "yesterday", "unparseable datetime in timestamp"),
                   (p, 5, "count", "-1", "count below 0"),
                   (p, 6, "count", "1.5", "count is not a whole number"),
                   (p, 7, "count", "many", "count is not a number"),
                   (p, 8, "", "", "duplicate row (same as line 2)"))
    assert (loaded.stats["usage"].rows_read, loaded.stats["usage"].rows_rejected) == (7, 6)


def test_nps_score_outside_0_to_10_is_rejected(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "nps.csv", "account_id,responded_at,score\nA1,2024-03-01,11\nA1,2024-03-02,10\n"
                      "A1,2024-03-03,-1\nA1,2024-03-04,0\n")
    loaded = load(tmp_path)
    assert loaded.frame("nps")["score"].tolist() == [10.0, 0.0]
    assert_rejects(loaded, (str(path), 2, "score", "11", "score above 10"),
                   (str(path), 4, "score", "-1", "score below 0"))


def test_payment_amount_negative_or_non_numeric_is_rejected(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "payments.csv", "payment_id,account_id,due_date,amount\n"
                      "p1,A1,2024-03-01,-5\np2,A1,2024-03-01,12abc\np3,A1,2024-03-01,10\n"
                      "p4,A1,31/02/2024,10\n")
    loaded = load(tmp_path)
    assert loaded.frame("payments")["payment_id"].tolist() == ["p3"]
    assert_rejects(loaded, (str(path), 2, "amount", "-5", "amount below 0"),
                   (str(path), 3, "amount", "12abc", "amount is not a number"),
                   (str(path), 5, "due_date", "31/02/2024", "unparseable date in due_date"))


def test_contract_term_months_must_be_a_positive_whole_number(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "accounts.csv", "account_id,contract_term_months\n"
                      "A1,12\nA2,0\nA3,1.5\nA4,yearly\nA5,\n")
    loaded = load(tmp_path)
    accounts = loaded.frame("accounts")
    assert accounts["account_id"].tolist() == ["A1", "A5"]
    assert accounts["contract_term_months"].tolist()[0] == 12.0 and accounts["contract_term_months"].isna().tolist() == [False, True]
    assert_rejects(loaded, (str(path), 3, "contract_term_months", "0", "contract_term_months below 1"),
                   (str(path), 4, "contract_term_months", "1.5", "contract_term_months is not a whole number"),
                   (str(path), 5, "contract_term_months", "yearly", "contract_term_months is not a number"))


def test_an_account_id_with_two_different_accounts_rows_keeps_neither_and_the_customer_is_rejected(tmp_path):
    write_text(tmp_path / "usage.csv", "account_id,timestamp\nA1,2024-03-01\nA2,2024-03-01\n")
    path = write_text(tmp_path / "accounts.csv", "account_id,mrr\nA1,10\nA2,5\nA1,12\nA2,5\n")
    loaded = load(tmp_path)
    assert loaded.frame("accounts")[["account_id", "mrr", "_line"]].to_dict("records") == [
        {"account_id": "A2", "mrr": 5.0, "_line": 3}]
    both = "account_id A1 has 2 different rows (lines 2, 4); none kept"
    assert_rejects(loaded, (str(path), 2, "account_id", "A1", both), (str(path), 4, "account_id", "A1", both),
                   (str(path), 5, "account_id", "A2", "duplicate row (first at line 3)"))
    assert loaded.stats["accounts"].rejected_ids == frozenset({"A1"})  # excluded as rejected, not unknown


def test_duplicate_row_keeps_the_first_and_a_conflicting_ticket_id_keeps_none(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "tickets.csv", "ticket_id,account_id,created_at,priority\n"
                      "t1,A1,2024-03-01,high\n"
                      "t1,A1,2024-03-01,high\n"
                      "t2,A1,2024-03-02,low\n"
                      "t2,A2,2024-03-05,low\n")
    loaded = load(tmp_path)
    assert loaded.frame("tickets")[["ticket_id", "account_id", "_line"]].to_dict("records") == [
        {"ticket_id": "t1", "account_id": "A1", "_line": 2}]
    assert_rejects(loaded, (str(path), 3, "ticket_id", "t1", "duplicate row (first at line 2)"),
                   (str(path), 4, "ticket_id", "t2", "ticket_id t2 has 2 different rows (lines 4, 5); none kept"),
                   (str(path), 5, "ticket_id", "t2", "ticket_id t2 has 2 different rows (lines 4, 5); none kept"))


def test_no_rejects_is_an_empty_frame_with_the_reject_columns(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    loaded = load(tmp_path)
    assert list(loaded.rejects.columns) == REJECT_COLUMNS
    assert len(loaded.rejects) == 0


def test_ticket_resolved_before_it_was_created_is_rejected(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE_OK)
    path = write_text(tmp_path / "tickets.csv", "ticket_id,account_id,created_at,resolved_at\n"
                      "t1,A1,2024-03-05T10:00:00Z,2024-03-01T09:00:00Z\n"
                      "t2,A1,2024-03-05T10:00:00Z,2024-03-06T09:00:00Z\n")
    loaded = load(tmp_path)
    assert loaded.frame("tickets")["ticket_id"].tolist() == ["t2"]
    assert_rejects(loaded, (str(path), 2, "resolved_at", "2024-03-01T09:00:00Z", "resolved_at before created_at"))


def test_files_of_one_export_may_differ_in_optional_columns(tmp_path):
    folder = tmp_path / "usage"
    folder.mkdir()
    write_text(folder / "a.csv", "account_id,timestamp,event\nA1,2024-03-01,login\n")
    write_text(folder / "b.csv", "account_id,timestamp,count\nA2,2024-03-02,3\n")
    usage = load(tmp_path).frame("usage")
    assert usage["account_id"].tolist() == ["A1", "A2"]
    assert usage["event"].tolist()[0] == "login" and pd.isna(usage["event"].tolist()[1])
    assert usage["count"].tolist() == [1, 3]
    assert usage["_file"].tolist() == [str(folder / "a.csv"), str(folder / "b.csv")]


def test_date_digest_gives_each_accounts_first_and_last_time_and_rows_in_order_of_first_appearance():
    from churnscore.load import date_digest, two_dates

    codes = np.array([2, 0, -1, 2, 0, 3, 2], dtype="int32")
    times = np.array(["2026-03-01", "NaT", "2020-01-01", "2025-12-31", "NaT", "1969-07-20", "2026-01-15"],
                     dtype="datetime64[ns]")
    digest = date_digest(codes, times)
    assert digest.index.tolist() == [2, 0, 3]  # -1 (no account) left out
    assert digest["min"].tolist() == [pd.Timestamp("2025-12-31"), pd.NaT, pd.Timestamp("1969-07-20")]
    assert digest["max"].tolist() == [pd.Timestamp("2026-03-01"), pd.NaT, pd.Timestamp("1969-07-20")]
    assert digest["size"].tolist() == [3, 2, 1]
    frame = two_dates(digest, pd.Index(["a", "b", "c", "d"]), "ts")
    assert frame["account_id"].astype(str).tolist() == ["c", "a", "d", "c", "a", "d"]
    assert frame["ts"].tolist()[:1] + frame["ts"].tolist()[3:4] == [pd.Timestamp("2025-12-31"),
                                                                     pd.Timestamp("2026-03-01")]
    assert date_digest(np.array([-1], dtype="int32"), times[:1]).empty


def test_line_break_anywhere_scans_only_the_values_in_view():
    import pyarrow as pa

    from churnscore.load import line_break_anywhere

    plain = pa.array(["A1", "B2", None, ""])
    assert not line_break_anywhere(plain)
    assert line_break_anywhere(pa.array(["A1", "B\n2"]))
    assert line_break_anywhere(pa.array(["A1\r", "B2"], pa.large_string()))
    assert line_break_anywhere(pa.chunked_array([plain, pa.array(["x\ny"])]))
    assert line_break_anywhere(pa.array(["a", "b\nc", "a"]).dictionary_encode())
    with_break = pa.array(["x\ny", "A1", "B2", "z\r"])
    assert not line_break_anywhere(with_break.slice(1, 2))  # the slice's own bytes only
    assert line_break_anywhere(with_break.slice(2, 2))
    assert not line_break_anywhere(pa.array([], pa.string()))
    assert line_break_anywhere(pa.array([None, None]))  # not text: left to the search value by value
