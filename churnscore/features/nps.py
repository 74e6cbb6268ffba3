"""The NPS family: the latest survey round, the trend against earlier answers, and silence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import FeatureParams, Windows
from .kernels import account_codes, age_days, group_reduce, on_or_before


def nps_features(nps: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                 params: FeatureParams, surveyed: bool | None = None) -> dict[str, np.ndarray]:
    """NPS features; ``surveyed``: whether the NPS export has any row at all (default: whether ``nps`` has)."""
    n = len(index)
    surveyed = not nps.empty if surveyed is None else surveyed
    r = on_or_before(nps, "responded_at", as_of)
    codes = account_codes(r["account_id"], index)
    age = age_days(r["responded_at"], as_of)
    score = r["score"].to_numpy(dtype="float64")
    everything = np.ones(len(r), bool)
    last_age = group_reduce(codes, age, n, everything, "min")
    row_last = np.full(len(r), np.nan)
    row_last[codes >= 0] = last_age[codes[codes >= 0]]
    latest_round = age < row_last + windows.short_days
    latest = group_reduce(codes, score, n, latest_round, "mean")
    earlier = group_reduce(codes, score, n, ~latest_round, "mean")
    return {
        "nps_latest": latest,
        "nps_mean": group_reduce(codes, score, n, everything, "mean"),
        "nps_latest_answers": np.where(np.isnan(latest), np.nan,
                                       group_reduce(codes, score * 0 + 1, n, latest_round, "sum")),
        "nps_trend": latest - earlier,
        "nps_detractor": np.where(np.isnan(latest), np.nan, (latest <= 6).astype("float64")),
        "days_since_nps_response": last_age,
        "nps_silent": (np.full(n, np.nan) if not surveyed
                       else (~(last_age < params.nps_silence_days)).astype("float64")),
    }
