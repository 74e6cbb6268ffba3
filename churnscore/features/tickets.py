"""The tickets family: open and old tickets, volume, resolution time, recurring categories, CSAT, silence.

A ticket resolved after the as-of date is open on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import FeatureParams, Windows
from .kernels import (account_codes, age_days, count_by_account, group_reduce, hours_between, key_codes, lowered,
                      most_of_one_key, on_or_before)


def ticket_features(tickets: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                    params: FeatureParams) -> dict[str, np.ndarray]:
    """Ticket features (see CATALOGUE), one value per account of ``index``."""
    n = len(index)
    S, L = windows.short_days, windows.long_days
    t = on_or_before(tickets, "created_at", as_of)
    codes = account_codes(t["account_id"], index)
    age = age_days(t["created_at"], as_of)
    end = as_of + pd.Timedelta(days=1)
    resolved_at = t["resolved_at"]
    resolved_by_then = (resolved_at < end).to_numpy()
    closed_status = lowered(t["status"]).isin(["solved", "closed", "resolved"]).to_numpy()
    # resolved after the as-of date means open on it; solved without a date counts as resolved
    is_open = ~resolved_by_then & ~(resolved_at.isna().to_numpy() & closed_status)
    cur = age < S
    long = age < L
    prior = (age >= S) & (age < S + L)
    hours = hours_between(t["created_at"], resolved_at)
    urgent = lowered(t["priority"]).isin(["high", "urgent"]).to_numpy()
    csat = t["csat"].to_numpy(dtype="float64")
    max_cat = most_of_one_key(codes, key_codes(t["category"]), n, long)
    opened_cur = count_by_account(codes, n, cur)
    opened_prior = count_by_account(codes, n, prior)
    return {
        "tickets_open": count_by_account(codes, n, is_open),
        "tickets_opened_30d": opened_cur,
        "tickets_opened_90d": count_by_account(codes, n, long),
        "tickets_unresolved_old": count_by_account(codes, n, is_open & (age >= params.unresolved_days)),
        "ticket_resolution_median_hours": group_reduce(codes, hours, n, long & resolved_by_then, "median"),
        "ticket_max_category_90d": max_cat,
        "tickets_urgent_90d": count_by_account(codes, n, long & urgent),
        "csat_mean_90d": group_reduce(codes, csat, n, long, "mean"),
        "ticket_silence": ((opened_prior >= params.ticket_silence_min_prior) & (opened_cur == 0)).astype("float64"),
    }
