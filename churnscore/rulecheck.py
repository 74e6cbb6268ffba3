"""Which rules can judge on this data: a rule whose inputs cannot tell accounts apart is switched off, with why.

Checked on the feature table of the run (and, for event names, the usage export's codebook) before scoring.
A condition on a feature cannot judge when

- the feature is built from configured event names (the catalogue's ``events``: ``features.login_event``,
  ``features.key_features``) that never occur in the usage export: no 'login' event, or none of the key
  features (when only some are absent the rule stays, and a note names them);
- the feature is missing for every account, or (for a comparison) holds the same value for every account
  that has one; ``missing``/``present`` conditions only when every account is missing, or none is. These two
  are judged from MIN_ACCOUNTS accounts up: a handful of accounts can share a value by chance.

Combining: an ``all`` rule with a condition that cannot judge is off (its other conditions alone would fire
on accounts the rule was not meant for); an ``any`` rule drops only the branches that cannot judge and is
off when none is left. The rules that stay (with their pruned conditions) are what score, validate and the
Dask engine evaluate; one function (``judge``) decides, for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import rules as rules_mod
from . import words
from .config import AllOf, AnyOf, Condition, FeatureParams, Leaf, RuleSpec
from .features import account_codes, feature, key_codes

MIN_ACCOUNTS = 20  # accounts needed before "missing for every account" or "constant" switches a rule off
TOP_EVENTS = 10  # events validate lists


@dataclass(frozen=True)
class EventUse:
    """The usage export's event names (``seen``, from its codebook) and, when counted, how many of the scored
    accounts used each event by the as-of date (``accounts``, most used first, among ``total`` accounts)."""

    seen: frozenset[str]
    accounts: pd.Series | None = None
    total: int = 0

    def top(self, k: int = TOP_EVENTS) -> list[tuple[str, float]]:
        """The k most used events and the share of accounts using each."""
        if self.accounts is None or not self.total:
            return []
        return [(str(e), float(n) / self.total) for e, n in self.accounts.head(k).items()]

    def words(self, k: int = 3) -> str:
        """'page_view (92% of accounts), export (40% of accounts)'; the names when not counted."""
        top = self.top(k)
        if top:
            return ", ".join(f"{e} ({words.share(share, 0)} of accounts)" for e, share in top)
        return ", ".join(sorted(self.seen)[:k]) or "none"


@dataclass(frozen=True)
class RuleOff:
    rule: str
    reason: str


@dataclass(frozen=True)
class RuleChecks:
    """What judge found: the rules that judge (``rules``, ``any`` conditions pruned), the rules switched off
    and why, notes (dropped branches, absent key features), and the events of usage."""

    rules: tuple[RuleSpec, ...]
    off: tuple[RuleOff, ...] = ()
    notes: tuple[str, ...] = ()
    events: EventUse = field(default_factory=lambda: EventUse(frozenset()))

    def lines(self) -> list[str]:
        """One line per rule switched off ('weak_start off: no 'login' event in usage; ...'), then the notes."""
        return [f"{o.rule} off: {o.reason}" for o in self.off] + list(self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"rules_off": [{"rule": o.rule, "reason": o.reason} for o in self.off],
                "rule_notes": list(self.notes),
                "top_events": [{"event": e, "share_of_accounts": round(s, 4)} for e, s in self.events.top()]}


def all_on(rules: tuple[RuleSpec, ...]) -> RuleChecks:
    """Every rule judging (what a run without checks, e.g. on history, uses)."""
    return RuleChecks(tuple(rules))


# ----------------------------------------------------------------------------- events of usage


def events_seen(usage: Any) -> frozenset[str]:
    """The event names of a usage export: its codebook (the categories of its ``event`` column, or of a
    spilled export's), without reading the rows again."""
    categories = getattr(usage, "categories", None)
    if isinstance(categories, dict):  # spill.UsageSpill
        return frozenset(str(e) for e in categories["event"])
    event = usage["event"]
    if isinstance(event.dtype, pd.CategoricalDtype):
        return frozenset(str(e) for e in event.cat.categories)
    return frozenset(str(e) for e in event.dropna().unique())


def event_accounts(usage: Any, index: pd.Index, as_of: pd.Timestamp) -> pd.Series:
    """Per event name, how many accounts of ``index`` have a row of it dated on or before the as-of day, most
    first (ties by name). ``usage``: a frame, or a spilled export (read part by part: each part holds whole
    accounts, so the counts add up)."""
    if not isinstance(usage, pd.DataFrame):
        return added(event_accounts(usage.part(p, ["account_id", "event", "timestamp"]), index, as_of)
                     for p in range(usage.parts))
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    kept = (usage["timestamp"] < end).to_numpy()
    codes = account_codes(usage["account_id"], index)[kept]
    event = usage["event"][kept]
    events = key_codes(event)
    names = (event.cat.categories if isinstance(event.dtype, pd.CategoricalDtype)
             else pd.Index(pd.factorize(event, use_na_sentinel=True)[1]))
    ok = (codes >= 0) & (events >= 0)
    width = len(names) + 1
    pairs = pd.unique(codes[ok].astype("int64") * width + events[ok])
    counts = np.bincount(pairs % width, minlength=len(names))[:len(names)]
    out = pd.Series(counts.astype("int64"), index=pd.Index([str(n) for n in names], dtype="str"))
    return _most_first(out[out > 0])


def added(counts) -> pd.Series:  # noqa: ANN001 - an iterable of event_accounts results
    """event_accounts of pieces holding whole accounts (spill parts, Dask partitions), added up."""
    parts = [c for c in counts if len(c)]
    if not parts:
        return pd.Series([], dtype="int64", index=pd.Index([], dtype="str"))
    return _most_first(pd.concat(parts).groupby(level=0).sum())


def _most_first(counts: pd.Series) -> pd.Series:
    counts = counts.astype("int64")
    order = np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))
    return counts.iloc[order]


def absent_events(params: FeatureParams, seen: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Per features setting (login_event, key_features), the configured event names never seen in usage."""
    return {"login_event": tuple(e for e in (params.login_event,) if e not in seen),
            "key_features": tuple(e for e in params.key_features if e not in seen)}


def _blind_setting(setting: str, params: FeatureParams, absent: dict[str, tuple[str, ...]]) -> str | None:
    """Why the features built from a setting's events cannot judge, or None when they can."""
    if setting == "login_event" and absent["login_event"]:
        return f"no '{params.login_event}' event in usage"
    if setting == "key_features" and params.key_features and len(absent["key_features"]) == len(params.key_features):
        names = ", ".join(f"'{e}'" for e in params.key_features)
        return f"none of the key features ({names}) in usage"
    return None


def needs_counts(rules: tuple[RuleSpec, ...], params: FeatureParams, seen: frozenset[str]) -> bool:
    """Whether a rule loses an input to absent events (its reason then lists the events most used)."""
    absent = absent_events(params, seen)
    return any(_blind_setting(feature(leaf.feature).events, params, absent) is not None
               for r in rules for leaf in rules_mod.leaves(r.when) if feature(leaf.feature).events)


# ----------------------------------------------------------------------------- the check


def _leaf_problem(leaf: Leaf, table: pd.DataFrame, params: FeatureParams, absent: dict[str, tuple[str, ...]],
                  events: EventUse) -> str | None:
    setting = feature(leaf.feature).events
    if setting:
        why = _blind_setting(setting, params, absent)
        if why is not None:
            return f"{why}; most frequent events: {events.words()}"
    if len(table) < MIN_ACCOUNTS:
        return None
    values = table[leaf.feature].to_numpy(dtype="float64")
    known = ~np.isnan(values)
    if not known.any():
        return f"'{leaf.feature}' is empty for every account"
    if leaf.op in ("missing", "present"):
        return f"'{leaf.feature}' is present for every account" if known.all() else None
    first = values[known][0]
    if (values[known] == first).all():
        return f"'{leaf.feature}' is {words.significant(first)} for every account" + ("" if known.all() else " that has one")
    return None


def _prune(cond: Condition, problem) -> tuple[Condition | None, list[str], list[str]]:  # noqa: ANN001
    """(the condition that judges or None, why parts were cut, the branches dropped from an 'any')."""
    if isinstance(cond, Leaf):
        why = problem(cond)
        return (None, [why], []) if why else (cond, [], [])
    kept, whys, dropped = [], [], []
    for item in cond.items:
        c, w, d = _prune(item, problem)
        whys += w
        dropped += d
        if c is not None:
            kept.append(c)
        elif isinstance(cond, AnyOf):
            dropped += w
    same = len(kept) == len(cond.items) and all(a is b for a, b in zip(kept, cond.items))
    if isinstance(cond, AllOf):
        if len(kept) < len(cond.items):
            return None, whys, []
        return (cond if same else AllOf(tuple(kept))), [], dropped
    if not kept:
        return None, whys, []
    return (cond if same else AnyOf(tuple(kept))), [], dropped


def judge(rules: tuple[RuleSpec, ...], table: pd.DataFrame, params: FeatureParams, events: EventUse) -> RuleChecks:
    """Check every rule's inputs on this feature table (see the module's note); the rules that judge, in
    config order, the rules switched off with why, and notes."""
    absent = absent_events(params, events.seen)
    memo: dict[Leaf, str | None] = {}

    def problem(leaf: Leaf) -> str | None:
        if leaf not in memo:
            memo[leaf] = _leaf_problem(leaf, table, params, absent, events)
        return memo[leaf]

    on, off, notes = [], [], []
    for rule in rules:
        cond, whys, dropped = _prune(rule.when, problem)
        if cond is None:
            off.append(RuleOff(rule.name, "; ".join(dict.fromkeys(whys))))
            continue
        on.append(rule if cond is rule.when else replace(rule, when=cond))
        for why in dict.fromkeys(dropped):
            notes.append(f"{rule.name}: one 'any' branch dropped ({why})")
    used = {leaf.feature for r in rules for leaf in rules_mod.leaves(r.when)
            if feature(leaf.feature).events == "key_features"}
    missing_keys = absent["key_features"]
    if used and missing_keys and len(missing_keys) < len(params.key_features):
        notes.append(f"key features never in usage: {', '.join(missing_keys)} (adoption is counted out of "
                     f"{len(params.key_features)}; fix features.key_features)")
    return RuleChecks(tuple(on), tuple(off), tuple(notes), events)


def flags_of(checks: RuleChecks, rules: tuple[RuleSpec, ...], table: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per configured rule (config order): the judging rules evaluated, the others False."""
    flags = rules_mod.evaluate(checks.rules, table)
    return flags.reindex(columns=[r.name for r in rules], fill_value=False).astype(bool)
