"""Per-account features as of a date: pure, vectorised functions from typed export frames to one row per account.

Every feature is declared once in CATALOGUE (name, source, window, meaning, range); `churnscore features
--list` prints it. Only rows dated on or before the as-of date are used (the point-in-time rule):
a ticket resolved after the as-of date is open on it, an invoice paid after it is unpaid on it.
Day counts are whole days between calendar dates (UTC); "last 30 days" is the as-of day and the 29
days before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import Config, FeatureParams, Windows
from .features_level import PEER_SOURCES, days_covered, level_features, peer_percentiles
from .parallel import in_parallel

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Feature:
    name: str
    source: str
    window: str  # "short", "long", "prior", "all", "first30", "now", "silence", "tenure"
    meaning: str
    low: float | None = None  # documented range; None: unbounded
    high: float | None = None
    events: str = ""  # the features setting (login_event, key_features) naming the events it is built from
    model: bool = True  # False: for the words only (a reason's count or span), not a model input


def _f(name: str, source: str, window: str, meaning: str, low: float | None = 0.0,
       high: float | None = None, events: str = "", model: bool = True) -> Feature:
    return Feature(name, source, window, meaning, low, high, events, model)


CATALOGUE: tuple[Feature, ...] = (
    # usage
    _f("usage_events_30d", "usage", "short", "events (sum of count) in the last short window"),
    _f("usage_events_prev_30d", "usage", "prior", "events in the short window before that"),
    _f("usage_trend_30d", "usage", "short", "change of events vs the prior short window, as a fraction "
       "(-0.6 = down 60%); empty when the prior window had none", -1.0, None),
    _f("active_days_30d", "usage", "short", "distinct days with any event in the last short window"),
    _f("days_since_last_activity", "usage", "all", "days since the last event; empty if never active"),
    _f("never_active", "usage", "all", "1 if the account has no usage at all up to the as-of date", 0, 1),
    _f("active_users_30d", "usage", "short", "distinct users with an event in the last short window"),
    _f("active_users_prev_30d", "usage", "prior", "distinct users active in the prior short window"),
    _f("users_gone_quiet_share", "usage", "short", "share of the prior window's users with no event in "
       "the last short window (team-wide decline, not one person away)", 0, 1),
    _f("seat_utilisation", "usage+accounts", "short", "active users in the last short window / licensed "
       "seats", 0, None),
    _f("key_feature_adoption", "usage", "short", "share of the configured key features used in the last "
       "short window", 0, 1, events="key_features"),
    _f("key_feature_events_30d", "usage", "short", "events on key features in the last short window",
       events="key_features"),
    _f("avg_session_seconds_30d", "usage", "short", "mean session length (duration of login events; of "
       "all events if there are none) in the last short window"),
    _f("task_time_vs_norm_30d", "usage", "short", "median of duration / the event's norm (median over all "
       "accounts in the long window); 3 = tasks take three times as long as usual"),
    _f("first30_logins_per_day", "usage+accounts", "first30", "young accounts only: login events per "
       "day in their first 30 days (so far)", events="login_event"),
    _f("first_session_seconds", "usage+accounts", "first30", "young accounts only: length of the first "
       "session (first login event)", events="login_event"),
    _f("usage_per_active_day_30d", "usage", "short", "events per active day in the last short window; empty "
       "without an active day"),
    _f("usage_per_seat_30d", "usage+accounts", "short", "events in the last short window per licensed seat (per "
       "account when seats are unknown), scaled to the whole window for accounts younger than it"),
    _f("usage_per_active_day_pctile", "usage+accounts", "short", "percentile (1-100) of usage_per_active_day_30d "
       "among peers: the share of the accounts of its plan (of its segment, or of all, when the plan has fewer "
       "than 20) at or below it, rounded up; peers and ranked accounts are those with usage in the window", 1, 100),
    _f("usage_per_seat_pctile", "usage+accounts", "short", "percentile (1-100) of usage_per_seat_30d among "
       "peers, as usage_per_active_day_pctile", 1, 100),
    _f("lifetime_events_per_day", "usage+accounts", "tenure", "events per day since signup (first activity "
       "when no signup date), counted from the first day the usage export covers when signup is earlier"),
    _f("tenure_band", "accounts", "now", "0 first 90 days, 1 rest of the first year, 2 second year, 3 later", 0, 3),
    _f("usage_days_covered", "usage+accounts", "tenure", "days from the later of the account's start and the "
       "first day the usage export covers, to the as-of date: the span a 'no usage' can speak for; for the "
       "reasons' words, not a model input", model=False),
    _f("first_90_days", "accounts", "now", "1 if the account is in its first 90 days (tenure_days < 90)", 0, 1),
    # nps
    _f("nps_latest", "nps", "all", "mean score of the latest survey round (responses within a short "
       "window of the last one)", 0, 10),
    _f("nps_mean", "nps", "all", "mean of all scores", 0, 10),
    _f("nps_latest_answers", "nps", "all", "answers in the latest survey round (nps_latest is their mean); "
       "for the reasons' words, not a model input", model=False),
    _f("nps_trend", "nps", "all", "latest round minus the mean of earlier responses", -10, 10),
    _f("nps_detractor", "nps", "all", "1 if the latest round scores 6 or less", 0, 1),
    _f("days_since_nps_response", "nps", "all", "days since the last response; empty if none"),
    _f("nps_silent", "nps", "silence", "1 if no survey response in the last nps_silence_days; empty when "
       "the NPS export has no rows at all (no surveys, no silence)", 0, 1),
    # tickets
    _f("tickets_open", "tickets", "now", "tickets unresolved on the as-of date"),
    _f("tickets_opened_30d", "tickets", "short", "tickets created in the last short window"),
    _f("tickets_opened_90d", "tickets", "long", "tickets created in the last long window"),
    _f("tickets_unresolved_old", "tickets", "now", "tickets open for unresolved_days or more"),
    _f("ticket_resolution_median_hours", "tickets", "long", "median hours to resolve the tickets created in "
       "the long window and resolved by the as-of date"),
    _f("ticket_max_category_90d", "tickets", "long", "most tickets in one category in the long window "
       "(recurring problem)"),
    _f("tickets_urgent_90d", "tickets", "long", "high or urgent tickets created in the long window"),
    _f("csat_mean_90d", "tickets", "long", "mean CSAT (1-5) of tickets created in the long window", 1, 5),
    _f("ticket_silence", "tickets", "short", "1 if the account wrote at least ticket_silence_min_prior "
       "tickets in the long window before the last short window and none in it", 0, 1),
    # payments
    _f("payments_late_90d", "payments", "long", "invoices due in the long window paid late or still unpaid "
       "past the grace days"),
    _f("days_overdue", "payments", "now", "days the oldest unpaid invoice is past due; 0 if none"),
    _f("payments_failed_30d", "payments", "short", "failed charges due in the last short window"),
    _f("payments_failed_90d", "payments", "long", "failed charges due in the long window"),
    _f("failed_card_expired_90d", "payments", "long", "failed charges in the long window whose reason is "
       "an expired card"),
    _f("failed_card_declined_90d", "payments", "long", "failed charges in the long window for any other "
       "reason (declined, insufficient funds, ...)"),
    _f("card_expiring_before_renewal", "payments+accounts", "now", "1 if the card on file expires before the "
       "next renewal (see days_to_renewal; within the long window when it is empty)", 0, 1),
    _f("payment_method_changed_90d", "payments", "long", "1 if invoices in the long window used more than "
       "one payment method", 0, 1),
    _f("mrr_change_pct_90d", "payments", "long", "change of the latest invoice amount (per month of its "
       "billing cycle) vs the one a long window earlier, as a fraction (-0.3 = downgrade by 30%)", -1.0, None),
    _f("contract_months", "accounts+payments", "all", "contract term in months (12 = renews yearly): the "
       "accounts' contract_term_months, else features.contract_terms for the plan, else features.contract_months; "
       "where none is set, the billing cycle from the gaps between invoice due dates (empty with fewer than two "
       "invoices)", 1, None),
    # accounts
    _f("tenure_days", "accounts", "now", "days since signup (first activity when no signup date)"),
    _f("days_to_renewal", "accounts", "now", "days until the next renewal on or after the as-of date: on the "
       "day the accounts export describes (the latest day in the data, or inputs.accounts.snapshot_date), its "
       "renewal_date as it is; on earlier days that date stepped back by whole contract terms (contract_term_"
       "months, features.contract_terms or features.contract_months; never the billing cycle); empty when the "
       "date is unknown or passed, or before the export's day when the term is unknown"),
    _f("renewal_within_90d", "accounts", "long", "1 if the next renewal (days_to_renewal) falls within the long "
       "window", 0, 1),
    _f("mrr", "accounts", "now", "monthly recurring revenue (latest invoice per month of its cycle when "
       "accounts has none)"),
    _f("seats", "accounts", "now", "licensed seats"),
    _f("auto_renew_off", "accounts", "now", "1 if auto-renewal is switched off", 0, 1),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
MODEL_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.model)
_BY_NAME = {f.name: f for f in CATALOGUE}


def feature(name: str) -> Feature:
    return _BY_NAME[name]


def window_text(f: Feature, windows: Windows, params: FeatureParams) -> str:
    """The window of a feature in days, as the catalogue listing shows it."""
    s, l = windows.short_days, windows.long_days
    return {
        "short": f"last {s} d", "prior": f"days {s + 1}-{2 * s}", "long": f"last {l} d",
        "all": "all history", "first30": "first 30 d", "now": "as-of date", "tenure": "since signup",
        "silence": f"last {params.nps_silence_days} d",
    }[f.window]


# ----------------------------------------------------------------------------- helpers


def account_codes(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each row's account in the index; -1 for an account not in it.

    Categorical ids (as the loader gives them) are looked up once per distinct id, not once per row.
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        lookup = np.append(_positions(index, ids.cat.categories), -1)  # code -1 (missing) -> -1
        return lookup[ids.cat.codes.to_numpy()]
    return index.get_indexer(ids)


_RECENT: list[tuple[pd.Index, pd.Index, np.ndarray]] = []  # (index, categories, positions), newest last


def _positions(index: pd.Index, categories: pd.Index) -> np.ndarray:
    """index.get_indexer(categories), remembered for the last few pairs of the very same objects: a run
    looks up each export's ids against the same account index more than once (0.3 s a time at 1M ids)."""
    for known_index, known_categories, positions in _RECENT:
        if known_index is index and known_categories is categories:
            return positions
    positions = index_positions(index, categories)
    positions.setflags(write=False)
    _RECENT.append((index, categories, positions))
    del _RECENT[:-4]
    return positions


def index_positions(index: pd.Index, values: pd.Index) -> np.ndarray:
    """index.get_indexer(values) (int64, -1 where absent); for text held by Arrow, Arrow's hash lookup, about
    twice as fast at a million ids. A non-unique index still raises as get_indexer does."""
    if index.is_unique and _arrow_text(index) and _arrow_text(values):
        found = pc.index_in(pa.array(values.array), value_set=pa.array(index.array))
        return pc.fill_null(found, -1).to_numpy().astype("int64", copy=False)
    return index.get_indexer(values)


def _arrow_text(values: pd.Index) -> bool:
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def key_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a key column (equal values, equal codes; missing -1), cheap for categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype("int64")
    return pd.factorize(values, use_na_sentinel=True)[0].astype("int64")


def lowered(values: pd.Series) -> pd.Series:
    """Lower-cased text; for categoricals the work is done once per category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories(values.cat.categories.str.lower()) \
            if values.cat.categories.str.lower().is_unique else values.astype("str").str.lower()
    return values.str.lower()


def _age_days(dates: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Whole days from each row's calendar date to the as-of date (0 = same day); NaN where missing."""
    d = dates.dt.floor("D").to_numpy()
    out = (np.datetime64(as_of.to_datetime64(), "ns") - d) / DAY
    return out.astype("float64")


def _bincount(codes: np.ndarray, n: int, mask: np.ndarray | None = None,
              weights: np.ndarray | None = None) -> np.ndarray:
    m = codes >= 0 if mask is None else (mask & (codes >= 0))
    w = None if weights is None else np.asarray(weights, dtype="float64")[m]
    return np.bincount(codes[m], weights=w, minlength=n).astype("float64")


def _pairs(codes: np.ndarray, keys: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The (account, key) pair of each masked row with a known account and key, as an int64 id, and the
    width of the ids (id // width is the account)."""
    ok = mask & (codes >= 0) & (keys >= 0)
    width = int(keys.max(initial=0)) + 1
    return codes[ok].astype("int64") * width + keys[ok], width


def _pair_keys(codes: np.ndarray, keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distinct (account, key) pairs among masked rows with a known account and key, as int64 pair ids."""
    return pd.unique(_pairs(codes, keys, mask)[0])


def _nunique(codes: np.ndarray, keys: pd.Series | np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Distinct non-missing keys per account among the masked rows."""
    k = keys if isinstance(keys, np.ndarray) and keys.dtype.kind == "i" else key_codes(pd.Series(keys))
    width = int(k.max(initial=0)) + 1
    pairs = _pair_keys(codes, k, mask)
    return np.bincount(pairs // width, minlength=n).astype("float64")


def _most_of_one_key(codes: np.ndarray, keys: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Per account, the number of masked rows of its most frequent key (e.g. its most common ticket
    category); 0 for an account without such rows. Rows with no account or no key (-1) are left out."""
    pair, width = _pairs(codes, keys, mask)
    if n * width <= BINCOUNT_CELLS:  # a count per (account, key) cell: no sort
        return np.bincount(pair, minlength=n * width).reshape(n, width).max(axis=1, initial=0).astype("float64")
    pairs, counts = np.unique(pair, return_counts=True)
    out = np.zeros(n)
    np.maximum.at(out, pairs // width, counts)
    return out


BINCOUNT_CELLS = 1 << 24  # accounts x keys up to which _most_of_one_key counts in one array (128 MB at most)


def _first_row(codes: np.ndarray, times: np.ndarray, lines: np.ndarray, n: int) -> np.ndarray:
    """Per account (codes 0..n-1), the position of its earliest row by time (datetime64; NaT last), then
    line, then position (what a stable sort by time and line would put first); -1 for an account without
    rows. No sort: running minimums per account."""
    first = np.full(n, -1, dtype="int64")
    if not len(codes):
        return first
    big = np.iinfo("int64").max
    times = np.where(np.isnat(times), big, times.view("int64"))
    earliest = np.full(n, big)
    np.minimum.at(earliest, codes, times)
    tied = np.flatnonzero(times == earliest[codes])
    line = np.full(n, big)
    np.minimum.at(line, codes[tied], lines[tied])
    tied = tied[lines[tied] == line[codes[tied]]]
    at = np.full(n, big)
    np.minimum.at(at, codes[tied], tied)
    has = at < big
    first[has] = at[has]
    return first


def _group_reduce(codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray, how: str) -> np.ndarray:
    """min/max/mean/median of values per account among masked rows; NaN where an account has none."""
    m = mask & (codes >= 0) & ~np.isnan(values)
    out = np.full(n, np.nan)
    if not m.any():
        return out
    if how in ("min", "max"):  # running minimums in place, no grouping (fmin/fmax take a value over NaN)
        (np.fmin if how == "min" else np.fmax).at(out, codes[m], values[m])
        return out
    v, c = values[m], codes[m]
    if how == "mean":  # summed in value order, not file order: a shuffled export gives the same bits
        order = np.lexsort((v, c))
        v, c = v[order], c[order]
    s = pd.Series(v).groupby(c).agg(how)
    out[s.index.to_numpy()] = s.to_numpy()
    return out


def _hours_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Hours from start to end per row (NaN where either is missing), in numpy: no Timedelta objects."""
    a = start.to_numpy(dtype="datetime64[ns]")
    b = end.to_numpy(dtype="datetime64[ns]")
    out = (b - a).astype("int64").astype("float64") / 3.6e12
    out[np.isnat(a) | np.isnat(b)] = np.nan
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0 and the result is finite (a denormal den can overflow); else NaN."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def _cut(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before the as-of day (the point-in-time rule)."""
    end = as_of + pd.Timedelta(days=1)
    kept = (frame[column] < end).to_numpy()
    return frame if kept.all() else frame.loc[kept]


# ----------------------------------------------------------------------------- per source


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
    mask = _norm_mask(_age_days(ts[kept], as_of), ~np.isnan(dur),
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


def code_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by code: ``order``, a stable sort of the rows by code (each code's rows keep their order),
    and the run of each code in it, ``order[starts[i]:ends[i]]``, codes ascending. Codes under 2**15 are
    sorted as 16-bit keys: NumPy's stable sort of those is a radix sort."""
    key = codes.astype("int16") if len(codes) and codes.max() < 1 << 15 else codes
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(codes) else np.zeros(0, dtype="int64")
    return order, starts, np.r_[starts[1:], len(codes)]


def medians_by_code(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The median of ``values`` per code (codes >= 0, few of them, e.g. events), codes ascending: what
    Series(values).groupby(codes).median() gives, to the bit, in a third of the time at 25 M rows (one
    radix sort of the codes, then a selection per code)."""
    order, starts, ends = code_runs(codes)
    codes, values = codes[order], values[order]
    return codes[starts].astype("int64"), np.array([np.median(values[a:b]) for a, b in zip(starts, ends)],
                                                   dtype="float64")


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
        return _group_reduce(self.accounts, _ratio(self.durations, norm), n, np.ones(len(self.accounts), bool),
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
    positions = _positions(index, spill.categories["account_id"])
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
    age = _age_days(u["timestamp"], as_of)
    count = u["count"].to_numpy(dtype="float64")
    cur = age < S
    prev = (age >= S) & (age < 2 * S)
    events = _bincount(codes, n, cur, count)
    events_prev = _bincount(codes, n, prev, count)
    day = np.where(np.isnan(age), -1, np.clip(age, 0, None)).astype("int64")  # day key, >= 0 in windows
    active_days = _nunique(codes, day, n, cur)
    last_age = _group_reduce(codes, age, n, np.ones(len(u), bool), "min")
    users = key_codes(u["user_id"])
    width = int(users.max(initial=0)) + 1
    cur_pairs = _pair_keys(codes, users, cur)
    prev_pairs = _pair_keys(codes, users, prev)
    users_cur = np.bincount(cur_pairs // width, minlength=n).astype("float64")
    users_prev = np.bincount(prev_pairs // width, minlength=n).astype("float64")
    # users of the prior window who are also active now
    stayed = prev_pairs[pd.Series(prev_pairs).isin(cur_pairs).to_numpy()]  # a hash table: np.isin sorts
    stayed_n = np.bincount(stayed // width, minlength=n).astype("float64")
    gone_share = _ratio(users_prev - stayed_n, users_prev)

    event = u["event"]
    event_codes = key_codes(event)
    key = event.isin(list(params.key_features)).to_numpy()
    key_events = _bincount(codes, n, cur & key, count)
    n_key = max(len(params.key_features), 1)
    adoption = _nunique(codes, event_codes, n, cur & key) / n_key

    dur = u["duration_seconds"].to_numpy(dtype="float64")
    is_login = (event == params.login_event).to_numpy()
    has_dur = ~np.isnan(dur)
    login_dur = _group_reduce(codes, dur, n, cur & is_login, "mean")
    any_dur = _group_reduce(codes, dur, n, cur, "mean")
    session = np.where(np.isnan(login_dur), any_dur, login_dur)
    # time on task against the event's norm (median over everyone in the long window)
    over = cur & ~is_login
    if gather is not None:
        long_mask = _norm_mask(age, has_dur, is_login, event_codes, windows)
        over &= (codes >= 0) & has_dur  # the rows _group_reduce would keep (a NaN duration gives a NaN ratio)
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
        task_ratio = _group_reduce(codes, _ratio(dur, norm), n, over, "median")

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
    logins_first30 = _bincount(codes, n, in_first30 & is_login, count)
    days_observed = np.clip(np.minimum(tenure + 1, 30), 1, None)
    logins_per_day = np.where(young, logins_first30 / days_observed, np.nan)
    lm = is_login & ok & has_dur
    # logins at the same earliest time: the shortest is the first session, whatever the file order (the
    # bits of a duration >= 0 order as the durations do)
    first = _first_row(codes[lm], u["timestamp"].to_numpy()[lm], dur[lm].view("int64"), n)
    first_session = np.full(n, np.nan)
    first_session[first >= 0] = dur[lm][first[first >= 0]]
    first_session = np.where(young, first_session, np.nan)

    return {
        "usage_events_30d": events,
        "usage_events_prev_30d": events_prev,
        "usage_trend_30d": _ratio(events - events_prev, events_prev),
        "active_days_30d": active_days,
        "days_since_last_activity": last_age,
        "never_active": np.isnan(last_age).astype("float64"),
        "active_users_30d": users_cur,
        "active_users_prev_30d": users_prev,
        "users_gone_quiet_share": gone_share,
        "seat_utilisation": _ratio(users_cur, seats),
        "key_feature_adoption": adoption,
        "key_feature_events_30d": key_events,
        "avg_session_seconds_30d": session,
        "task_time_vs_norm_30d": task_ratio,
        "first30_logins_per_day": logins_per_day,
        "first_session_seconds": first_session,
        "_tenure_days": tenure,
        "_events_since_start": _bincount(codes, n, since_start >= 0, count),  # features_level
        "_first_seen": first_seen,
    }


def nps_features(nps: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                 params: FeatureParams, surveyed: bool | None = None) -> dict[str, np.ndarray]:
    """NPS features; ``surveyed``: whether the NPS export has any row at all (default: whether ``nps`` has)."""
    n = len(index)
    surveyed = not nps.empty if surveyed is None else surveyed
    r = _cut(nps, "responded_at", as_of)
    codes = account_codes(r["account_id"], index)
    age = _age_days(r["responded_at"], as_of)
    score = r["score"].to_numpy(dtype="float64")
    everything = np.ones(len(r), bool)
    last_age = _group_reduce(codes, age, n, everything, "min")
    row_last = np.full(len(r), np.nan)
    row_last[codes >= 0] = last_age[codes[codes >= 0]]
    latest_round = age < row_last + windows.short_days
    latest = _group_reduce(codes, score, n, latest_round, "mean")
    earlier = _group_reduce(codes, score, n, ~latest_round, "mean")
    return {
        "nps_latest": latest,
        "nps_mean": _group_reduce(codes, score, n, everything, "mean"),
        "nps_latest_answers": np.where(np.isnan(latest), np.nan,
                                       _group_reduce(codes, score * 0 + 1, n, latest_round, "sum")),
        "nps_trend": latest - earlier,
        "nps_detractor": np.where(np.isnan(latest), np.nan, (latest <= 6).astype("float64")),
        "days_since_nps_response": last_age,
        "nps_silent": (np.full(n, np.nan) if not surveyed
                       else (~(last_age < params.nps_silence_days)).astype("float64")),
    }


def ticket_features(tickets: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                    params: FeatureParams) -> dict[str, np.ndarray]:
    n = len(index)
    S, L = windows.short_days, windows.long_days
    t = _cut(tickets, "created_at", as_of)
    codes = account_codes(t["account_id"], index)
    age = _age_days(t["created_at"], as_of)
    end = as_of + pd.Timedelta(days=1)
    resolved_at = t["resolved_at"]
    resolved_by_then = (resolved_at < end).to_numpy()
    closed_status = lowered(t["status"]).isin(["solved", "closed", "resolved"]).to_numpy()
    # resolved after the as-of date means open on it; solved without a date counts as resolved
    is_open = ~resolved_by_then & ~(resolved_at.isna().to_numpy() & closed_status)
    cur = age < S
    long = age < L
    prior = (age >= S) & (age < S + L)
    hours = _hours_between(t["created_at"], resolved_at)
    urgent = lowered(t["priority"]).isin(["high", "urgent"]).to_numpy()
    csat = t["csat"].to_numpy(dtype="float64")
    max_cat = _most_of_one_key(codes, key_codes(t["category"]), n, long)
    opened_cur = _bincount(codes, n, cur)
    opened_prior = _bincount(codes, n, prior)
    return {
        "tickets_open": _bincount(codes, n, is_open),
        "tickets_opened_30d": opened_cur,
        "tickets_opened_90d": _bincount(codes, n, long),
        "tickets_unresolved_old": _bincount(codes, n, is_open & (age >= params.unresolved_days)),
        "ticket_resolution_median_hours": _group_reduce(codes, hours, n, long & resolved_by_then, "median"),
        "ticket_max_category_90d": max_cat,
        "tickets_urgent_90d": _bincount(codes, n, long & urgent),
        "csat_mean_90d": _group_reduce(codes, csat, n, long, "mean"),
        "ticket_silence": ((opened_prior >= params.ticket_silence_min_prior) & (opened_cur == 0)).astype("float64"),
    }


def _invoices(p: pd.DataFrame, codes: np.ndarray, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per invoice (account, due date): charge attempts of the same invoice taken together.

    An invoice is paid if any attempt was paid by the as-of date, void if not paid and any attempt was
    voided or refunded; its amount is the last attempt's. Attempts are ordered by a stated key, never by the
    file: paid_at (unpaid first), then payment_id, then amount, so shuffled rows give the same invoices.
    """
    end = as_of + pd.Timedelta(days=1)
    status = lowered(p["status"])
    paid_at = p["paid_at"]
    paid = (paid_at < end).to_numpy() | (paid_at.isna() & (status == "paid")).to_numpy()
    rows = pd.DataFrame({
        "c": codes, "due": p["due_date"].to_numpy(), "line": p["_line"].to_numpy(),
        "paid": paid, "void": status.isin(["void", "refunded"]).to_numpy(),
        "paid_day": paid_at.where(paid_at < end).dt.floor("D").to_numpy(),
        "amount": p["amount"].to_numpy(dtype="float64"), "expiry": p["card_expiry"].to_numpy(),
        "attempt": paid_at.to_numpy(dtype="datetime64[ns]").view("int64"),  # NaT is the smallest: unpaid first
        "pos": np.arange(len(p)),
    })
    rows = rows[rows["c"] >= 0].sort_values(["c", "due", "line"], kind="mergesort")
    # attempts at one invoice (rare) are then put in the stated order among themselves: paid_at, payment_id,
    # amount, line; a sort of every row by these keys took 3 s at a million accounts (text sorts are slow)
    c = rows["c"].to_numpy()
    due = rows["due"].to_numpy(dtype="datetime64[ns]").view("int64")
    same = (c[1:] == c[:-1]) & (due[1:] == due[:-1])
    shared = np.zeros(len(rows), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    if shared.any():
        at = np.flatnonzero(shared)
        sub = rows.iloc[at]
        pid = pd.factorize(p["payment_id"].to_numpy()[sub["pos"].to_numpy()], sort=True)[0]
        order = np.lexsort((sub["line"].to_numpy(), sub["amount"].to_numpy(), pid, sub["attempt"].to_numpy(),
                            due[at], c[at]))
        positions = np.arange(len(rows))
        positions[at] = at[order]
        rows = rows.iloc[positions]
    inv = rows.groupby(["c", "due"], sort=True).agg(paid=("paid", "max"), void=("void", "max"),
                                                    paid_day=("paid_day", "min"), amount=("amount", "last"),
                                                    expiry=("expiry", "last")).reset_index()
    inv["void"] = inv["void"] & ~inv["paid"]
    return inv


def contract_months(inv: pd.DataFrame, n: int) -> np.ndarray:
    """Billing cycle per account in months (1 monthly ... 12 annual) from the median gap between the due
    dates of its invoices; NaN with fewer than two invoices."""
    out = np.full(n, np.nan)
    live = inv.loc[~inv["void"], ["c", "due"]]
    if len(live) < 2:
        return out
    gap = (live["due"].diff() / pd.Timedelta(days=1)).where(live["c"].eq(live["c"].shift()))
    med = gap.groupby(live["c"]).median().dropna()
    out[med.index.to_numpy()] = np.clip(np.round(med.to_numpy() / 30.44), 1, 12)
    return out


def contract_terms(accounts: pd.DataFrame, params: FeatureParams) -> np.ndarray:
    """Contract term per account in months (how often it renews, not how often it is billed), first found of:
    the accounts' contract_term_months, features.contract_terms for the account's plan (any case),
    features.contract_months; NaN where none says. ``accounts``: account_attributes' frame."""
    n = len(accounts)
    term = (accounts["contract_term_months"].to_numpy(dtype="float64") if "contract_term_months" in accounts
            else np.full(n, np.nan))
    if params.contract_terms and "plan" in accounts:
        plan = lowered(accounts["plan"].astype("string"))
        by_plan = plan.map(params.contract_terms).to_numpy(dtype="float64", na_value=np.nan)
        term = np.where(np.isnan(term), by_plan, term)
    if params.contract_months is not None:
        term = np.where(np.isnan(term), float(params.contract_months), term)
    return term


def renewal_on(renewal: np.ndarray, as_of: pd.Timestamp, term_months: np.ndarray,
               accounts_date: pd.Timestamp | None = None) -> np.ndarray:
    """The first renewal on or after the as-of date; NaT where unknown or passed.

    On the day the accounts export describes (``accounts_date``; None: the as-of date) and after it, that is
    the export's renewal date as it is. On earlier days the export is a snapshot of the future: its renewal
    date is stepped back by whole contract terms (``term_months``), so that a past date does not see today's
    next renewal, or a churned account's contract end, as its own; where the term is unknown (NaN) the
    renewal is left unknown rather than guessed.
    """
    known = ~np.isnat(renewal)
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    if accounts_date is None or as_of >= pd.Timestamp(accounts_date).normalize():
        return np.where(known & (renewal >= asof64), renewal, np.datetime64("NaT"))
    has_term = ~np.isnan(term_months)
    term = np.where(has_term, term_months, 12).astype("int64")
    r = np.where(known, renewal, np.datetime64("2000-01-01")).astype("datetime64[ns]")
    r_month = r.astype("datetime64[M]")
    offset = r - r_month.astype("datetime64[ns]")
    months_ahead = (r_month - np.datetime64(as_of.to_datetime64(), "M")).astype("int64")
    k = np.maximum(months_ahead // term, 0)
    cand = (r_month - (k * term).astype("timedelta64[M]")).astype("datetime64[ns]") + offset
    behind = cand < asof64
    cand = np.where(behind & (k > 0), (r_month - ((k - 1) * term).astype("timedelta64[M]"))
                    .astype("datetime64[ns]") + offset, cand)
    return np.where(known & has_term & (renewal >= asof64), cand, np.datetime64("NaT"))


def payment_features(payments: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                     params: FeatureParams, renewal: np.ndarray, term: np.ndarray | None = None,
                     accounts_date: pd.Timestamp | None = None) -> dict[str, np.ndarray]:
    """Payment features; ``renewal`` is the accounts export's renewal date and ``term`` each account's contract
    term (see contract_terms; None: features.contract_months for all); see renewal_on for ``accounts_date``."""
    n = len(index)
    S, L = windows.short_days, windows.long_days
    p = _cut(payments, "due_date", as_of)
    codes = account_codes(p["account_id"], index)
    age = _age_days(p["due_date"], as_of)
    # charge attempts: failures are counted per attempt
    failed = (lowered(p["status"]) == "failed").to_numpy()
    expired = lowered(p["failure_reason"]).str.contains("expir", na=False).to_numpy(dtype=bool)
    long = age < L
    # invoices: lateness and overdue are per invoice (a failed attempt then a paid retry is one invoice)
    inv = _invoices(p, codes, as_of)
    ic = inv["c"].to_numpy()
    iage = _age_days(inv["due"], as_of)
    grace = params.late_grace_days
    late_days = ((inv["paid_day"] - inv["due"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    paid, void = inv["paid"].to_numpy(), inv["void"].to_numpy()
    unpaid_overdue = ~paid & ~void & (iage > grace)
    paid_late = paid & (np.nan_to_num(late_days, nan=0.0) > grace)
    days_overdue = np.nan_to_num(_group_reduce(ic, iage, n, unpaid_overdue, "max"), nan=0.0)

    cycle = contract_months(inv, n)  # billing cycle: turns invoice amounts into monthly revenue
    if term is None:
        term = np.full(n, np.nan if params.contract_months is None else float(params.contract_months))
    live = inv.loc[~inv["void"]]
    monthly = live["amount"] / np.where(np.isnan(cycle), 1.0, cycle)[live["c"].to_numpy()]
    now_amount = monthly.groupby(live["c"]).last()
    before = monthly[iage[~void] >= L].groupby(live["c"][iage[~void] >= L]).last()
    amount_now = np.full(n, np.nan)
    amount_now[now_amount.index.to_numpy()] = now_amount.to_numpy()
    amount_before = np.full(n, np.nan)
    amount_before[before.index.to_numpy()] = before.to_numpy()
    expiry = inv.dropna(subset=["expiry"]).groupby("c")["expiry"].last()
    card_expiry = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    card_expiry[expiry.index.to_numpy()] = expiry.to_numpy()
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    next_renewal = renewal_on(renewal, as_of, term, accounts_date)
    horizon = np.where(np.isnat(next_renewal), asof64 + np.timedelta64(L, "D"), next_renewal)
    expiring = (~np.isnat(card_expiry) & (card_expiry < horizon)).astype("float64")
    methods = _nunique(codes, lowered(p["payment_method"]), n, long & (codes >= 0))
    return {
        "payments_late_90d": _bincount(ic, n, (iage < L) & (unpaid_overdue | paid_late)),
        "days_overdue": days_overdue,
        "payments_failed_30d": _bincount(codes, n, (age < S) & failed),
        "payments_failed_90d": _bincount(codes, n, long & failed),
        "failed_card_expired_90d": _bincount(codes, n, long & failed & expired),
        "failed_card_declined_90d": _bincount(codes, n, long & failed & ~expired),
        "card_expiring_before_renewal": expiring,
        "payment_method_changed_90d": (methods > 1).astype("float64"),
        "mrr_change_pct_90d": _ratio(amount_now - amount_before, amount_before),
        "contract_months": np.where(np.isnan(term), cycle, term),
        "_latest_amount": amount_now,
        "_next_renewal": next_renewal,
    }


def account_attributes(accounts: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """accounts' columns aligned to the index (missing accounts: all empty; a repeated id: its first row)."""
    pos = account_codes(accounts["account_id"], index)
    rows = np.flatnonzero(pos >= 0)
    where = np.full(len(index), -1, dtype="int64")
    where[pos[rows][::-1]] = rows[::-1]  # written last = the first occurrence
    out = accounts.drop(columns=["account_id"]).reset_index(drop=True).reindex(where)
    out.index = index
    return out


# ----------------------------------------------------------------------------- the table


def build_features(frames: dict[str, pd.DataFrame], index: pd.Index, as_of: pd.Timestamp,
                   config: Config, *, norms: pd.Series | None = None,
                   nps_surveyed: bool | None = None, accounts_date: pd.Timestamp | None = None,
                   usage_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """The feature table: one row per account of ``index`` (in that order), CATALOGUE's columns.

    ``frames`` holds typed export frames (see load.Loaded.frame); absent exports are empty frames.
    ``norms`` and ``nps_surveyed`` are the two figures taken over every account (see usage_features and
    nps_features): pass them when ``frames`` hold only some accounts' rows (the dask engine's partitions),
    with ``usage_start``, the first usage day of every account (see features_level), and then compute the
    peer percentiles again on the whole table (features_level.peer_percentiles).
    ``accounts_date``: the day the accounts export describes (see renewal_on); None: the as-of date.
    """
    as_of = pd.Timestamp(as_of).normalize()
    windows, params = config.windows, config.features
    acc = account_attributes(frames["accounts"], index)
    signup = acc["signup_date"].to_numpy(dtype="datetime64[ns]")
    renewal = acc["renewal_date"].to_numpy(dtype="datetime64[ns]")
    seats = acc["seats"].to_numpy(dtype="float64")
    cols: dict[str, np.ndarray] = {}
    cols.update(usage_features_in_pieces(frames["usage"], index, as_of, windows, params, signup, seats, norms))
    cols.update(nps_features(frames["nps"], index, as_of, windows, params, nps_surveyed))
    cols.update(ticket_features(frames["tickets"], index, as_of, windows, params))
    cols.update(payment_features(frames["payments"], index, as_of, windows, params, renewal,
                                 contract_terms(acc, params), accounts_date))
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    days_to_renewal = (cols.pop("_next_renewal") - asof64) / DAY
    mrr = acc["mrr"].to_numpy(dtype="float64")
    auto = acc["auto_renew"].to_numpy(dtype="float64")
    cols.update({
        "tenure_days": cols.pop("_tenure_days"),
        "days_to_renewal": np.where(days_to_renewal >= 0, days_to_renewal, np.nan),
        "renewal_within_90d": np.where(np.isnan(days_to_renewal), np.nan,
                                       (days_to_renewal <= windows.long_days).astype("float64")),
        "mrr": np.where(np.isnan(mrr), cols.pop("_latest_amount"), mrr),
        "seats": seats,
        "auto_renew_off": np.where(np.isnan(auto), np.nan, 1.0 - auto),
    })
    cols.pop("_latest_amount", None)
    first_seen = cols.pop("_first_seen")
    seen = first_seen[~np.isnat(first_seen)]
    start = usage_start if usage_start is not None else (pd.Timestamp(seen.min()) if len(seen) else None)
    tenure = cols["tenure_days"]
    covered = days_covered(tenure, as_of, start)
    cols["usage_days_covered"] = covered
    cols.update(level_features(cols["usage_events_30d"], cols["active_days_30d"], cols.pop("_events_since_start"),
                               tenure, seats, windows.short_days, covered))
    cols.update(peer_percentiles(pd.DataFrame({k: cols[k] for k in PEER_SOURCES}), acc))
    table = pd.DataFrame({name: cols[name] for name in FEATURE_NAMES}, index=index)
    table.index.name = "account_id"
    return table
