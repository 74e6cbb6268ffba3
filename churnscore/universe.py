"""Who is a customer on a date: the accounts to score, and every other account seen with the reason it is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import EXPORTS
from .load import Loaded

EXCLUDE_CHURNED = "churned on or before the as-of date"
EXCLUDE_NOT_YET = "signed up after the as-of date"
EXCLUDE_UNKNOWN = "not in the accounts export"
EXCLUDE_REJECTED = "its accounts row was rejected (see the rejects file)"
EXCLUDE_NO_DATA = "no rows on or before the as-of date"


def present_ids(ids: pd.Series) -> pd.Index:
    """The distinct account ids of a column (as str); for a categorical, the categories in use."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        counts = np.bincount(ids.cat.codes.to_numpy().astype("int64") + 1, minlength=len(ids.cat.categories) + 1)
        return pd.Index(ids.cat.categories.take(np.flatnonzero(counts[1:])), dtype="str")
    return pd.Index(ids.dropna().unique(), dtype="str")


def shared_ids(columns: list[pd.Series]) -> pd.Index | None:
    """The categories all these account id columns share (the loader gives every export one codebook), so
    that sets of ids can be worked out as masks over codes; None when they do not."""
    categories = None
    for ids in columns:
        if not isinstance(ids.dtype, pd.CategoricalDtype):
            return None
        if categories is None:
            categories = ids.cat.categories
        elif ids.cat.categories is not categories:
            return None
    return categories


def used(ids: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
    """Per category of a categorical id column: is it used (by ``rows``, a boolean mask, when given)?"""
    codes = ids.cat.codes.to_numpy()
    if rows is not None:
        codes = codes[rows]
    mask = np.zeros(len(ids.cat.categories), dtype=bool)
    mask[codes[codes >= 0]] = True
    return mask


def _union(indexes: list[pd.Index]) -> pd.Index:
    out = pd.Index([], dtype="str")
    for idx in indexes:
        out = out.union(idx)
    return out


def ids_in(columns: list[pd.Series]) -> pd.Index:
    """The distinct account ids over several columns."""
    return _union([present_ids(c) for c in columns])


def nothing_left(as_of: pd.Timestamp, excluded: pd.DataFrame) -> str:
    """Why no account is left to score (every one excluded, e.g. an --as-of before the data), for people."""
    counts = "; ".join(f"{n:,} {reason}" for reason, n in excluded["reason"].value_counts().sort_index().items())
    return (f"no account left to score as of {as_of.date()}: all {len(excluded):,} accounts in the inputs "
            f"excluded ({counts})")


def account_universe(loaded: Loaded, as_of: pd.Timestamp) -> tuple[pd.Index, pd.DataFrame]:
    """The accounts to score on the as-of date, and every other account seen with the reason it is not.

    With an accounts export, it defines the customers; ids seen only elsewhere are excluded as unknown.
    Without one, every id seen with a row on or before the as-of date is a customer.
    """
    end = as_of + pd.Timedelta(days=1)
    dated = {name: frame for name, frame in loaded.frames.items() if name != "accounts"}
    acc = loaded.frames.get("accounts")
    categories = shared_ids([f["account_id"] for f in loaded.frames.values()])
    excluded: list[pd.DataFrame] = []
    if categories is not None:  # one codebook: sets of ids as masks over its codes
        seen_mask = np.zeros(len(categories), dtype=bool)
        before_mask = seen_mask.copy()
        for name, frame in dated.items():
            seen_mask |= used(frame["account_id"])
            before_mask |= used(frame["account_id"], (frame[EXPORTS[name].date_column] < end).to_numpy())
        other = categories[seen_mask]
        if acc is not None:
            in_accounts = used(acc["account_id"])
            loaded.ids_seen = categories[seen_mask | in_accounts]
            unknown = categories[seen_mask & ~in_accounts]
        else:
            loaded.ids_seen = other
            before, no_data = categories[before_mask], categories[seen_mask & ~before_mask]
    else:
        seen = [present_ids(f["account_id"]) for f in dated.values()]
        other = _union(seen)
        loaded.ids_seen = other
        if acc is not None:
            loaded.ids_seen = other.union(present_ids(acc["account_id"]))
            unknown = other.difference(pd.Index(acc["account_id"].astype("str"), dtype="str"))
        else:
            before = _union([present_ids(f["account_id"][(f[EXPORTS[name].date_column] < end).to_numpy()])
                             for name, f in dated.items()])
            no_data = other.difference(before)
    if acc is not None:
        ids = pd.Index(acc["account_id"].astype("str"), dtype="str")
        churned = (acc["churn_date"] <= as_of).to_numpy()
        not_yet = (acc["signup_date"] > as_of).to_numpy()
        excluded.append(pd.DataFrame({"account_id": ids[churned], "reason": EXCLUDE_CHURNED}))
        excluded.append(pd.DataFrame({"account_id": ids[not_yet & ~churned], "reason": EXCLUDE_NOT_YET}))
        active = ids[~churned & ~not_yet]
        unknown = pd.Index(unknown, dtype="str")
        rejected = unknown.isin(list(loaded.stats["accounts"].rejected_ids)) if "accounts" in loaded.stats \
            else np.zeros(len(unknown), dtype=bool)
        excluded.append(pd.DataFrame({"account_id": unknown[rejected], "reason": EXCLUDE_REJECTED}))
        excluded.append(pd.DataFrame({"account_id": unknown[~rejected], "reason": EXCLUDE_UNKNOWN}))
    else:
        active = before
        excluded.append(pd.DataFrame({"account_id": pd.Index(no_data, dtype="str"), "reason": EXCLUDE_NO_DATA}))
    ex = pd.concat(excluded, ignore_index=True).sort_values(["account_id"], kind="mergesort")
    return pd.Index(active.sort_values(), name="account_id", dtype="str"), ex.reset_index(drop=True)
