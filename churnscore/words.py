"""How churnscore says a number: one place for counts, amounts, shares, spans of time and money.

Rules' reasons, model reasons, the terminal table and the report all say numbers through these functions,
so "1 day" / "2 days", "64%", "1,234" and "EUR 1,234" read the same everywhere. Each ``*_text`` function
takes a float array and gives Arrow text (null where the value is missing), formatting each distinct value
once; the scalar functions say one value (for a table cell or a headline).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNKNOWN = "unknown"


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
