"""The training set: observation dates, and point-in-time snapshots of the feature table at each, labelled by
churn within the horizon; how many accounts have no contract term (their renewal features stay empty)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import rules as rules_mod
from ..config import Config
from ..errors import ModelError
from ..features import account_attributes, build_features, contract_terms
from ..load import Loaded
from ..stages import Stages
from ..universe import universe
from .inputs import design_matrix, model_columns


@dataclass
class TrainingSet:
    """Snapshots of every observation date, one row per (date, account active on it)."""

    X: pd.DataFrame  # design matrix, one row per (observation date, account)
    y: np.ndarray  # 1 = churned within the horizon after the date
    date: np.ndarray  # observation date of each row (datetime64[ns])
    account: np.ndarray
    rule_score: np.ndarray  # the rules-only score (0-100) of each row, for comparison
    flags: pd.DataFrame | None = None  # every rule's flag (one bool column per rule, config order) of each row

    def subset(self, mask: np.ndarray) -> "TrainingSet":
        """The rows where ``mask`` is true."""
        return TrainingSet(self.X.loc[mask], self.y[mask], self.date[mask], self.account[mask],
                           self.rule_score[mask], None if self.flags is None else self.flags.loc[mask])


def observation_dates(loaded: Loaded, as_of: pd.Timestamp, config: Config) -> list[pd.Timestamp]:
    """Every observation_interval_days back from as_of - horizon (each date has a full horizon after
    it), no earlier than min_history_days after the first usage row; oldest first."""
    p = config.model
    usage = loaded.frame("usage")["timestamp"]
    if usage.notna().sum() == 0:
        raise ModelError("training needs usage rows; the usage export has none.")
    first = usage.min().normalize() + pd.Timedelta(days=p.min_history_days)
    last = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=p.horizon_days)
    dates: list[pd.Timestamp] = []
    d = last
    while d >= first and (p.observation_count is None or len(dates) < p.observation_count):
        dates.append(d)
        d -= pd.Timedelta(days=p.observation_interval_days)
    return dates[::-1]


def training_set(loaded: Loaded, config: Config, dates: list[pd.Timestamp],
                 stages: Stages | None = None) -> TrainingSet:
    """Features as of each date for the accounts active on it, labelled by churn within the horizon
    (``stages.detail`` is told each date as it starts)."""
    if "accounts" not in loaded.frames or loaded.frames["accounts"]["churn_date"].notna().sum() == 0:
        raise ModelError("training needs an accounts export with churn_date for the accounts that churned.")
    acc = loaded.frames["accounts"].drop_duplicates("account_id").set_index("account_id")
    frames = {name: loaded.frame(name) for name in ("accounts", "usage", "nps", "tickets", "payments")}
    frames.update(loaded.spilled)  # a large usage export is read from disk, part by part, at each date
    columns = model_columns(config)
    horizon = pd.Timedelta(days=config.model.horizon_days)
    from ..asof import accounts_date

    described = accounts_date(loaded, config)  # renewal dates are stepped back from this day
    parts, ys, ds, accs, rs, fl = [], [], [], [], [], []
    for i, d in enumerate(dates):
        if stages is not None:
            stages.detail(f"{d.date()}, {i + 1} of {len(dates)}")
        index = universe(loaded, d).index
        if not len(index):
            continue
        table = build_features(frames, index, d, config, accounts_date=described)
        flags = rules_mod.evaluate(config.rules, table)
        parts.append(design_matrix(table, flags, columns))
        churn = acc["churn_date"].reindex(index)
        ys.append(((churn > d) & (churn <= d + horizon)).to_numpy().astype("int64"))
        ds.append(np.full(len(index), d.to_datetime64(), dtype="datetime64[ns]"))
        accs.append(index.to_numpy(dtype=object))
        rs.append(rules_mod.rule_score(flags, config.rules).to_numpy())
        fl.append(flags.reset_index(drop=True))
    if not parts:
        raise ModelError("no observation date has active accounts; the history is too short for the "
                         f"horizon of {config.model.horizon_days} days.")
    X = pd.concat(parts, ignore_index=True)
    return TrainingSet(X, np.concatenate(ys), np.concatenate(ds), np.concatenate(accs), np.concatenate(rs),
                       pd.concat(fl, ignore_index=True))


def unknown_terms(loaded: Loaded, config: Config, accounts: np.ndarray) -> dict[str, Any]:
    """Of the ``accounts`` with a renewal date, how many have no contract term (see features.contract_terms):
    their renewal features are left empty on every day before the accounts export's own."""
    ids = pd.Index(pd.unique(pd.Series(accounts, dtype="object")).astype(str))
    attrs = account_attributes(loaded.frame("accounts"), ids)
    dated = attrs["renewal_date"].notna().to_numpy()
    unknown = dated & np.isnan(contract_terms(attrs, config.features))
    n, k = int(dated.sum()), int(unknown.sum())
    return {"accounts_with_renewal_date": n, "unknown_term": k, "unknown_term_share": k / n if n else 0.0}
