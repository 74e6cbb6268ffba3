"""run the stages in order: load -> who is scored -> features -> rules (-> model) -> rank. No I/O of outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import rules as rules_mod
from .config import Config
from .contract import EXPORTS
from .errors import ConfigError
from .features import account_attributes, account_codes, build_features, with_peers
from .load import Loaded, load_all
from .memory import trim_heap
from .movers import add_previous, read_previous
from .rank import rank
from .playbook import check_playbook
from .playbook import choose as choose_plays
from .rulecheck import EventUse, RuleChecks, event_accounts, events_seen, flags_of, judge, needs_counts
from .stages import Stages, rounded
from .asof import BeyondHorizon, accounts_date, beyond_horizon, resolve_as_of
from .universe import account_universe, ids_in, present_ids, shared_ids, used

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
                           "rows_after_as_of": int(self.loaded.after_as_of.get(name, 0)),
                           "rows_unknown_account": int(self.loaded.unknown_rows.get(name, 0)),
                           "rows_unmapped": int(st.rows_unmapped),
                           "per_file": {path: {"rows_read": int(n),
                                               "rows_rejected": int(rejected_by_file.get(path, 0))}
                                        for path, n in st.file_rows.items()}}
        # counted in the inputs, not as scored + excluded, so that equation is a check
        seen = self.loaded.ids_seen if self.loaded.ids_seen is not None else \
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


def _note_rows(loaded: Loaded, as_of: pd.Timestamp) -> None:
    """Count, per export, rows after the as-of date and rows for ids the accounts export lacks."""
    end = as_of + pd.Timedelta(days=1)
    accounts = loaded.frames.get("accounts")
    # the loader gives every export one set of account codes: the known ids are then a mask over them
    categories = shared_ids([f["account_id"] for f in loaded.frames.values()]) if accounts is not None else None
    known_codes = used(accounts["account_id"]) if categories is not None else None
    known = present_ids(accounts["account_id"]) if accounts is not None and categories is None else None
    loaded.after_as_of, loaded.unknown_rows = {}, {}
    for name, frame in loaded.frames.items():
        col = EXPORTS[name].date_column
        if col is None:
            continue
        spill = loaded.spilled.get(name)
        if spill is not None:  # on disk by account (frame: two dates per account)
            loaded.after_as_of[name] = spill.after(end)
            if accounts is not None and spill.categories["account_id"] is categories:
                loaded.unknown_rows[name] = spill.rows - spill.rows_of(np.flatnonzero(known_codes))
            elif accounts is not None:
                loaded.unknown_rows[name] = spill.outside(present_ids(accounts["account_id"]))[0]
            continue
        loaded.after_as_of[name] = int((frame[col] >= end).sum())
        if known_codes is not None:
            codes = frame["account_id"].cat.codes.to_numpy()
            loaded.unknown_rows[name] = int(((codes < 0) | ~known_codes[codes]).sum())
        elif known is not None:
            loaded.unknown_rows[name] = int((account_codes(frame["account_id"], known) < 0).sum())


def score(config: Config, *, input_dir: str | Path | None = None, as_of: str | pd.Timestamp | None = None,
          loaded: Loaded | None = None, rank_by: str | None = None, model: Any = None,
          previous: str | Path | None = None, on_stage: Callable[[str], None] | None = None,
          engine: str = "pandas", scheduler: str | None = None,
          on_loaded: Callable[[Loaded], None] | None = None,
          on_rows: Callable[[str, int], None] | None = None) -> ScoreResult:
    """Score every active account on the as-of date; returns the ranked list.

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
        loaded = load_all(config, input_dir, spill=True, on_rows=on_rows)
    if on_loaded is not None:
        on_loaded(loaded)
    as_of, source = resolve_as_of(loaded, as_of)
    beyond = beyond_horizon(loaded) if source == "latest usage date" else None
    if dask_run is None:
        _note_rows(loaded, as_of)
    else:
        dask_run.note_rows(loaded, as_of)
    index, excluded = account_universe(loaded, as_of)
    if dask_run is None:  # the event names now: the usage rows may be gone once the features are built
        usage = loaded.spilled.get("usage", loaded.frame("usage"))
        events = usage_events(config, events_seen(usage), lambda: event_accounts(usage, index, as_of), len(index))
    else:
        events = usage_events(config, dask_run.events_seen(), lambda: dask_run.event_accounts(index, as_of),
                              len(index))
    described = accounts_date(loaded, config)
    currency = config.output.currency or payments_currency(loaded)  # before the rows are released

    stage("features")
    if dask_run is None:
        frames = {name: loaded.frame(name) for name in ("accounts", "usage", "nps", "tickets", "payments")}
        frames.update(loaded.spilled)  # a large usage export is read from disk, part by part
        table = build_features(frames, index, as_of, config, accounts_date=described)
        del frames
        loaded.close()
        if own:
            loaded.keep_dates_only()
        trim_heap()
    else:
        table = dask_run.features(index, as_of, described)  # and closes the engine
        table = with_peers(table, account_attributes(loaded.frame("accounts"), index))  # over every partition

    stage("score")
    checks = judge(config.rules, table, config.features, events)
    flags = flags_of(checks, config.rules, table)
    risk = rules_mod.rule_score(flags, checks.rules)
    words = rules_mod.explain(flags, checks.rules, table, {"key_features": len(config.features.key_features)})
    extra = None
    model_checks = None
    if model is not None:
        from .model import check_model, design_matrix, probability_and_reasons

        # the model's flags as in its training snapshots: every rule, none switched off
        X = design_matrix(table, rules_mod.evaluate(config.rules, table), model.columns)
        if as_of >= described:  # the export's own renewal dates: the model saw none where the term is unknown
            X = as_in_training(X, table, config, loaded.frame("accounts"))
        p, reasons = probability_and_reasons(model, X, table, flags=flags, rules=checks.rules,
                                             context={"key_features": len(config.features.key_features)})
        model_checks = check_model(model.metadata, X, p, as_of, config.model.max_age_days)
        probability = pd.Series(p, index=table.index)
        extra = pd.DataFrame({"churn_probability": probability.round(4),
                              "rule_score": risk.round(1),
                              "model_reasons": reasons}, index=table.index)
        risk = probability * 100.0
    names = account_attributes(loaded.frame("accounts"), table.index)["account_name"]
    ranked = rank(risk, words, table["mrr"], names, config.scoring, rank_by=rank_by, extra=extra,
                  finer=risk if model is not None else None)
    plays = choose_plays(config.playbook, ranked, table, rules_mod.told(flags, checks.rules, table), as_of)
    ranked["suggested_play"] = plays["suggested_play"].astype(ranked["suggested_play"].dtype)
    at = ranked.columns.get_loc("suggested_play") + 1
    ranked.insert(at, "play_owner", plays["play_owner"].astype(ranked["suggested_play"].dtype))
    ranked.insert(at + 1, "play_due", plays["play_due"].astype(ranked["suggested_play"].dtype))
    if prior is not None:
        ranked = add_previous(ranked, prior)
    return ScoreResult(ranked, table, flags, excluded, loaded, as_of, source, stage.stop(), prior, checks,
                       model_checks, X if model is not None else None,
                       beyond if beyond is not None and beyond.rows else None,
                       f"{rank_by or config.scoring.rank_by} ({'model' if model is not None else 'rules'})",
                       config.scoring.revenue_at_risk_tiers, currency)


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
