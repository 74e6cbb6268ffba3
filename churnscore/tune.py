"""Rule weights learned from the team's own history (tune-rules): a health score weighted by regression.

The backtest's snapshots (evaluate.split_history: the same training and held-out test dates as evaluate) give
each rule's flag and the churn label of every (observation date, account) row. Rules that are inverted on
the training rows (the accounts they flagged churned less than the rest), never fire or fire on every row are
left out (see audit), and so are the rules score switches off on the data of the as-of date (rulecheck). The others get weights from a non-negative regression whose link is the rule score's own noisy OR:

    P(churn within the horizon) = 1 - exp(-(b + sum_j t_j x_j)),   t_j >= 0, b > 0 (the base, no rule fired)

fitted by maximum likelihood with an L2 penalty on t chosen by time-ordered cross-validation
(model.time_folds, mean ROC AUC). Each coefficient maps to a weight by w_j = 1 - exp(-t_j), in [0, 1): then
1 - prod(1 - w_j) over the rules fired is exactly the fitted churn probability above the base, so the rule
score (100 x the noisy OR) stays a probability-like 0-100 figure, ranks accounts as the fitted model does, and a
weight reads as "the chance this red flag alone leads to churn within the horizon". A rule that adds nothing
beyond the others gets weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from . import rules as rules_mod
from . import words
from .audit import INVERTED, NEVER_FIRES, RuleAudit, audit_rules
from .config import Config, RuleSpec
from .errors import ModelError
from .evaluate import metrics, split_history
from .load import Loaded
from .model import roc_auc, time_folds
from .stages import Stages

PENALTIES = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)  # L2 on the coefficients, per training row; chosen by time-ordered CV
DIGITS = 3  # weights as written


@dataclass
class Tuned:
    """What tune learned: new weights of the rules kept, the rules left out and why, and the figures."""

    weights: dict[str, float]  # rule -> weight, config order, the rules kept
    dropped: dict[str, str]  # rule -> why it is left out (with its numbers)
    base: float  # the fitted chance of churn within the horizon when no rule fires
    penalty: float
    cv: list[dict[str, Any]]  # per penalty: mean ROC AUC over the folds
    before: dict[str, float]  # rules-only ROC AUC and top-decile lift on the held-out test dates, config weights
    after: dict[str, float]  # the same with the learned weights
    cutoff: pd.Timestamp
    n_train: int
    n_test: int
    tiers: dict[str, float] = field(default_factory=dict)  # scoring.tiers for the new scale: high, medium
    audit: list[RuleAudit] = field(default_factory=list)

    def rules(self, config: Config) -> tuple[RuleSpec, ...]:
        """The config's rules that are kept, with the learned weights."""
        return tuple(replace(r, weight=self.weights[r.name])
                     for r in config.rules if r.name in self.weights)


# ----------------------------------------------------------------------------- the fit


def _patterns(flags: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of 0/1 flags with their counts of churners and stayers: the likelihood needs no more."""
    if not len(y):
        return np.zeros((0, flags.shape[1])), np.zeros(0), np.zeros(0)
    uniq, inverse = np.unique(flags.astype("int8"), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    churned = np.bincount(inverse, weights=y.astype("float64"), minlength=len(uniq))
    total = np.bincount(inverse, minlength=len(uniq)).astype("float64")
    return uniq.astype("float64"), churned, total - churned


def fit_noisy_or(flags: np.ndarray, y: np.ndarray, penalty: float = 0.0) -> tuple[float, np.ndarray]:
    """(b, t): P(churn) = 1 - exp(-(b + flags @ t)), t >= 0, by penalised maximum likelihood (L-BFGS-B).

    ``flags``: rows x rules, 0/1; ``penalty``: L2 on t per row of data (the likelihood is averaged)."""
    from scipy.optimize import minimize

    X, n1, n0 = _patterns(np.asarray(flags), np.asarray(y))
    n = float(n1.sum() + n0.sum())
    if n == 0 or n1.sum() == 0:
        raise ModelError("tune-rules: no churner in the training snapshots; use a longer history.")
    k = X.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] + X @ theta[1:]
        log_churn = np.log(-np.expm1(-eta))  # log(1 - exp(-eta)), stable for small eta
        value = (-(n1 * log_churn).sum() + (n0 * eta).sum()) / n + 0.5 * penalty * (theta[1:] ** 2).sum()
        d_eta = (n0 - n1 / np.expm1(eta)) / n
        grad = np.concatenate([[d_eta.sum()], X.T @ d_eta + penalty * theta[1:]])
        return float(value), grad

    base = n1.sum() / n
    start = np.concatenate([[-np.log1p(-min(base, 0.99))], np.zeros(k)])
    bounds = [(1e-9, None)] + [(0.0, None)] * k
    res = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000})
    return float(res.x[0]), np.asarray(res.x[1:], dtype="float64")


def weights_of(coefficients: np.ndarray) -> np.ndarray:
    """Noisy-OR weights of the coefficients: w = 1 - exp(-t), in [0, 1), rounded as written."""
    return np.round(-np.expm1(-np.asarray(coefficients, dtype="float64")), DIGITS)


def choose_penalty(flags: np.ndarray, y: np.ndarray, dates: np.ndarray, horizon_days: int,
                   n_folds: int) -> tuple[float, list[dict[str, Any]]]:
    """The penalty with the best mean ROC AUC over time-ordered folds (ties: the larger, more regularised)."""
    folds = time_folds(dates, horizon_days, n_folds)
    rows = []
    for penalty in PENALTIES:
        aucs = []
        for train, val in folds:
            if y[train].sum() == 0 or len(np.unique(y[val])) < 2:
                continue
            b, t = fit_noisy_or(flags[train], y[train], penalty)
            aucs.append(roc_auc(y[val], flags[val] @ t))
        rows.append({"penalty": penalty, "cv_roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
                     "folds": len(aucs)})
    best = max(rows, key=lambda r: (np.nan_to_num(r["cv_roc_auc"], nan=-1.0), r["penalty"]))
    return float(best["penalty"]), rows


def _left_out_why(a: RuleAudit) -> str | None:
    if NEVER_FIRES in a.warnings:
        return f"never fires on history ({a.rows:,} rows)"
    if a.fired == a.rows:
        return f"fires on every row of history ({a.rows:,} rows): it cannot tell accounts apart"
    if INVERTED in a.warnings:
        return (f"inverted on history: fired on {words.share(a.share)} of {a.rows:,} rows; churn "
                f"{words.share(a.churn_when_fired)} when fired, {words.share(a.churn_when_not)} when not "
                f"(lift {words.times(a.lift)})")
    return None


def tier_at(scores: np.ndarray, share: float) -> float:
    """The lowest score (to one decimal, rounded down) that puts about ``share`` of the rows at or above it;
    100 when the share is 0, and never below 0.1 (an account no rule flagged is never at risk)."""
    if share <= 0 or not len(scores):
        return 100.0
    k = max(1, int(round(share * len(scores))))
    return max(0.1, float(np.floor(np.sort(scores)[::-1][k - 1] * 10) / 10))


def _ranking(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    m = metrics(y, np.asarray(score, dtype="float64"), None, 1)
    return {"roc_auc": m["roc_auc"], "top_decile_lift": m["top_decile_lift"]}


def tune(loaded: Loaded, config: Config, as_of: pd.Timestamp, *, test_dates: int = 2,
         stages: Stages | None = None) -> Tuned:
    """Learn the rule weights on the backtest's training snapshots; measure before and after on its test dates."""
    stages = stages or Stages()
    train, test, cutoff = split_history(loaded, config, as_of, test_dates, stages)
    stages("tune")
    audit = audit_rules(train.flags, train.y, config.rules)
    # the rules score switches off on the data as of today (rulecheck: they cannot judge there; the reason
    # says what to fix), then the ones history speaks against
    from .pipeline import score

    today = score(config, loaded=loaded, as_of=as_of).checks
    dropped = {o.rule: f"switched off on the data of {as_of.date()}: {o.reason}"
               for o in (today.off if today is not None else ())}
    for a in audit:
        why = _left_out_why(a)
        if why is not None:
            dropped.setdefault(a.rule, why)
    dropped = {r.name: dropped[r.name] for r in config.rules if r.name in dropped}
    kept = [r.name for r in config.rules if r.name not in dropped]
    if not kept:
        raise ModelError("tune-rules: every rule is inverted or never fires on history; nothing to weigh.")
    flags = train.flags[kept].to_numpy(dtype="float64")
    penalty, cv = choose_penalty(flags, train.y, train.date, config.model.horizon_days, config.model.cv_folds)
    b, t = fit_noisy_or(flags, train.y, penalty)
    weights = dict(zip(kept, weights_of(t).tolist()))
    tuned_rules = tuple(replace(r, weight=weights[r.name])
                        for r in config.rules if r.name in weights)
    after = rules_mod.rule_score(test.flags, tuned_rules).to_numpy()
    # the learned score is a probability: smaller than the hand-set one. The tiers move with it, so that as many
    # training rows are high and medium as under the config's weights (the team's follow-up capacity stays)
    new = rules_mod.rule_score(train.flags, tuned_rules).to_numpy()
    old, sc = train.rule_score, config.scoring
    high = tier_at(new, float((old >= sc.tier_high).mean()))
    tiers = {"high": high, "medium": min(high, tier_at(new, float((old >= sc.tier_medium).mean())))}
    stages.stop()
    return Tuned(weights, dropped, float(-np.expm1(-b)), penalty, cv, _ranking(test.y, test.rule_score),
                 _ranking(test.y, after), cutoff, len(train.y), len(test.y), tiers, audit)


# ----------------------------------------------------------------------------- words and the config file


def tuned_text(tuned: Tuned, config: Config) -> str:
    """Before and after on the held-out test dates, then each rule's weight (config -> learned) or why it went."""
    b, a = tuned.before, tuned.after
    lines = [f"tune-rules: trained on {tuned.n_train:,} rows before {tuned.cutoff.date()}, tested on {tuned.n_test:,} "
             f"rows from it; penalty {words.significant(tuned.penalty)} (time-ordered CV)",
             f"  rules only, held-out test dates: ROC AUC {words.metric('roc_auc', b['roc_auc'])} -> "
             f"{words.metric('roc_auc', a['roc_auc'])}, top-decile lift "
             f"{words.metric('top_decile_lift', b['top_decile_lift'])} -> "
             f"{words.metric('top_decile_lift', a['top_decile_lift'])}",
             f"  base chance of churn with no rule fired: {words.share(tuned.base)}; tiers high "
             f"{words.significant(tuned.tiers['high'])}, medium {words.significant(tuned.tiers['medium'])} "
             "(as many training rows in each as before)"]
    for r in config.rules:
        if r.name in tuned.weights:
            lines.append(f"  {r.name:<28} {words.decimals(r.weight, 2)} -> {words.decimals(tuned.weights[r.name], 3)}")
        else:
            lines.append(f"  {r.name:<28} left out: {tuned.dropped[r.name]}")
    return "\n".join(lines)


def _moved(raw: dict[str, Any], config: Config, folder: Path) -> dict[str, Any]:
    """The config's relative paths rewritten for a file in ``folder`` (they are relative to the config's file)."""
    def move(path: Any) -> Any:  # the same folder: as written; another: absolute
        if not isinstance(path, str) or Path(path).expanduser().is_absolute():
            return path
        return path if folder.resolve() == config.base_dir.resolve() else str(config.resolve(path).resolve())

    out = dict(raw)
    if out.get("input_dir"):
        out["input_dir"] = move(out["input_dir"])
    for section in ("output", "account_map"):
        if isinstance(out.get(section), dict) and out[section].get("path"):
            out[section] = {**out[section], "path": move(out[section]["path"])}
    if isinstance(out.get("inputs"), dict):
        out["inputs"] = {name: ({**spec, "path": move(spec["path"])} if isinstance(spec, dict) and spec.get("path")
                                else spec) for name, spec in out["inputs"].items()}
    return out


def _dump(value: Any, flow: bool | None = False) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=flow, allow_unicode=True, width=120)


def tuned_yaml(config: Config, tuned: Tuned, path: str | Path) -> str:
    """The whole config as YAML, for a file at ``path``: each kept rule with its words, play, condition and the
    learned weight; each rule left out as a comment saying why."""
    folder = Path(path).parent
    raw = _moved(config.raw, config, folder)
    raw["scoring"] = {**(raw.get("scoring") or {}), "tiers": dict(tuned.tiers)}
    rules_raw = {str(r.get("name")): r for r in raw.get("rules") or []}
    b, a = tuned.before, tuned.after
    head = [f"# Written by 'churnscore tune-rules' from {config.source}: rule weights learned from history.",
            f"# Trained on {tuned.n_train:,} snapshot rows before {tuned.cutoff.date()}; tested on the "
            f"{tuned.n_test:,} rows of the later observation dates.",
            f"# Rules only on the test dates: ROC AUC {words.metric('roc_auc', b['roc_auc'])} -> "
            f"{words.metric('roc_auc', a['roc_auc'])}, top-decile lift "
            f"{words.metric('top_decile_lift', b['top_decile_lift'])} -> "
            f"{words.metric('top_decile_lift', a['top_decile_lift'])}.",
            "# A weight is the chance that the red flag alone leads to churn within the horizon",
            "# (model.horizon_days): w = 1 - exp(-t) of a non-negative noisy-OR regression, so the rule score is",
            f"# the fitted churn probability above the base ({words.share(tuned.base)} with no rule fired). scoring.tiers",
            "# moved with the new scale: as many training rows are high and medium as under the weights before.", ""]
    body = []
    for key, value in raw.items():
        if key != "rules":
            body.append(_dump({key: value}))
            continue
        lines = ["rules:"]
        for r in config.rules:
            if r.name not in tuned.weights:
                lines.append(f"  # {r.name} left out: {tuned.dropped[r.name]}")
                continue
            item = {**rules_raw.get(r.name, {}), "weight": tuned.weights[r.name]}
            if tuned.weights[r.name] == 0:
                lines.append(f"  # {r.name}: weight 0, adds nothing beyond the other rules on history")
            dumped = _dump([item], None).rstrip("\n").splitlines()
            lines += ["  " + ln for ln in dumped]
        body.append("\n".join(lines) + "\n")
    return "\n".join(head) + "".join(body)


def write_tuned(config: Config, tuned: Tuned, path: str | Path) -> Path:
    """tuned_yaml written atomically at ``path``."""
    from .files import atomic_write

    data = tuned_yaml(config, tuned, path).encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data))
