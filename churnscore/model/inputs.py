"""The model's inputs: which columns, in which order (model_columns), the design matrix built from a feature
table and its flags, and the hash of what decides them (a model file must match the config that scores)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from .. import rules as rules_mod
from ..config import Config
from ..errors import ModelError
from ..features import CATALOGUE, FEATURE_NAMES, MODEL_FEATURES

LOG_FEATURES = frozenset(f.name for f in CATALOGUE if f.low == 0 and f.high is None)


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
