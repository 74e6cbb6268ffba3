"""How churnscore says a number: one place for counts, amounts, shares, spans of time and money.

Rules' reasons, model reasons, the terminal table and the report all say numbers through these functions,
so "1 day" / "2 days", "64%", "1,234" and "EUR 1,234" read the same everywhere. Each ``*_text`` function
takes a float array and gives Arrow text (null where the value is missing), formatting each distinct value
once; the scalar functions say one value (for a table cell or a headline). A model input (a feature, a red
flag, a missing-value indicator) is said by input_words, in the train summary, the model's reasons and explain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNKNOWN = "unknown"


# ----------------------------------------------------------------------------- model inputs
#
# How a model input is said: a feature, a red flag (flag_<rule>: 1 where the rule fired) or the indicator the
# model adds for a feature with no value (<feature>__missing). The train summary names the inputs, the model's
# reasons say an input's value for an account, explain labels its rows: all through input_words.

INPUT_PHRASES: dict[str, str] = {  # {v:kind}: the value, said as kind says it; {s}: "s" unless it is 1
    "usage_events_30d": "{v:int} event{s} in 30 days",
    "usage_events_prev_30d": "{v:int} event{s} in the 30 days before",
    "usage_trend_30d": "usage {v:trend} vs prior 30 days",
    "active_days_30d": "active on {v:int} of the last 30 days",
    "days_since_last_activity": "last active {v:int} day{s} ago",
    "never_active": "never used the product",
    "active_users_30d": "{v:int} active user{s}",
    "active_users_prev_30d": "{v:int} active user{s} in the 30 days before",
    "users_gone_quiet_share": "{v:pct} of last month's users inactive",
    "seat_utilisation": "{v:pct} of seats active",
    "key_feature_adoption": "uses {v:pct} of the key features",
    "key_feature_events_30d": "{v:int} key-feature event{s} in 30 days",
    "avg_session_seconds_30d": "sessions average {v:seconds}",
    "task_time_vs_norm_30d": "tasks take {v:num}x the usual time",
    "first30_logins_per_day": "{v:num} login{s} a day in the first 30 days",
    "first_session_seconds": "first session {v:seconds}",
    "usage_per_active_day_30d": "{v:num} event{s} per active day in 30 days",
    "usage_per_seat_30d": "{v:num} event{s} per seat in 30 days",
    "usage_per_active_day_pctile": "usage per active day: percentile {v:int} among similar accounts",
    "usage_per_seat_pctile": "usage per seat: percentile {v:int} among similar accounts",
    "lifetime_events_per_day": "{v:num} event{s} per day since signup",
    "tenure_band": "tenure band {v:int} (0: first 90 days, 3: over two years)",
    "first_90_days": "in its first 90 days",
    "nps_latest": "NPS {v:num}",
    "nps_mean": "NPS {v:num} on average",
    "nps_trend": "NPS {v:signed} points vs earlier",
    "nps_detractor": "NPS detractor (6 or less)",
    "days_since_nps_response": "no NPS answer for {v:int} day{s}",
    "nps_silent": "silent to NPS surveys",
    "tickets_open": "{v:int} open ticket{s}",
    "tickets_opened_30d": "{v:int} ticket{s} opened in 30 days",
    "tickets_opened_90d": "{v:int} ticket{s} opened in 90 days",
    "tickets_unresolved_old": "{v:int} ticket{s} open 14+ days",
    "ticket_resolution_median_hours": "median time to resolve a ticket {v:num} h",
    "tickets_urgent_90d": "{v:int} urgent ticket{s} in 90 days",
    "ticket_max_category_90d": "{v:int} ticket{s} on one topic in 90 days",
    "csat_mean_90d": "CSAT {v:num} of 5 in 90 days",
    "ticket_silence": "stopped opening tickets",
    "payments_late_90d": "{v:int} late payment{s} in 90 days",
    "days_overdue": "invoice {v:int} day{s} overdue",
    "payments_failed_30d": "{v:int} failed payment{s} in 30 days",
    "payments_failed_90d": "{v:int} failed payment{s} in 90 days",
    "failed_card_expired_90d": "card expired on {v:int} charge{s}",
    "failed_card_declined_90d": "{v:int} declined charge{s} in 90 days",
    "card_expiring_before_renewal": "card expires before renewal",
    "payment_method_changed_90d": "payment method changed",
    "mrr": "MRR {v:int} a month",
    "mrr_change_pct_90d": "MRR {v:trend} in 90 days",
    "seats": "{v:int} seat{s}",
    "tenure_days": "customer for {v:int} day{s}",
    "days_to_renewal": "renewal in {v:int} day{s}",
    "renewal_within_90d": "renewal within 90 days",
    "contract_months": "{v:int}-month contract",
    "auto_renew_off": "auto-renew off",
}


def _input_number(kind: str) -> Callable[[float], str]:
    """How a phrase's {v:kind} says its number."""
    return {"int": whole, "pct": percent, "seconds": seconds, "num": number, "signed": plus,
            "trend": trend}.get(kind, number)


def input_words(column: str, values: np.ndarray | Sequence[float] | None = None, *,
                meanings: Mapping[str, str] | None = None) -> str | list[str]:
    """The words for the model input ``column``.

    Without ``values``, the input itself, as a summary or a table names it: "red flag 'dormant'" (flag_dormant),
    "no data for nps_latest" (the indicator nps_latest__missing), "nps_latest", or with the feature's meaning
    from ``meanings`` (the catalogue's) "nps_latest (latest NPS score)".

    With ``values`` (on the feature's own scale), what each says of its account, by INPUT_PHRASES: "1 open
    ticket", "2 open tickets", "MRR 1,020 a month"; a condition (a phrase without a number, or a red flag) is
    said where it holds ("silent to NPS surveys") and as "nps_silent = 0" where it does not; an input without
    a phrase as "<column> = <value>"; a missing value as "no data for <column>". Each distinct value is said once.
    """
    if values is None:
        if column.startswith("flag_"):
            return f"red flag '{column[len('flag_'):]}'"
        if column.endswith("__missing"):
            return f"no data for {column[: -len('__missing')]}"
        meaning = (meanings or {}).get(column)
        return f"{column} ({meaning})" if meaning else column
    template = INPUT_PHRASES.get(column) or (input_words(column) if column.startswith("flag_") else None)
    head, _, rest = (template or "").partition("{v:")
    kind, _, tail = rest.partition("}")
    say = _input_number(kind)
    said: dict[str, str] = {}  # by the value's bits: 0.0 and -0.0 apart
    out = []
    for x in np.asarray(values, dtype="float64").tolist():
        key = x.hex()
        if key not in said:
            if math.isnan(x):
                said[key] = f"no data for {column}"
            elif not rest:  # no number in the words: the plain value; a condition is said where it holds
                said[key] = template if template is not None and x != 0 else f"{column} = {number(x)}"
            else:
                n = say(x)
                s = "" if n == "1" else "s"  # "1 ticket", "2 tickets"
                said[key] = head.replace("{s}", s) + n + tail.replace("{s}", s)
        out.append(said[key])
    return out


def input_average(column: str, mean: float) -> str:
    """The average of the model input ``column`` over many accounts, as its phrase says a value, with a decimal
    where the phrase counts whole numbers and the phrase's unit: "23", "1.5", "64%", "1.1x", "29.8 h"; "" for a
    condition, an input without a phrase or a missing mean."""
    template = INPUT_PHRASES.get(column, "")
    if "{v:" not in template or math.isnan(mean):
        return ""
    kind, _, tail = template.partition("{v:")[2].partition("}")
    unit = "x" if tail.startswith("x") else " h" if tail.startswith(" h") else ""  # "1.1x", "29.8 h"
    return _input_number("num" if kind == "int" else kind)(float(mean)) + unit


def _clean(x: float) -> float:
    return 0.0 if x == 0 else x  # -0 says 0


def number(x: float, digits: int = 1) -> str:
    """Shortest text at ``digits`` decimals, thousands grouped: 2.0 -> "2", 5.67 -> "5.7", 1234 -> "1,234"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return UNKNOWN
    if math.isinf(x):
        return "infinite" if x > 0 else "minus infinite"
    r = _clean(round(float(x), digits))
    if r == int(r):
        return f"{int(r):,}"
    return f"{r:,.{digits}f}".rstrip("0").rstrip(".")


def whole(x: float) -> str:
    """A whole number, thousands grouped: 1234.4 -> "1,234"."""
    return number(x, 0)


def plural(n_text: str, noun: str, nouns: str | None = None) -> str:
    """"1 ticket", "2 tickets", "0.5 tickets": the singular only when the number says exactly 1."""
    return f"{n_text} {noun if n_text == '1' else (nouns or noun + 's')}"


def count(x: float, noun: str, nouns: str | None = None) -> str:
    """A count with its noun: count(1, "failed payment") -> "1 failed payment"."""
    return plural(whole(x), noun, nouns)


def percent(x: float) -> str:
    """A share as a whole percent of its size: -0.64 -> "64%" (the words say up or down)."""
    if x is None or math.isnan(x):
        return UNKNOWN
    return f"{whole(abs(x) * 100)}%"


def days(x: float) -> str:
    """A span in whole days: "1 day", "16 days"."""
    if x is None or math.isnan(x):
        return UNKNOWN
    return count(x, "day")


def seconds(x: float) -> str:
    """A short span: "45 seconds", "1 minute", "2.5 minutes", "1.2 hours"."""
    if x is None or math.isnan(x):
        return UNKNOWN
    if abs(x) < 90:
        return count(x, "second")
    if abs(x) < 5400:
        return plural(number(x / 60), "minute")
    return plural(number(x / 3600), "hour")


def money(x: float, currency: str | None = None) -> str:
    """Whole units, thousands grouped, the currency before it when known: "1,234", "EUR 1,234";
    "unknown" for a missing amount."""
    if x is None or math.isnan(x):
        return UNKNOWN
    text = whole(x)
    return f"{currency} {text}" if currency else text


def money_cents(x: float, currency: str | None = None) -> str:
    """Two decimals for a headline total: "808,730.52", "EUR 808,730.52"; "unknown" when missing."""
    if x is None or math.isnan(x):
        return UNKNOWN
    text = f"{_clean(round(float(x), 2)):,.2f}"
    return f"{currency} {text}" if currency else text


def headline(summary: dict) -> str:
    """The revenue-at-risk headline with its definition: "808,730.52 a month (risk x MRR, high and medium
    tiers)"; "unknown (no account has MRR)" without MRR."""
    tiers = " and ".join(summary.get("revenue_at_risk_tiers") or ["all"])
    value = summary.get("revenue_at_risk")
    if value is None:
        return "unknown (no account has MRR)"
    return f"{money_cents(value, summary.get('currency'))} a month (risk x MRR, {tiers} tiers)"


# ----------------------------------------------------------------------------- arrays


def each(values: np.ndarray, say: Callable[[float], str]) -> pa.Array:
    """``say`` of each value as Arrow text (large_string), null where missing; each distinct value said once."""
    v = np.asarray(values, dtype="float64")
    known = ~np.isnan(v)
    distinct, codes = np.unique(np.where(known, v, 0.0), return_inverse=True)
    texts = pa.array([say(float(x)) for x in distinct], pa.large_string())
    out = texts.take(pa.array(codes.reshape(-1).astype("int64")))
    return out if known.all() else pc.if_else(pa.array(known), out, pa.scalar(None, pa.large_string()))


# ----------------------------------------------------------------------------- figures in tables and summaries
#
# A table (the terminal's, the HTML report's, the backtest's and the rule audit's) shows a figure at a fixed
# number of decimals so that its column lines up; a sentence says it with the fewest decimals it needs. Either
# way thousands are grouped ("1,234.5", never "1234.5"), as number() does. A missing figure is "-" unless the
# caller's cell wants another mark ("" in an HTML cell, "new" for a change with no earlier score).

NO_FIGURE = "-"


def _absent(x: object) -> bool:
    """None, NaN, and pandas' NA / NaT (which are not numbers at all)."""
    if x is None:
        return True
    try:
        return math.isnan(x)  # type: ignore[arg-type]
    except TypeError:
        return True


def decimals(x: float, digits: int, missing: str = NO_FIGURE) -> str:
    """A figure at exactly ``digits`` decimals, thousands grouped: decimals(66.8, 1) -> "66.8",
    decimals(3340, 2) -> "3,340.00", decimals(0.81234, 3) -> "0.812"; ``missing`` when absent."""
    return missing if _absent(x) else f"{float(x):,.{digits}f}"


def share(x: float, digits: int = 1, missing: str = NO_FIGURE) -> str:
    """A share as a percent at ``digits`` decimals, its sign kept: 0.1234 -> "12.3%", share(0.5, 0) -> "50%".
    (percent() says a change in a reason: whole, the sign left to the words.)"""
    return missing if _absent(x) else f"{float(x):,.{digits}%}"


def times(x: float, digits: int = 2, missing: str = NO_FIGURE) -> str:
    """A ratio such as a lift: 1.5 -> "1.50x"."""
    return missing if _absent(x) else f"{float(x):,.{digits}f}x"


def signed(x: float, digits: int = 1, missing: str = NO_FIGURE) -> str:
    """A change with its sign, at ``digits`` decimals: 6.8 -> "+6.8", -2 -> "-2.0", 0 -> "+0.0"."""
    return missing if _absent(x) else f"{float(x):+,.{digits}f}"


def significant(x: float, digits: int = 6, missing: str = NO_FIGURE) -> str:
    """A value echoed back (a setting, a constant a rule tests) with at most ``digits`` significant decimals
    and no exponent: 0.5 -> "0.5", 30.0 -> "30", 1234567 -> "1,234,567", significant(0.000123456, 4) -> "0.0001235"."""
    if _absent(x):
        return missing
    v = float(x)
    if v == 0 or math.isinf(v):
        return number(v, 0)
    return number(v, max(digits - 1 - math.floor(math.log10(abs(v))), 0))


# How each backtest metric is shown, by its key in evaluate's results: the terminal table and the HTML report
# show the same figure the same way.
METRIC_FIGURES: dict[str, Callable[[float], str]] = {
    "roc_auc": lambda v: decimals(v, 3), "pr_auc": lambda v: decimals(v, 3),
    "top_decile_churn_rate": share, "top_decile_lift": times,
    "precision_at_k": share, "recall_at_k": share, "base_rate": share,
    "brier": lambda v: decimals(v, 4), "ece": lambda v: decimals(v, 4),
}


def metric(key: str, value: float | None) -> str:
    """A backtest metric (``key`` as in evaluate's results) as the tables show it: metric("roc_auc", 0.81234)
    -> "0.812", metric("top_decile_lift", 2.5) -> "2.50x"; "-" when missing (a scorer without that figure)."""
    return METRIC_FIGURES.get(key, lambda v: significant(v, 4))(value)


# ----------------------------------------------------------------------------- changes in a sentence


def plus(x: float) -> str:
    """A change in a sentence, with the fewest decimals it needs and a plus when it rose: 1.5 -> "+1.5",
    -2.0 -> "-2", 0.0 -> "0". (signed() is the table's form: "+1.5", "-2.0", "+0.0".)"""
    return ("+" if x > 0 else "") + number(x)


def trend(x: float) -> str:
    """A relative change in words: -0.64 -> "down 64%", 0.2 -> "up 20%"."""
    return ("down " if x < 0 else "up ") + percent(x)
