"""Who is a customer on a date: the accounts to score, and every other account seen with the reason it is not;
and the rows the run leaves out beside them (dated after the as-of date, or for ids the accounts export lacks)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .asof import AsOf
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


@dataclass(frozen=True)
class Universe:
    """Who is scored on a day (universe's result)."""

    index: pd.Index  # the accounts to score, sorted, named account_id
    excluded: pd.DataFrame  # every other account seen: account_id, reason (sorted by account_id)
    ids_seen: pd.Index  # every account id in any export, the accounts export's included


def universe(loaded: Loaded, as_of: pd.Timestamp) -> Universe:
    """The accounts to score on the day ``as_of`` (a normalised day: AsOf.day), every other account seen
    with the reason it is not, and every id seen.

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
            seen_ids = categories[seen_mask | in_accounts]
            unknown = categories[seen_mask & ~in_accounts]
        else:
            seen_ids = other
            before, no_data = categories[before_mask], categories[seen_mask & ~before_mask]
    else:
        seen = [present_ids(f["account_id"]) for f in dated.values()]
        other = _union(seen)
        seen_ids = other
        if acc is not None:
            seen_ids = other.union(present_ids(acc["account_id"]))
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
    return Universe(pd.Index(active.sort_values(), name="account_id", dtype="str"), ex.reset_index(drop=True),
                    seen_ids)


@dataclass(frozen=True)
class RowNotes:
    """The rows of each dated export a run leaves out (note_rows's result), for the summary and validate."""

    after_as_of: dict[str, int] = field(default_factory=dict)  # rows dated after the as-of date
    unknown_rows: dict[str, int] = field(default_factory=dict)  # rows for ids not in accounts (with that export)
    unknown_ids: dict[str, int] | None = None  # the distinct ids of those rows, when asked for


def note_rows(loaded: Loaded, as_of: AsOf, *, count_ids: bool = False) -> RowNotes:
    """Count, per dated export, the rows after the as-of date and, with an accounts export, the rows for ids
    it lacks (``count_ids``: and how many distinct ids those rows have, as validate says). A spilled
    export is counted on disk."""
    end = as_of.end
    accounts = loaded.frames.get("accounts")
    # the loader gives every export one set of account codes: the known ids are then a mask over them
    categories = shared_ids([f["account_id"] for f in loaded.frames.values()]) if accounts is not None else None
    known_codes = used(accounts["account_id"]) if categories is not None else None
    known = present_ids(accounts["account_id"]) if accounts is not None and categories is None else None
    after: dict[str, int] = {}
    unknown: dict[str, int] = {}
    ids: dict[str, int] | None = {} if count_ids else None
    for name, frame in loaded.frames.items():
        col = EXPORTS[name].date_column
        if col is None:
            continue
        spill = loaded.spilled.get(name)
        if spill is not None:  # on disk by account (frame: two dates per account)
            after[name] = spill.after(end)
            if accounts is not None and spill.categories["account_id"] is categories and ids is None:
                unknown[name] = spill.rows - spill.rows_of(np.flatnonzero(known_codes))
            elif accounts is not None:
                unknown[name], n_ids = spill.outside(present_ids(accounts["account_id"]))
                if ids is not None:
                    ids[name] = n_ids
            continue
        after[name] = int((frame[col] >= end).sum())
        if accounts is None:
            continue
        if known_codes is not None:
            codes = frame["account_id"].cat.codes.to_numpy()
            outside = (codes < 0) | ~known_codes[codes]
        else:
            outside = _positions(frame["account_id"], known) < 0
        unknown[name] = int(outside.sum())
        if ids is not None:
            ids[name] = int(frame["account_id"][outside].nunique())
    return RowNotes(after, unknown, ids)


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each row's id in ``index``; -1 for one not in it (categorical ids looked up once each)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return np.append(index.get_indexer(ids.cat.categories), -1)[ids.cat.codes.to_numpy()]
    return index.get_indexer(ids)
