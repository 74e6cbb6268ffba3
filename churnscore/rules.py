"""Red-flag rules: structured conditions on features, evaluated through an operator registry, and their words.

A rule's condition is data (feature, op, value; all/any to combine), never code: operators are looked
up by name in OPERATORS. A missing feature value never fires a comparison. Reason templates name
features in braces with an optional format, e.g. "usage down {usage_trend_30d:pct}".
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import AllOf, Condition, Leaf, RuleSpec
from .errors import ConfigError
from .features import FEATURE_NAMES


def _between(s: pd.Series, v: Any) -> pd.Series:
    return (s >= v[0]) & (s <= v[1])


OPERATORS: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": lambda s, v: s.notna() & (s != v),
    "between": _between,
    "in": lambda s, v: s.notna() & s.isin(list(v)),
    "missing": lambda s, v: s.isna(),
    "present": lambda s, v: s.notna(),
}
_NO_VALUE = {"missing", "present"}


def _text(v: np.ndarray) -> pa.Array:
    """Numbers as the shortest text (2.0 -> "2", 66.8 -> "66.8"), NaN as null; -0 shows as 0."""
    v = np.where(v == 0, 0.0, v)
    return pc.cast(pa.array(v, from_pandas=True), pa.string())


def _rounded(v: np.ndarray, digits: int) -> np.ndarray:
    return np.round(v, digits)


def _money(v: np.ndarray) -> pa.Array:
    """Whole units with thousands separators (1234567.4 -> "1,234,567"), as f"{round(x):,}" writes them."""
    whole = np.round(v)  # half to even, as round() rounds
    huge = np.abs(whole) >= 2.0 ** 63  # beyond int64 (or infinite)
    n = np.where(np.isnan(whole) | huge, 0.0, whole).astype(np.int64)
    # digits grouped by threes from the right: reversed, a comma after every three, reversed back
    backwards = pc.replace_substring_regex(pc.utf8_reverse(pc.cast(pa.array(np.abs(n)), pa.string())),
                                           r"(\d{3})", r"\1,")
    text = pc.utf8_reverse(pc.utf8_rtrim(backwards, ","))
    text = pc.if_else(pa.array(n < 0), pc.binary_join_element_wise("-", text, ""), text)
    if huge.any():  # rare: Python's own int (and its error for an infinite amount)
        text = pc.replace_with_mask(text, pa.array(huge), pa.array([f"{round(x):,}" for x in v[huge]], pa.string()))
    return pc.if_else(pa.array(np.isnan(v)), pa.scalar(None, pa.string()), text)


# each takes the feature's values (float64 numpy) and gives Arrow text (null where missing)
FORMATS: dict[str, Callable[[np.ndarray], pa.Array]] = {
    "pct": lambda v: pc.binary_join_element_wise(_text(_rounded(np.abs(v) * 100, 0)), "%", ""),  # -0.64 -> "64%"
    "int": lambda v: _text(_rounded(v, 0)),
    "num": lambda v: _text(_rounded(v, 1)),  # one decimal, no trailing zeros
    "abs": lambda v: _text(_rounded(np.abs(v), 1)),  # -7 -> "7" (for "down 7 points")
    "money": _money,
}
_PLACEHOLDER = re.compile(r"\{([a-zA-Z0-9_]+)(?::([a-z]+))?\}")


def leaves(cond: Condition) -> list[Leaf]:
    if isinstance(cond, Leaf):
        return [cond]
    return [leaf for item in cond.items for leaf in leaves(item)]


def _choices(names: Any) -> str:
    return ", ".join(sorted(names))


def check_rules(rules: tuple[RuleSpec, ...], known: tuple[str, ...] = FEATURE_NAMES) -> None:
    """Fail at start, naming the rule, on an unknown feature, operator, value shape or reason placeholder."""
    for rule in rules:
        for leaf in leaves(rule.when):
            if leaf.feature not in known:
                raise ConfigError(f"config: rule '{rule.name}' uses unknown feature '{leaf.feature}'. "
                                  f"See 'churnscore features --list' for the {len(known)} features.")
            if leaf.op not in OPERATORS:
                raise ConfigError(f"config: rule '{rule.name}' uses unknown operator '{leaf.op}'; "
                                  f"choose one of {_choices(OPERATORS)}.")
            if leaf.op in _NO_VALUE:
                continue
            if leaf.op == "between":
                ok = isinstance(leaf.value, list) and len(leaf.value) == 2 and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in leaf.value)
                want = "a list [low, high] of numbers"
            elif leaf.op == "in":
                ok, want = isinstance(leaf.value, list), "a list of values"
            else:
                ok = isinstance(leaf.value, (int, float)) and not isinstance(leaf.value, bool)
                want = "a number"
            if not ok:
                raise ConfigError(f"config: rule '{rule.name}': operator '{leaf.op}' on '{leaf.feature}' "
                                  f"needs {want}, got {leaf.value!r}.")
        for name, fmt in _PLACEHOLDER.findall(rule.reason):
            if name not in known:
                raise ConfigError(f"config: rule '{rule.name}': reason names unknown feature '{{{name}}}'.")
            if fmt and fmt not in FORMATS:
                raise ConfigError(f"config: rule '{rule.name}': reason format ':{fmt}' unknown; "
                                  f"choose one of {_choices(FORMATS)}.")


def evaluate_condition(cond: Condition, table: pd.DataFrame) -> pd.Series:
    """Boolean Series over the table's rows; a missing value fires no comparison."""
    if isinstance(cond, Leaf):
        fired = OPERATORS[cond.op](table[cond.feature], cond.value)
        return fired.fillna(False).astype(bool)
    parts = [evaluate_condition(item, table) for item in cond.items]
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if isinstance(cond, AllOf) else (out | p)
    return out


def evaluate(rules: tuple[RuleSpec, ...], table: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per rule (in config order), one row per account."""
    return pd.DataFrame({r.name: evaluate_condition(r.when, table) for r in rules}, index=table.index,
                        columns=[r.name for r in rules]).astype(bool)


def rule_score(flags: pd.DataFrame, rules: tuple[RuleSpec, ...]) -> pd.Series:
    """0-100 risk from the flags that fired: 100 * (1 - prod(1 - weight)), a noisy OR of the weights."""
    keep = np.ones(len(flags))
    for r in rules:
        keep = keep * np.where(flags[r.name].to_numpy(), 1.0 - r.weight, 1.0)
    return pd.Series(100.0 * (1.0 - keep), index=flags.index, name="rule_score")


def by_weight(rules: tuple[RuleSpec, ...]) -> list[RuleSpec]:
    """Rules heaviest first (config order among equals): the order reasons are told in."""
    return sorted(rules, key=lambda r: -r.weight)


def render(template: str, table: pd.DataFrame, rows: np.ndarray | None = None) -> pa.Array:
    """The template filled in with the feature values of the accounts at positions ``rows`` (all when None).

    Arrow text (large_string), one per account asked for. Vectorised over accounts: one Arrow kernel per
    placeholder, whatever the number of accounts.
    """
    n = len(table) if rows is None else len(rows)
    pieces: list[pa.Array | pa.Scalar] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.start() > pos:
            pieces.append(pa.scalar(template[pos:m.start()], pa.large_string()))
        values = table[m.group(1)].to_numpy(dtype="float64")
        shown = FORMATS[m.group(2) or "num"](values if rows is None else values[rows])
        pieces.append(pc.cast(pc.fill_null(shown, "n/a"), pa.large_string()))
        pos = m.end()
    if pos == 0:  # no placeholder: plain words
        return pa.repeat(pa.scalar(template, pa.large_string()), n)
    if pos < len(template):
        pieces.append(pa.scalar(template[pos:], pa.large_string()))
    if len(pieces) == 1:
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, pa.scalar("", pa.large_string()))


def _join_lists(offsets: np.ndarray, values: pa.Array, sep: str) -> pa.Array:
    """Each account's list (``values[offsets[i]:offsets[i + 1]]``) joined by ``sep``; "" for an empty list."""
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)
    return pc.binary_join(lists, pa.scalar(sep, pa.large_string()))


def explain(flags: pd.DataFrame, rules: tuple[RuleSpec, ...], table: pd.DataFrame) -> pd.DataFrame:
    """red_flags (names), reasons (words) and suggested_play (of the heaviest flag) per account.

    Heaviest flag first. Built as one list per account (Arrow list arrays joined by a kernel): a reason is
    only rendered for the accounts its rule flagged, and nothing loops over accounts in Python.
    """
    ordered = by_weight(rules)
    n = len(flags)
    fired = [flags[r.name].to_numpy(dtype=bool) for r in ordered]
    counts = np.zeros(n, dtype=np.int64)
    for f in fired:
        counts += f
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    # Each account's list holds its fired rules heaviest first. Reasons are rendered rule by rule (all of a
    # rule's accounts at once); ``slot`` records where each rendered reason goes in the per-account lists.
    cursor = offsets[:-1].copy()
    slot = np.empty(total, dtype=np.int64)
    rule_at = np.empty(total, dtype=np.int64)
    reasons: list[pa.Array] = []
    done = 0
    for k, (r, f) in enumerate(zip(ordered, fired)):
        rows = np.flatnonzero(f)
        if rows.size == 0:
            continue
        at = cursor[rows]
        cursor[rows] += 1
        slot[done:done + rows.size] = at
        rule_at[at] = k
        reasons.append(render(r.reason, table, rows))
        done += rows.size
    by_slot = np.empty(total, dtype=np.int64)
    by_slot[slot] = np.arange(total)
    reason_values = (pa.concat_arrays(reasons).take(pa.array(by_slot)) if reasons
                     else pa.array([], pa.large_string()))
    name_values = pa.array([r.name for r in ordered], pa.large_string()).take(pa.array(rule_at))
    # the play of the heaviest fired rule that has one ("" when none): a rule without a play leaves the
    # play to the next heaviest
    play_of = np.full(n, len(ordered), dtype=np.int64)
    for k in reversed(range(len(ordered))):
        if ordered[k].play:
            play_of[fired[k]] = k
    plays = pa.array([r.play for r in ordered] + [""], pa.large_string()).take(pa.array(play_of))
    return pd.DataFrame({"red_flags": pd.Series(_join_lists(offsets, name_values, ", "), dtype="str"),
                         "reasons": pd.Series(_join_lists(offsets, reason_values, "; "), dtype="str"),
                         "suggested_play": pd.Series(plays, dtype="str")}).set_axis(flags.index)
