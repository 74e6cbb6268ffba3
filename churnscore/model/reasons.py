"""The model's reasons in words: per account, the groups of inputs that set its risk apart from the average
account's, each said by its speaking member, joined per account by "; "."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import rules as rules_mod
from .. import words
from ..features import FEATURE_NAMES, code_runs
from .linear import LinearChurnModel


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each value's code, the distinct values): numbers by their bits, so that 0.0 and -0.0, which are
    written differently, stay apart; a missing value is one of the values."""
    if values.dtype.kind == "f":
        codes, distinct = pd.factorize(values.view(f"i{values.itemsize}"))
        return codes, distinct.view(values.dtype)
    return pd.factorize(values, use_na_sentinel=False)


def joined_reasons(places: list[np.ndarray], words: list[str], rows: int) -> pa.Array:
    """Per row, its words at each place (an index into ``words``; -1: none) joined by "; ". Each distinct
    combination of words is joined once."""
    combination = np.zeros(rows, dtype="int64")
    for ids in places:  # numbered afresh after each place, so the numbers stay below rows x words
        combination, _ = pd.factorize(combination * (len(words) + 1) + ids + 1)
    first = np.unique(combination, return_index=True)[1]  # a row that has each combination
    texts = []
    for row in first:
        text = ""
        for ids in places:
            said = words[ids[row]] if ids[row] >= 0 else ""
            text += "; " + said if text and said else said
        texts.append(text)
    return pa.array(texts, type=pa.large_string()).take(combination)


# Correlated inputs told as one: a group has one net contribution (the sum of its members'), one sign, and is
# said in the words of its member that pushes the risk up most in the direction its rules call risky.
GROUPS: dict[str, tuple[str, ...]] = {
    "usage": ("usage_events_30d", "usage_events_prev_30d", "usage_trend_30d", "active_days_30d",
              "days_since_last_activity", "never_active", "usage_per_active_day_30d", "usage_per_seat_30d",
              "usage_per_active_day_pctile", "usage_per_seat_pctile", "lifetime_events_per_day"),
    "users": ("active_users_30d", "active_users_prev_30d", "users_gone_quiet_share", "seat_utilisation"),
    "key features": ("key_feature_adoption", "key_feature_events_30d"),
    "first 30 days": ("first30_logins_per_day", "first_session_seconds"),
    "NPS": ("nps_latest", "nps_mean", "nps_trend", "nps_detractor", "days_since_nps_response", "nps_silent"),
    "tickets": ("tickets_open", "tickets_opened_30d", "tickets_opened_90d", "tickets_unresolved_old",
                "tickets_urgent_90d", "ticket_max_category_90d"),
    "payments": ("payments_late_90d", "days_overdue", "payments_failed_30d", "payments_failed_90d",
                 "failed_card_expired_90d", "failed_card_declined_90d"),
    "renewal": ("days_to_renewal", "renewal_within_90d"),
    "size and age": ("mrr", "seats", "contract_months", "tenure_days", "tenure_band", "first_90_days"),
}
# inputs that describe an account rather than say what to act on: they count in the probability, never as a
# reason ("454 seats" is nobody's reason to call)
SILENT = frozenset(GROUPS["size and age"])
# member words in a rule's own template, so that model and rule say a fact alike
TEMPLATES = {"nps_latest": "{nps_latest:nps}",
             "key_feature_adoption": "uses {key_feature_adoption:of_key} key features in 30 days",
             "days_since_last_activity": "no activity for {days_since_last_activity:days}"}
_GROUP_OF = {f: g for g, members in GROUPS.items() for f in members}
# the side a risk lies on for inputs no rule names (+1: high is risky, -1: low is); the rules' own
# conditions decide for the inputs they name
DIRECTIONS = {
    "usage_events_30d": -1, "usage_events_prev_30d": -1, "usage_trend_30d": -1, "active_days_30d": -1,
    "days_since_last_activity": 1, "usage_per_active_day_30d": -1, "usage_per_seat_30d": -1,
    "usage_per_active_day_pctile": -1, "usage_per_seat_pctile": -1, "lifetime_events_per_day": -1,
    "active_users_30d": -1, "active_users_prev_30d": -1, "users_gone_quiet_share": 1, "seat_utilisation": -1,
    "key_feature_adoption": -1, "key_feature_events_30d": -1, "avg_session_seconds_30d": -1,
    "task_time_vs_norm_30d": 1, "first30_logins_per_day": -1, "first_session_seconds": -1,
    "nps_latest": -1, "nps_mean": -1, "nps_trend": -1, "days_since_nps_response": 1,
    "tickets_open": 1, "tickets_opened_30d": 1, "tickets_opened_90d": 1, "tickets_unresolved_old": 1,
    "ticket_resolution_median_hours": 1, "tickets_urgent_90d": 1, "ticket_max_category_90d": 1,
    "csat_mean_90d": -1, "payments_late_90d": 1, "days_overdue": 1, "payments_failed_30d": 1,
    "payments_failed_90d": 1, "failed_card_expired_90d": 1, "failed_card_declined_90d": 1,
    "mrr_change_pct_90d": -1, "days_to_renewal": -1,
}


def _top_leaves(cond: Any) -> list[Any]:
    """The leaves a rule's words stand for: all of them, but only the direct ones of an 'all' (a guard inside
    an 'any' branch is not what the reason says)."""
    from ..config import AllOf, Leaf
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, AllOf):
        return [item for item in cond.items if isinstance(item, Leaf)]
    return rules_mod.leaves(cond)


def said_by(rule: Any) -> set[str]:
    """The features a rule's reason speaks of: its placeholders and the leaves its condition rests on."""
    return (set(rules_mod.placeholders(rule.reason))
            | {leaf.feature for leaf in _top_leaves(rule.when)})


def risk_direction(rules: Any) -> dict[str, int]:
    """+1 where the rules call a high value risky (gt, ge, eq 1), -1 where a low one (lt, le, eq 0); DIRECTIONS
    for the inputs no rule names."""
    out: dict[str, int] = {}
    for rule in rules or ():
        for leaf in rules_mod.leaves(rule.when):
            if leaf.op in ("gt", "ge") or (leaf.op == "eq" and leaf.value not in (0, None)):
                out.setdefault(leaf.feature, 1)
            elif leaf.op in ("lt", "le") or (leaf.op == "eq" and leaf.value == 0):
                out.setdefault(leaf.feature, -1)
    return {**DIRECTIONS, **out}


def input_groups(columns: list[str], rules: Any = None) -> list[str]:
    """The group of each model input: its feature's group; a flag joins the group of its rule's first leaf in
    one (else its first leaf's own); anything else is a group of its own."""
    first_leaf = {}
    for r in rules or ():
        features = [leaf.feature for leaf in rules_mod.leaves(r.when)]
        first_leaf[f"flag_{r.name}"] = next((f for f in features if f in _GROUP_OF), features[0] if features else None)
    return [_GROUP_OF.get(c) or _GROUP_OF.get(first_leaf.get(c) or "") or first_leaf.get(c) or c for c in columns]


@dataclass
class Reasons:
    """What the model says of each account: per place, the group told and its speaking input (-1: none)."""

    probability: np.ndarray
    groups: list[str]
    group: np.ndarray  # rows x k, position in ``groups``
    speaker: np.ndarray  # rows x k, position in the model's columns
    net: np.ndarray  # rows x k, the group's net contribution against the average account
    mean: np.ndarray  # per input: its average contribution over the accounts scored
    value_mean: np.ndarray  # per input: its average value over the accounts scored (where known)


def model_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, *, k: int = 3,
                  min_contribution: float = 0.05, flags: pd.DataFrame | None = None, rules: Any = None) -> Reasons:
    """The k groups of inputs that set each account's risk apart from the average account's, highest first.

    A contribution is coef x standardised value minus the same input's average over the accounts scored
    (the scaler centres on the training snapshots, not on today's accounts: a trait every account shares
    today is nobody's reason). Correlated inputs are summed into their group (GROUPS); a group is told where
    its net is above ``min_contribution``, it has a member that says a risk (its own contribution up, its
    value on the side its rules call risky by over a tenth of the average, a condition only where it holds, a
    known value) and no rule that fired for the account (``flags``) already says it.
    """
    columns = model.columns
    n = len(X)
    sums = np.zeros(len(columns))
    value_sums, value_counts = np.zeros(len(columns)), np.zeros(len(columns))
    table = features if features.index.equals(X.index) else features.reindex(X.index)
    own = [i for i, c in enumerate(columns) if c in table.columns]

    def raw(rows: slice, x: np.ndarray) -> np.ndarray:
        """The inputs on the features' own scale (design_matrix logs the counts): as the words say them."""
        out = x.copy()
        out[:, own] = table.iloc[rows, [table.columns.get_loc(columns[i]) for i in own]].to_numpy(dtype="float64")
        return out

    for rows, x, contrib in model.blocks(X):
        inputs = model.input_contributions(contrib)
        sums += np.nan_to_num(inputs).sum(axis=0)
        x = raw(rows, x)
        known = ~np.isnan(x)
        value_sums += np.where(known, x, 0.0).sum(axis=0)
        value_counts += known.sum(axis=0)
    mean = sums / max(n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_mean = value_sums / value_counts
    names = input_groups(columns, rules)
    groups = list(dict.fromkeys(names))
    members = [[i for i, g in enumerate(names) if g == group] for group in groups]
    direction = risk_direction(rules)
    conditions = {i for i, c in enumerate(columns)
                  if c.startswith("flag_") or (c in words.INPUT_PHRASES and "{v:" not in words.INPUT_PHRASES[c])}
    can_speak = [c in FEATURE_NAMES and c not in SILENT for c in columns]
    covered = []  # per group: the rules that already say it
    for group, ms in zip(groups, members):
        feats = {columns[i] for i in ms} | {f for f in GROUPS.get(group, ())}
        covered.append([r.name for r in (rules or ()) if flags is not None and r.name in flags.columns
                        and said_by(r) & feats])
    probability = np.empty(n)
    top_group = np.zeros((n, k), dtype="int64")
    top_speaker = np.full((n, k), -1, dtype="int64")
    top_net = np.full((n, k), -np.inf)
    for rows, x, contrib in model.blocks(X):
        probability[rows] = 1.0 / (1.0 + np.exp(-model.linear(contrib)))
        if not k:
            continue
        centred = np.nan_to_num(model.input_contributions(contrib)) - mean
        x = raw(rows, x)
        net = np.zeros((len(x), len(groups)))
        best = np.full((len(x), len(groups)), -1, dtype="int64")
        for g, ms in enumerate(members):
            strongest = np.zeros(len(x))
            for i in ms:  # in column order: a fixed order of additions
                net[:, g] += centred[:, i]
                if not can_speak[i]:
                    continue
                ok = ~np.isnan(x[:, i]) & (centred[:, i] > strongest)
                if i in conditions:
                    ok &= x[:, i] != 0
                d = direction.get(columns[i])
                if d is not None:  # on the risky side, and visibly: a tenth of the average away
                    ok &= d * (x[:, i] - value_mean[i]) > 0.1 * abs(value_mean[i])
                best[:, g] = np.where(ok, i, best[:, g])
                strongest = np.where(ok, centred[:, i], strongest)
            said = np.zeros(len(x), dtype=bool)
            for rule in covered[g]:
                said |= flags[rule].to_numpy(dtype=bool)[rows]
            net[:, g] = np.where((best[:, g] < 0) | said | ~(net[:, g] > min_contribution), -np.inf, net[:, g])
        at = np.arange(len(x))
        for j in range(min(k, len(groups))):
            g = np.argmax(net, axis=1)  # the first of equal values
            top_group[rows, j], top_net[rows, j] = g, net[at, g]
            top_speaker[rows, j] = np.where(np.isfinite(net[at, g]), best[at, g], -1)
            net[at, g] = -np.inf
    return Reasons(probability, groups, top_group, top_speaker, top_net, mean, value_mean)


def _average_words(name: str, mean: float) -> str:
    """ " (average account: 23)": what sets the account apart, said beside its own value; "" for a condition."""
    average = words.input_average(name, mean)
    return f" (average account: {average})" if average else ""


def probability_and_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, k: int = 3,
                            min_contribution: float = 0.05, *, flags: pd.DataFrame | None = None,
                            rules: Any = None, context: dict[str, Any] | None = None) -> tuple[np.ndarray, pd.Series]:
    """Per account, the churn probability and, in words, the k groups of model inputs that set its risk
    apart from the average account's (see ``model_reasons``), each said by its speaking member.

    Vectorised: for each of the k places, one formatting pass per speaking input, over its distinct values
    (or its rows, for a member said in a rule's template); Arrow joins the words once.
    """
    told = model_reasons(model, X, features, k=k, min_contribution=min_contribution, flags=flags, rules=rules)
    names = model.columns
    aligned = features.index.equals(X.index)
    table = features if aligned else features.reindex(X.index)
    known: dict[str, int] = {}
    places = []
    for j in range(told.speaker.shape[1]):
        speaker = told.speaker[:, j]
        at = np.flatnonzero(speaker >= 0)
        if not len(at):
            break
        held = speaker[at]
        order, starts, ends = code_runs(held)
        at, held = at[order], held[order]
        ids = np.full(len(X), -1, dtype="int32")
        for a, b in zip(starts, ends):
            name = names[held[a]]
            rows = at[a:b]
            if name in TEMPLATES:
                texts = np.asarray(rules_mod.render(TEMPLATES[name], table, rows, context).to_pylist(), dtype=object)
                distinct, codes = np.unique(texts, return_inverse=True)
                words_ = distinct
            else:
                source = (table[name].to_numpy()[rows] if name in table.columns
                          else np.full(len(rows), np.nan))
                codes, distinct = _distinct(source)
                words_ = np.asarray(words.input_words(name, distinct), dtype=object)
            average = _average_words(name, told.value_mean[held[a]])
            number = np.array([known.setdefault(w + average, len(known)) if w else -1 for w in words_], dtype="int32")
            ids[rows] = number[np.asarray(codes).reshape(-1)]
        places.append(ids)
    reasons = pd.Series(joined_reasons(places, list(known), len(X)), index=X.index, dtype="str")
    return told.probability, reasons


def top_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, k: int = 3,
                min_contribution: float = 0.05, **told: Any) -> pd.Series:
    """Per account, the k groups of model inputs that set its risk apart, in words (probability_and_reasons)."""
    return probability_and_reasons(model, X, features, k, min_contribution, **told)[1]
