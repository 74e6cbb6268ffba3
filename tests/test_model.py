"""The logistic model: point-in-time training set, labels, time folds, exact persistence, refusal of bad files."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import churnscore.model.linear as linear_mod

from churnscore.config import parse_config
from churnscore.errors import ModelError
from churnscore.load import REJECT_COLUMNS, Loaded
from churnscore.model import (LinearChurnModel, calibration_table, design_matrix, fit_logistic, joined_reasons,
                              load_model, model_columns, observation_dates, prior_correction,
                              probability_and_reasons, save_model, time_folds, top_reasons, train, training_set)
from churnscore.load import load_all
from churnscore.words import input_average, input_words
from churnscore.synth import write_sample

from conftest import typed


def loaded_from(frames: dict[str, pd.DataFrame]) -> Loaded:
    full = {name: typed(name, None) if name not in frames else frames[name]
            for name in ("accounts", "usage", "nps", "tickets", "payments")}
    return Loaded(full, pd.DataFrame(columns=REJECT_COLUMNS), {}, [])


@pytest.fixture(scope="module")
def sample_loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A small generated history, read by the real loader."""
    folder = tmp_path_factory.mktemp("history")
    write_sample(folder, n_accounts=300, months=10, seed=3, fmt="csv")
    return load_all(parse_config({}), folder)


# ----------------------------------------------------------------------------- dates, labels, folds


def test_observation_dates_step_back_from_as_of_minus_horizon() -> None:
    usage = typed("usage", [{"account_id": "A", "timestamp": "2024-01-01"}])
    cfg = parse_config({"model": {"horizon_days": 90, "observation_interval_days": 30, "min_history_days": 30}})
    dates = observation_dates(loaded_from({"usage": usage}), pd.Timestamp("2024-07-30"), cfg)
    assert [d.date().isoformat() for d in dates] == ["2024-02-01", "2024-03-02", "2024-04-01", "2024-05-01"]


def test_the_accounts_export_describes_the_latest_usage_day_or_its_configured_snapshot_date() -> None:
    from churnscore.asof import accounts_date

    usage = typed("usage", [{"account_id": "A", "timestamp": "2024-01-01 10:00"},
                            {"account_id": "A", "timestamp": "2024-03-31 23:00"}])
    loaded = loaded_from({"usage": usage})
    assert accounts_date(loaded, parse_config({})) == pd.Timestamp("2024-03-31")
    configured = parse_config({"inputs": {"accounts": {"snapshot_date": "2024-04-15"}}})
    assert accounts_date(loaded, configured) == pd.Timestamp("2024-04-15")


def test_labels_count_churn_inside_the_horizon_only() -> None:
    accounts = typed("accounts", [
        {"account_id": "IN", "signup_date": "2023-01-01", "churn_date": "2024-03-15"},   # within 90 d: 1
        {"account_id": "EDGE", "signup_date": "2023-01-01", "churn_date": "2024-04-30"},  # day 90: 1
        {"account_id": "LATE", "signup_date": "2023-01-01", "churn_date": "2024-05-01"},  # day 91: 0
        {"account_id": "STAY", "signup_date": "2023-01-01"},                              # 0
        {"account_id": "GONE", "signup_date": "2023-01-01", "churn_date": "2024-01-31"},  # not active: left out
        {"account_id": "NEW", "signup_date": "2024-02-15"},                               # not yet: left out
    ])
    usage = typed("usage", [{"account_id": "IN", "timestamp": "2023-06-01"}])
    ts = training_set(loaded_from({"accounts": accounts, "usage": usage}), parse_config({}),
                      [pd.Timestamp("2024-01-31")])
    assert dict(zip(ts.account, ts.y)) == {"EDGE": 1, "IN": 1, "LATE": 0, "STAY": 0}


def test_time_folds_never_let_a_training_label_see_past_the_validation_date() -> None:
    d = np.array(["2024-01-01", "2024-01-31", "2024-03-01", "2024-03-31", "2024-04-30"], dtype="datetime64[ns]")
    dates = np.repeat(d, 2)
    folds = time_folds(dates, horizon_days=60, n_folds=3)
    got = [(sorted({str(x)[:10] for x in dates[tr]}), sorted({str(x)[:10] for x in dates[va]})) for tr, va in folds]
    assert got == [
        (["2024-01-01"], ["2024-03-01"]),
        (["2024-01-01", "2024-01-31"], ["2024-03-31"]),
        (["2024-01-01", "2024-01-31", "2024-03-01"], ["2024-04-30"]),
    ]


def test_no_leakage_rows_after_an_observation_date_change_none_of_its_features(sample_loaded: Loaded) -> None:
    cfg = parse_config({})
    d = pd.Timestamp("2026-06-30")
    before = training_set(sample_loaded, cfg, [d])
    later = {}
    for name, col in (("usage", "timestamp"), ("nps", "responded_at"), ("tickets", "created_at"),
                      ("payments", "due_date")):
        frame = sample_loaded.frames[name]
        future = frame.copy()
        future[col] = future[col] + pd.Timedelta(days=400)  # every row again, dated after d
        if name == "tickets":
            future["ticket_id"] = "F" + future["ticket_id"].astype(str)
            future["resolved_at"] = future["resolved_at"] + pd.Timedelta(days=400)
        if name == "payments":
            future["payment_id"] = "F" + future["payment_id"].astype(str)
            future["paid_at"] = future["paid_at"] + pd.Timedelta(days=400)
        later[name] = pd.concat([frame, future], ignore_index=True)
    later["accounts"] = sample_loaded.frames["accounts"]
    after = training_set(loaded_from(later), cfg, [d])
    pd.testing.assert_frame_equal(before.X, after.X)
    np.testing.assert_array_equal(before.y, after.y)


# ----------------------------------------------------------------------------- the fitted model


def test_plain_number_model_reproduces_the_sklearn_pipeline(sample_loaded: Loaded) -> None:
    cfg = parse_config({"model": {"class_weight": None}})
    ts = training_set(sample_loaded, cfg, observation_dates(sample_loaded, pd.Timestamp("2026-10-31"), cfg))
    model, pipe = fit_logistic(ts.X, ts.y, 0.1, cfg)
    np.testing.assert_allclose(model.predict_proba(ts.X), pipe.predict_proba(ts.X.to_numpy())[:, 1],
                               rtol=0, atol=1e-12)


def test_prior_correction_undoes_balanced_weights() -> None:
    y = np.array([1, 0, 0, 0])
    assert prior_correction(y, "balanced") == pytest.approx(np.log(1 / 3))
    assert prior_correction(y, None) == 0.0


def test_balanced_model_is_calibrated_on_average(sample_loaded: Loaded) -> None:
    cfg = parse_config({})
    ts = training_set(sample_loaded, cfg, observation_dates(sample_loaded, pd.Timestamp("2026-10-31"), cfg))
    model, _ = fit_logistic(ts.X, ts.y, 0.1, cfg)
    p = model.predict_proba(ts.X)
    assert abs(p.mean() - ts.y.mean()) < 0.02
    table = calibration_table(ts.y, p, bins=5)
    assert [r["n"] for r in table] == [len(p) // 5 + (1 if i < len(p) % 5 else 0) for i in range(5)]
    assert table[-1]["observed_rate"] > table[0]["observed_rate"]


def test_calibration_table_exact() -> None:
    table = calibration_table(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.6, 0.8]), bins=2)
    assert table == [{"n": 2, "mean_predicted": pytest.approx(0.2), "observed_rate": 0.0},
                     {"n": 2, "mean_predicted": pytest.approx(0.7), "observed_rate": 1.0}]


def _tiny_model() -> LinearChurnModel:
    return LinearChurnModel(["a", "b"], np.array([1.0, 2.0]), [1], np.array([0.0, 0.0, 0.0]),
                            np.array([1.0, 2.0, 1.0]), np.array([1.0, -1.0, 0.5]), -0.5, {})


def test_linear_model_arithmetic_exact() -> None:
    m = _tiny_model()
    X = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, 4.0]})
    # row 0: a=1, b imputed 2 -> z = [1, 1, 1(missing)] -> 1 - 1 + 0.5 - 0.5 = 0
    # row 1: a imputed 1, b=4 -> z = [1, 2, 0] -> 1 - 2 + 0 - 0.5 = -1.5
    np.testing.assert_allclose(m.decision(X), [0.0, -1.5])
    np.testing.assert_allclose(m.predict_proba(X), [0.5, 1 / (1 + np.exp(1.5))])
    np.testing.assert_allclose(m.contributions(X), [[1.0, -1.0, 0.5], [1.0, -2.0, 0.0]])
    assert m.transformed_names == ["a", "b", "b__missing"]


def test_top_reasons_words_for_the_strongest_contributions_against_the_average_account() -> None:
    m = LinearChurnModel(["usage_trend_30d", "nps_latest"], np.array([0.0, 8.0]), [],
                         np.array([0.0, 8.0]), np.array([1.0, 1.0]), np.array([-1.0, -0.5]), 0.0, {})
    X = pd.DataFrame({"usage_trend_30d": [-0.64, 0.2], "nps_latest": [3.0, 9.0]}, index=["A", "B"])
    # contributions A 0.64, 2.5; B -0.2, -0.5; averages 0.22, 1.0: A is 0.42 and 1.5 above them, B below
    reasons = top_reasons(m, X, X, k=2)
    assert reasons.to_dict() == {"A": "NPS 3 (average account: 6); usage down 64% vs prior 30 days (average "
                                      "account: down 22%)", "B": ""}


def test_a_trait_every_account_shares_is_nobodys_reason() -> None:
    m = LinearChurnModel(["renewal_within_90d", "days_overdue"], np.zeros(2), [], np.zeros(2), np.ones(2),
                         np.array([1.0, 0.2]), 0.0, {})
    X = pd.DataFrame({"renewal_within_90d": [1.0, 1.0], "days_overdue": [0.0, 10.0]}, index=["A", "B"])
    assert top_reasons(m, X, X, k=2).to_dict() == {"A": "", "B": "invoice 10 days overdue (average account: 5)"}


def test_correlated_inputs_are_one_group_with_one_net_and_a_rule_already_told_is_not_repeated() -> None:
    m = LinearChurnModel(["nps_latest", "nps_trend", "days_overdue"], np.zeros(3), [], np.array([8.0, 0.0, 0.0]),
                         np.ones(3), np.array([-0.5, 0.3, 0.2]), 0.0, {})
    X = pd.DataFrame({"nps_latest": [3.0, 9.0, 9.0], "nps_trend": [-4.0, 1.0, 1.0], "days_overdue": [0.0, 10.0, 0.0]},
                     index=["A", "B", "C"])
    # contributions A 2.5 -1.2 0, B -0.5 0.3 2, C -0.5 0.3 0; averages 0.5 -0.2 0.667. A: NPS group net
    # 2 - 1 = 1 (the falling trend pulls the other way: counted in the net, never told as lowering the risk);
    # B: NPS -1 + 0.5 < 0, payments 1.333; C: nothing above the average
    probability, reasons = probability_and_reasons(m, X, X, k=2)
    assert reasons.to_dict() == {"A": "NPS 3 (average account: 7)",
                                 "B": "invoice 10 days overdue (average account: 3.3)", "C": ""}
    assert str(reasons.dtype) == "str"
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-np.array([1.3, 1.8, -0.2]))))
    rules = parse_config({"rules": [{"name": "overdue", "weight": 0.3, "reason": "invoice {days_overdue:days} overdue",
                                     "when": {"feature": "days_overdue", "op": "ge", "value": 10}}]}).rules
    fired = pd.DataFrame({"overdue": [False, True, False]}, index=X.index)
    told = top_reasons(m, X, X, k=2, flags=fired, rules=rules)
    assert told.to_dict() == {"A": "NPS 3 (average account: 7)", "B": "", "C": ""}


def test_a_condition_is_a_reason_only_where_it_holds() -> None:
    """nps_silent with a negative coefficient pushes the risk up where it is 0: 'silent to NPS surveys' would
    be false there, so it is no reason; NPS 3, shared by both, is nobody's; flags never speak (their rule
    does)."""
    m = LinearChurnModel(["nps_silent", "nps_latest"], np.array([0.0, 8.0]), [],
                         np.array([0.5, 8.0]), np.array([0.5, 1.0]), np.array([-1.0, -0.5]), 0.0, {})
    X = pd.DataFrame({"nps_silent": [0.0, 1.0], "nps_latest": [3.0, 3.0]}, index=["A", "B"])
    assert top_reasons(m, X, X, k=2).to_dict() == {"A": "", "B": ""}
    flags = LinearChurnModel(["flag_late_payer", "flag_dormant"], np.zeros(2), [], np.array([0.5, 0.5]),
                             np.array([0.5, 0.5]), np.array([-1.0, 1.0]), 0.0, {})
    Xf = pd.DataFrame({"flag_late_payer": [0.0, 1.0], "flag_dormant": [1.0, 1.0]}, index=["A", "B"])
    assert top_reasons(flags, Xf, Xf, k=2).to_dict() == {"A": "", "B": ""}


def test_input_words_count_in_words_and_state_a_condition_only_where_it_holds() -> None:
    assert input_words("tickets_open", np.array([1.0, 2.0, 0.0, np.nan])) == [
        "1 open ticket", "2 open tickets", "0 open tickets", "no data for tickets_open"]
    assert input_words("nps_silent", np.array([1.0, 0.0, np.nan])) == [
        "silent to NPS surveys", "nps_silent = 0", "no data for nps_silent"]
    assert input_words("mrr", np.array([1019.9])) == ["MRR 1,020 a month"]
    assert input_words("flag_dormant", np.array([1.0, 0.0])) == ["red flag 'dormant'", "flag_dormant = 0"]


def test_input_words_name_an_input_as_the_train_summary_and_explain_do() -> None:
    meanings = {"nps_latest": "latest NPS score"}
    assert [input_words(c, meanings=meanings) for c in ("flag_dormant", "nps_latest__missing", "nps_latest",
                                                         "mrr")] == [
        "red flag 'dormant'", "no data for nps_latest", "nps_latest (latest NPS score)", "mrr"]
    assert [input_average(c, 1.125) for c in ("tickets_open", "task_time_vs_norm_30d", "nps_silent")] == [
        "1.1", "1.1x", ""]


def test_joined_words_per_row_in_place_order() -> None:
    places = [np.array([0, 1, -1, 0], dtype="int32"), np.array([2, -1, -1, 2], dtype="int32")]
    assert joined_reasons(places, ["a", "b", "c"], 4).to_pylist() == ["a; c", "b", "", "a; c"]
    assert joined_reasons([], [], 2).to_pylist() == ["", ""]


def test_a_frame_row_sums_its_contributions_column_after_column() -> None:
    """A frame's values lie column by column; the standardised values keep that layout, so a row's sum
    adds its inputs in column order (as before the in-place arithmetic), not pairwise."""
    rng = np.random.default_rng(5)
    k = 40
    m = LinearChurnModel([f"c{i}" for i in range(k)], np.zeros(k), [], np.zeros(k), np.ones(k),
                         rng.normal(size=k) * 1e3, 0.25, {})
    X = pd.DataFrame(rng.normal(size=(500, k)) * np.logspace(-8, 8, k), columns=m.columns)
    contrib = X.to_numpy() * m.coef
    in_order = contrib[:, 0].copy()
    for i in range(1, k):
        in_order += contrib[:, i]
    np.testing.assert_array_equal(m.decision(X), in_order + 0.25)
    assert not np.array_equal(np.ascontiguousarray(contrib).sum(axis=1), in_order)  # pairwise differs here


def test_input_contributions_are_pandas_group_sums_to_the_bit() -> None:
    m = _tiny_model()  # inputs a, b; transformed a, b, b__missing
    contrib = np.array([[1.0, 2.0, 0.5],
                        [np.nan, 0.1, 0.2],  # a: no value -> 0; b: 0.1 + 0.2
                        [-0.0, np.inf, -np.inf],  # a: 0 + -0.0 is 0.0; b: inf - inf
                        [1e16, 1.0, np.nan]])  # b: the indicator missing is skipped
    got = m.input_contributions(contrib)
    expected = np.array([[1.0, 2.5], [0.0, 0.30000000000000004], [0.0, np.nan], [1e16, 1.0]])
    np.testing.assert_array_equal(got, expected)
    assert not np.signbit(got[2, 0])
    frame = pd.DataFrame(contrib, columns=m.transformed_names)  # the group-by it stands for
    by_pandas = frame.T.groupby(["a", "b", "b"], sort=False).sum().T.to_numpy()
    np.testing.assert_array_equal(got, by_pandas)


def test_strongest_inputs_ties_to_the_earlier_column_and_only_above_the_floor() -> None:
    m = LinearChurnModel(["a", "b", "c"], np.zeros(3), [], np.zeros(3), np.ones(3), np.ones(3), 0.0, {})
    X = np.array([[0.5, 0.9, 0.5],  # b, then the tie a / c: a first
                  [0.01, 0.2, np.nan],  # only b is above 0.05
                  [0.0, 0.0, 0.0]])  # none
    top, value = m.strongest_inputs(X, 2, above=0.05)
    np.testing.assert_array_equal(top, [[1, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(value, [[0.9, 0.5], [0.2, -np.inf], [-np.inf, -np.inf]])


def test_many_accounts_are_scored_block_by_block_with_the_same_figures(monkeypatch, sample_loaded: Loaded) -> None:
    cfg = parse_config({"model": {"c_grid": [0.1], "observation_count": 2}})
    model, ts = train(sample_loaded, cfg, pd.Timestamp("2026-10-31"))
    whole = model.predict_proba(ts.X), top_reasons(model, ts.X, ts.X)
    monkeypatch.setattr(linear_mod, "ROW_BLOCK", 8)  # blocks that end anywhere, the last one short
    assert len(ts.y) == 441
    np.testing.assert_array_equal(model.predict_proba(ts.X), whole[0])
    pd.testing.assert_series_equal(top_reasons(model, ts.X, ts.X), whole[1])
    assert (whole[1] != "").sum() > 0 and not whole[1].str.contains("no data for").any()


# ----------------------------------------------------------------------------- persistence


def test_save_reload_gives_identical_scores(tmp_path: Path, sample_loaded: Loaded) -> None:
    cfg = parse_config({})
    model, ts = train(sample_loaded, cfg, pd.Timestamp("2026-10-31"))
    digest = save_model(model, tmp_path / "m.json")
    back = load_model(tmp_path / "m.json", cfg)
    assert back.metadata["sha256"] == digest
    np.testing.assert_array_equal(back.predict_proba(ts.X), model.predict_proba(ts.X))
    assert back.columns == model_columns(cfg)
    meta = json.loads((tmp_path / "m.json").read_text())["metadata"]
    assert {"feature_config_hash", "config_hash", "observation_dates", "horizon_days", "C", "cv",
            "sklearn_version", "churnscore_version", "calibration"} <= set(meta)


def test_altered_model_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save_model(_tiny_model(), path)
    doc = json.loads(path.read_text())
    doc["params"]["coef"][0] = 9.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="hash does not match its content"):
        load_model(path)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - what a crafted pickle does
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    path.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(ModelError, match="not a churnscore model file"):
        load_model(path)
    assert not marker.exists()


def test_json_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ModelError, match="format is 'something-else'"):
        load_model(path)


def test_model_for_another_config_is_refused(tmp_path: Path) -> None:
    cfg = parse_config({})
    cols = model_columns(cfg)
    n = len(cols)
    model = LinearChurnModel(cols, np.zeros(n), [], np.zeros(n), np.ones(n), np.zeros(n), 0.0, {})
    from churnscore.model import feature_config_hash

    model.metadata["feature_config_hash"] = feature_config_hash(cfg)
    save_model(model, tmp_path / "m.json")
    load_model(tmp_path / "m.json", cfg)  # same config: accepted
    other = parse_config({"windows": {"short_days": 14}})
    with pytest.raises(ModelError, match="other windows, feature parameters or rule conditions"):
        load_model(tmp_path / "m.json", other)
    with_rule = parse_config({"rules": [{"name": "x", "when": {"feature": "mrr", "op": "gt", "value": 1},
                                         "weight": 0.1, "reason": "r"}]})
    with pytest.raises(ModelError, match="not in the model: flag_x"):
        load_model(tmp_path / "m.json", with_rule)


def test_design_matrix_logs_counts_and_appends_flags() -> None:
    feats = pd.DataFrame({"usage_events_30d": [0.0, np.e - 1], "usage_trend_30d": [-0.5, 0.5]})
    flags = pd.DataFrame({"r": [True, False]})
    X = design_matrix(feats, flags, ["usage_events_30d", "usage_trend_30d", "flag_r"])
    expected = pd.DataFrame({"usage_events_30d": [0.0, 1.0], "usage_trend_30d": [-0.5, 0.5], "flag_r": [1.0, 0.0]})
    pd.testing.assert_frame_equal(X, expected)


def test_cv_sample_keeps_whole_accounts_and_is_seeded() -> None:
    from churnscore.model import TrainingSet, cv_sample

    accounts = np.repeat(np.array([f"A{i}" for i in range(10)], dtype=object), 3)
    ts = TrainingSet(pd.DataFrame({"x": np.arange(30.0)}), np.zeros(30, int), np.zeros(30, "datetime64[ns]"),
                     accounts, np.zeros(30))
    assert cv_sample(ts, 30, 0) is ts  # small enough: untouched
    a, b = cv_sample(ts, 12, 0), cv_sample(ts, 12, 0)
    assert len(a.y) == 12 and list(a.account) == list(b.account)
    assert pd.Series(a.account).value_counts().tolist() == [3, 3, 3, 3]


def test_excluded_features_and_the_flags_that_use_them_leave_the_model() -> None:
    rule = lambda name, feature: {"name": name, "when": {"any": [{"feature": feature, "op": "eq", "value": 1},  # noqa: E731
                                                                {"feature": "mrr", "op": "gt", "value": 9}]},
                                  "weight": 0.1, "reason": "r"}
    cfg = parse_config({"rules": [rule("renew", "auto_renew_off"), rule("quiet", "ticket_silence")],
                        "model": {"exclude_features": ["auto_renew_off", "seats"]}})
    cols = model_columns(cfg)
    assert "auto_renew_off" not in cols and "seats" not in cols and "mrr" in cols
    assert cols[-1:] == ["flag_quiet"]  # flag_renew used auto_renew_off
    with pytest.raises(ModelError, match=r"model.exclude_features names unknown feature\(s\): nope"):
        model_columns(parse_config({"model": {"exclude_features": ["nope"]}}))
