"""Hand-made inputs for the HTML report tests: a ranked list whose names need escaping, its flags and
summary, a previous list, and a small backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnscore.config import RuleSpec, Leaf, Scoring
from churnscore.evaluate import Backtest, metrics

SCORING = Scoring(tier_high=60.0, tier_medium=30.0)
RULES = (RuleSpec("dormant", Leaf("days_since_last_activity", "ge", 14), 0.4, "quiet", "call"),
         RuleSpec("nps_detractor", Leaf("nps_latest", "le", 6), 0.25, "nps", "close the loop"),
         RuleSpec("overdue", Leaf("days_overdue", "ge", 15), 0.3, "overdue", "billing"))

RANKED = pd.DataFrame({
    "rank": [1, 2, 3],
    "account_id": ["A1", "A2", "A3"],
    "account_name": ["<script>alert('x')</script>", "Bolt & Co", "=SUM(A1:A9)"],
    "risk_score": [75.0, 40.0, 10.0],
    "risk_tier": ["high", "medium", "low"],
    "mrr": [1000.0, 500.0, 300.0],
    "revenue_at_risk": [750.0, 200.0, 30.0],
    "red_flags": ["dormant, nps_detractor", "dormant", ""],
    "reasons": ["no activity for 20 days; NPS 3 <of 10>", "no activity for 15 days", ""],
    "suggested_play": ["Call the champion & the admin", "Send a win-back email", ""],
})
FLAGS = pd.DataFrame({"dormant": [True, True, False], "nps_detractor": [True, False, False],
                      "overdue": [False, False, False]}, index=pd.Index(["A1", "A2", "A3"], name="account_id"))
SUMMARY = {
    "as_of": "2026-10-31", "as_of_source": "--as-of", "accounts_in_inputs": 4, "accounts_scored": 3,
    "accounts_excluded": {"churned on or before the as-of date": 1}, "at_risk": {"high": 1, "medium": 1, "low": 1},
    "revenue_at_risk": 980.0, "rows_read": 30, "rows_rejected": 2,
    "files": {"usage": {"files": ["usage.csv"], "rows_read": 30, "rows_rejected": 2, "rows_after_as_of": 0,
                        "rows_unknown_account": 0, "rows_unmapped": 1}},
    "missing_exports": ["nps"], "timings_s": {},
}
PREVIOUS = pd.DataFrame({"rank": [1, 2, 3], "account_id": ["A2", "A3", "A9"],
                         "account_name": ["Bolt & Co", "=SUM(A1:A9)", "Gone <Ltd>"],
                         "risk_score": [45.0, 35.0, 80.0], "risk_tier": ["medium", "medium", "high"]})


def backtest() -> Backtest:
    """Three scorers on 40 test rows, deterministic."""
    rng = np.random.default_rng(7)
    y = (np.arange(40) % 5 == 0).astype(int)
    p_log = np.clip(0.15 + 0.5 * y + rng.normal(0, 0.15, 40), 0.01, 0.99)
    p_gb = np.clip(0.2 + 0.4 * y + rng.normal(0, 0.2, 40), 0.01, 0.99)
    rules = np.round(100 * np.clip(0.2 + 0.3 * y + rng.normal(0, 0.2, 40), 0, 1), 1)
    scores = {"rules": (rules, None), "logistic": (p_log, p_log), "gradient_boosting": (p_gb, p_gb)}
    results = {name: metrics(y, s, p, 5) for name, (s, p) in scores.items()}
    curves = {name: {"y": y.tolist(), "score": np.asarray(s, dtype=float).tolist()} for name, (s, _) in scores.items()}
    return Backtest(pd.Timestamp("2026-08-31"), ["2026-03-31", "2026-04-30"], ["2026-08-31", "2026-09-30"], 120, 40,
                    results, curves)
