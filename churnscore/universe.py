"""Who is a customer on a date: the accounts to score, and every other account seen with the reason it is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import EXPORTS
from .load import Loaded

EXCLUDE_CHURNED = "churned on or before the as-of date"
EXCLUDE_NOT_YET = "signed up after the as-of date"
EXCLUDE_UNKNOWN = "not in the accounts export"
EXCLUDE_NO_DATA = "no rows on or before the as-of date"


def present_ids(ids: pd.Series) -> pd.Index:
    """The distinct account ids of a column (as str); for a categorical, the categories in use."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        counts = np.bincount(ids.cat.codes.to_numpy().astype("int64") + 1, minlength=len(ids.cat.categories) + 1)
        return pd.Index(ids.cat.categories.take(np.flatnonzero(counts[1:])), dtype="str")
    return pd.Index(ids.dropna().unique(), dtype="str")


def _union(indexes: list[pd.Index]) -> pd.Index:
    out = pd.Index([], dtype="str")
    for idx in indexes:
        out = out.union(idx)
    return out


def ids_in(columns: list[pd.Series]) -> pd.Index:
    """The distinct account ids over several columns."""
    return _union([present_ids(c) for c in columns])


def account_universe(loaded: Loaded, as_of: pd.Timestamp) -> tuple[pd.Index, pd.DataFrame]:
    """The accounts to score on the as-of date, and every other account seen with the reason it is not.

    With an accounts export, it defines the customers; ids seen only elsewhere are excluded as unknown.
    Without one, every id seen with a row on or before the as-of date is a customer.
    """
    end = as_of + pd.Timedelta(days=1)
    seen: list[pd.Index] = []
    seen_before: list[pd.Index] = []
    for name, frame in loaded.frames.items():
        if name == "accounts":
            continue
        ids = frame["account_id"]
        seen.append(present_ids(ids))
        seen_before.append(present_ids(ids[(frame[EXPORTS[name].date_column] < end).to_numpy()]))
    other = _union(seen)
    loaded.ids_seen = other
    excluded: list[pd.DataFrame] = []
    if "accounts" in loaded.frames:
        acc = loaded.frames["accounts"]
        ids = pd.Index(acc["account_id"].astype("str"), dtype="str")
        loaded.ids_seen = other.union(present_ids(acc["account_id"]))
        churned = (acc["churn_date"] <= as_of).to_numpy()
        not_yet = (acc["signup_date"] > as_of).to_numpy()
        excluded.append(pd.DataFrame({"account_id": ids[churned], "reason": EXCLUDE_CHURNED}))
        excluded.append(pd.DataFrame({"account_id": ids[not_yet & ~churned], "reason": EXCLUDE_NOT_YET}))
        active = ids[~churned & ~not_yet]
        unknown = other.difference(ids)
        excluded.append(pd.DataFrame({"account_id": unknown, "reason": EXCLUDE_UNKNOWN}))
    else:
        before = _union(seen_before)
        active = before
        excluded.append(pd.DataFrame({"account_id": other.difference(before), "reason": EXCLUDE_NO_DATA}))
    ex = pd.concat(excluded, ignore_index=True).sort_values(["account_id"], kind="mergesort")
    return pd.Index(active.sort_values(), name="account_id", dtype="str"), ex.reset_index(drop=True)
