"""The accounts export's side of the features: its columns per account, contract terms and the next renewal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import FeatureParams
from .kernels import account_codes, lowered


def account_attributes(accounts: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """accounts' columns aligned to the index (missing accounts: all empty; a repeated id: its first row)."""
    pos = account_codes(accounts["account_id"], index)
    rows = np.flatnonzero(pos >= 0)
    where = np.full(len(index), -1, dtype="int64")
    where[pos[rows][::-1]] = rows[::-1]  # written last = the first occurrence
    out = accounts.drop(columns=["account_id"]).reset_index(drop=True).reindex(where)
    out.index = index
    return out


def contract_terms(accounts: pd.DataFrame, params: FeatureParams) -> np.ndarray:
    """Contract term per account in months (how often it renews, not how often it is billed), first found of:
    the accounts' contract_term_months, features.contract_terms for the account's plan (any case),
    features.contract_months; NaN where none says. ``accounts``: account_attributes' frame."""
    n = len(accounts)
    term = (accounts["contract_term_months"].to_numpy(dtype="float64") if "contract_term_months" in accounts
            else np.full(n, np.nan))
    if params.contract_terms and "plan" in accounts:
        plan = lowered(accounts["plan"].astype("string"))
        by_plan = plan.map(params.contract_terms).to_numpy(dtype="float64", na_value=np.nan)
        term = np.where(np.isnan(term), by_plan, term)
    if params.contract_months is not None:
        term = np.where(np.isnan(term), float(params.contract_months), term)
    return term


def renewal_on(renewal: np.ndarray, as_of: pd.Timestamp, term_months: np.ndarray,
               accounts_date: pd.Timestamp | None = None) -> np.ndarray:
    """The first renewal on or after the as-of date; NaT where unknown or passed.

    On the day the accounts export describes (``accounts_date``; None: the as-of date) and after it, that is
    the export's renewal date as it is. On earlier days the export is a snapshot of the future: its renewal
    date is stepped back by whole contract terms (``term_months``), so that a past date does not see today's
    next renewal, or a churned account's contract end, as its own; where the term is unknown (NaN) the
    renewal is left unknown rather than guessed.
    """
    known = ~np.isnat(renewal)
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    if accounts_date is None or as_of >= pd.Timestamp(accounts_date).normalize():
        return np.where(known & (renewal >= asof64), renewal, np.datetime64("NaT"))
    has_term = ~np.isnan(term_months)
    term = np.where(has_term, term_months, 12).astype("int64")
    r = np.where(known, renewal, np.datetime64("2000-01-01")).astype("datetime64[ns]")
    r_month = r.astype("datetime64[M]")
    offset = r - r_month.astype("datetime64[ns]")
    months_ahead = (r_month - np.datetime64(as_of.to_datetime64(), "M")).astype("int64")
    k = np.maximum(months_ahead // term, 0)
    cand = (r_month - (k * term).astype("timedelta64[M]")).astype("datetime64[ns]") + offset
    behind = cand < asof64
    cand = np.where(behind & (k > 0), (r_month - ((k - 1) * term).astype("timedelta64[M]"))
                    .astype("datetime64[ns]") + offset, cand)
    return np.where(known & has_term & (renewal >= asof64), cand, np.datetime64("NaT"))
