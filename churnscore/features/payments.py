"""The payments family: late and failed payments, overdue days, the card on file, revenue change, billing cycle.

Charge attempts are taken together into invoices (one per account and due date); an invoice paid after the
as-of date is unpaid on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import FeatureParams, Windows
from .accounts import renewal_on
from .kernels import (account_codes, age_days, count_by_account, distinct_by_account, group_reduce, lowered,
                      on_or_before, safe_ratio)


def _invoices(p: pd.DataFrame, codes: np.ndarray, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per invoice (account, due date): charge attempts of the same invoice taken together.

    An invoice is paid if any attempt was paid by the as-of date, void if not paid and any attempt was
    voided or refunded; its amount is the last attempt's. Attempts are ordered by a stated key, never by the
    file: paid_at (unpaid first), then payment_id, then amount, so shuffled rows give the same invoices.
    """
    end = as_of + pd.Timedelta(days=1)
    status = lowered(p["status"])
    paid_at = p["paid_at"]
    paid = (paid_at < end).to_numpy() | (paid_at.isna() & (status == "paid")).to_numpy()
    rows = pd.DataFrame({
        "c": codes, "due": p["due_date"].to_numpy(), "line": p["_line"].to_numpy(),
        "paid": paid, "void": status.isin(["void", "refunded"]).to_numpy(),
        "paid_day": paid_at.where(paid_at < end).dt.floor("D").to_numpy(),
        "amount": p["amount"].to_numpy(dtype="float64"), "expiry": p["card_expiry"].to_numpy(),
        "attempt": paid_at.to_numpy(dtype="datetime64[ns]").view("int64"),  # NaT is the smallest: unpaid first
        "pos": np.arange(len(p)),
    })
    rows = rows[rows["c"] >= 0].sort_values(["c", "due", "line"], kind="mergesort")
    # attempts at one invoice (rare) are then put in the stated order among themselves: paid_at, payment_id,
    # amount, line; a sort of every row by these keys took 3 s at a million accounts (text sorts are slow)
    c = rows["c"].to_numpy()
    due = rows["due"].to_numpy(dtype="datetime64[ns]").view("int64")
    same = (c[1:] == c[:-1]) & (due[1:] == due[:-1])
    shared = np.zeros(len(rows), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    if shared.any():
        at = np.flatnonzero(shared)
        sub = rows.iloc[at]
        pid = pd.factorize(p["payment_id"].to_numpy()[sub["pos"].to_numpy()], sort=True)[0]
        order = np.lexsort((sub["line"].to_numpy(), sub["amount"].to_numpy(), pid, sub["attempt"].to_numpy(),
                            due[at], c[at]))
        positions = np.arange(len(rows))
        positions[at] = at[order]
        rows = rows.iloc[positions]
    inv = rows.groupby(["c", "due"], sort=True).agg(paid=("paid", "max"), void=("void", "max"),
                                                    paid_day=("paid_day", "min"), amount=("amount", "last"),
                                                    expiry=("expiry", "last")).reset_index()
    inv["void"] = inv["void"] & ~inv["paid"]
    return inv


def contract_months(inv: pd.DataFrame, n: int) -> np.ndarray:
    """Billing cycle per account in months (1 monthly ... 12 annual) from the median gap between the due
    dates of its invoices; NaN with fewer than two invoices."""
    out = np.full(n, np.nan)
    live = inv.loc[~inv["void"], ["c", "due"]]
    if len(live) < 2:
        return out
    gap = (live["due"].diff() / pd.Timedelta(days=1)).where(live["c"].eq(live["c"].shift()))
    med = gap.groupby(live["c"]).median().dropna()
    out[med.index.to_numpy()] = np.clip(np.round(med.to_numpy() / 30.44), 1, 12)
    return out


def payment_features(payments: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, windows: Windows,
                     params: FeatureParams, renewal: np.ndarray, term: np.ndarray | None = None,
                     accounts_date: pd.Timestamp | None = None) -> dict[str, np.ndarray]:
    """Payment features; ``renewal`` is the accounts export's renewal date and ``term`` each account's contract
    term (see contract_terms; None: features.contract_months for all); see renewal_on for ``accounts_date``."""
    n = len(index)
    S, L = windows.short_days, windows.long_days
    p = on_or_before(payments, "due_date", as_of)
    codes = account_codes(p["account_id"], index)
    age = age_days(p["due_date"], as_of)
    # charge attempts: failures are counted per attempt
    failed = (lowered(p["status"]) == "failed").to_numpy()
    expired = lowered(p["failure_reason"]).str.contains("expir", na=False).to_numpy(dtype=bool)
    long = age < L
    # invoices: lateness and overdue are per invoice (a failed attempt then a paid retry is one invoice)
    inv = _invoices(p, codes, as_of)
    ic = inv["c"].to_numpy()
    iage = age_days(inv["due"], as_of)
    grace = params.late_grace_days
    late_days = ((inv["paid_day"] - inv["due"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    paid, void = inv["paid"].to_numpy(), inv["void"].to_numpy()
    unpaid_overdue = ~paid & ~void & (iage > grace)
    paid_late = paid & (np.nan_to_num(late_days, nan=0.0) > grace)
    days_overdue = np.nan_to_num(group_reduce(ic, iage, n, unpaid_overdue, "max"), nan=0.0)

    cycle = contract_months(inv, n)  # billing cycle: turns invoice amounts into monthly revenue
    if term is None:
        term = np.full(n, np.nan if params.contract_months is None else float(params.contract_months))
    live = inv.loc[~inv["void"]]
    monthly = live["amount"] / np.where(np.isnan(cycle), 1.0, cycle)[live["c"].to_numpy()]
    now_amount = monthly.groupby(live["c"]).last()
    before = monthly[iage[~void] >= L].groupby(live["c"][iage[~void] >= L]).last()
    amount_now = np.full(n, np.nan)
    amount_now[now_amount.index.to_numpy()] = now_amount.to_numpy()
    amount_before = np.full(n, np.nan)
    amount_before[before.index.to_numpy()] = before.to_numpy()
    expiry = inv.dropna(subset=["expiry"]).groupby("c")["expiry"].last()
    card_expiry = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    card_expiry[expiry.index.to_numpy()] = expiry.to_numpy()
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    next_renewal = renewal_on(renewal, as_of, term, accounts_date)
    horizon = np.where(np.isnat(next_renewal), asof64 + np.timedelta64(L, "D"), next_renewal)
    expiring = (~np.isnat(card_expiry) & (card_expiry < horizon)).astype("float64")
    methods = distinct_by_account(codes, lowered(p["payment_method"]), n, long & (codes >= 0))
    return {
        "payments_late_90d": count_by_account(ic, n, (iage < L) & (unpaid_overdue | paid_late)),
        "days_overdue": days_overdue,
        "payments_failed_30d": count_by_account(codes, n, (age < S) & failed),
        "payments_failed_90d": count_by_account(codes, n, long & failed),
        "failed_card_expired_90d": count_by_account(codes, n, long & failed & expired),
        "failed_card_declined_90d": count_by_account(codes, n, long & failed & ~expired),
        "card_expiring_before_renewal": expiring,
        "payment_method_changed_90d": (methods > 1).astype("float64"),
        "mrr_change_pct_90d": safe_ratio(amount_now - amount_before, amount_before),
        "contract_months": np.where(np.isnan(term), cycle, term),
        "_latest_amount": amount_now,
        "_next_renewal": next_renewal,
    }
