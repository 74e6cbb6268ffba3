"""The playbook: who does what by when for each ranked account, chosen from its tier, revenue, renewal and reasons.

Entries are data (configs/default.yaml, ``playbook:``): a condition in the rules' grammar, evaluated through
the rules' operator registry, over the account's features plus ``risk_score``, ``risk_tier`` (high, medium,
low) and ``flag_<rule>`` (1 where that rule's reason is told). The first entry that holds chooses the play,
its owner (a role) and its due date (the as-of date + due_days); the last entry, without a condition, is
the default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import PlaySpec, RuleSpec
from .errors import ConfigError
from .features import FEATURE_NAMES, index_positions
from .rules import OPERATORS, evaluate_condition, leaves

_TEXT_OPS = {"eq", "ne", "in", "missing", "present"}


def fields(rules: tuple[RuleSpec, ...]) -> tuple[str, ...]:
    """What a playbook condition may name."""
    return FEATURE_NAMES + ("risk_score", "risk_tier") + tuple(f"flag_{r.name}" for r in rules)


def check_playbook(playbook: tuple[PlaySpec, ...], rules: tuple[RuleSpec, ...]) -> None:
    """Fail at start, naming the entry, on an unknown field or operator (risk_tier takes eq, ne, in)."""
    known = set(fields(rules))
    for i, play in enumerate(playbook):
        for leaf in leaves(play.when) if play.when is not None else []:
            where = f"config: playbook[{i}] ({play.name})"
            if leaf.feature not in known:
                raise ConfigError(f"{where} names '{leaf.feature}'; a playbook condition names a feature, "
                                  "risk_score, risk_tier or flag_<rule> (see 'churnscore features --list').")
            if leaf.op not in OPERATORS:
                raise ConfigError(f"{where} uses unknown operator '{leaf.op}'; choose one of "
                                  f"{', '.join(sorted(OPERATORS))}.")
            if leaf.feature == "risk_tier" and leaf.op not in _TEXT_OPS:
                raise ConfigError(f"{where}: risk_tier is high, medium or low; compare it with eq, ne or in.")


def choose(playbook: tuple[PlaySpec, ...], ranked: pd.DataFrame, table: pd.DataFrame, told: pd.DataFrame,
           as_of: pd.Timestamp) -> pd.DataFrame:
    """suggested_play, play_owner and play_due (ISO date) for each row of ``ranked`` (in its order).

    ``table``: the features by account_id; ``told``: the flags whose reasons are told, by account_id. Without a
    playbook, the ranked list's own play stays and owner and due date are empty.
    """
    n = len(ranked)
    if not playbook:
        return pd.DataFrame({"suggested_play": ranked["suggested_play"].to_numpy(),
                             "play_owner": np.full(n, "", dtype=object), "play_due": np.full(n, "", dtype=object)},
                            index=ranked.index)
    # every ranked account is in the table: look the ids up once (Arrow's hash lookup), then take rows by position
    ids = pd.Index(ranked["account_id"].to_numpy(), dtype=table.index.dtype)
    at = index_positions(table.index, ids)
    if (at < 0).any():  # a ranked account the table lacks: a bug upstream, never taken as the last row
        raise RuntimeError("playbook: a ranked account has no feature row")
    # only the columns the plays' conditions name are taken: the table has 56 (a second a million accounts)
    named = {leaf.feature for play in playbook if play.when is not None for leaf in leaves(play.when)}
    facts = table[[c for c in table.columns if c in named]].take(at).reset_index(drop=True)
    facts["risk_score"] = ranked["risk_score"].to_numpy()
    facts["risk_tier"] = ranked["risk_tier"].astype(str).to_numpy()
    wanted = [c for c in told.columns if f"flag_{c}" in named]
    if wanted:
        flags = (told[wanted].take(at) if told.index.equals(table.index)
                 else told[wanted].reindex(ids).fillna(False)).astype(bool)
        for name in wanted:
            facts[f"flag_{name}"] = flags[name].to_numpy(dtype="float64")
    chosen = np.full(n, len(playbook) - 1)
    open_ = np.ones(n, dtype=bool)
    for k, play in enumerate(playbook):
        if play.when is None:
            hit = open_.copy()
        else:
            hit = open_ & evaluate_condition(play.when, facts).to_numpy(dtype=bool)
        chosen[hit] = k
        open_ &= ~hit
    own = ranked["suggested_play"].astype(str).to_numpy(dtype=object)
    plays = np.array([p.play if p.play is not None else "" for p in playbook], dtype=object)[chosen]
    plays = np.where(np.array([p.play is None for p in playbook])[chosen], own, plays)
    owners = np.array([p.owner for p in playbook], dtype=object)[chosen]
    # one date a play: formatted once each, then taken by row
    dates = (pd.Timestamp(as_of).normalize() + pd.to_timedelta([p.due_days for p in playbook], unit="D"))
    due = np.asarray(dates.strftime("%Y-%m-%d"), dtype=object)[chosen]
    return pd.DataFrame({"suggested_play": plays, "play_owner": owners, "play_due": due}, index=ranked.index)
