"""One account in full: its score and rank, every feature with its model contribution, its flags, its history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


import pandas as pd

from .asof import AsOf
from .config import Config
from .errors import ChurnscoreError, InputDataError
from .filetype import check_regular
from .features import FEATURE_NAMES
from .pipeline import score
from .words import significant, whole
from .write import unneutralise


def _list_context(path: Path) -> str:
    """ "as of 2026-10-31, ranked by risk (model)" from the manifest written beside a ranked list; what is
    unknown is said so (a list from before manifests named its ranking, or one copied without its manifest)."""
    manifest = path.with_name(path.name.rsplit(".", 1)[0] + ".manifest.json")
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    as_of = doc.get("as_of") or "unknown date"
    ranked = doc.get("ranked_by") or "unknown ranking"
    return f"as of {as_of}, ranked by {ranked}"


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
        when = _list_context(path)
        if row.empty:
            lines.append(f"    {path} ({when}): not listed")
        else:
            r = row.iloc[0]
            lines.append(f"    {path} ({when}): rank {r.get('rank', '?')}, score {r['risk_score']}, "
                         f"tier {r.get('risk_tier', '?')}")
    return lines


def explain_account(config: Config, account_id: str, *, input_dir: str | Path | None = None,
                    as_of: AsOf | str | None = None, model: Any = None, history: list[Path] | None = None) -> str:
    """Text for people: why this account scores as it does, on ``as_of`` (asof.parse_as_of's; None: the latest
    usage date)."""
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
             f"  rank {whole(row['rank'])} of {len(ranked):,}; risk score {row['risk_score']:.1f} "
             f"({row['risk_tier']}); MRR {row['mrr']}; revenue at risk {row['revenue_at_risk']}"]
    if model is not None:
        lines.append(f"  churn probability {row['churn_probability']:.3f} within "
                     f"{model.metadata.get('horizon_days', '?')} days; rules alone: {row['rule_score']:.1f}")
        lines.append(f"  model reasons: {row['model_reasons'] or 'none stand out'}")
    lines.append(f"  red flags: {row['red_flags'] or 'none'}")
    if row["reasons"]:
        lines.append(f"  in words: {row['reasons']}")
    if row["suggested_play"]:
        owner = row.get("play_owner") or ""
        due = f", by {row['play_due']}" if row.get("play_due") else ""
        lines.append(f"  suggested play: {row['suggested_play']}" + (f" ({owner}{due})" if owner else ""))
    if result.checks is not None and result.checks.off:
        lines.append("  rules switched off on this data: " + "; ".join(result.checks.lines()[:len(result.checks.off)]))
    if model is None:
        lines.append(f"  {'feature':<34}{'value':>12}")
        for n in FEATURE_NAMES:
            v = feats[n]
            lines.append(f"  {n:<34}{significant(v, 4):>12}")
    else:
        lines.extend(_group_table(model, config, result, account_id))
    if history:
        lines.append(f"  history (this list: as of {result.as_of.date()}, ranked by {result.ranked_by}):")
        lines.extend(_history(history, account_id))
    return "\n".join(lines)





def _group_table(model: Any, config: Config, result: Any, account_id: str) -> list[str]:
    """The model's inputs by group, aligned: each group's net contribution against the average account (the
    groups that push the risk up first), then its members with value, the average value and contribution;
    last the average account's log-odds, to which the groups' nets add up."""
    import numpy as np

    from .model import input_groups, model_reasons
    from .rules import evaluate
    from .words import input_words

    X = result.model_inputs
    told = model_reasons(model, X, result.features, k=0, flags=result.flags, rules=config.rules)
    at = X.index.get_loc(account_id)
    row = X.iloc[[at]]
    centred = np.nan_to_num(model.input_contributions(model.contributions(row))[0]) - told.mean
    groups = input_groups(model.columns, config.rules)
    fired = evaluate(config.rules, result.features.loc[[account_id]]).iloc[0]
    feats = result.features.loc[account_id]
    order = list(dict.fromkeys(groups))
    net = {g: float(sum(centred[i] for i, name in enumerate(groups) if name == g)) for g in order}
    labels = [input_words(name) for name in model.columns]  # "red flag 'dormant'", "nps_latest"
    width = max([len(label) for label in labels] + [len(g) for g in order]) + 4
    lines = ["  contributions to the log-odds against the average account (+ raises risk):",
             f"  {'group / input':<{width}}{'value':>12}{'average':>12}{'contribution':>14}"]
    for g in sorted(order, key=lambda g: -net[g]):
        lines.append(f"  {g:<{width}}{'':>12}{'':>12}{net[g]:>+14.3f}")
        for i, name in enumerate(model.columns):
            if groups[i] != g:
                continue
            if name.startswith("flag_"):
                value = "fired" if bool(fired.get(name[len("flag_"):], False)) else "-"
            else:
                v = feats[name] if name in feats.index else np.nan
                value = significant(v, 4)
            mean = told.value_mean[i]
            average = "" if np.isnan(mean) or name.startswith("flag_") else significant(mean, 4)
            lines.append(f"    {labels[i]:<{width - 2}}{value:>12}{average:>12}{centred[i]:>+14.3f}")
    # the groups' nets and the average account's log-odds add up to this account's log-odds
    lines.append(f"  {'(average account)':<{width}}{'':>12}{'':>12}{model.intercept + float(told.mean.sum()):>+14.3f}")
    return lines
