"""features/level.py: level, peer and tenure features pinned on hand-made accounts (AS_OF = 2024-03-31)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import date, day, expect, features

from churnscore.features import MIN_PEERS, peer_percentiles, percentile_in_groups

NAN = np.nan


def u(account, age, count=1, event="login"):
    return {"account_id": account, "timestamp": day(age), "user_id": "u1", "event": event, "count": count}


ACCOUNTS = [
    {"account_id": "A", "signup_date": date(10), "seats": 2},  # young: 11 days of the 30-day window
    {"account_id": "B", "signup_date": "2023-01-01", "seats": 4},  # signed up before the usage export starts
    {"account_id": "C"},  # no signup date (starts at its first activity), no seats (per account)
    {"account_id": "D", "signup_date": date(200), "seats": 0},  # never used; 0 seats: per account
]
USAGE = [
    u("A", 0, 3), u("A", 0, 1), u("A", 5, 2),  # 6 events on 2 active days
    u("B", 300, 10), u("B", 20, 4), u("B", 40, 2),  # the export's first row: 300 days before the as-of date
    u("C", 100, 7),
    u("B", -1, 50), u("D", -3, 9),  # after the as-of date: not used
]


def test_level_and_tenure_features_on_hand_made_accounts():
    table = features(["A", "B", "C", "D"], usage=USAGE, accounts=ACCOUNTS)
    expect(table, {
        "tenure_days": [10, 455, 100, 200],
        "usage_per_active_day_30d": [3.0, 4.0, NAN, NAN],
        "usage_per_seat_30d": [6 / 2 * (30 / 11), 1.0, 0.0, 0.0],  # A: 11 days as a customer, scaled to 30
        # events since the start / days from the later of start and the export's first day (300 days ago), +1
        "lifetime_events_per_day": [6 / 11, 16 / 301, 7 / 101, 0 / 201],
        "usage_days_covered": [10, 300, 100, 200],  # the span a "no usage" reason may speak for
        "tenure_band": [0, 2, 1, 1],
        "first_90_days": [1, 0, 0, 0],
        # fewer than 20 accounts: every account with usage in the window is a peer (C and D have none); the
        # share at or below, in whole percent rounded up
        "usage_per_active_day_pctile": [50, 100, NAN, NAN],
        "usage_per_seat_pctile": [100, 50, NAN, NAN],
    })


def test_tenure_band_edges_and_first_90_days():
    ids = ["a", "b", "c", "d", "e", "f"]
    accounts = [{"account_id": i, "signup_date": date(age)} for i, age in zip(ids, [0, 89, 90, 364, 365, 730])]
    table = features(ids + ["none"], usage=[u("a", 0)], accounts=accounts)
    expect(table, {"tenure_band": [0, 0, 1, 1, 2, 3, NAN], "first_90_days": [1, 1, 0, 0, 0, 0, NAN]})


def test_percentile_is_the_share_at_or_below_in_whole_percent_rounded_up():
    values = np.array([5.0, 1.0, 3.0, 3.0, NAN, 7.0, 2.0])
    groups = np.array([0, 0, 0, 0, 0, 1, -1])  # -1: no group
    pct, size = percentile_in_groups(values, groups)
    np.testing.assert_array_equal(pct, [100, 25, 75, 75, NAN, 100, NAN])
    np.testing.assert_array_equal(size, [4, 4, 4, 4, 0, 1, 0])


def test_peers_are_the_plan_else_the_segment_else_everyone():
    assert MIN_PEERS == 20
    plan = ["P"] * 20 + ["R"] * 2 + ["Q"] * 3
    segment = ["Y"] * 22 + ["X"] * 3  # R's two accounts share segment Y with P's twenty: 22 peers
    per_seat = [float(k) for k in range(1, 21)] + [2.5, 21.0] + [0.5, 10.5, 30.0]
    per_day = per_seat[:-1] + [NAN]
    table = pd.DataFrame({"usage_per_active_day_30d": per_day, "usage_per_seat_30d": per_seat})
    out = peer_percentiles(table, pd.DataFrame({"plan": plan, "segment": segment}))
    expected = ([5.0 * k for k in range(1, 21)]  # plan P: 20 accounts, its own peers
                + [14.0, 100.0]  # plan R (2) -> segment Y (22): 2.5 has 1, 2 and itself at or below: 3/22
                + [4.0, 52.0, 100.0])  # plan Q (3), segment X (3) -> all 25: 10.5 has 13 at or below (1-10, 0.5, 2.5)
    np.testing.assert_array_equal(out["usage_per_seat_pctile"], expected)
    # a missing value has no percentile and is nobody's peer: Q now falls back to the 24 accounts with one
    np.testing.assert_array_equal(out["usage_per_active_day_pctile"][-3:], [5.0, 55.0, NAN])  # 13 of 24


def test_accounts_without_plan_or_segment_are_compared_with_everyone():
    table = pd.DataFrame({"usage_per_active_day_30d": [1.0, 2.0], "usage_per_seat_30d": [4.0, 3.0]})
    out = peer_percentiles(table, pd.DataFrame({"plan": [None, None], "segment": [None, None]}))
    np.testing.assert_array_equal(out["usage_per_seat_pctile"], [100.0, 50.0])


def test_the_model_says_the_level_features_in_words():
    from churnscore.words import input_words

    assert input_words("usage_per_seat_30d", [1.0, 2.54]) == [
        "1 event per seat in 30 days", "2.5 events per seat in 30 days"]
    assert input_words("usage_per_seat_pctile", [7.0]) == [
        "usage per seat: percentile 7 among similar accounts"]
    assert input_words("first_90_days", [1.0]) == ["in its first 90 days"]
    assert input_words("lifetime_events_per_day", [0.25]) == ["0.2 events per day since signup"]
