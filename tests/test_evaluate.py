"""churnscore.evaluate: the backtest's figures (metrics, expected calibration error) on hand-made arrays, its
table and JSON, and the command on a small generated history."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli as run

from churnscore.evaluate import SCORERS, Backtest, expected_calibration_error, metrics, table_text

# ten test rows, the churners at the 1st and 3rd highest score
Y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
SCORE = np.arange(10, 0, -1).astype(float)
P = np.array([0.9, 0.1, 0.7, 0.2, 0, 0, 0, 0, 0, 0])


def test_metrics_of_a_ranking_by_hand() -> None:
    got = metrics(Y, SCORE, None, top_k=3)
    assert set(got) == {"roc_auc", "pr_auc", "base_rate", "top_decile_churn_rate", "top_decile_lift", "top_k",
                        "precision_at_k", "recall_at_k"}  # no probability: no Brier, ECE or calibration
    # pairs (churner, stayer) ranked right: 8 for the top row, 7 for the third (only the 2nd row is above it)
    assert got["roc_auc"] == pytest.approx(15 / 16)
    # precision 1 at the first churner, 2/3 at the second, each half the recall
    assert got["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # base 2 of 10; the top decile is round(10 / 10) = 1 row, a churner: lift 1.0 / 0.2
    assert (got["base_rate"], got["top_decile_churn_rate"]) == (0.2, 1.0)
    assert got["top_decile_lift"] == pytest.approx(5.0)
    # k = 3: 2 churners among the top 3 rows, both churners found
    assert got["top_k"] == 3
    assert got["precision_at_k"] == pytest.approx(2 / 3)
    assert got["recall_at_k"] == 1.0


def test_metrics_of_probabilities_add_brier_ece_and_calibration() -> None:
    got = metrics(Y, P, P, top_k=100)
    assert got["top_k"] == 10  # k is at most the rows
    assert got["roc_auc"] == 1.0
    # (0.1^2 + 0.1^2 + 0.3^2 + 0.2^2) / 10
    assert got["brier"] == pytest.approx(0.015)
    # one row per bin: |1 - 0.9| + |0 - 0.1| + |1 - 0.7| + |0 - 0.2| (+ 0 for the zeros) over 10 rows
    assert got["ece"] == pytest.approx(0.07)
    assert got["mean_predicted"] == pytest.approx(0.19)
    assert [(r["n"], r["observed_rate"]) for r in got["calibration"]] == [(1, 0.0)] * 8 + [(1, 1.0)] * 2


def test_metrics_without_a_churner_are_missing_not_zero() -> None:
    got = metrics(np.zeros(4, dtype=int), np.array([4.0, 3.0, 2.0, 1.0]), None, top_k=10)
    assert (got["base_rate"], got["top_decile_churn_rate"], got["top_k"], got["precision_at_k"]) == (0.0, 0.0, 4, 0.0)
    assert all(math.isnan(got[k]) for k in ("roc_auc", "pr_auc", "top_decile_lift", "recall_at_k"))


def _backtest() -> Backtest:
    rules = {"roc_auc": 0.61234, "pr_auc": 0.2, "base_rate": 0.125, "top_decile_churn_rate": 0.3,
             "top_decile_lift": 2.4, "top_k": 100, "precision_at_k": 0.25, "recall_at_k": 0.375}
    logistic = {**rules, "roc_auc": 0.75, "brier": 0.09876, "ece": 0.01234,
                "calibration": [{"n": 5, "mean_predicted": 0.05, "observed_rate": 0.04},
                                {"n": 5, "mean_predicted": 0.5, "observed_rate": 0.6}]}
    boosting = {**logistic, "roc_auc": float("nan"), "top_decile_lift": 1234.5}
    return Backtest(pd.Timestamp("2026-08-31"), ["2026-05-31", "2026-06-30"], ["2026-08-31", "2026-09-30"], 1200,
                    640, {"rules": rules, "logistic": logistic, "gradient_boosting": boosting}, {})


def test_table_text_shows_each_metric_of_each_scorer() -> None:
    def row(label: str, *cells: str) -> str:
        return f"{label:<24}" + "".join(f"{c:>19}" for c in cells)

    assert table_text(_backtest()).splitlines() == [
        "backtest: train 2026-05-31..2026-06-30 (1,200 rows), test 2026-08-31, 2026-09-30 (640 rows), base rate "
        "12.5%, k = 100",
        row("metric", *SCORERS),
        row("ROC AUC", "0.612", "0.750", "-"),
        row("PR AUC", "0.200", "0.200", "0.200"),
        row("top-decile churn rate", "30.0%", "30.0%", "30.0%"),
        row("top-decile lift", "2.40x", "2.40x", "1,234.50x"),
        row("precision@k", "25.0%", "25.0%", "25.0%"),
        row("recall@k", "37.5%", "37.5%", "37.5%"),
        row("Brier score", "-", "0.0988", "0.0988"),
        row("calibration error (ECE)", "-", "0.0123", "0.0123"),
        "calibration (logistic, test): predicted -> observed by decile: 0.05->0.04, 0.50->0.60"]


def test_backtest_to_dict_is_the_json_document() -> None:
    bt = _backtest()
    assert bt.to_dict() == {"cutoff": "2026-08-31", "train_dates": ["2026-05-31", "2026-06-30"],
                            "test_dates": ["2026-08-31", "2026-09-30"], "n_train": 1200, "n_test": 640,
                            "scorers": bt.results, "rule_audit": []}


# ----------------------------------------------------------------------------- moved from tests/test_scenarios.py

def test_expected_calibration_error_by_hand() -> None:
    # bins of 0.1: 0.05 -> bin 0 (y 0), 0.95 -> bin 9 (y 1), 0.5 and 0.55 -> bin 5 (y 0, 0)
    # |0 - 0.05| + |1 - 0.95| + |0 - 1.05| = 1.15 over 4 rows
    assert expected_calibration_error(np.array([0, 1, 0, 0]), np.array([0.05, 0.95, 0.5, 0.55])) == \
        pytest.approx(0.2875)
    # perfectly calibrated within each bin: 0
    assert expected_calibration_error(np.array([1, 0, 0, 0]), np.array([0.25, 0.25, 0.25, 0.25])) == 0.0
    # p = 1.0 falls in the last bin; two bins
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.2]), bins=2) == pytest.approx(0.1)
    assert np.isnan(expected_calibration_error(np.array([]), np.array([])))


# ----------------------------------------------------------------------------- the command
# (moved from tests/test_model_cli.py)


def test_evaluate_prints_the_three_way_table_and_writes_json(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt.json"
    code, text, err = run("evaluate", "--input-dir", str(history), "--json", str(out))
    assert code == 0, err
    lines = text.splitlines()
    assert lines[1].split() == ["metric", "rules", "logistic", "gradient_boosting"]
    assert [line[:24].strip() for line in lines[2:9]] == ["ROC AUC", "PR AUC", "top-decile churn rate",
                                                         "top-decile lift", "precision@k", "recall@k",
                                                         "Brier score"]
    assert err.splitlines()[0] == f"churnscore: wrote {out}"
    assert err.splitlines()[1].startswith("  timings: load ")
    doc = json.loads(out.read_text())
    assert set(doc["scorers"]) == {"rules", "logistic", "gradient_boosting"}
    auc = doc["scorers"]["logistic"]["roc_auc"]
    assert lines[2].split()[3] == f"{auc:.3f}"
    assert len(doc["scorers"]["logistic"]["calibration"]) == 10
