"""features/: every catalogued feature pinned on hand-made rows at a fixed as-of date (AS_OF = 2024-03-31).

Ages are days before AS_OF: age 0 is the as-of day, the short window is ages 0-29, the prior window 30-59,
the long window 0-89 (default windows 30/90).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, date, day, expect, features, frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnscore import parallel as parallel_mod
from churnscore.config import parse_config
from churnscore.features import CATALOGUE, FEATURE_NAMES, build_features, window_text

NAN = np.nan

USAGE_COLS = ["usage_events_30d", "usage_events_prev_30d", "usage_trend_30d", "active_days_30d",
              "days_since_last_activity", "never_active", "active_users_30d", "active_users_prev_30d",
              "users_gone_quiet_share", "seat_utilisation", "key_feature_adoption", "key_feature_events_30d",
              "avg_session_seconds_30d"]
TASK_COLS = ["task_time_vs_norm_30d"]
FIRST30_COLS = ["first30_logins_per_day", "first_session_seconds", "tenure_days"]
NPS_COLS = ["nps_latest", "nps_mean", "nps_latest_answers", "nps_trend", "nps_detractor", "days_since_nps_response",
            "nps_silent"]
TICKET_COLS = ["tickets_open", "tickets_opened_30d", "tickets_opened_90d", "tickets_unresolved_old",
               "ticket_resolution_median_hours", "ticket_max_category_90d", "tickets_urgent_90d", "csat_mean_90d",
               "ticket_silence"]
PAYMENT_COLS = ["payments_late_90d", "days_overdue", "payments_failed_30d", "payments_failed_90d",
                "failed_card_expired_90d", "failed_card_declined_90d", "card_expiring_before_renewal",
                "payment_method_changed_90d", "mrr_change_pct_90d", "contract_months", "mrr"]
LEVEL_COLS = ["usage_per_active_day_30d", "usage_per_seat_30d", "usage_per_active_day_pctile", "usage_per_seat_pctile",
              "lifetime_events_per_day", "tenure_band", "first_90_days",
              "usage_days_covered"]  # pinned in test_features_level.py
ACCOUNT_COLS = ["tenure_days", "days_to_renewal", "renewal_within_90d", "mrr", "seats", "auto_renew_off"]


def test_every_catalogued_feature_is_pinned_by_a_test_here():
    pinned = set(USAGE_COLS + TASK_COLS + FIRST30_COLS + NPS_COLS + TICKET_COLS + PAYMENT_COLS + ACCOUNT_COLS
                 + LEVEL_COLS)
    assert pinned == set(FEATURE_NAMES)
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))


def test_table_has_one_row_per_account_in_index_order_and_the_catalogue_columns():
    table = features(["B", "A"], usage=[{"account_id": "A", "timestamp": day(0)}])
    assert table.index.tolist() == ["B", "A"]
    assert table.index.name == "account_id"
    assert list(table.columns) == list(FEATURE_NAMES)
    assert set(table.dtypes) == {np.dtype("float64")}


# ----------------------------------------------------------------------------- usage


def u(account, age, user=None, event=None, count=1, duration=None, time="10:00"):
    return {"account_id": account, "timestamp": day(age, time), "user_id": user, "event": event, "count": count,
            "duration_seconds": duration}


USAGE_ROWS = [
    u("A", 0, "u1", "login", 2, 300.0),
    u("A", 5, "u2", "report_created", 3, 60.0),
    u("A", 5, "u1", "dashboard_viewed", 1, 120.0, time="23:59"),  # same day as the row above
    u("A", 29, "u3", "login", 1, 100.0),  # last day of the short window
    u("A", 30, "u1", "login", 4),  # first day of the prior window
    u("A", 40, "u4", "report_created", 2, 30.0),
    u("A", 59, "u5", "other", 4),  # last day of the prior window
    u("A", 60, "u6", "login", 10, 999.0),  # in neither window
    u("B", 45, "u1", "other", 5, 50.0),  # only prior-window usage; no login durations
    u("B", 70, "u1", "other", 1),
    u("C", 3, None, "other", 2, 40.0),  # no user ids; durations on non-login events only
    u("C", 4, None, "other", 1, 80.0),
]


def test_usage_windows_trend_activity_users_adoption_and_sessions():
    accounts = [{"account_id": "A", "seats": 4}, {"account_id": "B", "seats": 2}, {"account_id": "C", "seats": 0},
                {"account_id": "Z", "seats": 3}]
    table = features(["A", "B", "C", "Z"], usage=USAGE_ROWS, accounts=accounts)
    expect(table, {
        "usage_events_30d": [7, 0, 3, 0],  # A: 2 + 3 + 1 + 1
        "usage_events_prev_30d": [10, 5, 0, 0],  # A: 4 + 2 + 4
        "usage_trend_30d": [-0.3, -1.0, NAN, NAN],  # empty when the prior window had no events
        "active_days_30d": [3, 0, 2, 0],  # A: ages 0, 5, 29
        "days_since_last_activity": [0, 45, 3, NAN],
        "never_active": [0, 0, 0, 1],
        "active_users_30d": [3, 0, 0, 0],  # A: u1, u2, u3
        "active_users_prev_30d": [3, 1, 0, 0],  # A: u1, u4, u5
        "users_gone_quiet_share": [2 / 3, 1.0, NAN, NAN],  # A: u4 and u5 quiet, u1 still active
        "seat_utilisation": [0.75, 0.0, NAN, 0.0],  # 0 seats: empty, not a division by zero
        "key_feature_adoption": [2 / 3, 0, 0, 0],  # report_created, dashboard_viewed of three
        "key_feature_events_30d": [4, 0, 0, 0],
        "avg_session_seconds_30d": [200.0, NAN, 60.0, NAN],  # A: logins 300, 100; C: all events
    })


def test_seat_utilisation_is_empty_without_seats():
    table = features(["A"], usage=[u("A", 1, "u1")])
    expect(table, {"seat_utilisation": [NAN], "seats": [NAN]})


def test_key_features_and_login_event_come_from_the_config():
    rows = [u("A", 1, "u1", "signin", 1, 30.0), u("A", 1, "u1", "export", 2, 500.0), u("A", 2, "u1", "report_created")]
    table = features(["A"], usage=rows, raw_config={"features": {"key_features": ["export", "share"],
                                                                 "login_event": "signin"}})
    expect(table, {"key_feature_adoption": [0.5], "key_feature_events_30d": [2], "avg_session_seconds_30d": [30.0]})


def test_short_window_length_comes_from_the_config():
    rows = [u("A", 6, "u1"), u("A", 7, "u1"), u("A", 13, "u2"), u("A", 14, "u3")]
    table = features(["A"], usage=rows, raw_config={"windows": {"short_days": 7, "long_days": 90}})
    expect(table, {"usage_events_30d": [1], "usage_events_prev_30d": [2], "usage_trend_30d": [-0.5],
                   "active_users_prev_30d": [2]})


def test_task_time_vs_norm_is_the_median_ratio_to_each_events_median_over_all_accounts():
    rows = [
        u("A", 1, "u1", "report_created", 1, 90.0),  # ratio 3
        u("A", 2, "u1", "report_created", 1, 30.0),  # ratio 1
        u("A", 4, "u1", "dashboard_viewed", 1, 50.0),  # ratio 0.5
        u("A", 1, "u1", "login", 1, 999.0),  # logins are sessions, not tasks
        u("A", 6, "u1", "report_created", 1, None),  # no duration: ignored
        u("B", 3, "u2", "report_created", 1, 30.0),  # ratio 1
        u("B", 50, "u2", "report_created", 1, 30.0),  # in the norm, not in B's short window
        u("B", 100, "u2", "report_created", 1, 1000.0),  # outside the long window: not in the norm
        u("C", 10, "u3", "dashboard_viewed", 1, 150.0),  # ratio 1.5
        u("D", 10, "u4", "login", 1, 60.0),  # only logins: no task time
        u("X", 10, "u9", "dashboard_viewed", 1, None),  # an account not scored
    ]
    # norms: report_created median(90, 30, 30, 30) = 30; dashboard_viewed median(50, 150) = 100
    table = features(["A", "B", "C", "D"], usage=rows)
    expect(table, {"task_time_vs_norm_30d": [1.0, 1.0, 1.5, NAN]})


def test_first_30_day_signals_for_young_accounts_and_empty_for_old_ones():
    accounts = [
        {"account_id": "Y1", "signup_date": date(9)},
        {"account_id": "Y2", "signup_date": date(70)},
        {"account_id": "OLD", "signup_date": date(90)},  # exactly young_account_days old: not young
        {"account_id": "QUIET", "signup_date": date(5)},  # young, no usage
    ]
    rows = [
        u("Y1", 9, "u1", "login", 2, 45.0),  # first session 45 s
        u("Y1", 8, "u1", "login", 1, 200.0),
        u("Y1", 3, "u1", "login", 2),
        u("Y1", 2, "u1", "report_created", 5, 10.0),
        u("Y2", 75, "u1", "login", 7),  # before signup: not in its first 30 days
        u("Y2", 70, "u1", "login", 3, 20.0),
        u("Y2", 41, "u1", "login", 30),  # day 29 after signup: the last of the first 30
        u("Y2", 40, "u1", "login", 100, 5.0),  # day 30: outside
        u("OLD", 90, "u1", "login", 50, 400.0),
        u("N", 4, "u1", "login", 1, 30.0, time="23:00"),  # N: no signup date -> first activity
        u("N", 4, "u1", "login", 1, 10.0, time="08:00"),
    ]
    table = features(["Y1", "Y2", "OLD", "QUIET", "N"], usage=rows, accounts=accounts)
    expect(table, {
        # logins in the first 30 days / days observed (tenure + 1, at most 30)
        "first30_logins_per_day": [5 / 10, 33 / 30, NAN, 0.0, 2 / 5],
        "first_session_seconds": [45.0, 20.0, NAN, NAN, 10.0],
        "tenure_days": [9, 70, 90, 5, 4],
    })


# ----------------------------------------------------------------------------- nps


def r(account, age, score):
    return {"account_id": account, "responded_at": day(age), "score": score}


def test_nps_latest_round_mean_trend_detractor_and_silence():
    rows = [
        r("A", 10, 4), r("A", 39, 6),  # latest round: within 30 days of the last response
        r("A", 40, 10), r("A", 200, 8),  # earlier responses
        r("B", 180, 9),  # exactly nps_silence_days ago: silent
        r("C", 179, 6), r("C", 179, 7),  # one round, mean 6.5: not a detractor
        r("D", 0, 6),
        r("A", -1, 0),  # after the as-of date: unknown
    ]
    table = features(["A", "B", "C", "D", "E"], nps=rows, usage=[u("A", 0)])
    expect(table, {
        "nps_latest": [5.0, 9.0, 6.5, 6.0, NAN],
        "nps_mean": [7.0, 9.0, 6.5, 6.0, NAN],
        "nps_latest_answers": [2, 1, 2, 1, NAN],  # the answers nps_latest is the mean of
        "nps_trend": [-4.0, NAN, NAN, NAN, NAN],  # latest round 5 - mean of earlier (10, 8) 9
        "nps_detractor": [1, 0, 0, 1, NAN],
        "days_since_nps_response": [10, 180, 179, 0, NAN],
        "nps_silent": [0, 1, 0, 0, 1],
    })


def test_nps_silence_days_come_from_the_config():
    table = features(["A", "B"], nps=[r("A", 20, 9), r("B", 19, 9)], usage=[u("A", 0)],
                     raw_config={"features": {"nps_silence_days": 20}})
    expect(table, {"nps_silent": [1, 0]})


# ----------------------------------------------------------------------------- tickets


def t(tid, account, age, resolved=None, status=None, priority=None, category=None, csat=None, time="10:00"):
    return {"ticket_id": tid, "account_id": account, "created_at": day(age, time), "resolved_at": resolved,
            "status": status, "priority": priority, "category": category, "csat": csat}


TICKET_ROWS = [
    t("t1", "A", 20, day(19), "solved", "high", "billing", 2),  # resolved in 24 h
    t("t2", "A", 15, day(-2), "solved", "normal", "billing"),  # resolved AFTER the as-of date: open on it
    t("t3", "A", 14, None, "open", "urgent", "billing"),  # open exactly unresolved_days: old
    t("t4", "A", 13, None, "pending", "low", "login", 4),  # open, not old
    t("t5", "A", 100, day(99), "closed", "urgent", "billing", 1),  # outside the long window
    t("t6", "A", 50, None, "Closed", "High", "billing", 3),  # closed without a date: resolved
    t("t7", "A", 60, day(58, "16:00"), "solved", None, None),  # resolved in 54 h
    t("b1", "B", 30, day(29)), t("b2", "B", 75, day(74)), t("b3", "B", 119, day(118)),  # 3 before the short window
    t("b4", "B", 120, day(119)),  # outside the prior window
    t("c1", "C", 31, day(31, "12:00")), t("c2", "C", 60, day(60, "12:00")),
    t("c3", "C", 120, day(120, "12:00")),  # only 2 in the prior window
    t("a9", "A", -1, None, "open", "urgent", "billing", 1),  # created after the as-of date: unknown
]


def test_ticket_features_with_a_ticket_resolved_after_the_as_of_date_counting_as_open():
    table = features(["A", "B", "C", "D"], tickets=TICKET_ROWS, usage=[u("A", 0)])
    expect(table, {
        "tickets_open": [3, 0, 0, 0],  # t2, t3, t4
        "tickets_opened_30d": [4, 0, 0, 0],  # t1-t4
        "tickets_opened_90d": [6, 2, 2, 0],  # A: t1-t4, t6, t7
        "tickets_unresolved_old": [2, 0, 0, 0],  # t2 (15 days), t3 (14 days)
        "ticket_resolution_median_hours": [39.0, 24.0, 2.0, NAN],  # A: median(24, 54)
        "ticket_max_category_90d": [4, 0, 0, 0],  # billing: t1, t2, t3, t6
        "tickets_urgent_90d": [3, 0, 0, 0],  # t1 high, t3 urgent, t6 High
        "csat_mean_90d": [3.0, NAN, NAN, NAN],  # t1 2, t4 4, t6 3
        "ticket_silence": [0, 1, 0, 0],
    })


def test_unresolved_days_come_from_the_config():
    rows = [t("t1", "A", 3), t("t2", "A", 2)]
    table = features(["A"], tickets=rows, usage=[u("A", 0)], raw_config={"features": {"unresolved_days": 3}})
    expect(table, {"tickets_open": [2], "tickets_unresolved_old": [1]})


# ----------------------------------------------------------------------------- payments


def p(pid, account, age, amount, paid=None, status=None, reason=None, method=None, expiry=None):
    return {"payment_id": pid, "account_id": account, "due_date": date(age), "amount": amount, "paid_at": paid,
            "status": status, "failure_reason": reason, "payment_method": method, "card_expiry": expiry}


PAYMENT_ROWS = [
    p("a1", "A", 100, 100.0, day(100), "paid", None, "card"),  # a long window ago: the "before" amount
    p("a2", "A", 70, 100.0, day(67), "paid", None, "card"),  # paid 3 days late
    p("a3", "A", 40, 80.0, None, "failed", "expired_card", "card"),  # failed, unpaid 40 days
    p("a4", "A", 10, 80.0, None, "failed", "card_declined", "invoice"),  # failed, unpaid 10 days
    p("a5", "A", 0, 80.0, None, "open", None, "invoice", "2024-04-15"),  # due today: not overdue yet
    p("a6", "A", 5, 500.0, None, "void"),  # void: not owed, not an amount
    p("a7", "A", 20, 80.0, day(-3), "paid", None, "invoice"),  # paid AFTER the as-of date: unpaid on it
    p("a8", "A", -5, 10.0, None, "failed", "card_declined", "ach", "2024-04-01"),  # due after the as-of date
    p("b1", "B", 10, 99.0, day(10), "paid", None, "card", "2024-12-31"),
    p("c1", "C", 95, 50.0, None, "paid"),  # paid without a date: paid
    p("c2", "C", 65, 50.0, None, "paid"),
    p("c3", "C", 35, 50.0, None, "paid"),
    p("c4", "C", 2, 60.0, None, "Paid", None, None, "2024-06-28"),
    p("e1", "E", 25, 30.0, day(-3), "paid", None, "card"),  # paid after the as-of date: 25 days overdue on it
    p("f1", "F", 20, 45.0, None, "failed", "insufficient_funds", "card"),  # a failed attempt ...
    p("f2", "F", 20, 45.0, day(18), "paid", None, "card"),  # ... and its paid retry: one invoice, 2 days late
]
PAYMENT_ACCOUNTS = [
    {"account_id": "A", "renewal_date": "2024-04-20"},
    {"account_id": "B", "mrr": 250.0},  # no renewal date: horizon is the long window (to 2024-06-29)
    {"account_id": "C", "renewal_date": "2024-03-01"},  # renewal passed: horizon is the long window
]


def test_payment_features():
    table = features(["A", "B", "C", "D", "E", "F"], payments=PAYMENT_ROWS, accounts=PAYMENT_ACCOUNTS,
                     usage=[u("A", 0)])
    expect(table, {
        "payments_late_90d": [4, 0, 0, 0, 1, 1],  # A: a2 paid late; a3, a4, a7 unpaid past due
        "days_overdue": [40, 0, 0, 0, 25, 0],  # A: a3
        "payments_failed_30d": [1, 0, 0, 0, 0, 1],  # A: a4; failures count per attempt
        "payments_failed_90d": [2, 0, 0, 0, 0, 1],  # A: a3, a4
        "failed_card_expired_90d": [1, 0, 0, 0, 0, 0],  # A: a3
        "failed_card_declined_90d": [1, 0, 0, 0, 0, 1],  # A: a4; F: insufficient funds
        "card_expiring_before_renewal": [1, 0, 1, 0, 0, 0],  # A: 04-15 < 04-20; B: 12-31 > 06-29; C: 06-28 < 06-29
        "payment_method_changed_90d": [1, 0, 0, 0, 0, 0],  # A: card, invoice
        "mrr_change_pct_90d": [-0.2, NAN, 0.2, NAN, NAN, NAN],  # A: 80 vs 100; C: 60 vs 50
        "contract_months": [1, NAN, 1, NAN, NAN, NAN],  # monthly gaps; one invoice: unknown
        "mrr": [80.0, 250.0, 60.0, NAN, 30.0, 45.0],  # accounts' mrr first, else the latest invoice
        "days_to_renewal": [20, NAN, NAN, NAN, NAN, NAN],
    })


def test_billing_cycle_turns_invoices_into_monthly_revenue_and_leaves_the_export_renewal_as_it_is():
    rows = [
        p("m1", "M", 95, 10.0), p("m2", "M", 64, 10.0), p("m3", "M", 33, 10.0), p("m4", "M", 2, 10.0),
        p("q1", "Q", 200, 300.0), p("q2", "Q", 109, 300.0), p("q3", "Q", 18, 300.0),  # every 91 days
        p("y1", "Y", 400, 1200.0), p("y2", "Y", 34, 1200.0),  # 366 days apart
        p("v1", "V", 60, 20.0, None, "void"), p("v2", "V", 30, 20.0),  # a void invoice is no cycle
    ]
    accounts = [{"account_id": "M", "renewal_date": "2024-12-15"},  # on the export's day: as the export says
                {"account_id": "Q", "renewal_date": "2024-10-10"},
                {"account_id": "Y", "renewal_date": "2026-04-30"},
                {"account_id": "X", "renewal_date": "2026-01-15"},  # no invoices, no term
                {"account_id": "V"}]
    table = features(["M", "Q", "Y", "X", "V"], payments=rows, accounts=accounts, usage=[u("M", 0)])
    expect(table, {
        "contract_months": [1, 3, 12, NAN, NAN],  # no term set: the billing cycle
        "days_to_renewal": [259, 193, 760, 655, NAN],
        "renewal_within_90d": [0, 0, 0, 0, NAN],
        "mrr": [10.0, 100.0, 100.0, NAN, 20.0],  # the latest invoice per month of its cycle
        "mrr_change_pct_90d": [0.0, 0.0, 0.0, NAN, NAN],
    })


MONTHLY_INVOICES = [p("m1", "M", 95, 10.0), p("m2", "M", 64, 10.0), p("m3", "M", 33, 10.0), p("m4", "M", 2, 10.0)]


def renewal_table(as_of: str, accounts: list[dict], raw_config: dict | None = None) -> pd.DataFrame:
    """The feature table at ``as_of`` for accounts whose export describes AS_OF (2024-03-31)."""
    ids = [a["account_id"] for a in accounts]
    index = pd.Index(ids, name="account_id", dtype="str")
    given = frames(payments=MONTHLY_INVOICES, accounts=accounts, usage=[u(i, 0) for i in ids])
    return build_features(given, index, pd.Timestamp(as_of), parse_config(raw_config or {}), accounts_date=AS_OF)


def test_a_yearly_contract_billed_monthly_renews_once_a_year():
    yearly = [{"account_id": "M", "renewal_date": "2024-12-16", "contract_term_months": 12}]  # 260 days away
    on_export_day = renewal_table("2024-03-31", yearly)
    expect(on_export_day, {"contract_months": [12], "days_to_renewal": [260], "renewal_within_90d": [0],
                           "mrr": [10.0]})  # revenue still per month of the billing cycle
    a_year_earlier = renewal_table("2023-03-31", yearly)  # stepped back 12 months: 2023-12-16
    expect(a_year_earlier, {"contract_months": [12], "days_to_renewal": [260], "renewal_within_90d": [0]})
    two_months_earlier = renewal_table("2024-01-31", yearly)  # not a month: the same renewal, 2024-12-16
    expect(two_months_earlier, {"days_to_renewal": [320]})
    just_after_a_renewal = renewal_table("2023-12-20", yearly)  # 2023-12-16 has passed: the next, 2024-12-16
    expect(just_after_a_renewal, {"days_to_renewal": [362]})


def test_contract_term_from_the_account_then_the_plan_map_then_contract_months():
    accounts = [
        {"account_id": "E", "plan": "Enterprise", "renewal_date": "2024-12-16"},  # plan map: 12 months
        {"account_id": "S", "plan": "starter", "renewal_date": "2024-04-10"},  # plan map (any case): 1 month
        {"account_id": "C", "plan": "Enterprise", "renewal_date": "2024-12-16", "contract_term_months": 1},
        {"account_id": "O", "plan": "Other", "renewal_date": "2024-06-01"},  # no term anywhere
    ]
    by_plan = {"features": {"contract_terms": {"Enterprise": 12, "Starter": 1}}}
    table = renewal_table("2023-03-31", accounts, by_plan)
    expect(table, {"days_to_renewal": [260, 10, 16, NAN],  # 2023-12-16, 2023-04-10, 2023-04-16, unknown
                   "renewal_within_90d": [0, 1, 1, NAN],
                   "contract_months": [12, 1, 1, NAN]})  # O: no term, and no invoices for a billing cycle
    fallback = {"features": {"contract_terms": {"Enterprise": 12}, "contract_months": 6}}
    table = renewal_table("2023-03-31", accounts, fallback)
    expect(table, {"days_to_renewal": [260, 10, 16, 62],  # S, O: every 6 months -> 2023-04-10, 2023-06-01
                   "contract_months": [12, 6, 1, 6]})


def test_an_unknown_term_leaves_the_renewal_empty_before_the_export_day_only():
    accounts = [{"account_id": "M", "renewal_date": "2024-12-16"}]  # billed monthly, term unknown
    expect(renewal_table("2023-03-31", accounts), {  # not guessed from the monthly invoices
        "days_to_renewal": [NAN], "renewal_within_90d": [NAN], "contract_months": [NAN]})
    expect(renewal_table("2024-03-01", accounts), {"days_to_renewal": [NAN], "contract_months": [1]})
    expect(renewal_table("2024-03-31", accounts), {"days_to_renewal": [260], "renewal_within_90d": [0]})


def test_late_grace_days_come_from_the_config():
    table = features(["A"], payments=PAYMENT_ROWS, accounts=PAYMENT_ACCOUNTS, usage=[u("A", 0)],
                     raw_config={"features": {"late_grace_days": 3}})
    expect(table, {"payments_late_90d": [3], "days_overdue": [40]})  # a2, 3 days late, is within the grace


# ----------------------------------------------------------------------------- accounts


def test_account_features_tenure_renewal_mrr_seats_auto_renew():
    accounts = [
        {"account_id": "A", "signup_date": "2024-03-01", "renewal_date": "2024-04-30", "mrr": 100.0, "seats": 5,
         "auto_renew": 0.0},
        {"account_id": "B", "renewal_date": "2024-03-31", "auto_renew": 1.0},  # renews on the as-of day
        {"account_id": "C", "signup_date": "2023-01-01", "renewal_date": "2024-03-30"},  # renewal passed
    ]
    rows = [u("B", 7), u("B", 3), u("Z", 1)]
    table = features(["A", "B", "C", "Z"], usage=rows, accounts=accounts)
    expect(table, {
        "tenure_days": [30, 7, 455, 1],  # B, Z: no signup date -> first activity
        "days_to_renewal": [30, 0, NAN, NAN],
        "renewal_within_90d": [1, 1, NAN, NAN],
        "mrr": [100.0, NAN, NAN, NAN],
        "seats": [5, NAN, NAN, NAN],
        "auto_renew_off": [1, 0, NAN, NAN],
    })


# ----------------------------------------------------------------------------- whole table


def test_an_account_with_no_rows_anywhere_gets_the_empty_and_zero_values():
    table = features(["A", "NOBODY"], usage=USAGE_ROWS, nps=[r("A", 1, 9)], tickets=TICKET_ROWS,
                     payments=PAYMENT_ROWS, accounts=PAYMENT_ACCOUNTS)
    zero = {"usage_events_30d", "usage_events_prev_30d", "active_days_30d", "active_users_30d",
            "active_users_prev_30d", "key_feature_adoption", "key_feature_events_30d", "tickets_open",
            "tickets_opened_30d", "tickets_opened_90d", "tickets_unresolved_old", "ticket_max_category_90d",
            "tickets_urgent_90d", "ticket_silence", "payments_late_90d", "days_overdue", "payments_failed_30d",
            "payments_failed_90d", "failed_card_expired_90d", "failed_card_declined_90d",
            "card_expiring_before_renewal", "payment_method_changed_90d", "usage_per_seat_30d"}
    one = {"never_active", "nps_silent"}
    expected = pd.Series([0.0 if f in zero else 1.0 if f in one else NAN for f in FEATURE_NAMES],
                         index=list(FEATURE_NAMES), name="NOBODY")
    pd.testing.assert_series_equal(table.loc["NOBODY"], expected, check_exact=True)


def test_point_in_time_rows_after_the_as_of_date_change_no_feature():
    ids = ["A", "B", "C", "D"]
    accounts = PAYMENT_ACCOUNTS + [{"account_id": "D", "signup_date": date(20), "seats": 2}]
    base = {"usage": USAGE_ROWS + [u("D", 19, "u1", "login", 1, 30.0)],
            "nps": [r("A", 10, 4), r("B", 100, 9)],
            "tickets": TICKET_ROWS, "payments": PAYMENT_ROWS, "accounts": accounts}
    later = {
        "usage": [u("A", -1, "u9", "report_created", 50, 9999.0), u("B", -1, "u1", "login", 3, 1.0, time="00:00"),
                  u("C", -30, "u1", "integration_sync"), u("D", -2, "u2", "login", 9, 1.0)],
        "nps": [r("A", -1, 0), r("C", -10, 3)],
        "tickets": [t("n1", "A", -1, None, "open", "urgent", "billing", 1),
                    t("n2", "D", -3, day(-2), "solved", "high", "x", 5, time="00:00")],
        "payments": [p("n1", "A", -1, 5.0, None, "failed", "expired_card", "paypal", "2024-04-01"),
                     p("n2", "C", -40, 1.0, None, "open", None, "wire", "2024-04-02"),
                     p("n3", "D", -1, 7.0, day(-1), "paid", None, "card", "2024-04-03")],
    }
    before = features(ids, **base)
    after = features(ids, **{k: v + later.get(k, []) for k, v in base.items()})
    pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_as_of_time_of_day_is_ignored():
    morning = features(["A"], as_of="2024-03-31 00:00", usage=USAGE_ROWS, tickets=TICKET_ROWS)
    evening = features(["A"], as_of="2024-03-31 23:59", usage=USAGE_ROWS, tickets=TICKET_ROWS)
    pd.testing.assert_frame_equal(morning, evening, check_exact=True)


# ----------------------------------------------------------------------------- property


EVENTS = [None, "login", "report_created", "dashboard_viewed", "integration_sync", "other"]

usage_row = st.fixed_dictionaries({
    "account_id": st.sampled_from(["A", "B", "C", "X"]),
    "timestamp": st.integers(min_value=-5 * 86400, max_value=200 * 86400).map(
        lambda s: (AS_OF + pd.Timedelta(hours=12) - pd.Timedelta(seconds=s)).isoformat()),
    "user_id": st.sampled_from([None, "u1", "u2", "u3"]),
    "event": st.sampled_from(EVENTS),
    "count": st.integers(min_value=0, max_value=5),
    "duration_seconds": st.one_of(st.none(), st.floats(min_value=0, max_value=5000, allow_nan=False)),
})
account_row = st.fixed_dictionaries({
    "account_id": st.sampled_from(["A", "B", "C", "D"]),
    "seats": st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
    "signup_date": st.one_of(st.none(), st.integers(min_value=0, max_value=400).map(date)),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(usage=st.lists(usage_row, max_size=10), accounts=st.lists(account_row, max_size=4))
def test_any_small_valid_usage_keeps_features_in_their_documented_range(usage, accounts):
    index = pd.Index(["A", "B", "C", "D"], name="account_id", dtype="str")
    table = build_features(frames(usage=usage, accounts=accounts), index, AS_OF, parse_config({}))
    assert list(table.columns) == list(FEATURE_NAMES)
    assert table.index.equals(index)
    for f in CATALOGUE:
        values = table[f.name].dropna()
        assert np.isfinite(values).all(), f.name
        if f.low is not None:
            assert (values >= f.low).all(), (f.name, values.tolist())
        if f.high is not None:
            assert (values <= f.high).all(), (f.name, values.tolist())


def test_window_text_names_each_window_in_days():
    windows, params = parse_config({}).windows, parse_config({}).features
    shown = {f.window: window_text(f, windows, params) for f in CATALOGUE}
    assert shown == {"short": "last 30 d", "prior": "days 31-60", "long": "last 90 d", "all": "all history",
                     "first30": "first 30 d", "now": "as-of date", "silence": "last 180 d",
                     "tenure": "since signup"}


def test_nps_silence_is_unknown_when_there_is_no_nps_data_at_all():
    table = features(["A"], usage=[u("A", 0)])
    assert np.isnan(table.loc["A", "nps_silent"])


def test_usage_features_in_pieces_equal_the_whole(monkeypatch):
    """A large usage export is taken in pieces of whole accounts (bounded temporaries): the same table."""
    from churnscore.config import DEFAULT_CONFIG, load_config
    from churnscore.load import load_all
    from churnscore.asof import parse_as_of
    from churnscore.universe import universe

    config = load_config(DEFAULT_CONFIG, [])
    loaded = load_all(config)
    as_of = parse_as_of("2026-09-15").day  # rows after it exist: the cut is exercised too
    index = universe(loaded, as_of).index
    frames = {name: loaded.frame(name) for name in ("accounts", "usage", "nps", "tickets", "payments")}
    whole = build_features(frames, index, as_of, config)
    monkeypatch.setattr("churnscore.features.usage.USAGE_PIECE_ROWS", 7_000)
    assert len(frames["usage"]) > 10 * 7_000
    pieces = build_features(frames, index, as_of, config)
    pd.testing.assert_frame_equal(pieces, whole, check_exact=True)


def test_in_parallel_gives_results_in_order_and_raises_the_first_failure(monkeypatch):
    monkeypatch.setattr("churnscore.parallel.PARALLEL", 2)
    threads = set()

    def slow_square(x):
        threads.add(threading.current_thread().name)
        time.sleep(0.02 if x % 2 else 0.0)  # odd items finish after the next even one
        return x * x

    assert list(parallel_mod.in_parallel(slow_square, list(range(7)))) == [0, 1, 4, 9, 16, 25, 36]
    assert len(threads) == 2 and all(name.startswith("churnscore-work") for name in threads)

    def fails_on_three(x):
        if x == 3:
            raise ValueError("part 3 is bad")
        return x

    got = []
    with pytest.raises(ValueError, match="part 3"):
        for value in parallel_mod.in_parallel(fails_on_three, list(range(6))):
            got.append(value)
    assert got == [0, 1, 2]


def test_index_positions_of_arrow_text_match_get_indexer():
    from churnscore.features import index_positions

    index = pd.Index(["A1", "A2", "A3"], dtype="str")
    values = pd.Index(["A3", "B9", "A1", "A2"], dtype="str")
    assert index_positions(index, values).tolist() == [2, -1, 0, 1]
    assert index_positions(index, values).dtype == np.int64
    assert index_positions(index.astype(object), values.astype(object)).tolist() == [2, -1, 0, 1]
    assert index_positions(index, values[:0]).tolist() == []
    with pytest.raises(pd.errors.InvalidIndexError):
        index_positions(pd.Index(["A1", "A1"], dtype="str"), values)


def test_medians_by_code_match_pandas_groupby_median_to_the_bit():
    from churnscore.features import medians_by_code

    keys, medians = medians_by_code(np.array([3, 0, 3, 3, 0, 7], dtype="int32"),
                                    np.array([5.0, 1.0, 1.5, 9.0, 2.0, 4.25]))
    assert keys.tolist() == [0, 3, 7]
    assert medians.tolist() == [1.5, 5.0, 4.25]
    keys, medians = medians_by_code(np.zeros(0, dtype="int8"), np.zeros(0))
    assert keys.tolist() == [] and medians.tolist() == []
    rng = np.random.default_rng(7)
    codes, values = rng.integers(0, 40_000, 5_000), rng.random(5_000) * 1e3  # beyond 16 bits too
    expected = pd.Series(values).groupby(codes).median()
    keys, medians = medians_by_code(codes, values)
    assert keys.tolist() == expected.index.tolist()
    assert medians.tolist() == expected.tolist()


@pytest.mark.parametrize("cells", [1 << 24, 1])  # counted in one array, and by sorting pairs
def test_most_of_one_key_counts_each_accounts_most_frequent_key(cells):
    from churnscore.features import most_of_one_key

    codes = np.array([0, 0, 0, 2, 2, -1, 0, 2, 3], dtype="int64")
    keys = np.array([1, 1, 0, 4, 3, 1, -1, 4, 2], dtype="int64")
    mask = np.array([True] * 8 + [False])
    # account 0: key 1 twice (its -1 row left out); 1: none; 2: key 4 twice; 3: masked out
    assert most_of_one_key(codes, keys, 4, mask, max_cells=cells).tolist() == [2.0, 0.0, 2.0, 0.0]
    assert most_of_one_key(codes[:0], keys[:0], 2, mask[:0], max_cells=cells).tolist() == [0.0, 0.0]


def test_first_row_is_the_earliest_by_time_then_line_then_position():
    from churnscore.features import first_row

    codes = np.array([1, 1, 0, 1, 1, 0, 3])
    times = np.array(["2026-10-02", "2026-10-01", "NaT", "2026-10-01", "2026-10-01", "NaT", "2026-10-05"],
                     dtype="datetime64[ns]")
    lines = np.array([2, 9, 4, 7, 7, 3, 5])
    # account 1: three rows on 10-01, lines 9, 7, 7: the first of the two line-7 rows; account 0: only NaT
    # times, so the lower line; account 2: no rows
    assert first_row(codes, times, lines, 4).tolist() == [5, 3, -1, 6]
    assert first_row(codes[:0], times[:0], lines[:0], 2).tolist() == [-1, -1]


def test_group_reduce_min_and_max_leave_out_missing_values_and_masked_rows():
    from churnscore.features import group_reduce

    codes = np.array([0, 0, 2, 2, -1, 0])
    values = np.array([3.0, np.nan, -1.5, 4.0, 0.0, 7.0])
    mask = np.array([True, True, True, True, True, False])
    assert np.array_equal(group_reduce(codes, values, 4, mask, "max"), [3.0, np.nan, 4.0, np.nan], equal_nan=True)
    assert np.array_equal(group_reduce(codes, values, 4, mask, "min"), [3.0, np.nan, -1.5, np.nan], equal_nan=True)


def test_the_package_offers_its_names_and_imports_only_the_base_layer():
    """churnscore.features names its public functions in __all__ and, imported alone, loads nothing above
    config, contract, errors, limits and parallel (never load, model or rules)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys, churnscore.features as f; "
            "print(json.dumps([[n for n in f.__all__ if not hasattr(f, n)], "
            "sorted(m for m in sys.modules if m.startswith('churnscore.') "
            "and not m.startswith('churnscore.features'))]))")
    missing, loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                check=True).stdout)
    assert missing == []
    assert set(loaded) <= {"churnscore.config", "churnscore.contract", "churnscore.errors", "churnscore.limits",
                           "churnscore.parallel", "churnscore.version"}
