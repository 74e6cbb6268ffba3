"""model/drift.py: PSI, kept distributions and the checks score --model makes, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnscore.model import check_model, input_distribution, population_stability_index

NAN = np.nan
EXPECTED = {"edges": [1.0, 2.0], "shares": [0.25, 0.25, 0.25], "missing": 0.25}


def test_input_distribution_keeps_inner_quantile_edges_shares_and_the_missing_share():
    assert input_distribution(np.array([1.0, 2.0, 3.0, 4.0, NAN]), bins=2) == {
        "edges": [2.0], "shares": [0.4, 0.4], "missing": 0.2}
    assert input_distribution(np.array([0.0, 0.0, 1.0, 1.0])) == {  # a flag: one distinct edge
        "edges": [0.0, 1.0], "shares": [0.5, 0.5, 0.0], "missing": 0.0}
    assert input_distribution(np.array([NAN, NAN])) == {"edges": [], "shares": [0.0], "missing": 1.0}


def test_psi_is_zero_for_the_same_distribution_and_counts_empty_bins_at_the_floor():
    assert population_stability_index(EXPECTED, np.array([0, 1, 2, 2, 3, 3, NAN, NAN])) == 0.0
    # values on an edge fall in the bin below it; [0.75, 0, 0.25, 0] against a quarter each
    psi = population_stability_index(EXPECTED, np.array([0.0, 1.0, 1.0, 5.0]))
    floor = 1e-4
    assert psi == pytest.approx(0.5 * math.log(3) + 2 * (floor - 0.25) * math.log(floor / 0.25), rel=1e-12)
    assert psi == pytest.approx(4.4598, abs=1e-4)
    only_missing = population_stability_index(EXPECTED, np.array([NAN, NAN]))
    assert only_missing == pytest.approx(0.75 * math.log(4) + 3 * (floor - 0.25) * math.log(floor / 0.25), rel=1e-12)


def metadata(**extra):
    return {"as_of": "2026-01-01", "base_rate": 0.05, "churners": 10, "horizon_days": 90,
            "observation_dates": ["2025-08-01", "2025-09-01"],
            "distributions": {"a": EXPECTED, "b": EXPECTED}, **extra}


def test_checks_warn_on_drift_age_and_calibration_naming_the_inputs_highest_first():
    X = pd.DataFrame({"a": [0.0, 1.0, 1.0, 5.0], "b": [1.0, 2.0, 3.0, NAN], "c": [1.0, 2.0, 3.0, 4.0]})
    checks = check_model(metadata(), X, np.array([0.2, 0.2, 0.3, 0.3]), pd.Timestamp("2026-07-20"), 120)
    assert list(checks.psi) == ["a", "b"]  # c has no kept distribution
    assert checks.drifted == ["a"] and checks.psi["b"] == pytest.approx(0.0, abs=1e-12)
    assert (checks.age_days, checks.mean_probability, checks.expected_churners, checks.historic_churners) == (
        200, 0.25, 1.0, 5.0)
    events = [event for event, _ in checks.warnings]
    assert events == ["score.model_drift", "score.model_old", "score.model_calibration"]
    lines = [line for _, line in checks.warnings]
    assert lines[0] == ("churnscore: model inputs moved since training (PSI above 0.25, highest first): a 4.46; "
                        "check these exports, then retrain with 'churnscore train'")
    assert lines[1] == ("churnscore: the model was trained as of 2026-01-01, 200 days before this as-of "
                        "(model.max_age_days 120); retrain with 'churnscore train'")
    assert lines[2] == ("churnscore: mean predicted churn 25.0% against a training base rate of 5.0%; 1 churners "
                        "expected within 90 days against 5.0 per 90 days in history: the probabilities may be off; "
                        "inputs that moved most: a (PSI 4.46), b (PSI 0.00)")
    assert checks.to_dict()["warnings"] == events


def test_a_model_in_line_with_today_and_an_old_model_file_warn_about_nothing():
    X = pd.DataFrame({"a": [0, 1, 2, 2, 3, 3, NAN, NAN], "b": [0, 1, 2, 2, 3, 3, NAN, NAN]})
    p = np.full(8, 0.05)
    fine = check_model(metadata(churners=1, observation_dates=["2025-12-01", "2026-01-01"]), X, p,
                       pd.Timestamp("2026-02-01"), 120)
    assert (fine.warnings, fine.drifted, fine.age_days) == ([], [], 31)  # 0.4 expected, 0.5 per horizon
    old = check_model({k: v for k, v in metadata().items() if k != "distributions"}, X, p,
                      pd.Timestamp("2026-02-01"), 120)
    assert old.psi == {} and [e for e, _ in old.warnings] == ["score.model_calibration"]  # 0.4 vs 5 churners


def test_on_the_export_day_the_model_meets_no_renewal_where_training_had_none():
    from conftest import typed

    from churnscore.config import parse_config
    from churnscore.pipeline import as_in_training

    cfg = parse_config({"rules": [{"name": "renewal_soon", "when": {"feature": "days_to_renewal", "op": "le",
                                                                       "value": 60}, "weight": 0.5, "reason": "r"},
                                  {"name": "dormant", "when": {"feature": "tenure_days", "op": "ge", "value": 1},
                                   "weight": 0.5, "reason": "d"}],
                        "features": {"contract_terms": {"pro": 12}}})
    index = pd.Index(["A", "B", "C"], name="account_id", dtype="str")
    table = pd.DataFrame({"days_to_renewal": [30.0, 30.0, 300.0], "renewal_within_90d": [1.0, 1.0, 0.0],
                          "tenure_days": [5.0, 5.0, 5.0]}, index=index)
    X = pd.DataFrame({"days_to_renewal": [30.0, 30.0, 300.0], "renewal_within_90d": [1.0, 1.0, 0.0],
                      "tenure_days": [5.0, 5.0, 5.0], "flag_renewal_soon": [1.0, 1.0, 0.0],
                      "flag_dormant": [1.0, 1.0, 1.0]}, index=index)
    accounts = typed("accounts", [{"account_id": "A", "plan": "Pro"},  # term from the plan
                                  {"account_id": "B", "plan": "starter"},  # no term
                                  {"account_id": "C", "contract_term_months": 1}])
    out = as_in_training(X, table, cfg, accounts)
    expected = pd.DataFrame({"days_to_renewal": [30.0, NAN, 300.0], "renewal_within_90d": [1.0, NAN, 0.0],
                             "tenure_days": [5.0, 5.0, 5.0], "flag_renewal_soon": [1.0, 0.0, 0.0],
                             "flag_dormant": [1.0, 1.0, 1.0]}, index=index)
    pd.testing.assert_frame_equal(out, expected)
    assert X.loc["B", "days_to_renewal"] == 30.0  # the rules' table and matrix are left as they were
