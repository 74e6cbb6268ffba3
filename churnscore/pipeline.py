"""run the stages in order: load -> as-of date -> who is scored -> features -> rules (-> model) -> rank. No I/O
of outputs. Each stage is a function here (or asof.as_of_for, universe.note_rows and universe.universe):
score calls them in turn; validate, the Dask engine and the history commands call those they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import rules as rules_mod
from .config import Config
from .errors import ConfigError
from .features import account_attributes, build_features, with_peers
from .load import Loaded, load_all
from .memory import trim_heap
from .movers import add_previous, read_previous
from .rank import rank
from .playbook import check_playbook
from .playbook import choose as choose_plays
from .rulecheck import EventUse, RuleChecks, event_accounts, events_seen, flags_of, judge, needs_counts
from .stages import Stages, rounded
from .asof import AsOf, BeyondHorizon, accounts_date, as_of_for, parse_as_of
from .universe import RowNotes, ids_in, note_rows, universe

ENGINES = ("pandas", "dask")  # where loading and the features run: this process, or a Dask cluster


@dataclass
class ScoreResult:
    ranked: pd.DataFrame
    features: pd.DataFrame
    flags: pd.DataFrame
    excluded: pd.DataFrame  # account_id, reason
    loaded: Loaded
    as_of: pd.Timestamp
    as_of_source: str
    timings: dict[str, float] = field(default_factory=dict)
    previous: pd.DataFrame | None = None  # the previous ranked list (--previous), as movers.read_previous reads it
    checks: RuleChecks | None = None  # the rules that judged, and those switched off with why (rulecheck)
    model_checks: Any = None  # drift.ModelChecks with a model: input drift, model age, calibration
    model_inputs: pd.DataFrame | None = None  # the model's inputs, as it scored them (see as_in_training)
    beyond_horizon: "BeyondHorizon | None" = None  # usage rows the default as-of date ignored as implausible
    ranked_by: str = "risk"  # how the list was ordered: "risk" or "revenue", by the model or the rules
    revenue_tiers: tuple[str, ...] = ("high", "medium")  # the tiers the headline's revenue at risk counts
    currency: str | None = None  # of the money amounts: output.currency, else the payments export's
    rows: RowNotes = field(default_factory=RowNotes)  # rows left out: after the as-of date, for unknown ids
    accounts_seen: pd.Index | None = None  # every account id in the inputs (universe's ids_seen)

    def headline(self) -> dict[str, Any]:
        """Revenue at risk: risk/100 x MRR summed over the accounts of the tiers named in
        scoring.revenue_at_risk_tiers, per month, in ``currency``; None (unknown) where no account has MRR."""
        counted = self.ranked["risk_tier"].isin(list(self.revenue_tiers)).to_numpy()
        mrr_known = self.ranked["mrr"].notna().to_numpy()
        total = (float(self.ranked["revenue_at_risk"].to_numpy()[counted & mrr_known].sum().round(2))
                 if mrr_known.any() else None)
        return {"revenue_at_risk": total, "revenue_at_risk_tiers": list(self.revenue_tiers),
                "currency": self.currency}

    def summary(self) -> dict[str, Any]:
        """Counts for people and machines: accounts in = scored + excluded, rows read and rejected."""
        by_reason = self.excluded["reason"].value_counts().sort_index().to_dict()
        rejected_by_file = self.loaded.rejected_by_file()
        files = {}
        for name, st in self.loaded.stats.items():
            files[name] = {"files": [str(p) for p in st.files], "rows_read": st.rows_read,
                           "rows_rejected": st.rows_rejected,
                           "rows_after_as_of": int(self.rows.after_as_of.get(name, 0)),
                           "rows_unknown_account": int(self.rows.unknown_rows.get(name, 0)),
                           "rows_unmapped": int(st.rows_unmapped),
                           "per_file": {path: {"rows_read": int(n),
                                               "rows_rejected": int(rejected_by_file.get(path, 0))}
                                        for path, n in st.file_rows.items()}}
        # counted in the inputs, not as scored + excluded, so that equation is a check
        seen = self.accounts_seen if self.accounts_seen is not None else \
            ids_in([frame["account_id"] for frame in self.loaded.frames.values()])
        return {
            "as_of": self.as_of.date().isoformat(),
            "as_of_source": self.as_of_source,
            "ranked_by": self.ranked_by,
            "accounts_in_inputs": len(seen),
            "accounts_scored": int(len(self.ranked)),
            "accounts_excluded": {str(k): int(v) for k, v in by_reason.items()},
            "at_risk": {t: int((self.ranked["risk_tier"] == t).sum()) for t in ("high", "medium", "low")},
            **self.headline(),
            "rows_read": int(sum(st.rows_read for st in self.loaded.stats.values())),
            "rows_rejected": int(self.loaded.reject_count),
            "files": files,
            "missing_exports": list(self.loaded.missing),
            **(self.checks.to_dict() if self.checks is not None else {}),
            "usage_rows_beyond_horizon": self.beyond_horizon.rows if self.beyond_horizon else 0,
            "warnings": [self.beyond_horizon.warning()] if self.beyond_horizon else [],
            "timings_s": rounded(self.timings),
            **({"model_checks": self.model_checks.to_dict()} if self.model_checks is not None else {}),
        }


RENEWAL_FEATURES = ("days_to_renewal", "renewal_within_90d")


def as_in_training(X: pd.DataFrame, table: pd.DataFrame, config: Config, accounts: pd.DataFrame) -> pd.DataFrame:
    """A design matrix on the accounts export's own day, made like the training snapshots' for the accounts
    without a contract term: the renewal features (and the flags that use them) are empty for them, as
    they are on every earlier day, so that the model meets no value it never saw in training."""
    from .features import contract_terms

    unknown = np.isnan(contract_terms(account_attributes(accounts, table.index), config.features))
    if not unknown.any():
        return X
    X = X.copy()
    for name in RENEWAL_FEATURES:
        if name in X.columns:
            X[name] = np.where(unknown, np.nan, X[name].to_numpy())
    rules = [r for r in config.rules if f"flag_{r.name}" in X.columns
             and {leaf.feature for leaf in rules_mod.leaves(r.when)} & set(RENEWAL_FEATURES)]
    if rules:
        used = sorted({leaf.feature for r in rules for leaf in rules_mod.leaves(r.when)})
        blanked = pd.DataFrame({c: np.where(unknown, np.nan, table[c].to_numpy()) if c in RENEWAL_FEATURES
                                else table[c].to_numpy() for c in used}, index=table.index)
        flags = rules_mod.evaluate(tuple(rules), blanked)
        for r in rules:
            X[f"flag_{r.name}"] = flags[r.name].to_numpy(dtype="float64")
    return X


def score(config: Config, *, input_dir: str | Path | None = None, as_of: AsOf | str | pd.Timestamp | None = None,
          loaded: Loaded | None = None, rank_by: str | None = None, model: Any = None,
          previous: str | Path | None = None, on_stage: Callable[[str], None] | None = None,
          engine: str = "pandas", scheduler: str | None = None,
          on_loaded: Callable[[Loaded], None] | None = None,
          on_rows: Callable[[str, int], None] | None = None) -> ScoreResult:
    """Score every active account on the as-of date; returns the ranked list.

    ``as_of``: an AsOf (asof.parse_as_of), or a date as text or Timestamp; None: the latest usage date.
    Without a model the risk score is the rules' 0-100 score; with one (model.LinearChurnModel) it is
    100 x the churn probability within the model's horizon, with the model's reasons beside the flags.
    With ``previous`` (an earlier ranked list) each row also gets previous_rank, previous_score and
    score_change. ``on_stage`` is called with "load", "features", "score" as each stage starts (progress),
    and ``on_loaded`` with what was loaded as soon as it is (the CLI starts hashing the input files then);
    ``on_rows`` with (export, rows read so far) as the pandas engine reads each batch.
    ``engine="dask"`` loads and builds the feature table on a Dask cluster (``scheduler``: its address; None:
    a local one), with the same result; the rows stay there, so ``loaded.frames`` then holds the accounts
    export and, for the other exports, each account's earliest and latest date (see engine_dask). So does a
    ``loaded`` this function reads itself, once the features are built (their rows' memory goes back);
    a ``loaded`` passed in is left as it is.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine: '{engine}' is not one of {', '.join(ENGINES)}.")
    if scheduler is not None and engine != "dask":
        raise ConfigError("a Dask scheduler address needs engine 'dask' (--engine dask).")
    rules_mod.check_rules(config.rules)
    check_playbook(config.playbook, config.rules)
    given = parse_as_of(as_of)
    prior = read_previous(previous) if previous is not None else None  # a bad file fails before the work
    stage = Stages(on_stage)
    dask_run = None  # --engine dask: the rows stay on the cluster; only what follows the features is here
    stage("load")
    if loaded is None and engine == "dask":
        from .engine_dask import DaskEngine  # dask is an optional extra: imported only when asked for

        dask_run = DaskEngine(config, input_dir, scheduler=scheduler)
        loaded = dask_run.load()
    own = loaded is None  # loaded here: its rows may go once the features are built
    if own:
        loaded = load_exports(config, input_dir, on_rows=on_rows)
    if on_loaded is not None:
        on_loaded(loaded)
    when = as_of_for(loaded, given)
    rows = note_rows(loaded, when) if dask_run is None else dask_run.note_rows(loaded, when)
    found = universe(loaded, when.day)
    index = found.index
    if dask_run is None:  # the event names now: the usage rows may be gone once the features are built
        events = event_use(config, loaded, index, when)
    else:
        events = usage_events(config, dask_run.events_seen(), lambda: dask_run.event_accounts(index, when.day),
                              len(index))
    described = accounts_date(loaded, config, when)
    currency = config.output.currency or payments_currency(loaded)  # before the rows are released

    stage("features")
    if dask_run is None:
        table = feature_table(loaded, index, when, config, described)
        loaded.close()
        if own:
            loaded.keep_dates_only()
        trim_heap()
    else:
        table = dask_run.features(index, when, described)  # and closes the engine
        table = with_peers(table, account_attributes(loaded.frame("accounts"), index))  # over every partition

    stage("score")
    judged = judge_rules(config, table, events)
    scored = model_scores(config, model, table, judged, when, described, loaded.frame("accounts")) \
        if model is not None else None
    ranked = ranked_list(config, table, judged, loaded.frame("accounts"), when, rank_by=rank_by, scored=scored,
                         previous=prior)
    return ScoreResult(ranked, table, judged.flags, found.excluded, loaded, when.day, when.source, stage.stop(),
                       prior, judged.checks, scored.checks if scored is not None else None,
                       scored.inputs if scored is not None else None, when.beyond,
                       f"{rank_by or config.scoring.rank_by} ({'model' if model is not None else 'rules'})",
                       config.scoring.revenue_at_risk_tiers, currency, rows, found.ids_seen)


# ----------------------------------------------------------------------------- the stages, in order


def load_exports(config: Config, input_dir: str | Path | None = None, *,
                 on_rows: Callable[[str, int], None] | None = None) -> Loaded:
    """The load stage (this process): every export the config and input folder provide, typed, with its
    rejects; a large usage export goes to disk by account (Loaded.spilled: ``close()`` the result when done
    with it). ``on_rows`` is told (export, rows read so far) after each batch."""
    return load_all(config, input_dir, spill=True, on_rows=on_rows)


def feature_table(loaded: Loaded, index: pd.Index, as_of: AsOf, config: Config,
                  accounts_day: pd.Timestamp | None) -> pd.DataFrame:
    """The features stage (this process): one row per account of ``index`` on the as-of date, a spilled
    export read from disk part by part. ``accounts_day``: the day the accounts export describes
    (asof.accounts_date; None: the as-of date)."""
    frames = {name: loaded.frame(name) for name in ("accounts", "usage", "nps", "tickets", "payments")}
    frames.update(loaded.spilled)
    return build_features(frames, index, as_of.day, config, accounts_date=accounts_day)


def event_use(config: Config, loaded: Loaded, index: pd.Index, as_of: AsOf, *, always: bool = False) -> EventUse:
    """usage_events of the loaded usage export (this process; a spilled one read from disk): its event names,
    and how many accounts of ``index`` used each by the as-of date when needed (or ``always``)."""
    usage = loaded.spilled.get("usage", loaded.frame("usage"))
    return usage_events(config, events_seen(usage), lambda: event_accounts(usage, index, as_of.day), len(index),
                        always=always)


@dataclass(frozen=True)
class Judged:
    """What the rules found on a feature table (judge_rules's result)."""

    checks: RuleChecks  # the rules that judge, and those switched off with why
    flags: pd.DataFrame  # one boolean column per configured rule (config order)
    score: pd.Series  # the rules' 0-100 score per account
    words: pd.DataFrame  # red_flags, reasons, suggested_play per account


def judge_rules(config: Config, table: pd.DataFrame, events: EventUse) -> Judged:
    """The rules stage: which rules can judge on this table, their flags, score and words."""
    checks = judge(config.rules, table, config.features, events)
    flags = flags_of(checks, config.rules, table)
    return Judged(checks, flags, rules_mod.rule_score(flags, checks.rules),
                  rules_mod.explain(flags, checks.rules, table, {"key_features": len(config.features.key_features)}))


@dataclass(frozen=True)
class ModelScores:
    """What a model found on a feature table (model_scores's result)."""

    risk: pd.Series  # 100 x the churn probability per account
    extra: pd.DataFrame  # churn_probability, rule_score, model_reasons: the ranked list's extra columns
    inputs: pd.DataFrame  # the model's inputs, as it scored them (see as_in_training)
    checks: Any  # drift.ModelChecks: input drift, model age, calibration


def model_scores(config: Config, model: Any, table: pd.DataFrame, judged: Judged, as_of: AsOf,
                 accounts_day: pd.Timestamp, accounts: pd.DataFrame) -> ModelScores:
    """The model stage: each account's churn probability and reasons by ``model`` (model.LinearChurnModel),
    beside the rules' (``judged``); ``accounts_day`` as for feature_table, ``accounts`` the accounts export."""
    from .model import check_model, design_matrix, probability_and_reasons

    # the model's flags as in its training snapshots: every rule, none switched off
    X = design_matrix(table, rules_mod.evaluate(config.rules, table), model.columns)
    if as_of.day >= accounts_day:  # the export's own renewal dates: the model saw none where the term is unknown
        X = as_in_training(X, table, config, accounts)
    p, reasons = probability_and_reasons(model, X, table, flags=judged.flags, rules=judged.checks.rules,
                                         context={"key_features": len(config.features.key_features)})
    checks = check_model(model.metadata, X, p, as_of.day, config.model.max_age_days)
    probability = pd.Series(p, index=table.index)
    extra = pd.DataFrame({"churn_probability": probability.round(4),
                          "rule_score": judged.score.round(1),
                          "model_reasons": reasons}, index=table.index)
    return ModelScores(probability * 100.0, extra, X, checks)


def ranked_list(config: Config, table: pd.DataFrame, judged: Judged, accounts: pd.DataFrame, as_of: AsOf, *,
                rank_by: str | None = None, scored: ModelScores | None = None,
                previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rank stage: the ranked list by the model's risk (``scored``) or else the rules', with each
    account's play and, with ``previous`` (movers.read_previous), its earlier rank and score."""
    risk = scored.risk if scored is not None else judged.score
    names = account_attributes(accounts, table.index)["account_name"]
    ranked = rank(risk, judged.words, table["mrr"], names, config.scoring, rank_by=rank_by,
                  extra=scored.extra if scored is not None else None, finer=risk if scored is not None else None)
    plays = choose_plays(config.playbook, ranked, table, rules_mod.told(judged.flags, judged.checks.rules, table),
                         as_of.day)
    ranked["suggested_play"] = plays["suggested_play"].astype(ranked["suggested_play"].dtype)
    at = ranked.columns.get_loc("suggested_play") + 1
    ranked.insert(at, "play_owner", plays["play_owner"].astype(ranked["suggested_play"].dtype))
    ranked.insert(at + 1, "play_due", plays["play_due"].astype(ranked["suggested_play"].dtype))
    if previous is not None:
        ranked = add_previous(ranked, previous)
    return ranked


def payments_currency(loaded: Loaded) -> str | None:
    """The payments export's currency when it names one (a currency column with one value), else None."""
    frame = loaded.frame("payments")
    if "currency" not in frame.columns:
        return None
    values = frame["currency"].dropna().astype(str).str.strip().str.upper().unique()
    return str(values[0]) if len(values) == 1 and values[0] else None


def usage_events(config: Config, seen: frozenset[str], count: Callable[[], pd.Series], accounts: int, *,
                 always: bool = False) -> EventUse:
    """The usage export's event names (``seen``, its codebook) and, when a rule loses an input to an absent
    event (or ``always``, as validate lists them), ``count()``: how many accounts used each event."""
    counts = count() if always or needs_counts(config.rules, config.features, seen) else None
    return EventUse(seen, counts, accounts)
