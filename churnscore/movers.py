"""What moved since the previous ranked list: previous rank and score per account, who entered or left the
at-risk list (tier high or medium), and the biggest movers."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .features import index_positions
from .filetype import check_regular
from .write import unneutralise

MOVER_COLUMNS = ["previous_rank", "previous_score", "score_change"]
AT_RISK = ("high", "medium")
NEEDED = ("rank", "account_id", "risk_score")


PREVIOUS_MAX_BYTES = 1 << 30  # a --previous list larger than 1 GiB is refused unread (10 M accounts are ~1 GB)


def read_previous(path: str | Path) -> pd.DataFrame:
    """An earlier ranked list (csv, parquet or json, as churnscore writes them), account_id as a string.

    Returns rank, account_id, account_name, risk_score, risk_tier (the last two empty when absent).
    """
    path = Path(path)
    check_regular(path, "the previous ranked list (--previous)")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file (--previous).", file=str(path)) from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the previous ranked list ({exc.strerror}).", file=str(path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputDataError(f"{path}: the previous ranked list is not a regular file (--previous).", file=str(path))
    if st.st_size > PREVIOUS_MAX_BYTES:
        raise InputDataError(f"{path}: larger than {PREVIOUS_MAX_BYTES:,} bytes, not a ranked list churnscore "
                             "wrote (--previous).", file=str(path))
    try:
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
            raw["account_id"] = raw["account_id"].astype("str") if "account_id" in raw else None
        elif path.suffix == ".json":
            raw = pd.read_json(path, orient="records", dtype={"account_id": "str", "account_name": "str"})
        else:
            raw = pd.read_csv(path, dtype={"account_id": "str", "account_name": "str", "risk_tier": "str"},
                              keep_default_na=False, na_values={"rank": [""], "risk_score": [""]})
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file (--previous).", file=str(path)) from None
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: cannot read the previous ranked list ({exc}).", file=str(path)) from None
    missing = [c for c in NEEDED if c not in raw.columns]
    if missing:
        raise InputDataError(f"{path}: previous ranked list has no column '{missing[0]}'; pass a list written by "
                             "'churnscore score'.", file=str(path), line=1, column=missing[0])
    # only CSV cells are neutralised ("'=Evil" was written for "=Evil"); JSON and Parquet hold the values as they are
    unquote = unneutralise if path.suffix not in (".parquet", ".json") else (lambda s: s)
    out = pd.DataFrame({
        "rank": pd.to_numeric(raw["rank"], errors="coerce"),
        "account_id": unquote(raw["account_id"].astype("str")),
        "account_name": unquote(raw["account_name"].astype("str")) if "account_name" in raw else "",
        "risk_score": pd.to_numeric(raw["risk_score"], errors="coerce"),
        "risk_tier": raw["risk_tier"].astype("str") if "risk_tier" in raw else "",
    })
    bad = out["rank"].isna() | out["risk_score"].isna() | out["account_id"].isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputDataError(f"{path}:{line}: previous ranked list row without a number in rank or risk_score.",
                             file=str(path), line=line)
    return out.drop_duplicates("account_id").reset_index(drop=True)


def _at(values: pd.Series, pos: np.ndarray) -> pd.Series:
    """``values`` at positions ``pos`` (-1: none, missing), indexed 0..n-1: what Series.map gives for keys found
    at those positions (one hash of the ids for all the columns, instead of one per column)."""
    return pd.Series(values.array.take(pos, allow_fill=True))


def _positions(listed: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Each id's row in the list ``listed`` (its account ids are unique: a ranked list, or read_previous's),
    -1 where it has none."""
    return index_positions(pd.Index(listed["account_id"]), pd.Index(ids))


def add_previous(ranked: pd.DataFrame, previous: pd.DataFrame, pos: np.ndarray | None = None) -> pd.DataFrame:
    """The ranked list with previous_rank, previous_score and score_change (empty for accounts not in the
    previous list). ``pos``: each ranked row's row in ``previous``, when known."""
    pos = _positions(previous, ranked["account_id"]) if pos is None else pos
    out = ranked.copy()
    out["previous_rank"] = _at(previous["rank"], pos).astype("float64").astype("Int64").array
    out["previous_score"] = _at(previous["risk_score"], pos).astype("float64").to_numpy()
    out["score_change"] = (out["risk_score"] - out["previous_score"]).round(1)
    return out


@dataclass
class Movers:
    """Who entered the at-risk list, who left it, and who moved most (by score, either way)."""

    entered: pd.DataFrame  # rank, account_id, account_name, risk_score, risk_tier, previous_score, previous_tier
    left: pd.DataFrame  # account_id, account_name, previous_rank, previous_score, previous_tier, risk_score, risk_tier
    biggest: pd.DataFrame  # rank, account_id, account_name, previous_score, risk_score, score_change


def movers(ranked: pd.DataFrame, previous: pd.DataFrame, n: int = 10) -> Movers:
    """Compare the (full) ranked list with the previous one. An account that is no longer scored (churned,
    or excluded for another reason) has left, with an empty current score."""
    pos = _positions(previous, ranked["account_id"])  # each current account's row in the previous list
    back = _positions(ranked, previous["account_id"])  # and the other way round
    cur_risk = ranked["risk_tier"].isin(AT_RISK).to_numpy()
    prev_risk = previous["risk_tier"].isin(AT_RISK).to_numpy()
    was_at_risk = np.where(pos >= 0, prev_risk[pos], False)
    came = np.flatnonzero(cur_risk & ~was_at_risk)
    entered = ranked.iloc[came].assign(previous_score=_at(previous["risk_score"], pos[came]).to_numpy(),
                                       previous_tier=_at(previous["risk_tier"], pos[came]).array)
    still = np.where(back >= 0, cur_risk[back], False)
    went = np.flatnonzero(prev_risk & ~still)
    gone, now = previous.iloc[went].reset_index(drop=True), back[went]
    left = pd.DataFrame({
        "account_id": gone["account_id"],
        "account_name": _at(ranked["account_name"], now).fillna(gone["account_name"]),
        "previous_rank": gone["rank"].astype("int64"),
        "previous_score": gone["risk_score"],
        "previous_tier": gone["risk_tier"],
        "risk_score": _at(ranked["risk_score"], now),
        "risk_tier": _at(ranked["risk_tier"], now),
    }).sort_values(["previous_rank"], kind="mergesort")
    both = add_previous(ranked, previous, pos)
    both = both.loc[both["score_change"].notna() & (both["score_change"] != 0)]
    both = both.assign(size=both["score_change"].abs())
    biggest = both.sort_values(["size", "rank"], ascending=[False, True], kind="mergesort").head(n)
    cols = ["rank", "account_id", "account_name", "previous_score", "risk_score", "score_change"]
    return Movers(entered[["rank", "account_id", "account_name", "risk_score", "risk_tier", "previous_score",
                           "previous_tier"]].reset_index(drop=True),
                  left.reset_index(drop=True), biggest[cols].reset_index(drop=True))
