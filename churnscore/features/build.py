"""The feature table: every family's columns for one as-of date, put together in CATALOGUE's order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Config
from .accounts import account_attributes, contract_terms
from .catalogue import FEATURE_NAMES
from .kernels import DAY
from .level import PEER_SOURCES, days_covered, level_features, peer_percentiles
from .nps import nps_features
from .payments import payment_features
from .tickets import ticket_features
from .usage import usage_features_in_pieces


def build_features(frames: dict[str, pd.DataFrame], index: pd.Index, as_of: pd.Timestamp,
                   config: Config, *, norms: pd.Series | None = None,
                   nps_surveyed: bool | None = None, accounts_date: pd.Timestamp | None = None,
                   usage_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """The feature table: one row per account of ``index`` (in that order), CATALOGUE's columns.

    ``frames`` holds typed export frames (see load.Loaded.frame); absent exports are empty frames.
    ``norms`` and ``nps_surveyed`` are the two figures taken over every account (see usage_features and
    nps_features): pass them when ``frames`` hold only some accounts' rows (the dask engine's partitions),
    with ``usage_start``, the first usage day of every account (see level.days_covered), and then compute the
    peer percentiles again on the whole table (level.with_peers).
    ``accounts_date``: the day the accounts export describes (see renewal_on); None: the as-of date.
    """
    as_of = pd.Timestamp(as_of).normalize()
    windows, params = config.windows, config.features
    acc = account_attributes(frames["accounts"], index)
    signup = acc["signup_date"].to_numpy(dtype="datetime64[ns]")
    renewal = acc["renewal_date"].to_numpy(dtype="datetime64[ns]")
    seats = acc["seats"].to_numpy(dtype="float64")
    cols: dict[str, np.ndarray] = {}
    cols.update(usage_features_in_pieces(frames["usage"], index, as_of, windows, params, signup, seats, norms))
    cols.update(nps_features(frames["nps"], index, as_of, windows, params, nps_surveyed))
    cols.update(ticket_features(frames["tickets"], index, as_of, windows, params))
    cols.update(payment_features(frames["payments"], index, as_of, windows, params, renewal,
                                 contract_terms(acc, params), accounts_date))
    asof64 = np.datetime64(as_of.to_datetime64(), "ns")
    days_to_renewal = (cols.pop("_next_renewal") - asof64) / DAY
    mrr = acc["mrr"].to_numpy(dtype="float64")
    auto = acc["auto_renew"].to_numpy(dtype="float64")
    cols.update({
        "tenure_days": cols.pop("_tenure_days"),
        "days_to_renewal": np.where(days_to_renewal >= 0, days_to_renewal, np.nan),
        "renewal_within_90d": np.where(np.isnan(days_to_renewal), np.nan,
                                       (days_to_renewal <= windows.long_days).astype("float64")),
        "mrr": np.where(np.isnan(mrr), cols.pop("_latest_amount"), mrr),
        "seats": seats,
        "auto_renew_off": np.where(np.isnan(auto), np.nan, 1.0 - auto),
    })
    cols.pop("_latest_amount", None)
    first_seen = cols.pop("_first_seen")
    seen = first_seen[~np.isnat(first_seen)]
    start = usage_start if usage_start is not None else (pd.Timestamp(seen.min()) if len(seen) else None)
    tenure = cols["tenure_days"]
    covered = days_covered(tenure, as_of, start)
    cols["usage_days_covered"] = covered
    cols.update(level_features(cols["usage_events_30d"], cols["active_days_30d"], cols.pop("_events_since_start"),
                               tenure, seats, windows.short_days, covered))
    cols.update(peer_percentiles(pd.DataFrame({k: cols[k] for k in PEER_SOURCES}), acc))
    table = pd.DataFrame({name: cols[name] for name in FEATURE_NAMES}, index=index)
    table.index.name = "account_id"
    return table
