"""The learned score: point-in-time training set, logistic pipeline, time-ordered CV, safe persistence.

The fitted model is kept as plain numbers (medians, indicator columns, scaling, coefficients) in a JSON
document, so that loading a model file can never run code a crafted file carries (a pickle can); the
numbers reproduce scikit-learn's Pipeline exactly, which a test checks.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from . import rules as rules_mod
from . import words
from .config import Config
from .drift import distributions
from .errors import ModelError
from .limits import MAX_DEPTH, MODEL_MAX_BYTES, TooLarge, read_bounded, shown, too_deep
from .features import (CATALOGUE, FEATURE_NAMES, MODEL_FEATURES, account_attributes, build_features, code_runs,
                       contract_terms)
from .load import Loaded
from .stages import Stages
from .universe import account_universe

MODEL_FORMAT = "churnscore-model/1"
LOG_FEATURES = frozenset(f.name for f in CATALOGUE if f.low == 0 and f.high is None)


# ----------------------------------------------------------------------------- columns and matrix


def model_columns(config: Config) -> list[str]:
    """The model's inputs, in order: every catalogue feature, then one 0/1 column per red flag.

    Features in model.exclude_features are left out, and so are the flags whose conditions use them
    (e.g. snapshot-only fields such as auto_renew_off, which history cannot date).
    """
    excluded = set(config.model.exclude_features)
    unknown = sorted(excluded - set(FEATURE_NAMES))
    if unknown:
        raise ModelError(f"config: model.exclude_features names unknown feature(s): {', '.join(unknown)}. "
                         "See 'churnscore features --list'.")
    flags = [f"flag_{r.name}" for r in config.rules
             if not excluded & {leaf.feature for leaf in rules_mod.leaves(r.when)}]
    return [f for f in MODEL_FEATURES if f not in excluded] + flags


def feature_config_hash(config: Config) -> str:
    """SHA-256 of what decides the model's inputs: windows, feature parameters and rule conditions."""
    raw = config.raw
    parts = {"windows": raw.get("windows"), "features": raw.get("features"),
             "rules": [{"name": r.get("name"), "when": r.get("when")} for r in (raw.get("rules") or [])],
             "columns": model_columns(config)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def design_matrix(features: pd.DataFrame, flags: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Model inputs: count-like features on a signed log scale (heavy tails), flags (flag_<rule>) as 0/1.
    Built column by column into one frame: no copy of the whole feature table on the way."""
    flagged = {f"flag_{name}": name for name in flags.columns}
    missing = [c for c in columns if c not in flagged and c not in features.columns]
    if missing:
        raise ModelError(f"model input columns missing from the feature table: {', '.join(missing)}.")
    out = {}
    for name in columns:
        if name in flagged:
            out[name] = flags[flagged[name]].to_numpy(dtype="float64")
        else:
            v = features[name].to_numpy(dtype="float64")
            out[name] = np.sign(v) * np.log1p(np.abs(v)) if name in LOG_FEATURES else v
    return pd.DataFrame(out, index=features.index, columns=columns)


# ----------------------------------------------------------------------------- training set


@dataclass
class TrainingSet:
    X: pd.DataFrame  # design matrix, one row per (observation date, account)
    y: np.ndarray  # 1 = churned within the horizon after the date
    date: np.ndarray  # observation date of each row (datetime64[ns])
    account: np.ndarray
    rule_score: np.ndarray  # the rules-only score (0-100) of each row, for comparison
    flags: pd.DataFrame | None = None  # every rule's flag (one bool column per rule, config order) of each row

    def subset(self, mask: np.ndarray) -> "TrainingSet":
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
    from .asof import accounts_date

    described = accounts_date(loaded, config)  # renewal dates are stepped back from this day
    parts, ys, ds, accs, rs, fl = [], [], [], [], [], []
    for i, d in enumerate(dates):
        if stages is not None:
            stages.detail(f"{d.date()}, {i + 1} of {len(dates)}")
        index, _ = account_universe(loaded, d)
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


# ----------------------------------------------------------------------------- the fitted model


ROW_BLOCK = 1 << 16  # accounts at a time when a model scores many (see LinearChurnModel._blocks)


def base_name(transformed: str) -> str:
    """The model input a transformed column belongs to (x__missing, x__bin2 -> x)."""
    return transformed.split("__", 1)[0]


@dataclass
class LinearChurnModel:
    """A fitted logistic model as plain numbers: impute -> indicators -> scale -> linear -> sigmoid."""

    columns: list[str]
    medians: np.ndarray  # per input column
    indicators: list[int]  # input columns that get a "was missing" indicator
    mean: np.ndarray  # per transformed column (inputs, then indicators)
    scale: np.ndarray
    coef: np.ndarray
    intercept: float  # prior-corrected when trained with balanced class weights
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def transformed_names(self) -> list[str]:
        return self.columns + [f"{self.columns[i]}__missing" for i in self.indicators]

    def standardised(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype="float64")
        if x.shape[1] != len(self.columns):
            raise ModelError(f"model expects {len(self.columns)} inputs, got {x.shape[1]}.")
        missing = np.isnan(x)
        # laid out as x is (a frame's values lie column by column), as np.where and np.hstack laid it out
        # before: a row's sum then adds in the same order, to the bit
        z = np.empty_like(x, shape=(len(x), len(self.columns) + len(self.indicators)))
        z[:, :len(self.columns)] = x
        np.copyto(z[:, :len(self.columns)], self.medians, where=missing)
        z[:, len(self.columns):] = missing[:, self.indicators]
        z -= self.mean  # in place: the same operations as (z - mean) / scale, without the temporaries
        z /= self.scale
        return z

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """coef x standardised value for every transformed column (rows: accounts)."""
        z = self.standardised(X)
        z *= self.coef
        return z

    def _blocks(self, X: pd.DataFrame | np.ndarray) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """(rows, their values, their contributions) in blocks of ROW_BLOCK rows: the temporaries (six arrays
        the size of the input at once) follow the block, not the accounts. Every figure is computed row by
        row in a fixed order (see ``linear``), so a row's figures do not depend on the block it falls in."""
        for start in range(0, len(X), ROW_BLOCK):
            rows = slice(start, start + ROW_BLOCK)
            x = np.asarray(X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows], dtype="float64")
            yield rows, x, self.contributions(x)

    def linear(self, contrib: np.ndarray) -> np.ndarray:
        """The linear predictor of each row: its contributions added column after column, left to right, then
        the intercept. An explicit order, not ``contrib.sum(axis=1)``: numpy sums a row pairwise or with SIMD
        lanes depending on the array's shape and memory layout, so a row alone in a short last block came out
        different in the last bit from the same row in a full block. Element-wise additions in a fixed order
        are exact IEEE operations, the same on every CPU and whatever the block size."""
        total = contrib[:, 0].copy() if contrib.shape[1] else np.zeros(len(contrib))
        for j in range(1, contrib.shape[1]):
            total += contrib[:, j]
        total += self.intercept
        return total

    def input_contributions(self, contrib: np.ndarray) -> np.ndarray:
        """Contribution of each model input (its value plus its missing indicator) from the transformed
        columns' ``contrib``: what pandas' group-by sum gives, to the bit (Kahan-compensated, missing values
        skipped, 0 for none; NaN for an input without a transformed column)."""
        names = [base_name(n) for n in self.transformed_names]
        out = np.full((len(contrib), len(self.columns)), np.nan)
        for i, column in enumerate(self.columns):
            members = [t for t, name in enumerate(names) if name == column]
            if not members:
                continue
            total, carry = np.zeros(len(contrib)), np.zeros(len(contrib))
            with np.errstate(over="ignore", invalid="ignore"):  # infinite values sum as pandas sums them
                for t in members:
                    value = contrib[:, t]
                    seen = ~np.isnan(value)
                    y = value - carry
                    step = total + y
                    carry = np.where(seen, step - total - y, carry)
                    carry[np.isnan(carry)] = 0.0  # an infinite sum leaves no compensation
                    total = np.where(seen, step, total)
            out[:, i] = total
        return out

    def scored(self, X: pd.DataFrame | np.ndarray, k: int = 0, above: float = -np.inf,
               when_set: list[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the churn probability and, for k > 0, the positions in ``columns`` of the k inputs that
        contribute most above ``above`` (ties: the earlier column, as a stable sort orders them) and their
        contributions; -inf (position 0) where a row has fewer. ``when_set``: positions of inputs that count
        only where their value is not 0 (a flag, a yes/no feature told as a condition: where it is 0 its words
        would be false, although a negative coefficient makes it push the risk up). One pass over the blocks
        gives both; k passes of argmax instead of a sort of every input."""
        probability = np.empty(len(X))
        top = np.zeros((len(X), k), dtype="int64")
        value = np.full((len(X), k), -np.inf)
        for rows, x, contrib in self._blocks(X):
            probability[rows] = 1.0 / (1.0 + np.exp(-self.linear(contrib)))
            if not k:
                continue
            inputs = self.input_contributions(contrib)
            if when_set:
                inputs[:, when_set] = np.where(x[:, when_set] == 0, -np.inf, inputs[:, when_set])
            left = np.where(inputs > above, inputs, -np.inf)  # NaN is never above
            at = np.arange(len(left))
            for j in range(min(k, left.shape[1])):
                best = np.argmax(left, axis=1)  # the first of equal values
                top[rows, j], value[rows, j] = best, left[at, best]
                left[at, best] = -np.inf
        return probability, top, value

    def strongest_inputs(self, X: pd.DataFrame | np.ndarray, k: int,
                         above: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the k strongest inputs above ``above`` and their contributions (see ``scored``)."""
        return self.scored(X, k, above)[1:]

    def strongest(self, k: int) -> list[tuple[str, float]]:
        """The k coefficients largest in size, with their transformed column names."""
        order = np.argsort(-np.abs(self.coef), kind="stable")[:k]
        return [(self.transformed_names[i], float(self.coef[i])) for i in order]

    def decision(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        out = np.empty(len(X))
        for rows, _, contrib in self._blocks(X):
            out[rows] = self.linear(contrib)
        return out

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Churn probability within the horizon, per row."""
        return self.scored(X)[0]

    def to_document(self) -> dict[str, Any]:
        params = {"columns": self.columns, "medians": self.medians.tolist(), "indicators": self.indicators,
                  "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                  "intercept": self.intercept}
        return {"format": MODEL_FORMAT, "metadata": self.metadata, "params": params}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "LinearChurnModel":
        p = doc["params"]
        _check_params(p)
        columns = [str(c) for c in p["columns"]]
        n_ex = len(columns)
        n_tr = n_ex + len(p["indicators"])
        arrays = {k: np.asarray(p[k], dtype="float64") for k in ("medians", "mean", "scale", "coef")}
        if (arrays["medians"].shape != (n_ex,) or any(arrays[k].shape != (n_tr,) for k in ("mean", "scale", "coef"))
                or not all(isinstance(i, int) and 0 <= i < n_ex for i in p["indicators"])):
            raise ModelError("model file parameters have inconsistent shapes.")
        return cls(columns, arrays["medians"], list(p["indicators"]), arrays["mean"], arrays["scale"],
                   arrays["coef"], float(p["intercept"]), dict(doc.get("metadata") or {}))


def _check_params(p: Any) -> None:
    """Refuse a model whose numbers would score quietly wrong: NaN or infinite numbers (every account blank and
    "low"), a scale of 0 or below, an intercept or a coefficient that is not a number (the string "1e3" made
    everyone high), a column name that is not a string."""
    if not isinstance(p, dict):
        raise ModelError("model file: 'params' must be a mapping.")
    if not isinstance(p.get("columns"), list) or not all(isinstance(c, str) for c in p["columns"]):
        raise ModelError("model file: 'params.columns' must be a list of column names (strings).")
    if not isinstance(p.get("indicators"), list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in p["indicators"]):
        raise ModelError("model file: 'params.indicators' must be a list of whole numbers.")
    for key in ("medians", "mean", "scale", "coef", "intercept"):
        values = p.get(key) if key != "intercept" else [p.get("intercept")]
        if not isinstance(values, list):
            raise ModelError(f"model file: 'params.{key}' must be a list of numbers.")
        for i, v in enumerate(values):
            where = f"params.{key}" + (f"[{i}]" if key != "intercept" else "")
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ModelError(f"model file: '{where}' must be a number, got {shown(v)}; retrain with "
                                 "'churnscore train'.")
            if not math.isfinite(v):
                raise ModelError(f"model file: '{where}' is {v}, not a finite number; retrain with "
                                 "'churnscore train'.")
            if key == "scale" and v <= 0:
                raise ModelError(f"model file: '{where}' is {v}; a scale must be above 0. Retrain with "
                                 "'churnscore train'.")


def _sk_pipeline(C: float, config: Config) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler(copy=False)),  # in place on the imputer's new array: 0.4 GB less at 778k rows
        ("logistic", LogisticRegression(C=C, class_weight=config.model.class_weight, max_iter=5000,
                                        random_state=config.model.random_state)),
    ])


def prior_correction(y: np.ndarray, class_weight: str | None) -> float:
    """Intercept shift that undoes balanced class weights so probabilities match the real base rate."""
    if class_weight != "balanced":
        return 0.0
    n1 = float(np.sum(y == 1))
    n0 = float(np.sum(y == 0))
    return math.log(n1 / n0)


def fit_logistic(X: pd.DataFrame, y: np.ndarray, C: float, config: Config) -> tuple[LinearChurnModel, Any]:
    """Fit the scikit-learn pipeline and return it as plain numbers (and the pipeline itself)."""
    if len(np.unique(y)) < 2:
        raise ModelError("training labels have one class only: no churner (or no stayer) in the training "
                         "window; use a longer history or another --as-of.")
    pipe = _sk_pipeline(C, config).fit(X.to_numpy(dtype="float64"), y)
    imp, sc, lr = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["logistic"]
    indicators = [int(i) for i in imp.indicator_.features_] if imp.indicator_ is not None else []
    scale = np.where(sc.scale_ == 0, 1.0, sc.scale_)
    model = LinearChurnModel(list(X.columns), np.asarray(imp.statistics_, dtype="float64"), indicators,
                             np.asarray(sc.mean_, dtype="float64"), np.asarray(scale, dtype="float64"),
                             np.asarray(lr.coef_[0], dtype="float64"),
                             float(lr.intercept_[0]) + prior_correction(y, config.model.class_weight))
    return model, pipe


def time_folds(dates: np.ndarray, horizon_days: int, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over observation dates: validate on one date, train on the dates whose
    horizon ends before it (so no training label looks past the validation date)."""
    unique = np.unique(dates)
    horizon = np.timedelta64(horizon_days, "D")
    folds = []
    for d in unique:
        train = dates + horizon <= d
        if train.any():
            folds.append((train, dates == d))
    return folds[-n_folds:]


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def cv_sample(ts: TrainingSet, max_rows: int, seed: int) -> TrainingSet:
    """At most about ``max_rows`` rows for choosing C: whole accounts (every snapshot of a chosen account),
    picked with a fixed seed, so the time structure of the folds is kept. The final fit uses every row."""
    if len(ts.y) <= max_rows:
        return ts
    accounts = np.unique(ts.account.astype(str))
    keep_n = max(1, int(len(accounts) * max_rows / len(ts.y)))
    chosen = np.random.default_rng(seed).choice(accounts, size=keep_n, replace=False)
    return ts.subset(np.isin(ts.account.astype(str), chosen))


def select_c(ts: TrainingSet, config: Config, stages: Stages | None = None) -> tuple[float, list[dict[str, Any]]]:
    """Pick C by mean ROC AUC over time-ordered folds (ties: the smaller C, more regularised); ``stages.detail``
    is told each fit as it starts."""
    ts = cv_sample(ts, config.model.cv_max_rows, config.model.random_state)
    folds = time_folds(ts.date, config.model.horizon_days, config.model.cv_folds)
    grid = list(config.model.c_grid)
    if not folds:
        return (1.0 if 1.0 in grid else grid[len(grid) // 2]), []
    rows = []
    for C in sorted(grid):
        aucs = []
        for k, (train, val) in enumerate(folds):
            if len(np.unique(ts.y[train])) < 2:
                continue
            if stages is not None:
                stages.detail(f"C {C:g}, fold {k + 1} of {len(folds)}")
            m, _ = fit_logistic(ts.X.loc[train], ts.y[train], C, config)
            aucs.append(roc_auc(ts.y[val], m.predict_proba(ts.X.loc[val])))
        rows.append({"C": C, "cv_roc_auc": float(np.nanmean(aucs)) if aucs else float("nan"),
                     "folds": len(aucs)})
    best = max(rows, key=lambda r: (np.nan_to_num(r["cv_roc_auc"], nan=-1.0), -r["C"]))
    return float(best["C"]), rows


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Rows sorted by predicted probability, cut in equal-count bins: mean predicted vs observed rate."""
    order = np.argsort(p, kind="mergesort")
    out = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            out.append({"n": int(len(chunk)), "mean_predicted": float(p[chunk].mean()),
                        "observed_rate": float(y[chunk].mean())})
    return out


def unknown_terms(loaded: Loaded, config: Config, accounts: np.ndarray) -> dict[str, Any]:
    """Of the ``accounts`` with a renewal date, how many have no contract term (see features.contract_terms):
    their renewal features are left empty on every day before the accounts export's own."""
    ids = pd.Index(pd.unique(pd.Series(accounts, dtype="object")).astype(str))
    attrs = account_attributes(loaded.frame("accounts"), ids)
    dated = attrs["renewal_date"].notna().to_numpy()
    unknown = dated & np.isnan(contract_terms(attrs, config.features))
    n, k = int(dated.sum()), int(unknown.sum())
    return {"accounts_with_renewal_date": n, "unknown_term": k, "unknown_term_share": k / n if n else 0.0}


def train(loaded: Loaded, config: Config, as_of: pd.Timestamp,
          stages: Stages | None = None) -> tuple[LinearChurnModel, TrainingSet]:
    """Build the training set up to as_of, choose C by time-ordered CV, fit on all of it, describe it.
    ``stages`` is told "snapshots", "choose_c" and "fit" as each starts (and stopped at the end)."""
    import sklearn

    stages = stages or Stages()
    dates = observation_dates(loaded, as_of, config)
    if not dates:
        raise ModelError(f"no observation date fits: the usage history before {as_of.date()} is shorter than "
                         f"min_history_days + horizon_days ({config.model.min_history_days} + "
                         f"{config.model.horizon_days}).")
    stages("snapshots")
    ts = training_set(loaded, config, dates, stages)
    stages("choose_c")
    C, cv = select_c(ts, config, stages)
    stages("fit")
    model, _ = fit_logistic(ts.X, ts.y, C, config)
    p = model.predict_proba(ts.X)
    stages.stop()
    from sklearn.metrics import brier_score_loss

    model.metadata = {
        "churnscore_version": __version__,
        "sklearn_version": sklearn.__version__,
        "pandas_version": pd.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "feature_config_hash": feature_config_hash(config),
        "config_hash": config.hash,
        "as_of": as_of.date().isoformat(),
        "observation_dates": [d.date().isoformat() for d in dates],
        "horizon_days": config.model.horizon_days,
        "rows": int(len(ts.y)),
        "churners": int(ts.y.sum()),
        "base_rate": float(ts.y.mean()),
        "C": C,
        "cv": cv,
        "train_roc_auc": roc_auc(ts.y, p),
        "train_brier": float(brier_score_loss(ts.y, p)),
        "calibration": calibration_table(ts.y, p),
        "renewal_terms": unknown_terms(loaded, config, ts.account),
        "distributions": distributions(ts.X),  # each input on the training rows: score --model checks drift
    }
    return model, ts


# ----------------------------------------------------------------------------- persistence


def _payload_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_model(model: LinearChurnModel, path: str | Path) -> str:
    """Write the model document atomically; returns its SHA-256 (also stored inside it)."""
    from .files import atomic_write

    from .signing import model_key, signature

    doc = model.to_document()
    key = model_key()
    if key is not None:  # signed before hashed: the sha256 covers the signature too
        doc["signature"] = signature(doc, key)
    doc["sha256"] = _payload_hash(doc)
    data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    atomic_write(path, lambda fh: fh.write(data))
    return doc["sha256"]


def load_model(path: str | Path, config: Config | None = None) -> LinearChurnModel:
    """Read a model document; refuse anything that is not one, was altered, or does not fit the config.

    Only JSON is parsed: no pickle, so a crafted file cannot run code here.
    """
    from .filetype import check_regular
    from .signing import check_signature, model_key

    path = Path(path)
    key = model_key()  # a key that cannot be read stops the run before the model is
    check_regular(path, "the model file", error=ModelError)  # a FIFO or /dev/zero: never opened
    try:
        raw = read_bounded(path, MODEL_MAX_BYTES)
    except TooLarge:
        raise ModelError(f"{path}: larger than {MODEL_MAX_BYTES:,} bytes, not a churnscore model file (one is "
                         "a few kilobytes).") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror or exc}).") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
        if too_deep(doc):
            raise ModelError(f"{path}: nested deeper than {MAX_DEPTH} levels, not a churnscore model file.")
    except RecursionError:
        raise ModelError(f"{path}: nested deeper than {MAX_DEPTH} levels, not a churnscore model file.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: not a churnscore model file (expected a JSON document written by "
                         "'churnscore train'; pickles and other formats are refused because loading them "
                         "can run code).") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a churnscore model file (format is {doc.get('format') if isinstance(doc, dict) else None!r}, "
                         f"expected '{MODEL_FORMAT}').")
    if doc.get("sha256") != _payload_hash(doc):
        raise ModelError(f"{path}: model file hash does not match its content (altered or corrupted); "
                         "retrain with 'churnscore train'.")
    check_signature(doc, path, key)
    try:
        model = LinearChurnModel.from_document(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: model file is incomplete ({exc}).") from None
    model.metadata["sha256"] = doc["sha256"]
    if config is not None:
        check_compatible(model, config, path)
    return model


def check_compatible(model: LinearChurnModel, config: Config, path: str | Path = "model") -> None:
    """The model's inputs must be exactly what this config computes, in the same order."""
    expected = model_columns(config)
    if model.columns != expected:
        extra = [c for c in model.columns if c not in expected]
        absent = [c for c in expected if c not in model.columns]
        detail = []
        if absent:
            detail.append(f"not in the model: {', '.join(absent[:5])}")
        if extra:
            detail.append(f"not in this config: {', '.join(extra[:5])}")
        raise ModelError(f"{path}: model features do not match the config ({'; '.join(detail) or 'order differs'}); "
                         "retrain with 'churnscore train --config ...'.")
    if model.metadata.get("feature_config_hash") != feature_config_hash(config):
        raise ModelError(f"{path}: model was trained with other windows, feature parameters or rule conditions "
                         "than this config; retrain with 'churnscore train --config ...'.")


# ----------------------------------------------------------------------------- reasons in words

PHRASES: dict[str, str] = {  # {s}: "s" unless the number is 1
    "usage_events_30d": "{v:int} event{s} in 30 days",
    "usage_events_prev_30d": "{v:int} event{s} in the 30 days before",
    "usage_trend_30d": "usage {v:trend} vs prior 30 days",
    "active_days_30d": "active on {v:int} of the last 30 days",
    "days_since_last_activity": "last active {v:int} day{s} ago",
    "never_active": "never used the product",
    "active_users_30d": "{v:int} active user{s}",
    "active_users_prev_30d": "{v:int} active user{s} in the 30 days before",
    "users_gone_quiet_share": "{v:pct} of last month's users inactive",
    "seat_utilisation": "{v:pct} of seats active",
    "key_feature_adoption": "uses {v:pct} of the key features",
    "key_feature_events_30d": "{v:int} key-feature event{s} in 30 days",
    "avg_session_seconds_30d": "sessions average {v:seconds}",
    "task_time_vs_norm_30d": "tasks take {v:num}x the usual time",
    "first30_logins_per_day": "{v:num} login{s} a day in the first 30 days",
    "first_session_seconds": "first session {v:seconds}",
    "usage_per_active_day_30d": "{v:num} event{s} per active day in 30 days",
    "usage_per_seat_30d": "{v:num} event{s} per seat in 30 days",
    "usage_per_active_day_pctile": "usage per active day: percentile {v:int} among similar accounts",
    "usage_per_seat_pctile": "usage per seat: percentile {v:int} among similar accounts",
    "lifetime_events_per_day": "{v:num} event{s} per day since signup",
    "tenure_band": "tenure band {v:int} (0: first 90 days, 3: over two years)",
    "first_90_days": "in its first 90 days",
    "nps_latest": "NPS {v:num}",
    "nps_mean": "NPS {v:num} on average",
    "nps_trend": "NPS {v:signed} points vs earlier",
    "nps_detractor": "NPS detractor (6 or less)",
    "days_since_nps_response": "no NPS answer for {v:int} day{s}",
    "nps_silent": "silent to NPS surveys",
    "tickets_open": "{v:int} open ticket{s}",
    "tickets_opened_30d": "{v:int} ticket{s} opened in 30 days",
    "tickets_opened_90d": "{v:int} ticket{s} opened in 90 days",
    "tickets_unresolved_old": "{v:int} ticket{s} open 14+ days",
    "ticket_resolution_median_hours": "median time to resolve a ticket {v:num} h",
    "tickets_urgent_90d": "{v:int} urgent ticket{s} in 90 days",
    "ticket_max_category_90d": "{v:int} ticket{s} on one topic in 90 days",
    "csat_mean_90d": "CSAT {v:num} of 5 in 90 days",
    "ticket_silence": "stopped opening tickets",
    "payments_late_90d": "{v:int} late payment{s} in 90 days",
    "days_overdue": "invoice {v:int} day{s} overdue",
    "payments_failed_30d": "{v:int} failed payment{s} in 30 days",
    "payments_failed_90d": "{v:int} failed payment{s} in 90 days",
    "failed_card_expired_90d": "card expired on {v:int} charge{s}",
    "failed_card_declined_90d": "{v:int} declined charge{s} in 90 days",
    "card_expiring_before_renewal": "card expires before renewal",
    "payment_method_changed_90d": "payment method changed",
    "mrr": "MRR {v:int} a month",
    "mrr_change_pct_90d": "MRR {v:trend} in 90 days",
    "seats": "{v:int} seat{s}",
    "tenure_days": "customer for {v:int} day{s}",
    "days_to_renewal": "renewal in {v:int} day{s}",
    "renewal_within_90d": "renewal within 90 days",
    "contract_months": "{v:int}-month contract",
    "auto_renew_off": "auto-renew off",
}


_SAY = {"int": words.whole, "pct": words.percent, "seconds": words.seconds, "num": words.number,
        "signed": lambda x: ("+" if x > 0 else "") + words.number(x),
        "trend": lambda x: ("down " if x < 0 else "up ") + words.percent(x)}


def _fmt(v: pd.Series, kind: str) -> pd.Series:
    """Format a column of numbers for words (each distinct value once), as churnscore.words says them."""
    return pd.Series(words.each(v.to_numpy(dtype="float64"), _SAY.get(kind, words.number)).to_pylist(),
                     index=v.index, dtype="str")


def phrases(column: str, values: pd.Series) -> pd.Series:
    """Words for one model input over many accounts (values on the feature's own scale)."""
    if column.startswith("flag_"):
        return pd.Series(f"red flag: {column[len('flag_'):].replace('_', ' ')}", index=values.index)
    template = PHRASES.get(column)
    head, _, rest = (template or "").partition("{v:")
    kind, _, tail = rest.partition("}")
    known = values.notna()
    name = column.replace("_", " ")
    out = pd.Series(f"no data for {name}", index=values.index, dtype="str")
    if not known.any():
        return out
    if not rest:  # no words for the number: the plain value; a condition is said where it holds
        out[known] = f"{name} = " + _fmt(values[known], "num")
        if template is not None:
            out[known & (values != 0)] = template
    else:
        number = _fmt(values[known], kind)
        one = (number == "1").to_numpy()  # "1 ticket", "2 tickets"
        singular = head.replace("{s}", "") + number + tail.replace("{s}", "")
        out[known] = singular.where(one, head.replace("{s}", "s") + number + tail.replace("{s}", "s"))
    return out


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each value's code, the distinct values): numbers by their bits, so that 0.0 and -0.0, which are
    written differently, stay apart; a missing value is one of the values."""
    if values.dtype.kind == "f":
        codes, distinct = pd.factorize(values.view(f"i{values.itemsize}"))
        return codes, distinct.view(values.dtype)
    return pd.factorize(values, use_na_sentinel=False)


def _joined(places: list[np.ndarray], words: list[str], rows: int) -> pa.Array:
    """Per row, its words at each place (an index into ``words``; -1: none) joined by "; ". Each distinct
    combination of words is joined once."""
    combination = np.zeros(rows, dtype="int64")
    for ids in places:  # numbered afresh after each place, so the numbers stay below rows x words
        combination, _ = pd.factorize(combination * (len(words) + 1) + ids + 1)
    first = np.unique(combination, return_index=True)[1]  # a row that has each combination
    texts = []
    for row in first:
        text = ""
        for ids in places:
            said = words[ids[row]] if ids[row] >= 0 else ""
            text += "; " + said if text and said else said
        texts.append(text)
    return pa.array(texts, type=pa.large_string()).take(combination)


# Correlated inputs told as one: a group has one net contribution (the sum of its members'), one sign, and is
# said in the words of its member that pushes the risk up most in the direction its rules call risky.
GROUPS: dict[str, tuple[str, ...]] = {
    "usage": ("usage_events_30d", "usage_events_prev_30d", "usage_trend_30d", "active_days_30d",
              "days_since_last_activity", "never_active", "usage_per_active_day_30d", "usage_per_seat_30d",
              "usage_per_active_day_pctile", "usage_per_seat_pctile", "lifetime_events_per_day"),
    "users": ("active_users_30d", "active_users_prev_30d", "users_gone_quiet_share", "seat_utilisation"),
    "key features": ("key_feature_adoption", "key_feature_events_30d"),
    "first 30 days": ("first30_logins_per_day", "first_session_seconds"),
    "NPS": ("nps_latest", "nps_mean", "nps_trend", "nps_detractor", "days_since_nps_response", "nps_silent"),
    "tickets": ("tickets_open", "tickets_opened_30d", "tickets_opened_90d", "tickets_unresolved_old",
                "tickets_urgent_90d", "ticket_max_category_90d"),
    "payments": ("payments_late_90d", "days_overdue", "payments_failed_30d", "payments_failed_90d",
                 "failed_card_expired_90d", "failed_card_declined_90d"),
    "renewal": ("days_to_renewal", "renewal_within_90d"),
    "size and age": ("mrr", "seats", "contract_months", "tenure_days", "tenure_band", "first_90_days"),
}
# inputs that describe an account rather than say what to act on: they count in the probability, never as a
# reason ("454 seats" is nobody's reason to call)
SILENT = frozenset(GROUPS["size and age"])
# member words in a rule's own template, so that model and rule say a fact alike
TEMPLATES = {"nps_latest": "{nps_latest:nps}",
             "key_feature_adoption": "uses {key_feature_adoption:of_key} key features in 30 days",
             "days_since_last_activity": "no activity for {days_since_last_activity:days}"}
_GROUP_OF = {f: g for g, members in GROUPS.items() for f in members}
# the side a risk lies on for inputs no rule names (+1: high is risky, -1: low is); the rules' own
# conditions decide for the inputs they name
DIRECTIONS = {
    "usage_events_30d": -1, "usage_events_prev_30d": -1, "usage_trend_30d": -1, "active_days_30d": -1,
    "days_since_last_activity": 1, "usage_per_active_day_30d": -1, "usage_per_seat_30d": -1,
    "usage_per_active_day_pctile": -1, "usage_per_seat_pctile": -1, "lifetime_events_per_day": -1,
    "active_users_30d": -1, "active_users_prev_30d": -1, "users_gone_quiet_share": 1, "seat_utilisation": -1,
    "key_feature_adoption": -1, "key_feature_events_30d": -1, "avg_session_seconds_30d": -1,
    "task_time_vs_norm_30d": 1, "first30_logins_per_day": -1, "first_session_seconds": -1,
    "nps_latest": -1, "nps_mean": -1, "nps_trend": -1, "days_since_nps_response": 1,
    "tickets_open": 1, "tickets_opened_30d": 1, "tickets_opened_90d": 1, "tickets_unresolved_old": 1,
    "ticket_resolution_median_hours": 1, "tickets_urgent_90d": 1, "ticket_max_category_90d": 1,
    "csat_mean_90d": -1, "payments_late_90d": 1, "days_overdue": 1, "payments_failed_30d": 1,
    "payments_failed_90d": 1, "failed_card_expired_90d": 1, "failed_card_declined_90d": 1,
    "mrr_change_pct_90d": -1, "days_to_renewal": -1,
}


def _top_leaves(cond: Any) -> list[Any]:
    """The leaves a rule's words stand for: all of them, but only the direct ones of an 'all' (a guard inside
    an 'any' branch is not what the reason says)."""
    from .config import AllOf, Leaf
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, AllOf):
        return [item for item in cond.items if isinstance(item, Leaf)]
    return rules_mod.leaves(cond)


def said_by(rule: Any) -> set[str]:
    """The features a rule's reason speaks of: its placeholders and the leaves its condition rests on."""
    return (set(rules_mod.placeholders(rule.reason))
            | {leaf.feature for leaf in _top_leaves(rule.when)})


def risk_direction(rules: Any) -> dict[str, int]:
    """+1 where the rules call a high value risky (gt, ge, eq 1), -1 where a low one (lt, le, eq 0); DIRECTIONS
    for the inputs no rule names."""
    out: dict[str, int] = {}
    for rule in rules or ():
        for leaf in rules_mod.leaves(rule.when):
            if leaf.op in ("gt", "ge") or (leaf.op == "eq" and leaf.value not in (0, None)):
                out.setdefault(leaf.feature, 1)
            elif leaf.op in ("lt", "le") or (leaf.op == "eq" and leaf.value == 0):
                out.setdefault(leaf.feature, -1)
    return {**DIRECTIONS, **out}


def input_groups(columns: list[str], rules: Any = None) -> list[str]:
    """The group of each model input: its feature's group; a flag joins the group of its rule's first leaf in
    one (else its first leaf's own); anything else is a group of its own."""
    first_leaf = {}
    for r in rules or ():
        features = [leaf.feature for leaf in rules_mod.leaves(r.when)]
        first_leaf[f"flag_{r.name}"] = next((f for f in features if f in _GROUP_OF), features[0] if features else None)
    return [_GROUP_OF.get(c) or _GROUP_OF.get(first_leaf.get(c) or "") or first_leaf.get(c) or c for c in columns]


@dataclass
class Reasons:
    """What the model says of each account: per place, the group told and its speaking input (-1: none)."""

    probability: np.ndarray
    groups: list[str]
    group: np.ndarray  # rows x k, position in ``groups``
    speaker: np.ndarray  # rows x k, position in the model's columns
    net: np.ndarray  # rows x k, the group's net contribution against the average account
    mean: np.ndarray  # per input: its average contribution over the accounts scored
    value_mean: np.ndarray  # per input: its average value over the accounts scored (where known)


def model_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, *, k: int = 3,
                  min_contribution: float = 0.05, flags: pd.DataFrame | None = None, rules: Any = None) -> Reasons:
    """The k groups of inputs that set each account's risk apart from the average account's, highest first.

    A contribution is coef x standardised value minus the same input's average over the accounts scored
    (the scaler centres on the training snapshots, not on today's accounts: a trait every account shares
    today is nobody's reason). Correlated inputs are summed into their group (GROUPS); a group is told where
    its net is above ``min_contribution``, it has a member that says a risk (its own contribution up, its
    value on the side its rules call risky by over a tenth of the average, a condition only where it holds, a
    known value) and no rule that fired for the account (``flags``) already says it.
    """
    columns = model.columns
    n = len(X)
    sums = np.zeros(len(columns))
    value_sums, value_counts = np.zeros(len(columns)), np.zeros(len(columns))
    table = features if features.index.equals(X.index) else features.reindex(X.index)
    own = [i for i, c in enumerate(columns) if c in table.columns]

    def raw(rows: slice, x: np.ndarray) -> np.ndarray:
        """The inputs on the features' own scale (design_matrix logs the counts): as the words say them."""
        out = x.copy()
        out[:, own] = table.iloc[rows, [table.columns.get_loc(columns[i]) for i in own]].to_numpy(dtype="float64")
        return out

    for rows, x, contrib in model._blocks(X):
        inputs = model.input_contributions(contrib)
        sums += np.nan_to_num(inputs).sum(axis=0)
        x = raw(rows, x)
        known = ~np.isnan(x)
        value_sums += np.where(known, x, 0.0).sum(axis=0)
        value_counts += known.sum(axis=0)
    mean = sums / max(n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_mean = value_sums / value_counts
    names = input_groups(columns, rules)
    groups = list(dict.fromkeys(names))
    members = [[i for i, g in enumerate(names) if g == group] for group in groups]
    direction = risk_direction(rules)
    conditions = {i for i, c in enumerate(columns)
                  if c.startswith("flag_") or (c in PHRASES and "{v:" not in PHRASES[c])}
    can_speak = [c in FEATURE_NAMES and c not in SILENT for c in columns]
    covered = []  # per group: the rules that already say it
    for group, ms in zip(groups, members):
        feats = {columns[i] for i in ms} | {f for f in GROUPS.get(group, ())}
        covered.append([r.name for r in (rules or ()) if flags is not None and r.name in flags.columns
                        and said_by(r) & feats])
    probability = np.empty(n)
    top_group = np.zeros((n, k), dtype="int64")
    top_speaker = np.full((n, k), -1, dtype="int64")
    top_net = np.full((n, k), -np.inf)
    for rows, x, contrib in model._blocks(X):
        probability[rows] = 1.0 / (1.0 + np.exp(-model.linear(contrib)))
        if not k:
            continue
        centred = np.nan_to_num(model.input_contributions(contrib)) - mean
        x = raw(rows, x)
        net = np.zeros((len(x), len(groups)))
        best = np.full((len(x), len(groups)), -1, dtype="int64")
        for g, ms in enumerate(members):
            strongest = np.zeros(len(x))
            for i in ms:  # in column order: a fixed order of additions
                net[:, g] += centred[:, i]
                if not can_speak[i]:
                    continue
                ok = ~np.isnan(x[:, i]) & (centred[:, i] > strongest)
                if i in conditions:
                    ok &= x[:, i] != 0
                d = direction.get(columns[i])
                if d is not None:  # on the risky side, and visibly: a tenth of the average away
                    ok &= d * (x[:, i] - value_mean[i]) > 0.1 * abs(value_mean[i])
                best[:, g] = np.where(ok, i, best[:, g])
                strongest = np.where(ok, centred[:, i], strongest)
            said = np.zeros(len(x), dtype=bool)
            for rule in covered[g]:
                said |= flags[rule].to_numpy(dtype=bool)[rows]
            net[:, g] = np.where((best[:, g] < 0) | said | ~(net[:, g] > min_contribution), -np.inf, net[:, g])
        at = np.arange(len(x))
        for j in range(min(k, len(groups))):
            g = np.argmax(net, axis=1)  # the first of equal values
            top_group[rows, j], top_net[rows, j] = g, net[at, g]
            top_speaker[rows, j] = np.where(np.isfinite(net[at, g]), best[at, g], -1)
            net[at, g] = -np.inf
    return Reasons(probability, groups, top_group, top_speaker, top_net, mean, value_mean)


def _average_words(name: str, mean: float) -> str:
    """ " (average account: 23)": what sets the account apart, said beside its own value; "" for a condition."""
    template = PHRASES.get(name, "")
    if "{v:" not in template or np.isnan(mean):
        return ""
    kind, _, tail = template.partition("{v:")[2].partition("}")
    unit = "x" if tail.startswith("x") else " h" if tail.startswith(" h") else ""  # "1.1x", "29.8 h"
    return f" (average account: {_fmt(pd.Series([mean]), 'num' if kind == 'int' else kind).iloc[0]}{unit})"


def probability_and_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, k: int = 3,
                            min_contribution: float = 0.05, *, flags: pd.DataFrame | None = None,
                            rules: Any = None, context: dict[str, Any] | None = None) -> tuple[np.ndarray, pd.Series]:
    """Per account, the churn probability and, in words, the k groups of model inputs that set its risk
    apart from the average account's (see ``model_reasons``), each said by its speaking member.

    Vectorised: for each of the k places, one formatting pass per speaking input, over its distinct values
    (or its rows, for a member said in a rule's template); Arrow joins the words once.
    """
    told = model_reasons(model, X, features, k=k, min_contribution=min_contribution, flags=flags, rules=rules)
    names = model.columns
    aligned = features.index.equals(X.index)
    table = features if aligned else features.reindex(X.index)
    known: dict[str, int] = {}
    places = []
    for j in range(told.speaker.shape[1]):
        speaker = told.speaker[:, j]
        at = np.flatnonzero(speaker >= 0)
        if not len(at):
            break
        held = speaker[at]
        order, starts, ends = code_runs(held)
        at, held = at[order], held[order]
        ids = np.full(len(X), -1, dtype="int32")
        for a, b in zip(starts, ends):
            name = names[held[a]]
            rows = at[a:b]
            if name in TEMPLATES:
                texts = np.asarray(rules_mod.render(TEMPLATES[name], table, rows, context).to_pylist(), dtype=object)
                distinct, codes = np.unique(texts, return_inverse=True)
                words_ = distinct
            else:
                source = (table[name].to_numpy()[rows] if name in table.columns
                          else np.full(len(rows), np.nan))
                codes, distinct = _distinct(source)
                words_ = phrases(name, pd.Series(distinct)).to_numpy(dtype=object)
            average = _average_words(name, told.value_mean[held[a]])
            number = np.array([known.setdefault(w + average, len(known)) if w else -1 for w in words_], dtype="int32")
            ids[rows] = number[np.asarray(codes).reshape(-1)]
        places.append(ids)
    reasons = pd.Series(_joined(places, list(known), len(X)), index=X.index, dtype="str")
    return told.probability, reasons


def top_reasons(model: LinearChurnModel, X: pd.DataFrame, features: pd.DataFrame, k: int = 3,
                min_contribution: float = 0.05, **told: Any) -> pd.Series:
    """Per account, the k groups of model inputs that set its risk apart, in words (probability_and_reasons)."""
    return probability_and_reasons(model, X, features, k, min_contribution, **told)[1]
