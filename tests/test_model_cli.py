"""train -> score --model through the command line, on a small generated history (explain and evaluate have
their own files: tests/test_explain.py, tests/test_evaluate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import run_cli as run



def test_train_summary_reports_data_validation_and_coefficients(trained: tuple[Path, str]) -> None:
    model, err = trained
    doc = json.loads(model.read_text())
    meta = doc["metadata"]
    lines = err.splitlines()
    assert lines[0] == (f"churnscore: trained on {meta['rows']:,} account-snapshots at "
                        f"{len(meta['observation_dates'])} dates ({meta['observation_dates'][0]}.."
                        f"{meta['observation_dates'][-1]}), {meta['churners']:,} churned within 90 days "
                        f"(base rate {meta['base_rate']:.1%})")
    assert lines[1].startswith(f"  C = {meta['C']:g} (time-ordered CV ROC AUC ")
    assert lines[3] == "  strongest coefficients (log-odds per standard deviation):"
    assert len([line for line in lines if "risk" in line and line.startswith("    ")]) == 8
    stages = [part.split()[0] for part in lines[-2].removeprefix("  timings: ").split(", ")]
    assert stages == ["load", "snapshots", "choose_c", "fit", "write"]
    assert lines[-1] == f"  wrote {model} (sha256 {doc['sha256'][:16]}...)"


def test_train_proposes_the_login_event_and_key_features_as_config_lines(trained: tuple[Path, str]) -> None:
    _, err = trained
    lines = err.splitlines()
    start = lines.index("features:")
    assert lines[start + 1] == "  login_event: login"  # every active user-day of the sample has a login
    assert lines[start + 2].startswith("  key_features: [") and lines[start + 2].endswith("]")
    assert any(line.startswith("  login event: login (on 100% of active account-days)") for line in lines)


def test_validate_history_prints_the_same_proposal(history: Path) -> None:
    code, out, _ = run("validate", "--input-dir", str(history), "--history")
    assert code == 0
    assert "\nfeatures:\n  login_event: login\n  key_features: [" in out


def test_train_and_evaluate_log_one_json_line_each_with_json_logs(history: Path, tmp_path: Path) -> None:
    config = tmp_path / "fast.yaml"  # one C: the log is under test, not the search
    config.write_text("model:\n  c_grid: [0.1]\n")
    code, out, err = run("--log-format", "json", "train", "--config", str(config), "--input-dir", str(history),
                         "--model-out", str(tmp_path / "m.json"))
    assert code == 0 and out == ""
    [line] = err.splitlines()
    event, doc = json.loads(line), json.loads((tmp_path / "m.json").read_text())
    meta = doc["metadata"]
    assert {k: event[k] for k in ("event", "level", "model", "sha256", "rows", "churners", "C")} == {
        "event": "train.done", "level": "info", "model": str(tmp_path / "m.json"), "sha256": doc["sha256"],
        "rows": meta["rows"], "churners": meta["churners"], "C": 0.1}
    assert event["observation_dates"] == meta["observation_dates"]
    assert set(event["timings_s"]) == {"load", "snapshots", "choose_c", "fit", "write"}  # (keys sorted in JSON)
    code, out, err = run("--log-format", "json", "evaluate", "--config", str(config), "--input-dir", str(history),
                         "--json", str(tmp_path / "bt.json"))
    assert code == 0 and out.splitlines()[1].split() == ["metric", "rules", "logistic", "gradient_boosting"]
    [line] = err.splitlines()
    event = json.loads(line)
    assert {k: event[k] for k in ("event", "level", "outputs")} == {
        "event": "evaluate.done", "level": "info", "outputs": {"json": str(tmp_path / "bt.json")}}
    assert set(event["timings_s"]) == {"load", "snapshots", "choose_c", "test", "write"}


def test_train_says_for_how_many_accounts_the_contract_term_is_unknown(history: Path, tmp_path: Path) -> None:
    for name in ("usage", "nps", "tickets", "payments"):
        (tmp_path / f"{name}.csv").write_bytes((history / f"{name}.csv").read_bytes())
    accounts = pd.read_csv(history / "accounts.csv", dtype=str)
    accounts.drop(columns=["contract_term_months"]).to_csv(tmp_path / "accounts.csv", index=False)
    config = tmp_path / "fast.yaml"
    config.write_text("model:\n  c_grid: [0.1]\n")
    code, out, err = run("train", "--config", str(config), "--input-dir", str(tmp_path),
                         "--model-out", str(tmp_path / "m.json"))
    assert code == 0, err
    terms = json.loads((tmp_path / "m.json").read_text())["metadata"]["renewal_terms"]
    n = terms["accounts_with_renewal_date"]
    assert n > 0 and terms == {"accounts_with_renewal_date": n, "unknown_term": n, "unknown_term_share": 1.0}
    assert (f"  renewal features left empty before the export date for 100% of accounts ({n:,} of {n:,} with a "
            "renewal date): no contract term; set contract_term_months or features.contract_terms") in err.splitlines()
    code, out, err = run("--log-format", "json", "train", "--config", str(config), "--input-dir", str(history),
                         "--model-out", str(tmp_path / "m2.json"))  # the sample says every account's term
    assert code == 0 and json.loads(err)["renewal_terms"]["unknown_term"] == 0
    assert "renewal features left empty" not in err


def test_score_with_model_ranks_by_probability_and_by_revenue(history: Path, trained: tuple[Path, str],
                                                              tmp_path: Path) -> None:
    model, _ = trained
    out = tmp_path / "r.csv"
    code, _, err = run("score", "--input-dir", str(history), "--model", str(model), "--out", str(out))
    assert code == 0, err
    ranked = pd.read_csv(out, dtype={"account_id": str}, keep_default_na=False)
    assert list(ranked.columns[-3:]) == ["churn_probability", "rule_score", "model_reasons"]
    np.testing.assert_allclose(ranked["risk_score"], ranked["churn_probability"] * 100, atol=0.0501 + 0.005)
    assert ranked["risk_score"].is_monotonic_decreasing
    code, _, _ = run("score", "--input-dir", str(history), "--model", str(model), "--out", str(out),
                     "--rank-by", "revenue")
    by_revenue = pd.read_csv(out, dtype={"account_id": str}, keep_default_na=False)
    assert by_revenue["revenue_at_risk"].is_monotonic_decreasing
    assert sorted(by_revenue["account_id"]) == sorted(ranked["account_id"])


def test_score_with_model_keeps_every_input_psi_and_warns_once_per_problem(history: Path,
                                                                          trained: tuple[Path, str],
                                                                          tmp_path: Path) -> None:
    model, _ = trained
    doc = json.loads(model.read_text())
    assert set(doc["metadata"]["distributions"]) == set(doc["params"]["columns"])
    out = tmp_path / "r.csv"
    code, _, err = run("--log-format", "json", "score", "--input-dir", str(history), "--model", str(model),
                       "--out", str(out), "--as-of", "2026-10-31")
    assert code == 0, err
    manifest = json.loads(out.with_name("r.manifest.json").read_text())
    checks = manifest["model_checks"]
    assert set(checks["psi"]) == set(doc["params"]["columns"])
    assert checks["age_days"] == 0 and checks["max_age_days"] == 120
    events = [json.loads(line) for line in err.splitlines()]
    warned = [e["event"] for e in events if e.get("level") == "warning"]
    assert warned == checks["warnings"]
    done = [e for e in events if e["event"] == "score.done"][0]
    assert done["model_checks"] == checks
