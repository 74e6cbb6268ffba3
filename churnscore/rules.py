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

from .config import AllOf, AnyOf, Condition, Leaf, RuleSpec
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


def _pct(s: pd.Series) -> pd.Series:
    return (s.abs() * 100).round().astype("Int64").astype(str) + "%"


def _num(s: pd.Series) -> pd.Series:
    return s.round(1).map("{:g}".format)


FORMATS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "pct": _pct,  # 0.64 or -0.64 -> "64%"
    "int": lambda s: s.round().astype("Int64").astype(str),
    "num": _num,  # one decimal, no trailing zeros
    "abs": lambda s: _num(s.abs()),  # -7 -> "7" (for "down 7 points")
    "money": lambda s: s.round().astype("Int64").map("{:,}".format),
}
_PLACEHOLDER = re.compile(r"\{([a-zA-Z0-9_]+)(?::([a-z]+))?\}")


def _leaves(cond: Condition) -> list[Leaf]:
    if isinstance(cond, Leaf):
        return [cond]
    return [leaf for item in cond.items for leaf in _leaves(item)]


def _choices(names: Any) -> str:
    return ", ".join(sorted(names))


def check_rules(rules: tuple[RuleSpec, ...], known: tuple[str, ...] = FEATURE_NAMES) -> None:
    """Fail at start, naming the rule, on an unknown feature, operator, value shape or reason placeholder."""
    for rule in rules:
        for leaf in _leaves(rule.when):
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


def render(template: str, table: pd.DataFrame, rows: pd.Series) -> pd.Series:
    """The template filled in with each selected account's feature values ('' elsewhere)."""
    out = pd.Series("", index=table.index, dtype="str")
    if not rows.any():
        return out
    sub = table.loc[rows]
    pos = 0
    text = pd.Series("", index=sub.index, dtype="str")
    for m in _PLACEHOLDER.finditer(template):
        text = text + template[pos:m.start()]
        values = sub[m.group(1)]
        shown = FORMATS[m.group(2)](values) if m.group(2) else _num(values)
        text = text + shown.where(values.notna(), "n/a").astype(str)
        pos = m.end()
    text = text + template[pos:]
    out.loc[rows] = text
    return out


def explain(flags: pd.DataFrame, rules: tuple[RuleSpec, ...], table: pd.DataFrame) -> pd.DataFrame:
    """red_flags (names), reasons (words) and suggested_play (of the heaviest flag) per account."""
    names = pd.Series("", index=flags.index, dtype="str")
    reasons = pd.Series("", index=flags.index, dtype="str")
    play = pd.Series("", index=flags.index, dtype="str")
    for r in by_weight(rules):
        fired = flags[r.name]
        if not fired.any():
            continue
        sep_n = np.where(names.to_numpy() == "", "", ", ")
        sep_r = np.where(reasons.to_numpy() == "", "", "; ")
        names = names.where(~fired, names + sep_n + r.name)
        reasons = reasons.where(~fired, reasons + sep_r + render(r.reason, table, fired))
        play = play.where(~(fired & (play == "")), r.play)
    return pd.DataFrame({"red_flags": names, "reasons": reasons, "suggested_play": play})
