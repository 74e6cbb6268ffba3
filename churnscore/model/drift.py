"""Is a model still fit for today's data: each input's distribution then and now (population stability index),
the model's age, and its mean predicted probability against the base rate it was trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..words import share

PSI_LIMIT = 0.25  # above it an input's distribution has moved enough to question the model (the usual rule)
RATE_LIMIT = 1.5  # mean predicted vs training base rate (and expected vs historic churners): more apart, warn
SHARE_FLOOR = 1e-4  # an empty bin counts as this share, so that the logarithm stays finite
BINS = 10


def input_distribution(values: np.ndarray | pd.Series, bins: int = BINS) -> dict[str, Any]:
    """The distribution of one input, as a model file keeps it: the distinct inner quantile edges of its
    values (deciles by default), the share of all rows in each bin (bin i: edges[i-1] < v <= edges[i]; the
    first bin has no lower edge, the last no upper one) and the share of rows with no value."""
    v = np.asarray(values, dtype="float64")
    seen = v[~np.isnan(v)]
    edges = (np.unique(np.quantile(seen, np.arange(1, bins) / bins, method="inverted_cdf")) if len(seen)
             else np.array([]))  # edges are values seen: a flag has the edges 0 and 1
    return {"edges": edges.tolist(), "shares": _shares(v, edges).tolist(),
            "missing": float(np.isnan(v).mean()) if len(v) else 0.0}


def _shares(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of all rows of ``v`` in each bin of ``edges`` (rows without a value are in none)."""
    seen = v[~np.isnan(v)]
    counts = np.bincount(np.searchsorted(edges, seen, side="left"), minlength=len(edges) + 1)
    return counts / len(v) if len(v) else counts.astype("float64")


def population_stability_index(expected_edges_shares: dict[str, Any], values: np.ndarray | pd.Series) -> float:
    """PSI of ``values`` against a distribution from input_distribution: the sum over its bins and the
    missing bucket of (actual - expected) x ln(actual / expected), each share at least SHARE_FLOOR. 0: the
    same; above 0.25: moved a lot."""
    v = np.asarray(values, dtype="float64")
    edges = np.asarray(expected_edges_shares["edges"], dtype="float64")
    expected = np.append(np.asarray(expected_edges_shares["shares"], dtype="float64"),
                         float(expected_edges_shares["missing"]))
    actual = np.append(_shares(v, edges), float(np.isnan(v).mean()) if len(v) else 0.0)
    e, a = np.maximum(expected, SHARE_FLOOR), np.maximum(actual, SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def distributions(X: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """input_distribution of every column of a design matrix, for the model file."""
    return {str(c): input_distribution(X[c].to_numpy()) for c in X.columns}


@dataclass
class ModelChecks:
    """What score --model found about the model on today's data (see check_model)."""

    psi: dict[str, float]  # every input with a kept distribution, as computed today
    age_days: int | None  # run's as-of minus the model's training as-of
    max_age_days: int
    mean_probability: float
    base_rate: float | None
    expected_churners: float
    historic_churners: float | None  # churners per horizon over the training snapshots, on average
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (event, one line for people)

    @property
    def drifted(self) -> list[str]:
        """Inputs whose PSI is above PSI_LIMIT, highest first."""
        return [c for c, v in self.most_moved() if v > PSI_LIMIT]

    def most_moved(self, k: int | None = None) -> list[tuple[str, float]]:
        order = sorted(self.psi.items(), key=lambda cv: (-cv[1], cv[0]))
        return order if k is None else order[:k]

    def to_dict(self) -> dict[str, Any]:
        return {"psi": {c: round(v, 4) for c, v in self.psi.items()}, "drifted": self.drifted,
                "age_days": self.age_days, "max_age_days": self.max_age_days,
                "mean_probability": round(self.mean_probability, 4),
                "base_rate": None if self.base_rate is None else round(self.base_rate, 4),
                "expected_churners": round(self.expected_churners, 1),
                "historic_churners": None if self.historic_churners is None else round(self.historic_churners, 1),
                "warnings": [event for event, _ in self.warnings]}


def _apart(a: float, b: float | None) -> float | None:
    """How many times a and b are apart (>= 1), or None when either is not positive."""
    if b is None or not (a > 0 and b > 0):
        return None
    return max(a / b, b / a)


def check_model(metadata: dict[str, Any], X: pd.DataFrame, probability: np.ndarray, as_of: pd.Timestamp,
                max_age_days: int) -> ModelChecks:
    """PSI of each model input today against its training distribution (a model file written before they
    were kept has none: no PSI), the model's age, and its mean probability and expected churn count against
    the training base rate and the churners per horizon in history; with a warning line for each problem."""
    kept = metadata.get("distributions") or {}
    psi = {c: population_stability_index(kept[c], X[c].to_numpy()) for c in X.columns if c in kept}
    trained = metadata.get("as_of")
    age = int((pd.Timestamp(as_of) - pd.Timestamp(trained)).days) if trained else None
    base = metadata.get("base_rate")
    dates = metadata.get("observation_dates") or []
    historic = metadata["churners"] / len(dates) if dates and "churners" in metadata else None
    mean_p = float(np.mean(probability)) if len(probability) else 0.0
    checks = ModelChecks(psi, age, max_age_days, mean_p, base, float(np.sum(probability)), historic)
    horizon = metadata.get("horizon_days", "?")
    if checks.drifted:
        moved = ", ".join(f"{c} {psi[c]:.2f}" for c in checks.drifted)
        checks.warnings.append(("score.model_drift", f"churnscore: model inputs moved since training (PSI above "
                                f"{PSI_LIMIT}, highest first): {moved}; check these exports, then retrain with "
                                "'churnscore train'"))
    if age is not None and age > max_age_days:
        checks.warnings.append(("score.model_old", f"churnscore: the model was trained as of {trained}, {age} days "
                                f"before this as-of (model.max_age_days {max_age_days}); retrain with "
                                "'churnscore train'"))
    rate_apart, count_apart = _apart(mean_p, base), _apart(checks.expected_churners, historic)
    if base is not None and historic is not None and max(rate_apart or 0, count_apart or 0) > RATE_LIMIT:
        top = ", ".join(f"{c} (PSI {v:.2f})" for c, v in checks.most_moved(3)) or "none kept in the model file"
        checks.warnings.append(("score.model_calibration", f"churnscore: mean predicted churn {share(mean_p)} against "
                                f"a training base rate of {share(base)}; {checks.expected_churners:,.0f} churners "
                                f"expected within {horizon} days against {historic:,.1f} per {horizon} days in "
                                f"history: the probabilities may be off; inputs that moved most: {top}"))
    return checks
