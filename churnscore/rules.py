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
from . import words
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


def _said(say: Callable[[float], str]) -> Callable[..., pa.Array]:
    return lambda v, table, rows, context: words.each(v, say)


def _column(table: pd.DataFrame, name: str, rows: np.ndarray | None) -> np.ndarray:
    values = table[name].to_numpy(dtype="float64") if name in table.columns else np.full(len(table), np.nan)
    return values if rows is None else values[rows]


def _nps(v: np.ndarray, table: pd.DataFrame, rows: np.ndarray | None, context: dict[str, Any]) -> pa.Array:
    """"NPS 3" for one answer; "average NPS 5.7 over 3 answers" for a round of several."""
    answers = _column(table, "nps_latest_answers", rows)
    one = words.each(v, lambda x: f"NPS {words.number(x)}")
    several = words.each(np.where(answers > 1, v, np.nan), lambda x: f"average NPS {words.number(x)}")
    over = words.each(np.where(answers > 1, answers, np.nan), lambda x: f" over {words.count(x, 'answer')}")
    joined = pc.binary_join_element_wise(several, over, pa.scalar("", pa.large_string()))
    return pc.if_else(pc.is_null(joined), one, joined)


def _of_key(v: np.ndarray, table: pd.DataFrame, rows: np.ndarray | None, context: dict[str, Any]) -> pa.Array:
    """A key-feature share as a count of the configured key features: "1 of 3", "none of the 3"."""
    n = int(context.get("key_features", 3))
    used = np.round(v * n)
    return words.each(used, lambda x: (f"none of the {n}" if x == 0 else f"all {n}" if x == n and n > 1
                                       else f"{words.whole(x)} of {n}"))


def _span(v: np.ndarray, table: pd.DataFrame, rows: np.ndarray | None, context: dict[str, Any]) -> pa.Array:
    """Days the usage export covers for the account: "74 days as a customer" when that is its whole life,
    "the 365 days of the usage export" when the account is older than the export."""
    tenure = _column(table, "tenure_days", rows)
    short = ~(np.round(v) < np.round(tenure))  # the whole tenure is covered (or the tenure is unknown)
    own = words.each(np.where(short, v, np.nan), lambda x: f"{words.days(x)} as a customer")
    export = words.each(np.where(short, np.nan, v), lambda x: f"the {words.days(x)} of the usage export")
    return pc.if_else(pa.array(short), own, export)


# each takes the feature's values (float64 numpy, the accounts asked for), the table, those accounts' rows
# and the render context (e.g. key_features: how many are configured), and gives Arrow text (null where
# missing). All numbers are said by churnscore.words.
FORMATS: dict[str, Callable[..., pa.Array]] = {
    "pct": _said(words.percent),  # -0.64 -> "64%"
    "int": _said(words.whole),
    "num": _said(words.number),  # one decimal, no trailing zeros
    "abs": _said(lambda x: words.number(abs(x))),  # -7 -> "7" (for "down 7 points")
    "money": _said(words.money),
    "days": _said(words.days),  # "1 day", "16 days"
    "seconds": _said(words.seconds),  # "45 seconds", "2 minutes"
    "nps": _nps,  # "NPS 3", "average NPS 5.7 over 3 answers"
    "of_key": _of_key,  # key_feature_adoption as "1 of 3"
    "span": _span,  # usage_days_covered as "74 days as a customer" / "the 365 days of the usage export"
}
# {feature} or {feature:format}; {s} after a placeholder: "s" unless that number was said as "1";
# [ ... ] an optional clause, left out for an account where a value inside it is missing
_PLACEHOLDER = re.compile(r"\{([a-zA-Z0-9_]+)(?::([a-z_]+))?\}")
_TOKEN = re.compile(r"\{([a-zA-Z0-9_]+)(?::([a-z_]+))?\}|\[|\]")


def placeholders(template: str) -> list[str]:
    """The features a reason template names ({s} is no feature)."""
    return [name for name, fmt in _PLACEHOLDER.findall(template) if not (name == "s" and not fmt)]


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
        if rule.reason.count("[") != rule.reason.count("]"):
            raise ConfigError(f"config: rule '{rule.name}': reason has unbalanced [ ] (an optional clause "
                              "is written [words {feature}]).")
        for name, fmt in _PLACEHOLDER.findall(rule.reason):
            if name == "s" and not fmt:
                continue
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


def render(template: str, table: pd.DataFrame, rows: np.ndarray | None = None,
           context: dict[str, Any] | None = None) -> pa.Array:
    """The template filled in with the feature values of the accounts at positions ``rows`` (all when None).

    Arrow text (large_string), one per account asked for. ``{s}`` says "s" unless the placeholder before
    it was said as "1"; ``[...]`` is an optional clause, left out where a value inside it is missing (a
    missing value elsewhere is said "unknown"). Vectorised over accounts: a few Arrow kernels per
    placeholder, whatever the number of accounts.
    """
    n = len(table) if rows is None else len(rows)
    context = context or {}
    empty = pa.scalar("", pa.large_string())

    def join(pieces: list[Any]) -> Any:
        if not pieces:
            return pa.repeat(empty, n)
        if len(pieces) == 1 and isinstance(pieces[0], pa.Array):
            return pieces[0]
        return pc.binary_join_element_wise(*[pa.repeat(p, n) if isinstance(p, pa.Scalar) else p
                                             for p in pieces], empty)

    stack: list[list[Any]] = [[]]  # the pieces of the clause being read (top level first)
    last: pa.Array | None = None
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            stack[-1].append(pa.scalar(template[pos:m.start()], pa.large_string()))
        pos = m.end()
        if m.group(0) == "[":
            stack.append([])
        elif m.group(0) == "]":
            clause = join(stack.pop())  # null where a value inside is missing
            stack[-1].append(pc.fill_null(pc.cast(clause, pa.large_string()), ""))
        elif m.group(1) == "s" and not m.group(2):
            s_text = pc.if_else(pc.equal(pc.fill_null(last, ""), "1"), empty, pa.scalar("s", pa.large_string())) \
                if last is not None else pa.scalar("s", pa.large_string())
            stack[-1].append(s_text)
        else:
            values = _column(table, m.group(1), rows)
            last = pc.cast(FORMATS[m.group(2) or "num"](values, table, rows, context), pa.large_string())
            stack[-1].append(last if len(stack) > 1 else pc.fill_null(last, words.UNKNOWN))
    if pos < len(template):
        stack[-1].append(pa.scalar(template[pos:], pa.large_string()))
    return join(stack[0])


def told(flags: pd.DataFrame, rules: tuple[RuleSpec, ...], table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The flags whose reasons are told: a flag is left out where a rule that supersedes it fired (one fact,
    one reason: never_used says what weak_start and dormant would repeat), and where that supersession has a
    condition, only where it also holds on ``table``. The score keeps every flag."""
    out = flags.copy()
    present = set(flags.columns)
    for r in rules:
        if r.name not in present:
            continue
        fired = flags[r.name].to_numpy(dtype=bool)
        if not fired.any():
            continue
        conditions = r.supersedes_when or (None,) * len(r.supersedes)
        for other, cond in zip(r.supersedes, conditions):
            if other not in present:
                continue
            hide = fired
            if cond is not None:
                hide = fired & (evaluate_condition(cond, table).to_numpy(dtype=bool) if table is not None
                                else np.zeros(len(fired), dtype=bool))
            out[other] = out[other].to_numpy(dtype=bool) & ~hide
    return out


def _join_lists(offsets: np.ndarray, values: pa.Array, sep: str) -> pa.Array:
    """Each account's list (``values[offsets[i]:offsets[i + 1]]``) joined by ``sep``; "" for an empty list."""
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)
    return pc.binary_join(lists, pa.scalar(sep, pa.large_string()))


def explain(flags: pd.DataFrame, rules: tuple[RuleSpec, ...], table: pd.DataFrame,
            context: dict[str, Any] | None = None) -> pd.DataFrame:
    """red_flags (names), reasons (words) and suggested_play (of the heaviest flag) per account.

    Heaviest flag first; a flag another fired flag supersedes is not told (see ``told``). Built as one list
    per account (Arrow list arrays joined by a kernel): a reason is
    only rendered for the accounts its rule flagged, and nothing loops over accounts in Python.
    """
    ordered = by_weight(rules)
    flags = told(flags, rules, table)
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
        reasons.append(render(r.reason, table, rows, context))
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
