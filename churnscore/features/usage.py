"""The usage family: activity, users, key features, sessions, time on task and young accounts' first days.

The norms of task_time_vs_norm_30d (each event's median duration) are taken over every account, so a large
export is worked through in pieces of whole accounts (usage_features_in_pieces) with the norms gathered
first, and a spilled export part by part; the Dask engine passes the norms in (norm_rows, event_norms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import FeatureParams, Windows
from ..parallel import in_parallel
from .kernels import (DAY, account_codes, age_days, category_positions, count_by_account, distinct_by_account,
                      distinct_pairs, first_row, group_reduce, key_codes, medians_by_code, safe_ratio)


def _norm_mask(age: np.ndarray, has_dur: np.ndarray, is_login: np.ndarray, event_codes: np.ndarray,
               windows: Windows) -> np.ndarray:
    """The usage rows that set the events' norms: non-login events with a duration in the long window."""
    return (age < windows.long_days) & has_dur & ~is_login & (event_codes >= 0)


def _key_names(values: pd.Series) -> pd.Index:
    """The text of each code key_codes gives (code i is names[i])."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Index(values.cat.categories, dtype="str")
    return pd.Index(pd.factorize(values, use_na_sentinel=True)[1], dtype="str")


def norm_rows(usage: pd.DataFrame, as_of: pd.Timestamp, windows: Windows, params: FeatureParams) -> pd.DataFrame:
    """(event, duration_seconds) of the rows that set the norms of task_time_vs_norm_30d. The norm of an
    event is the median of its rows over every account; the dask engine gathers them from all partitions."""
    event = usage["event"]
    if not isinstance(event.dtype, pd.CategoricalDtype):
        event = event.astype("category")
    codes, durations = _norm_values(usage, event, as_of, windows, params)
    return pd.DataFrame({"event": _key_names(event)[codes], "duration_seconds": durations})


USAGE_PIECE_ROWS = 2_000_000  # usage rows per piece: bounds the features' temporary arrays, not the result


def _norm_values(usage: pd.DataFrame, event: pd.Series, as_of: pd.Timestamp, windows: Windows,
                 params: FeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """(event code, duration) of the rows of ``usage`` that set the norms (see norm_rows)."""
    end = as_of + pd.Timedelta(days=1)
    ts = usage["timestamp"]
    kept = (ts < end).to_numpy()
    dur = usage["duration_seconds"].to_numpy(dtype="float64")[kept]
    event_codes = event.cat.codes.to_numpy()[kept]
    mask = _norm_mask(age_days(ts[kept], as_of), ~np.isnan(dur),
                      (event == params.login_event).to_numpy()[kept], event_codes, windows)
    return event_codes[mask], dur[mask]


def _piece_norm_values(piece: pd.DataFrame, as_of: pd.Timestamp, windows: Windows,
                       params: FeatureParams) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    event = piece["event"]
    if not isinstance(event.dtype, pd.CategoricalDtype):
        event = event.astype("category")
    return (event.cat.categories, *_norm_values(piece, event, as_of, windows, params))


def event_norms(pieces) -> pd.Series:  # noqa: ANN001
    """Each event's norm for task_time_vs_norm_30d: the median duration of its rows over every account
    (see norm_rows), keyed by event text; gathered from ``pieces``, what _piece_norm_values gives for frames of
    usage whose events share their categories (slices of one frame, or the parts of a spilled export)."""
    codes, durations = [], []
    categories = None
    for categories, c, d in pieces:
        codes.append(c)
        durations.append(d)
    if categories is None:
        return pd.Series([], dtype="float64", index=pd.Index([], dtype="str"))
    keys, medians = medians_by_code(np.concatenate(codes), np.concatenate(durations))
    return pd.Series(medians, index=pd.Index(categories.take(keys), dtype="str"), dtype="float64")


def _place(out: dict[str, np.ndarray], part: dict[str, np.ndarray], where: np.ndarray | slice, n: int) -> None:
    """Put one piece's features (its accounts at ``where`` of the n accounts) into the whole table's arrays."""
    for name, values in part.items():
        if name not in out:
            out[name] = np.full(n, np.nan, dtype=values.dtype)
        out[name][where] = values


def _slices(usage: pd.DataFrame):  # noqa: ANN202
    event = usage["event"]
    if not isinstance(event.dtype, pd.CategoricalDtype):
        usage = usage.assign(event=event.astype("category"))
    for start in range(0, len(usage), USAGE_PIECE_ROWS):
        yield usage.iloc[start:start + USAGE_PIECE_ROWS]


@dataclass


class _TaskRows:
    """What a piece of usage holds for task_time_vs_norm_30d while the norms are not known yet: the rows that
    set the norms (event code, duration; see norm_rows) and the rows the ratio is taken over (the piece's
    account code, event code, duration). Codes are into ``names``, the piece's events."""
    names: pd.Index
    norm_events: np.ndarray
    norm_durations: np.ndarray
    accounts: np.ndarray
    events: np.ndarray
    durations: np.ndarray

    def ratio(self, norms: pd.Series, n: int) -> np.ndarray:
        """task_time_vs_norm_30d of the piece's n accounts, given the norms of every piece."""
        norm = _norm_by_code(norms, self.names)[self.events]
        return group_reduce(self.accounts, safe_ratio(self.durations, norm), n, np.ones(len(self.accounts), bool),
                             "median")


def _norm_by_code(norms: pd.Series, names: pd.Index) -> np.ndarray:
    """Each event code's norm (NaN where it has none), and NaN last: code -1 (no event) reads it."""
    return np.append(norms.reindex(names).to_numpy(dtype="float64"), np.nan)


def _spilled_usage_features(spill, index: pd.Index, as_of: pd.Timestamp, windows: Windows,  # noqa: ANN001
                            params: FeatureParams, signup: np.ndarray, seats: np.ndarray,
                            norms: pd.Series | None) -> dict[str, np.ndarray]:
    """usage_features part by part of a spilled usage export (spill.UsageSpill): each part holds every row
    of its accounts, so each account's features come from its part, with the norms taken over all parts:
    each part keeps the rows those need (_TaskRows), and the task ratios are worked out once all are read
    (a pass of their own over every part took 1.4 s of a 50 M-row run)."""
    later = norms is None
    n = len(index)
    # each account's code in the spill (-1: none), from the cached position of each code's account in index
    positions = category_positions(index, spill.categories["account_id"])
    code_of = np.full(n, -1, dtype="int64")
    code_of[positions[positions >= 0]] = np.flatnonzero(positions >= 0)
    part_of = np.where(code_of >= 0, code_of % spill.parts, -1)
    out: dict[str, np.ndarray] = {}

    def part_features(p: int) -> tuple[np.ndarray, dict[str, np.ndarray], list[_TaskRows]]:
        members = np.flatnonzero(part_of == p)
        if p < 0:  # accounts without a usage row
            rows, codes = spill.empty(), np.zeros(0, dtype="int64")
        else:
            rows = spill.part(p)
            local = np.full(n + 1, -1, dtype="int64")
            local[members] = np.arange(len(members))
            codes = local[account_codes(rows["account_id"], index)]  # -1 (not in index) reads the last slot
        gather: list[_TaskRows] = []
        return members, usage_features(rows, index[members], as_of, windows, params, signup[members],
                                       seats[members], norms, codes=codes, gather=gather if later else None), gather

    pending: list[tuple[np.ndarray, _TaskRows]] = []
    for members, part, gather in in_parallel(part_features, [-1, *range(spill.parts)]):
        _place(out, part, members, n)
        pending.extend((members, rows) for rows in gather)
    if later:
        norms = event_norms((rows.names, rows.norm_events, rows.norm_durations) for _, rows in pending)
        ratio = out["task_time_vs_norm_30d"]
        for members, rows in pending:
            ratio[members] = rows.ratio(norms, len(members))
    return out


def usage_features_in_pieces(usage, index: pd.Index, as_of: pd.Timestamp, windows: Windows,  # noqa: ANN001
                             params: FeatureParams, signup: np.ndarray, seats: np.ndarray,
                             norms: pd.Series | None = None) -> dict[str, np.ndarray]:
    """usage_features over pieces of about USAGE_PIECE_ROWS rows, each holding whole accounts (a range of
    ``index``), so the temporary arrays follow the piece, not the export; the same result, as the Dask
    engine's partitions show. The norms are taken over every row first. ``usage`` may also be a spilled
    export (spill.UsageSpill), read part by part."""
    if not isinstance(usage, pd.DataFrame):
        return _spilled_usage_features(usage, index, as_of, windows, params, signup, seats, norms)
    if len(usage) <= USAGE_PIECE_ROWS:
        return usage_features(usage, index, as_of, windows, params, signup, seats, norms)
    n = len(index)
    if norms is None:
        norms = event_norms(_piece_norm_values(piece, as_of, windows, params) for piece in _slices(usage))
    codes = account_codes(usage["account_id"], index).astype("int32")
    per_account = np.bincount(codes[codes >= 0], minlength=n)
    cuts = np.searchsorted(np.cumsum(per_account), np.arange(USAGE_PIECE_ROWS, per_account.sum(), USAGE_PIECE_ROWS))
    bounds = np.unique(np.concatenate([[0], cuts + 1, [n]]).clip(0, n))
    out: dict[str, np.ndarray] = {}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        rows = np.flatnonzero((codes >= lo) & (codes < hi))
        _place(out, usage_features(usage.take(rows), index[lo:hi], as_of, windows, params, signup[lo:hi],
                                   seats[lo:hi], norms, codes=codes[rows].astype("int64") - lo), slice(lo, hi), n)
    return out


def usage_features(usage: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                   params: FeatureParams, signup: np.ndarray, seats: np.ndarray,
                   norms: pd.Series | None = None, codes: np.ndarray | None = None,
                   gather: list | None = None) -> dict[str, np.ndarray]:
    """Usage features; ``signup`` is each account's signup date (datetime64, NaT unknown).

    ``norms``: each event's norm (median duration, keyed by event text) when ``usage`` holds only some
    accounts (the dask engine's partitions, the pieces of a large export); by default computed from
    ``usage``, over every account in it. ``codes``: each row's position in ``index``, when known.
    ``gather``: when given, the norms are not known yet (other pieces set them too): task_time_vs_norm_30d
    is left NaN and the rows it needs are appended to ``gather`` (a _TaskRows, see its ratio).
    """
    n = len(index)
    S = windows.short_days
    end = as_of + pd.Timedelta(days=1)
    kept = (usage["timestamp"] < end).to_numpy()
    u = usage if kept.all() else usage.loc[kept]
    if codes is None:
        codes = account_codes(u["account_id"], index)
    elif not kept.all():
        codes = codes[kept]
    age = age_days(u["timestamp"], as_of)
    count = u["count"].to_numpy(dtype="float64")
    cur = age < S
    prev = (age >= S) & (age < 2 * S)
    events = count_by_account(codes, n, cur, count)
    events_prev = count_by_account(codes, n, prev, count)
    day = np.where(np.isnan(age), -1, np.clip(age, 0, None)).astype("int64")  # day key, >= 0 in windows
    active_days = distinct_by_account(codes, day, n, cur)
    last_age = group_reduce(codes, age, n, np.ones(len(u), bool), "min")
    users = key_codes(u["user_id"])
    width = int(users.max(initial=0)) + 1
    cur_pairs = distinct_pairs(codes, users, cur)
    prev_pairs = distinct_pairs(codes, users, prev)
    users_cur = np.bincount(cur_pairs // width, minlength=n).astype("float64")
    users_prev = np.bincount(prev_pairs // width, minlength=n).astype("float64")
    # users of the prior window who are also active now
    stayed = prev_pairs[pd.Series(prev_pairs).isin(cur_pairs).to_numpy()]  # a hash table: np.isin sorts
    stayed_n = np.bincount(stayed // width, minlength=n).astype("float64")
    gone_share = safe_ratio(users_prev - stayed_n, users_prev)

    event = u["event"]
    event_codes = key_codes(event)
    key = event.isin(list(params.key_features)).to_numpy()
    key_events = count_by_account(codes, n, cur & key, count)
    n_key = max(len(params.key_features), 1)
    adoption = distinct_by_account(codes, event_codes, n, cur & key) / n_key

    dur = u["duration_seconds"].to_numpy(dtype="float64")
    is_login = (event == params.login_event).to_numpy()
    has_dur = ~np.isnan(dur)
    login_dur = group_reduce(codes, dur, n, cur & is_login, "mean")
    any_dur = group_reduce(codes, dur, n, cur, "mean")
    session = np.where(np.isnan(login_dur), any_dur, login_dur)
    # time on task against the event's norm (median over everyone in the long window)
    over = cur & ~is_login
    if gather is not None:
        long_mask = _norm_mask(age, has_dur, is_login, event_codes, windows)
        over &= (codes >= 0) & has_dur  # the rows group_reduce would keep (a NaN duration gives a NaN ratio)
        names = _key_names(event)
        small = "int16" if len(names) < 1 << 15 else "int32"  # held for every part until the norms are known
        gather.append(_TaskRows(names, event_codes[long_mask].astype(small), dur[long_mask],
                                codes[over].astype("int32"), event_codes[over].astype(small), dur[over]))
        task_ratio = np.full(n, np.nan)
    else:
        if norms is None:
            long_mask = _norm_mask(age, has_dur, is_login, event_codes, windows)
            keys, medians = medians_by_code(event_codes[long_mask], dur[long_mask])
            norm_by_code = np.full(int(event_codes.max(initial=0)) + 2, np.nan)
            norm_by_code[keys] = medians
        else:
            norm_by_code = _norm_by_code(norms, _key_names(event))
        norm = norm_by_code[event_codes]  # code -1 (no event) reads the last slot: NaN
        task_ratio = group_reduce(codes, safe_ratio(dur, norm), n, over, "median")

    # first 30 days of young accounts
    first_seen = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(u):
        first_ts = u.groupby(codes)["timestamp"].min()
        first_ts = first_ts[first_ts.index >= 0]
        first_seen[first_ts.index.to_numpy()] = first_ts.to_numpy()
    start = np.where(np.isnat(signup), first_seen.astype("datetime64[D]").astype("datetime64[ns]"), signup)
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    tenure = (asof64 - start) / DAY
    tenure = np.where(tenure >= 0, tenure, np.nan)  # signed up after the as-of date: not a customer yet
    young = tenure < params.young_account_days
    row_start = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = codes >= 0
    row_start[ok] = start[codes[ok]]
    since_start = (u["timestamp"].dt.floor("D").to_numpy() - row_start) / DAY
    in_first30 = (since_start >= 0) & (since_start < 30)
    logins_first30 = count_by_account(codes, n, in_first30 & is_login, count)
    days_observed = np.clip(np.minimum(tenure + 1, 30), 1, None)
    logins_per_day = np.where(young, logins_first30 / days_observed, np.nan)
    lm = is_login & ok & has_dur
    # logins at the same earliest time: the shortest is the first session, whatever the file order (the
    # bits of a duration >= 0 order as the durations do)
    first = first_row(codes[lm], u["timestamp"].to_numpy()[lm], dur[lm].view("int64"), n)
    first_session = np.full(n, np.nan)
    first_session[first >= 0] = dur[lm][first[first >= 0]]
    first_session = np.where(young, first_session, np.nan)

    return {
        "usage_events_30d": events,
        "usage_events_prev_30d": events_prev,
        "usage_trend_30d": safe_ratio(events - events_prev, events_prev),
        "active_days_30d": active_days,
        "days_since_last_activity": last_age,
        "never_active": np.isnan(last_age).astype("float64"),
        "active_users_30d": users_cur,
        "active_users_prev_30d": users_prev,
        "users_gone_quiet_share": gone_share,
        "seat_utilisation": safe_ratio(users_cur, seats),
        "key_feature_adoption": adoption,
        "key_feature_events_30d": key_events,
        "avg_session_seconds_30d": session,
        "task_time_vs_norm_30d": task_ratio,
        "first30_logins_per_day": logins_per_day,
        "first_session_seconds": first_session,
        "_tenure_days": tenure,
        "_events_since_start": count_by_account(codes, n, since_start >= 0, count),  # level.py
        "_first_seen": first_seen,
    }
