"""Combine flags (and a model's probability) into the ranked at-risk list: score, tier, revenue, order, words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Scoring

RANKED_COLUMNS = ["rank", "account_id", "account_name", "risk_score", "risk_tier", "mrr", "revenue_at_risk",
                  "red_flags", "reasons", "suggested_play"]


def tiers(score: pd.Series, scoring: Scoring) -> pd.Series:
    """high / medium / low by the configured thresholds on the 0-100 score."""
    out = np.where(score >= scoring.tier_high, "high", np.where(score >= scoring.tier_medium, "medium", "low"))
    return pd.Series(out, index=score.index, dtype="str")


def rank(score: pd.Series, words: pd.DataFrame, mrr: pd.Series, names: pd.Series, scoring: Scoring, *,
         rank_by: str | None = None, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ranked list, highest risk first (or most revenue at risk), ties broken by account_id.

    ``score`` is 0-100 per account; ``words`` has red_flags, reasons, suggested_play; ``extra`` columns
    (e.g. churn_probability, model reasons) are appended after the standard ones.
    """
    by = rank_by or scoring.rank_by
    risk = score.round(1)
    frame = pd.DataFrame({
        "account_id": score.index.astype(str),
        "account_name": names.reindex(score.index).fillna("").astype(str).to_numpy(),
        "risk_score": risk.to_numpy(),
        "risk_tier": tiers(risk, scoring).to_numpy(),
        "mrr": mrr.reindex(score.index).round(2).to_numpy(),
        "revenue_at_risk": (mrr.reindex(score.index) * risk / 100.0).round(2).to_numpy(),
        "red_flags": words["red_flags"].reindex(score.index).to_numpy(),
        "reasons": words["reasons"].reindex(score.index).to_numpy(),
        "suggested_play": words["suggested_play"].reindex(score.index).to_numpy(),
    })
    if extra is not None:
        for col in extra.columns:
            frame[col] = extra[col].reindex(score.index).to_numpy()
    keys = ["revenue_at_risk", "risk_score", "account_id"] if by == "revenue" else ["risk_score", "account_id"]
    asc = [False] * (len(keys) - 1) + [True]
    sort_frame = frame.assign(revenue_at_risk=frame["revenue_at_risk"].fillna(-1.0))
    order = sort_frame.sort_values(keys, ascending=asc, kind="mergesort").index
    frame = frame.loc[order].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame
