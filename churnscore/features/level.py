"""Level, peer and tenure features: how much an account uses the product, against its peers and its age.

The usage family (usage.usage_features) sees drops, dormancy and trouble; these see accounts that use
the product little from the start and never "drop", and young accounts. All are point in time: they are
built from the usage features of the same as-of date and the accounts export's plan, segment and seats.

Peers: an account is compared with the accounts of its plan that used the product in the window on the
same date (among the accounts scored on that date); one with no usage in the window has no percentile (the
dormancy features speak for it), and is nobody's peer: a tenth of the accounts tied at zero would otherwise
make "the lowest 10%" hold nobody that uses the product a little. A plan with fewer than MIN_PEERS such
accounts (or an account with no plan) is compared with its segment instead, and with every account when the
segment is that small too: a percentile among a handful of accounts says little.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .kernels import safe_ratio

MIN_PEERS = 20  # accounts with a value that a plan (or segment) needs to be the peer group
NEW_ACCOUNT_DAYS = 90  # first_90_days
TENURE_BANDS = (90, 365, 730)  # tenure_band: 0 below 90 days, 1 below a year, 2 below two years, 3 after

PEER_COLUMNS = ("usage_per_active_day_pctile", "usage_per_seat_pctile")  # what peer_percentiles fills in
PEER_SOURCES = ("usage_per_active_day_30d", "usage_per_seat_30d")  # from these


def level_features(events_30d: np.ndarray, active_days_30d: np.ndarray, events_since_start: np.ndarray,
                   tenure_days: np.ndarray, seats: np.ndarray, short_days: int,
                   days_covered: np.ndarray) -> dict[str, np.ndarray]:
    """The level and tenure features (not the percentiles: see peer_percentiles), one value per account.

    ``events_since_start``: events from the account's start (signup, else first activity) to the as-of date;
    ``days_covered``: days from the later of that start and the first day the usage export covers, to the
    as-of date (NaN when the start is unknown).
    """
    seats = np.where(seats > 0, seats, 1.0)  # seats unknown (or 0): per account
    observed = np.clip(np.minimum(tenure_days + 1, short_days), 1, None)  # days of the window as a customer
    scale = np.where(np.isnan(observed), 1.0, short_days / observed)
    tenure_known = ~np.isnan(tenure_days)
    band = np.searchsorted(np.asarray(TENURE_BANDS, dtype="float64"), np.nan_to_num(tenure_days), side="right")
    return {
        "usage_per_active_day_30d": safe_ratio(events_30d, active_days_30d),
        "usage_per_seat_30d": events_30d / seats * scale,
        "lifetime_events_per_day": safe_ratio(events_since_start, days_covered + 1),
        "tenure_band": np.where(tenure_known, band.astype("float64"), np.nan),
        "first_90_days": np.where(tenure_known, (tenure_days < NEW_ACCOUNT_DAYS).astype("float64"), np.nan),
    }


def days_covered(tenure_days: np.ndarray, as_of: pd.Timestamp, usage_start: pd.Timestamp | None) -> np.ndarray:
    """Days from the later of each account's start and ``usage_start`` (the first day of the usage export,
    None when it has no row) to the as-of date: the days its lifetime usage is counted over."""
    if usage_start is None or pd.isna(usage_start):
        return tenure_days
    covered = float((pd.Timestamp(as_of).normalize() - pd.Timestamp(usage_start).normalize()).days)
    return np.minimum(tenure_days, max(covered, 0.0))  # NaN tenure (no start known) stays NaN


def _group_codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values.astype("object"), use_na_sentinel=True)[0].astype("int64")


def percentile_in_groups(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per account, the share of its group's accounts (with a value) whose value is at or below its own, in
    whole percent rounded up (1-100: the lowest of 40 accounts is 3, "in the lowest 3%"), and the number of
    accounts with a value in its group. NaN value or group -1: NaN and 0."""
    ok = ~np.isnan(values) & (groups >= 0)
    pct = np.full(len(values), np.nan)
    size = np.zeros(len(values), dtype="int64")
    if not ok.any():
        return pct, size
    s = pd.Series(values[ok])
    g = groups[ok]
    at_or_below = s.groupby(g).rank(method="max").to_numpy().astype("int64")
    n = np.bincount(g)[g]
    pct[ok] = (100 * at_or_below + n - 1) // n  # integer ceiling: no float rounding
    size[ok] = n
    return pct, size


def peer_percentiles(table: pd.DataFrame, attributes: pd.DataFrame) -> dict[str, np.ndarray]:
    """usage_per_active_day_pctile and usage_per_seat_pctile of every account of ``table`` (a feature table
    with usage_per_active_day_30d and usage_per_seat_30d) with a value above 0, among its peers in ``table``:
    its plan, else its segment, else every account (see the module's note); NaN for the others.
    ``attributes``: plan and segment, aligned to ``table`` (accounts.account_attributes)."""
    n = len(table)
    plan = _group_codes(attributes["plan"]) if "plan" in attributes else np.full(n, -1)
    segment = _group_codes(attributes["segment"]) if "segment" in attributes else np.full(n, -1)
    everyone = np.zeros(n, dtype="int64")
    out = {}
    for name, source in zip(PEER_COLUMNS, PEER_SOURCES):
        v = table[source].to_numpy(dtype="float64")
        v = np.where(v > 0, v, np.nan)  # peers are the accounts that used the product in the window
        by_plan, plan_n = percentile_in_groups(v, plan)
        by_segment, segment_n = percentile_in_groups(v, segment)
        by_all, _ = percentile_in_groups(v, everyone)
        out[name] = np.where(plan_n >= MIN_PEERS, by_plan, np.where(segment_n >= MIN_PEERS, by_segment, by_all))
    return out


def with_peers(table: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its peer percentiles taken again over all of its accounts: for a table put together
    from parts that each ranked their own accounts (the dask engine's partitions)."""
    return table.assign(**peer_percentiles(table, attributes))
