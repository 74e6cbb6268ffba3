"""How numbers are said (churnscore.words) and the reason templates that use it: plurals, optional clauses,
NPS over one or several answers, key features as a count, spans no longer than the usage export."""

from __future__ import annotations

import pandas as pd

from churnscore import words
from churnscore.rules import render

NAN = float("nan")


def said(template, context=None, **columns):
    table = pd.DataFrame(columns, index=[f"a{i}" for i in range(len(next(iter(columns.values()))))])
    return render(template, table, context=context).to_pylist()


def test_numbers_counts_money_shares_and_spans():
    assert [words.number(x) for x in (2.0, 5.67, 1234.0, -0.0, NAN)] == ["2", "5.7", "1,234", "0", "unknown"]
    assert [words.count(x, "failed payment") for x in (0, 1, 2)] == [
        "0 failed payments", "1 failed payment", "2 failed payments"]
    assert [words.days(x) for x in (1, 16)] == ["1 day", "16 days"]
    assert [words.seconds(x) for x in (1, 45, 60, 150, 7200)] == [
        "1 second", "45 seconds", "60 seconds", "2.5 minutes", "2 hours"]
    assert words.percent(-0.644) == "64%"
    assert words.money(45059.99) == "45,060"
    assert words.money(45059.99, "EUR") == "EUR 45,060"
    assert words.money_cents(NAN) == "unknown"
    assert words.money_cents(808730.521, "USD") == "USD 808,730.52"


def test_plural_follows_the_number_as_said():
    assert said("{n:int} failed payment{s} in 30 days", n=[1.0, 2.0, 0.0, 1.4]) == [
        "1 failed payment in 30 days", "2 failed payments in 30 days", "0 failed payments in 30 days",
        "1 failed payment in 30 days"]


def test_an_optional_clause_is_left_out_where_its_value_is_unknown():
    template = "weak start[: {a:num} login{s} a day][; first session {b:seconds}]"
    assert said(template, a=[0.3, NAN, 1.0], b=[NAN, 40.0, 200.0]) == [
        "weak start: 0.3 logins a day", "weak start; first session 40 seconds",
        "weak start: 1 login a day; first session 3.3 minutes"]
    assert said("NPS {x:num}", x=[NAN]) == ["NPS unknown"]  # outside a clause: never "n/a"


def test_nps_says_one_answer_or_the_average_of_several():
    assert said("{nps_latest:nps}", nps_latest=[3.0, 5.6667, 5.0], nps_latest_answers=[1.0, 3.0, 2.0]) == [
        "NPS 3", "average NPS 5.7 over 3 answers", "average NPS 5 over 2 answers"]


def test_key_features_as_a_count_of_the_configured_ones():
    assert said("uses {k:of_key} key features", {"key_features": 3}, k=[0.0, 1 / 3, 2 / 3, 1.0]) == [
        "uses none of the 3 key features", "uses 1 of 3 key features", "uses 2 of 3 key features",
        "uses all 3 key features"]


def test_no_usage_is_said_over_the_days_the_export_covers():
    assert said("no product usage in {usage_days_covered:span}", usage_days_covered=[74.0, 365.0, 1.0],
                tenure_days=[74.0, 1084.0, 1.0]) == [
        "no product usage in 74 days as a customer", "no product usage in the 365 days of the usage export",
        "no product usage in 1 day as a customer"]


def test_figures_for_tables_group_thousands_and_mark_missing():
    assert [words.decimals(x, 1) for x in (66.8, 1234.5, NAN)] == ["66.8", "1,234.5", "-"]
    assert words.decimals(pd.NA, 2, "") == ""
    assert [words.share(x) for x in (0.1234, 1.0, NAN)] == ["12.3%", "100.0%", "-"]
    assert words.share(2 / 3, 0) == "67%"
    assert [words.times(x) for x in (1.5, 0.0, NAN)] == ["1.50x", "0.00x", "-"]
    assert [words.signed(x) for x in (6.8, -2.0, 0.0)] == ["+6.8", "-2.0", "+0.0"]
    assert [words.significant(x) for x in (0.5, 30.0, 1234567.0, 0.1 + 0.2, 0.0)] == [
        "0.5", "30", "1,234,567", "0.3", "0"]
    assert words.significant(0.000123456, 4) == "0.0001235"


def test_backtest_metrics_are_shown_one_way():
    assert [words.metric(k, v) for k, v in (("roc_auc", 0.81234), ("top_decile_lift", 2.5),
                                            ("precision_at_k", 0.4), ("brier", 0.123456), ("ece", None))] == [
        "0.812", "2.50x", "40.0%", "0.1235", "-"]


def test_changes_in_a_sentence_need_no_trailing_zeros():
    assert [words.plus(x) for x in (1.5, -2.0, 0.0, NAN)] == ["+1.5", "-2", "0", "unknown"]
    assert [words.trend(x) for x in (-0.644, 0.2)] == ["down 64%", "up 20%"]
