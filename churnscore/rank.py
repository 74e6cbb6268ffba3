"""Combine flags (and a model's probability) into the ranked at-risk list: score, tier, revenue, order, words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import Scoring

RANKED_COLUMNS = ["rank", "account_id", "account_name", "risk_score", "risk_tier", "mrr", "revenue_at_risk",
                  "red_flags", "reasons", "suggested_play"]


# the type pandas gives a column of Python strings ("str", Arrow-backed, with pandas 3)
_TEXT = pd.Series(np.array(["a"], dtype=object)).dtype
_TIERS = pa.array(["high", "medium", "low"], pa.large_string())


def tiers(score: pd.Series, scoring: Scoring) -> pd.Series:
    """high / medium / low by the configured thresholds on the 0-100 score."""
    v = score.to_numpy(dtype="float64")
    code = np.where(v >= scoring.tier_high, 0, np.where(v >= scoring.tier_medium, 1, 2))
    return pd.Series(_TIERS.take(pa.array(code)), index=score.index, dtype="str")


def _text(values: pd.Series, order: np.ndarray) -> Any:
    """A text column in rank order, typed as the DataFrame of its Python strings would be.

    Arrow-backed text is taken as it is (no Python strings: at a million accounts the round trip costs
    seconds); anything else, or no text at all (pandas then keeps object), goes through NumPy as before.
    """
    if values.dtype == _TEXT and values.notna().any():
        return values.array.take(order)
    return values.to_numpy()[order]


def _order(keys: list[np.ndarray], ids: pd.Index) -> np.ndarray:
    """Positions in rank order: each key descending (NaN last), then account_id ascending; stable."""
    id_rank = pc.rank(pa.array(pd.Series(ids, dtype="str")), sort_keys="ascending",
                      tiebreaker="dense").to_numpy()
    return np.lexsort([id_rank] + [-k for k in reversed(keys)])


def rank(score: pd.Series, words: pd.DataFrame, mrr: pd.Series, names: pd.Series, scoring: Scoring, *,
         rank_by: str | None = None, extra: pd.DataFrame | None = None,
         finer: pd.Series | None = None) -> pd.DataFrame:
    """The ranked list, highest risk first (or most revenue at risk), ties broken by account_id.

    ``score`` is 0-100 per account; ``words`` has red_flags, reasons, suggested_play; ``extra`` columns
    (e.g. churn_probability, model reasons) are appended after the standard ones. ``finer``: a figure that
    orders accounts whose shown score (one decimal) is the same, before account_id does (a model's churn
    probability; the rules' score is shown as it is ranked).
    """
    by = rank_by or scoring.rank_by
    index = score.index
    ids = index.astype(str)
    risk = score.round(1)
    mrr_at = mrr.reindex(index)
    revenue = (mrr_at * risk / 100.0).round(2).to_numpy()
    risk_v = risk.to_numpy()
    keys = [np.where(np.isnan(revenue), -1.0, revenue), risk_v] if by == "revenue" else [risk_v]
    if finer is not None:  # e.g. probabilities 0.9999 and 0.9996 both show 100.0: not ordered by account_id
        keys.append(finer.reindex(index).to_numpy(dtype="float64"))
    order = _order(keys, ids)
    frame = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "account_id": ids.take(order),
        "account_name": _text(names.reindex(index).fillna("").astype(str), order),
        "risk_score": risk_v[order],
        "risk_tier": _text(tiers(risk, scoring), order),
        "mrr": mrr_at.round(2).to_numpy()[order],
        "revenue_at_risk": revenue[order],
        **{col: _text(words[col].reindex(index), order) for col in ("red_flags", "reasons", "suggested_play")},
        **({col: _text(extra[col].reindex(index), order) for col in extra.columns} if extra is not None else {}),
    })
    return frame
