"""The fitted model as plain numbers (medians, indicator columns, scaling, coefficients): impute -> indicators
-> scale -> linear -> sigmoid, block by block, every figure added in a fixed order so that a row's figures
do not depend on the block it falls in. The numbers reproduce scikit-learn's Pipeline exactly (a test checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..limits import shown

MODEL_FORMAT = "churnscore-model/1"
ROW_BLOCK = 1 << 16  # accounts at a time when a model scores many (see LinearChurnModel.blocks)


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

    def blocks(self, X: pd.DataFrame | np.ndarray) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
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
        for rows, x, contrib in self.blocks(X):
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
        """The linear predictor (log-odds) of each row."""
        out = np.empty(len(X))
        for rows, _, contrib in self.blocks(X):
            out[rows] = self.linear(contrib)
        return out

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Churn probability within the horizon, per row."""
        return self.scored(X)[0]

    def to_document(self) -> dict[str, Any]:
        """The model as the JSON document a model file holds (without its hash and signature)."""
        params = {"columns": self.columns, "medians": self.medians.tolist(), "indicators": self.indicators,
                  "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                  "intercept": self.intercept}
        return {"format": MODEL_FORMAT, "metadata": self.metadata, "params": params}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "LinearChurnModel":
        """The model a document holds; ModelError where its numbers would score quietly wrong."""
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
