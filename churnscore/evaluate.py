"""Time-based backtest: train on observation dates before a cut-off, test on the ones after, three scorers.

Scorers: the rules alone, the logistic model, and a gradient-boosting reference
(HistGradientBoostingClassifier) that shows what a more complex model would add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import words
from .config import Config
from .errors import ModelError
from .load import Loaded
from .stages import Stages
from .audit import RuleAudit, audit_rules
from .model import (TrainingSet, calibration_table, fit_logistic, observation_dates, roc_auc, select_c,
                    training_set)

SCORERS = ("rules", "logistic", "gradient_boosting")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: over equal-width probability bins ([0, 1/bins), ..., [1 - 1/bins, 1]), the
    mean of |observed churn rate - mean predicted probability|, each bin weighted by its share of the rows.
    NaN for no rows."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if len(y) == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    rows = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=y, minlength=bins) - np.bincount(which, weights=p, minlength=bins))
    return float(gap.sum() / rows.sum())  # sum over bins of share * |mean y - mean p| = |sum y - sum p| / n


def metrics(y: np.ndarray, score: np.ndarray, probability: np.ndarray | None, top_k: int) -> dict[str, Any]:
    """Ranking and calibration figures of one scorer on one test set."""
    from sklearn.metrics import average_precision_score, brier_score_loss

    n = len(y)
    order = np.lexsort((np.arange(n), -score))  # highest score first, stable
    base = float(y.mean()) if n else float("nan")
    decile = max(1, int(round(n * 0.1)))
    top_rate = float(y[order[:decile]].mean())
    k = min(top_k, n)
    hits = float(y[order[:k]].sum())
    out = {
        "roc_auc": roc_auc(y, score),
        "pr_auc": float(average_precision_score(y, score)) if y.any() else float("nan"),
        "base_rate": base,
        "top_decile_churn_rate": top_rate,
        "top_decile_lift": top_rate / base if base > 0 else float("nan"),
        "top_k": k,
        "precision_at_k": hits / k if k else float("nan"),
        "recall_at_k": hits / float(y.sum()) if y.sum() else float("nan"),
    }
    if probability is not None:
        out["brier"] = float(brier_score_loss(y, probability))
        out["ece"] = expected_calibration_error(y, probability)
        out["mean_predicted"] = float(np.mean(probability)) if n else float("nan")
        out["calibration"] = calibration_table(y, probability)
    return out


@dataclass
class Backtest:
    cutoff: pd.Timestamp
    train_dates: list[str]
    test_dates: list[str]
    n_train: int
    n_test: int
    results: dict[str, dict[str, Any]]
    curves: dict[str, dict[str, list[float]]]  # per scorer: y and score of the test rows, for reports
    rule_audit: list[RuleAudit] = field(default_factory=list)  # every rule on the training snapshots

    def to_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.date().isoformat(), "train_dates": self.train_dates,
                "test_dates": self.test_dates, "n_train": self.n_train, "n_test": self.n_test,
                "scorers": self.results, "rule_audit": [a.to_dict() for a in self.rule_audit]}


def split_history(loaded: Loaded, config: Config, as_of: pd.Timestamp, test_dates: int,
                  stages: Stages) -> tuple[TrainingSet, TrainingSet, pd.Timestamp]:
    """The backtest's snapshots, split in time: (train, test, cut-off). Test: the last ``test_dates``
    observation dates; train: the dates whose horizon ends by the first of them. ``stages`` is told
    "snapshots". Shared by evaluate and tune-rules, so both judge on the same held-out dates."""
    dates = observation_dates(loaded, as_of, config)
    if len(dates) < test_dates + 1:
        raise ModelError(f"backtest needs at least {test_dates + 1} observation dates before "
                         f"{as_of.date()}; found {len(dates)}. Use a longer history or fewer --test-dates.")
    stages("snapshots")
    ts = training_set(loaded, config, dates, stages)
    cutoff = dates[-test_dates]
    horizon = np.timedelta64(config.model.horizon_days, "D")
    train_mask = ts.date + horizon <= np.datetime64(cutoff.to_datetime64())
    test_mask = ts.date >= np.datetime64(cutoff.to_datetime64())
    if not train_mask.any():
        raise ModelError(f"backtest: no observation date ends its {config.model.horizon_days}-day horizon "
                         f"before the cut-off {cutoff.date()}; use a longer history or fewer --test-dates.")
    return ts.subset(train_mask), ts.subset(test_mask), cutoff


def backtest(loaded: Loaded, config: Config, as_of: pd.Timestamp, *, test_dates: int = 2,
             top_k: int = 100, stages: Stages | None = None) -> Backtest:
    """Train each scorer on the observation dates whose horizon ends by the first test date; test on the
    last ``test_dates`` observation dates. ``stages`` is told "snapshots", "choose_c" and "test" as each
    starts (and stopped at the end)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    stages = stages or Stages()
    train, test, cutoff = split_history(loaded, config, as_of, test_dates, stages)
    stages("choose_c")
    C, _ = select_c(train, config, stages)
    stages("test")
    logistic, _ = fit_logistic(train.X, train.y, C, config)
    p_log = logistic.predict_proba(test.X)
    # scikit-learn's defaults: a reference, not a contender tuned to win or lose
    hgb = HistGradientBoostingClassifier(random_state=config.model.random_state)
    # an input empty on every training row (no NPS or tickets export at all; renewal features without a contract
    # term) has nothing to bin: scikit-learn fails on it, so it is left out
    seen = train.X.notna().any().to_numpy()
    hgb.fit(train.X.to_numpy()[:, seen], train.y)
    p_hgb = hgb.predict_proba(test.X.to_numpy()[:, seen])[:, 1]
    scores = {"rules": (test.rule_score, None), "logistic": (p_log, p_log), "gradient_boosting": (p_hgb, p_hgb)}
    results = {name: metrics(test.y, s, p, top_k) for name, (s, p) in scores.items()}
    results["logistic"]["C"] = C
    stages.stop()
    curves = {name: {"y": test.y.astype(int).tolist(), "score": np.asarray(s, dtype=float).tolist()}
              for name, (s, _) in scores.items()}
    fmt = lambda ds: sorted({pd.Timestamp(d).date().isoformat() for d in ds})  # noqa: E731
    return Backtest(cutoff, fmt(train.date), fmt(test.date), len(train.y), len(test.y), results, curves,
                    audit_rules(train.flags, train.y, config.rules))


def table_text(bt: Backtest) -> str:
    """The three-way comparison as a fixed-width table."""
    rows = [("ROC AUC", "roc_auc"), ("PR AUC", "pr_auc"), ("top-decile churn rate", "top_decile_churn_rate"),
            ("top-decile lift", "top_decile_lift"), ("precision@k", "precision_at_k"), ("recall@k", "recall_at_k"),
            ("Brier score", "brier"), ("calibration error (ECE)", "ece")]
    head = f"{'metric':<24}" + "".join(f"{s:>19}" for s in SCORERS)
    lines = [f"backtest: train {bt.train_dates[0]}..{bt.train_dates[-1]} ({bt.n_train:,} rows), "
             f"test {', '.join(bt.test_dates)} ({bt.n_test:,} rows), base rate "
             f"{words.metric('base_rate', bt.results['rules']['base_rate'])}, k = {bt.results['rules']['top_k']:,}",
             head]
    for label, key in rows:
        cells = [words.metric(key, bt.results[s].get(key)) for s in SCORERS]
        lines.append(f"{label:<24}" + "".join(f"{c:>19}" for c in cells))
    lines.append("calibration (logistic, test): predicted -> observed by decile: " + ", ".join(
        f"{words.decimals(r['mean_predicted'], 2)}->{words.decimals(r['observed_rate'], 2)}" for r in bt.results["logistic"]["calibration"]))
    return "\n".join(lines)

