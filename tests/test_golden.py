"""Regression on the committed sample: the ranked list and the backtest quality must not move by accident.

To update on purpose (and say why in the commit message):
    CHURNSCORE_UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from churnscore.config import DEFAULT_CONFIG, load_config
from churnscore.evaluate import backtest
from churnscore.load import load_all
from churnscore.pipeline import score
from churnscore.write import write_table

GOLDEN = Path(__file__).parent / "golden"
AS_OF = "2026-10-31"
UPDATE = os.environ.get("CHURNSCORE_UPDATE_GOLDEN") == "1"
AUC_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def sample():
    config = load_config(DEFAULT_CONFIG)
    return config, load_all(config)


def test_sample_ranked_list_matches_golden(sample, tmp_path: Path) -> None:
    config, loaded = sample
    result = score(config, loaded=loaded, as_of=AS_OF)
    out = write_table(result.ranked, tmp_path / "ranked.csv", "csv")
    golden = GOLDEN / "ranked_sample.csv"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes(), (
        "the sample's ranked list changed; if on purpose: CHURNSCORE_UPDATE_GOLDEN=1 pytest tests/test_golden.py")
    # every account is scored or excluded, none twice
    accounts = set(loaded.frames["accounts"]["account_id"])
    assert set(result.ranked["account_id"]) | set(result.excluded["account_id"]) == accounts
    assert len(result.ranked) + len(result.excluded) == len(accounts)


def test_sample_backtest_quality_holds(sample) -> None:
    config, loaded = sample
    bt = backtest(loaded, config, pd.Timestamp(AS_OF))
    figures = {name: {k: round(v, 4) for k, v in r.items() if k in ("roc_auc", "pr_auc", "top_decile_lift")}
               for name, r in bt.results.items()}
    path = GOLDEN / "backtest.json"
    if UPDATE:
        path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(path.read_text())
    for name in ("rules", "logistic"):
        assert figures[name]["roc_auc"] >= recorded[name]["roc_auc"] - AUC_TOLERANCE, (name, figures[name])
    # the quality bars
    log, rules, hgb = bt.results["logistic"], bt.results["rules"], bt.results["gradient_boosting"]
    assert log["roc_auc"] > rules["roc_auc"]
    assert log["top_decile_lift"] > rules["top_decile_lift"]
    assert log["roc_auc"] >= hgb["roc_auc"] - 0.02
    assert rules["top_decile_churn_rate"] > 2 * rules["base_rate"]
