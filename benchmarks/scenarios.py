"""The scenario table: every scorer's out-of-time backtest on every kind of business sample-data can make.

For each scenario (churnscore.synth.scenarios: b2b, contract, consumer, noise) it generates the exports, loads
them with the default config (configs/default.yaml, input_dir replaced), runs the backtest of
`churnscore evaluate` (churnscore.evaluate.backtest) and prints one markdown table: per scenario and scorer
(rules, logistic, gradient_boosting) ROC AUC, top-decile lift, expected calibration error (probability
scorers only), base rate and mean predicted probability, and for the rules the share of test rows where
at least one rule fired. Below it, per scenario, every rule on the test dates: share fired, churn rate
when fired and when not ("inverted" when it is lower where the rule fired).

Not part of the test suite (tests/test_scenarios.py asserts the issue's targets at small sizes).

    python benchmarks/scenarios.py --accounts 1500 --months 15 --out /tmp/scen
    python benchmarks/scenarios.py --accounts 2000 --months 15 --out /tmp/scen --json /tmp/scen/table.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
# imported here so that its OpenMP runtime is loaded before threadpool_limits: the backtest's first
# gradient-boosting fit otherwise ran many spinning threads on the shared cores (22 s against 0.5 s)
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401

from churnscore.audit import INVERTED, audit_rules
from churnscore.config import DEFAULT_CONFIG, Config, load_config
from churnscore.evaluate import SCORERS, backtest
from churnscore.load import Loaded, load_all
from churnscore.model import training_set
from churnscore.asof import as_of_for
from churnscore.synth import write_sample
from churnscore.synth.scenarios import SCENARIO_NAMES


def rule_audit(loaded: Loaded, config: Config, dates: list[str]) -> list[dict[str, Any]]:
    """Per rule, pooled over the test dates: share of active accounts it fired on, churn rate (within the
    horizon) when fired and when not. The test dates' snapshots as training builds them (model.training_set),
    audited as evaluate audits its training rows (audit.audit_rules)."""
    ts = training_set(loaded, config, [pd.Timestamp(d) for d in dates])
    return [{"rule": a.rule, "fired_share": a.share, "churn_when_fired": a.churn_when_fired,
             "churn_when_not": a.churn_when_not, "inverted": INVERTED in a.warnings}
            for a in audit_rules(ts.flags, ts.y, config.rules)]


def run_scenario(name: str, out: Path, accounts: int, months: int, seed: int) -> dict[str, Any]:
    folder = out / name
    t0 = time.perf_counter()
    write_sample(folder, n_accounts=accounts, months=months, seed=seed, scenario=name)
    t1 = time.perf_counter()
    config = dataclasses.replace(load_config(DEFAULT_CONFIG), input_dir=str(folder.resolve()))
    loaded = load_all(config)
    try:
        as_of = as_of_for(loaded, None).day
        try:
            with threadpool_limits(limits=1):  # one thread: see the import of HistGradientBoostingClassifier
                bt = backtest(loaded, config, as_of)
        except Exception as exc:  # a scenario where the backtest cannot run is a finding, not a crash
            return {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}
        audit = rule_audit(loaded, config, bt.test_dates)
    finally:
        loaded.close()
    t2 = time.perf_counter()
    rules_fired = float((np.asarray(bt.curves["rules"]["score"]) > 0).mean())
    scorers = {}
    for s in SCORERS:
        r = bt.results[s]
        scorers[s] = {k: r.get(k) for k in ("roc_auc", "top_decile_lift", "ece", "mean_predicted", "base_rate",
                                            "pr_auc", "brier")}
    return {"scenario": name, "as_of": as_of.date().isoformat(), "cutoff": bt.cutoff.date().isoformat(),
            "test_dates": bt.test_dates, "n_train": bt.n_train, "n_test": bt.n_test,
            "base_rate": bt.results["rules"]["base_rate"], "rules_fired_share": rules_fired,
            "scorers": scorers, "rules": audit, "seconds": {"generate": t1 - t0, "backtest": t2 - t1}}


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None or v != v else fmt.format(v)


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| scenario | scorer | ROC AUC | top-decile lift | ECE | base rate | mean predicted | rules fired |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        if "error" in res:
            lines.append(f"| {res['scenario']} | (backtest failed: {res['error']}) | | | | | | |")
            continue
        for s in SCORERS:
            r = res["scorers"][s]
            lines.append(f"| {res['scenario']} | {s} | {_f(r['roc_auc'], '{:.3f}')} | "
                         f"{_f(r['top_decile_lift'], '{:.2f}')} | {_f(r['ece'], '{:.4f}')} | "
                         f"{_f(res['base_rate'], '{:.1%}')} | {_f(r['mean_predicted'], '{:.1%}')} | "
                         f"{_f(res['rules_fired_share'], '{:.1%}') if s == 'rules' else ''} |")
    return "\n".join(lines)


def audit_markdown(res: dict[str, Any]) -> str:
    lines = [f"rules on {res['scenario']} (test dates {', '.join(res['test_dates'])}, {res['n_test']:,} rows):",
             "| rule | fired on | churn when fired | churn when not | |", "|---|---:|---:|---:|---|"]
    for r in res["rules"]:
        lines.append(f"| {r['rule']} | {r['fired_share']:.1%} | {_f(r['churn_when_fired'], '{:.1%}')} | "
                     f"{_f(r['churn_when_not'], '{:.1%}')} | {'inverted' if r['inverted'] else ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=1500)
    ap.add_argument("--months", type=int, default=15, help="months of history (>= 12 for the backtest)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scenarios", default=",".join(SCENARIO_NAMES), help="comma-separated names")
    ap.add_argument("--out", type=Path, required=True, help="work folder: one sub-folder per scenario")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = ap.parse_args(argv)
    results = []
    for name in args.scenarios.split(","):
        res = run_scenario(name.strip(), args.out, args.accounts, args.months, args.seed)
        results.append(res)
        secs = res.get("seconds", {})
        print(f"{name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items()), file=sys.stderr)
    print(f"scenarios at {args.accounts} accounts x {args.months} months, seed {args.seed}, default config\n")
    print(markdown(results))
    for res in results:
        if "error" not in res:
            print()
            print(audit_markdown(res))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"accounts": args.accounts, "months": args.months, "seed": args.seed, "results": results}
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
