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
    # thousands separators have no Arrow kernel; money placeholders are few and short
    return pa.array([None if np.isnan(x) else f"{round(x):,}" for x in v], pa.string())


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


def render(template: str, table: pd.DataFrame, rows: np.ndarray | pd.Series | None = None) -> pa.Array:
    """The template filled in with every account's feature values (Arrow text; null outside ``rows``).

    Vectorised over accounts: one Arrow kernel per placeholder, whatever the number of accounts.
    """
    pieces: list[pa.Array | str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        pieces.append(template[pos:m.start()])
        values = table[m.group(1)].to_numpy(dtype="float64")
        shown = FORMATS[m.group(2) or "num"](values)
        pieces.append(pc.fill_null(shown, "n/a"))
        pos = m.end()
    pieces.append(template[pos:])
    n = len(table)
    arrays = [p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(p, pa.string())
              for p in pieces if not (isinstance(p, str) and p == "")]
    if not any(isinstance(p, (pa.Array, pa.ChunkedArray)) for p in arrays):  # no placeholder: plain words
        text = pa.array(np.full(n, template, dtype=object), pa.string())
    else:
        text = pc.binary_join_element_wise(*arrays, "")
    if rows is not None:
        text = pc.if_else(pa.array(np.asarray(rows, dtype=bool)), text, pa.scalar(None, pa.string()))
    return text


def explain(flags: pd.DataFrame, rules: tuple[RuleSpec, ...], table: pd.DataFrame) -> pd.DataFrame:
    """red_flags (names), reasons (words) and suggested_play (of the heaviest flag) per account.

    Heaviest flag first; built with Arrow kernels (a join per account would be a Python loop).
    """
    null = pa.scalar(None, pa.string())
    names, reasons, plays = [], [], []
    for r in by_weight(rules):
        fired = flags[r.name].to_numpy(dtype=bool)
        if not fired.any():
            continue
        mask = pa.array(fired)
        names.append(pc.if_else(mask, r.name, null))
        reasons.append(render(r.reason, table, fired))
        if r.play:  # a rule without a play leaves the play to the next heaviest
            plays.append(pc.if_else(mask, r.play, null))
    n = len(flags)

    def joined(parts: list[pa.Array], sep: str) -> np.ndarray:
        # pairwise, nulls skipped (Arrow's own null_handling="skip" drops all-null rows in pyarrow 26)
        out = pa.nulls(n, pa.string())
        for part in parts:
            both = pc.binary_join_element_wise(out, part, sep)
            out = pc.coalesce(both, out, part)
        return pc.fill_null(out, "").to_numpy(zero_copy_only=False)

    play = pc.fill_null(pc.coalesce(*plays), "").to_numpy(zero_copy_only=False) if plays else np.full(n, "", object)
    return pd.DataFrame({"red_flags": joined(names, ", "), "reasons": joined(reasons, "; "),
                         "suggested_play": play}, index=flags.index).astype("str")
