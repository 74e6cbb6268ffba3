"""One account in full: its score and rank, every feature with its model contribution, its flags, its history."""

from __future__ import annotations

from pathlib import Path
from typing import Any


import pandas as pd

from .config import Config
from .errors import ChurnscoreError, InputDataError
from .filetype import check_regular
from .features import FEATURE_NAMES
from .pipeline import score
from .write import unneutralise


def _history(paths: list[Path], account_id: str) -> list[str]:
    lines = []
    for path in paths:
        check_regular(path, "an earlier ranked list (--history)")
        try:
            frame = pd.read_csv(path, dtype={"account_id": str}, keep_default_na=False)
        except (OSError, ValueError) as exc:
            raise InputDataError(f"{path}: cannot read earlier ranked list ({exc}).", file=str(path)) from None
        if "account_id" not in frame or "risk_score" not in frame:
            raise InputDataError(f"{path}: not a ranked list (needs account_id and risk_score columns).",
                                 file=str(path))
        row = frame.loc[unneutralise(frame["account_id"]) == account_id]  # "'-42" was written for "-42"
        if row.empty:
            lines.append(f"    {path}: not listed")
        else:
            r = row.iloc[0]
            lines.append(f"    {path}: rank {r.get('rank', '?')}, score {r['risk_score']}, tier {r.get('risk_tier', '?')}")
    return lines


def explain_account(config: Config, account_id: str, *, input_dir: str | Path | None = None,
                    as_of: str | None = None, model: Any = None, history: list[Path] | None = None) -> str:
    """Text for people: why this account scores as it does."""
    result = score(config, input_dir=input_dir, as_of=as_of, model=model)
    account_id = account_id.strip()
    ranked = result.ranked.set_index("account_id")
    if account_id not in ranked.index:
        ex = result.excluded.loc[result.excluded["account_id"] == account_id, "reason"]
        if len(ex):
            raise ChurnscoreError(f"account '{account_id}' is not scored on {result.as_of.date()}: {ex.iloc[0]}.")
        raise ChurnscoreError(f"account '{account_id}' is not in the inputs (ids are matched exactly, "
                              "leading zeros included).")
    row = ranked.loc[account_id]
    feats = result.features.loc[account_id]
    name = f' "{row["account_name"]}"' if row["account_name"] else ""
    lines = [f"account {account_id}{name} as of {result.as_of.date()}",
             f"  rank {row['rank']} of {len(ranked):,}; risk score {row['risk_score']:.1f} ({row['risk_tier']}); "
             f"MRR {row['mrr']}; revenue at risk {row['revenue_at_risk']}"]
    if model is not None:
        lines.append(f"  churn probability {row['churn_probability']:.3f} within "
                     f"{model.metadata.get('horizon_days', '?')} days; rules alone: {row['rule_score']:.1f}")
        lines.append(f"  model reasons: {row['model_reasons'] or 'none stand out'}")
    lines.append(f"  red flags: {row['red_flags'] or 'none'}")
    if row["reasons"]:
        lines.append(f"  in words: {row['reasons']}")
    if row["suggested_play"]:
        lines.append(f"  suggested play: {row['suggested_play']}")
    if result.checks is not None and result.checks.off:
        lines.append("  rules switched off on this data: " + "; ".join(result.checks.lines()[:len(result.checks.off)]))
    contrib: dict[str, float] = {}
    if model is not None:
        from .rules import evaluate

        X = result.model_inputs.loc[[account_id]]  # as score gave them to the model
        # the model's flags as score gives them: every rule, none switched off (as in its training snapshots)
        model_flags = evaluate(config.rules, result.features.loc[[account_id]])
        values = model.contributions(X)[0]
        contrib = dict(zip(model.transformed_names, values))
    lines.append(f"  {'feature':<34}{'value':>12}" + (f"{'contribution':>14}" if model is not None else ""))
    names = list(FEATURE_NAMES)
    if model is not None:
        names = sorted(names, key=lambda n: -abs(contrib.get(n, 0.0) + contrib.get(f"{n}__missing", 0.0)))
    for n in names:
        v = feats[n]
        shown = "-" if pd.isna(v) else f"{v:.4g}"
        line = f"  {n:<34}{shown:>12}"
        if model is not None:
            c = contrib.get(n, 0.0) + contrib.get(f"{n}__missing", 0.0)
            line += f"{c:>+14.3f}"
        lines.append(line)
    if model is not None:
        for r in config.rules:
            c = contrib.get(f"flag_{r.name}", 0.0)
            fired = bool(model_flags.loc[account_id, r.name])
            if fired or abs(c) > 1e-9:
                lines.append(f"  {'flag ' + r.name + (' (fired)' if fired else ''):<34}{int(fired):>12}{c:>+14.3f}")
        lines.append(f"  {'(intercept)':<34}{'':>12}{model.intercept:>+14.3f}")
    if history:
        lines.append("  history:")
        lines.extend(_history(history, account_id))
    return "\n".join(lines)



