"""Self-contained HTML reports: one file with inline CSS and its charts as embedded PNG images (matplotlib,
Agg, no pyplot state), so it opens offline and can be mailed. Every text that comes from data is escaped.

``score_report`` shows a run: headline figures, the distribution of risk, the top accounts with their reasons
and plays, how often each red flag fired, and what moved since a previous list. ``evaluate_report`` shows a
backtest: ROC curves, lift by decile and calibration for each scorer. matplotlib is an optional dependency
(``pip install 'churnscore[report]'``).
"""

from __future__ import annotations

import base64
import io
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import words
from .version import __version__
from .config import RuleSpec, Scoring
from .errors import ChurnscoreError
from .movers import movers
from .files import atomic_write

TIER_COLOURS = {"high": "#c0392b", "medium": "#e08e0b", "low": "#2e8b57"}
SCORER_COLOURS = {"rules": "#6c7a89", "logistic": "#2f6db5", "gradient_boosting": "#c0392b"}
SHOWN_REASONS = 3  # reasons shown per account in the top table before "n more"
MOVERS_SHOWN = 50  # accounts listed as having entered or left the at-risk list (highest rank first); the count
# says how many there are, and the ranked list (--previous) has every account's previous rank and score
SCORER_NAMES = {"rules": "rules", "logistic": "logistic model", "gradient_boosting": "gradient boosting"}

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --high:#c0392b; --medium:#e08e0b;
        --low:#2e8b57; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color:var(--ink); background:var(--bg); }
main { max-width:1100px; margin:0 auto; padding:28px 24px 48px; }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:0; color:var(--muted); }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin-top:20px; }
section h2 { margin:0 0 12px; font-size:18px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(180px, 1fr)); gap:14px; margin-top:20px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card .label { color:var(--muted); font-size:13px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:30px; font-weight:650; margin-top:2px; }
.card.high .value { color:var(--high); } .card.medium .value { color:var(--medium); }
.card .sub { color:var(--muted); font-size:13px; }
img.chart { display:block; max-width:100%; height:auto; margin:4px auto; }
table { width:100%; border-collapse:collapse; font-size:14px; }
th { text-align:left; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:7px 8px; vertical-align:top; }
td.num, th.num { text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }
.tier { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; }
.tier.high { background:var(--high); } .tier.medium { background:var(--medium); } .tier.low { background:var(--low); }
.id { color:var(--muted); font-size:12px; }
.reasons { margin:0; padding-left:18px; } .play { color:var(--muted); font-size:13px; margin-top:3px; }
details summary { color:#2f6db5; font-size:13px; cursor:pointer; margin-left:18px; }
h3 { font-size:15px; margin:6px 0 8px; }
.up { color:var(--high); } .down { color:var(--low); }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(320px, 1fr)); gap:18px; }
.note { color:var(--muted); font-size:13px; }
footer { color:var(--muted); font-size:12px; margin-top:24px; text-align:center; }
@media print { body { background:#fff; } section, .card { break-inside:avoid; } }
"""


# ----------------------------------------------------------------------------- charts


def _figure(width: float = 7.2, height: float = 3.0) -> Any:
    """A matplotlib Figure rendered by Agg (no pyplot, no global state); a clear error without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ChurnscoreError("HTML reports need matplotlib: install churnscore[report] "
                              "(pip install 'churnscore[report]').") from None
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def check_available() -> None:
    """Fail before any work when matplotlib is missing (the report is written last)."""
    _figure().clear()


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e4e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def img(fig: Any, alt: str) -> str:
    """The figure as an <img> with the PNG inline (base64)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def risk_chart(ranked: pd.DataFrame, scoring: Scoring) -> str:
    """Histogram of risk scores in 5-point bins, each bar coloured by the tier its scores fall in."""
    fig = _figure()
    ax = fig.add_subplot()
    edges = np.arange(0, 105, 5)
    counts, _ = np.histogram(ranked["risk_score"].clip(0, 100), bins=edges)
    colours = [TIER_COLOURS["high"] if lo >= scoring.tier_high else TIER_COLOURS["medium"]
               if lo >= scoring.tier_medium else TIER_COLOURS["low"] for lo in edges[:-1]]
    ax.bar(edges[:-1], counts, width=5, align="edge", color=colours, edgecolor="white")
    for x, label in ((scoring.tier_medium, "medium"), (scoring.tier_high, "high")):
        ax.axvline(x, color="#1f2933", linestyle="--", linewidth=1)
        ax.text(x + 0.8, ax.get_ylim()[1] * 0.95, label, va="top", fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("risk score (0-100)")
    ax.set_ylabel("accounts")
    ax.yaxis.set_major_locator(_integer_ticks())
    _style(ax)
    return img(fig, "Distribution of risk scores")


def flag_counts(flags: pd.DataFrame) -> pd.Series:
    """How many scored accounts each red flag fired for, most frequent first (config order among equals)."""
    counts = flags.sum(axis=0).astype("int64")
    order = sorted(range(len(counts)), key=lambda i: (-counts.iloc[i], i))
    return counts.iloc[order]


def flags_chart(counts: pd.Series, n_accounts: int) -> str:
    fig = _figure(8.6, max(1.6, 0.26 * len(counts) + 0.8))
    ax = fig.add_subplot()
    y = np.arange(len(counts))[::-1]
    ax.barh(y, counts.to_numpy(), color="#2f6db5")
    ax.set_yticks(y, [str(n) for n in counts.index], fontsize=9)
    for yi, c in zip(y, counts.to_numpy()):
        share = f" ({words.share(c / n_accounts, 0)})" if n_accounts else ""
        ax.text(c, yi, f" {c:,}{share}", va="center", fontsize=8)
    ax.set_xlabel("accounts flagged")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlim(0, max(1, counts.max() if len(counts) else 1) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    return img(fig, "How often each red flag fired")


# ----------------------------------------------------------------------------- html pieces


def _tier(tier: Any) -> str:
    t = escape(str(tier)) if isinstance(tier, str) and tier else ""
    return f'<span class="tier {t}">{t}</span>' if t else ""


def _account(name: Any, account_id: Any) -> str:
    shown = escape(str(name)) if isinstance(name, str) and name else ""
    return f'{shown}<br><span class="id">{escape(str(account_id))}</span>' if shown else escape(str(account_id))


def _change(value: Any) -> str:
    if value is None or pd.isna(value):
        return '<span class="note">new</span>'
    cls = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{cls}">{words.signed(value)}</span>'


def _card(label: str, value: str, key: str, sub: str = "", cls: str = "") -> str:
    sub_html = f'<div class="sub">{escape(sub)}</div>' if sub else ""
    return (f'<div class="card {cls}"><div class="label">{escape(label)}</div>'
            f'<div class="value" data-key="{key}">{escape(value)}</div>{sub_html}</div>')


def _page(title: str, subtitle: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>\n{body}\n"
            f"<footer>churnscore {escape(__version__)}</footer>\n</main>\n</body>\n</html>\n")


def _by_owner(ranked: pd.DataFrame, top: int) -> str:
    """The top accounts grouped by the playbook's owner (the owner of the highest-ranked account first), each
    group in rank order; one table when the list has no owners."""
    head = ranked.head(top)
    if "play_owner" not in head.columns or not head["play_owner"].astype(str).str.len().any():
        return _top_table(head, top)
    parts = []
    for owner in dict.fromkeys(head["play_owner"].astype(str)):
        mine = head[head["play_owner"].astype(str) == owner]
        parts.append(f"<h3 class='owner'>{escape(owner or 'no owner')} "
                     f"<span class='note'>({words.count(len(mine), 'account')})</span></h3>"
                     + _top_table(mine, top, table_id=f"top-{_slug(owner)}"))
    return "<div id='top-accounts'>" + "".join(parts) + "</div>"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "none"


def _top_table(ranked: pd.DataFrame, top: int, table_id: str = "top-accounts") -> str:
    movers_known = "score_change" in ranked.columns
    head = ("<tr><th class='num'>#</th><th>account</th><th class='num'>risk</th><th>tier</th>"
            "<th class='num'>MRR</th><th class='num'>revenue at risk</th>"
            + ("<th class='num'>change</th>" if movers_known else "") + "<th>why, and what to do</th></tr>")
    rows = []
    for r in ranked.head(top).itertuples(index=False):
        reasons = [x for x in str(r.reasons).split("; ") if x] if isinstance(r.reasons, str) else []
        why = ("<ul class='reasons'>" + "".join(f"<li>{escape(x)}</li>" for x in reasons[:SHOWN_REASONS]) + "</ul>"
               if reasons else '<span class="note">no red flag</span>')
        if len(reasons) > SHOWN_REASONS:  # the heaviest first; the rest one click away (no script needed)
            why += (f"<details><summary>{len(reasons) - SHOWN_REASONS} more</summary><ul class='reasons'>"
                    + "".join(f"<li>{escape(x)}</li>" for x in reasons[SHOWN_REASONS:]) + "</ul></details>")
        due = getattr(r, "play_due", "")
        due = f" <span class='note'>(by {escape(due)})</span>" if isinstance(due, str) and due else ""
        play = (f'<div class="play">{escape(str(r.suggested_play))}{due}</div>'
                if isinstance(r.suggested_play, str) and r.suggested_play else "")
        change = f"<td class='num'>{_change(r.score_change)}</td>" if movers_known else ""
        rows.append(f"<tr><td class='num'>{int(r.rank)}</td><td>{_account(r.account_name, r.account_id)}</td>"
                    f"<td class='num'>{words.decimals(r.risk_score, 1, '')}</td><td>{_tier(r.risk_tier)}</td>"
                    f"<td class='num'>{words.decimals(r.mrr, 2, '')}</td><td class='num'>{words.decimals(r.revenue_at_risk, 2, '')}</td>{change}"
                    f"<td>{why}{play}</td></tr>")
    return f"<table id='{table_id}'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _simple_table(frame: pd.DataFrame, columns: dict[str, str], table_id: str, empty: str,
                  limit: int | None = None) -> str:
    """A table of ``frame``'s ``columns`` (name -> heading); numbers right-aligned, text escaped. With
    ``limit``, only its first rows, and a note of how many there are."""
    if frame.empty:
        return f"<p class='note' id='{table_id}'>{escape(empty)}</p>"
    shown = frame if limit is None else frame.head(limit)
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in columns}
    head = "".join(f"<th class='num'>{escape(h)}</th>" if numeric[c] else f"<th>{escape(h)}</th>"
                   for c, h in columns.items())
    body = []
    for values in zip(*(shown[c].tolist() for c in columns)):
        cells = []
        for c, v in zip(columns, values):
            if c == "score_change":
                cells.append(f"<td class='num'>{_change(v)}</td>")
            elif c.endswith("tier"):
                cells.append(f"<td>{_tier(v)}</td>")
            elif numeric[c]:
                cells.append(f"<td class='num'>{words.decimals(v, 0 if c.endswith('rank') else 1, '')}</td>")
            else:
                cells.append(f"<td>{escape('' if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))}"
                             "</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p class='note'>The first {len(shown):,} of {len(frame):,}.</p>" if len(shown) < len(frame) else "")
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _inputs_table(summary: dict[str, Any]) -> str:
    rows = []
    for name, f in summary["files"].items():
        rows.append(f"<tr><td>{escape(name)}</td><td class='num'>{f['rows_read']:,}</td>"
                    f"<td class='num'>{f['rows_rejected']:,}</td><td class='num'>{f.get('rows_unmapped', 0):,}</td>"
                    f"<td class='num'>{f['rows_unknown_account']:,}</td><td class='num'>{f['rows_after_as_of']:,}</td>"
                    "</tr>")
    missing = "".join(f"<p class='note'>No {escape(m)} export: scored without its signals.</p>"
                      for m in summary["missing_exports"])
    return ("<table id='inputs'><thead><tr><th>export</th><th class='num'>rows read</th>"
            "<th class='num'>rejected</th><th class='num'>no account mapping</th>"
            "<th class='num'>not in accounts</th><th class='num'>after as-of</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{missing}")


# ----------------------------------------------------------------------------- reports


def score_report(ranked: pd.DataFrame, flags: pd.DataFrame, summary: dict[str, Any], *, rules: tuple[RuleSpec, ...],
                 scoring: Scoring, previous: pd.DataFrame | None = None, top: int = 25,
                 title: str = "Churn risk report", generated: datetime | None = None) -> str:
    """The HTML report of one scoring run. ``ranked`` is the full ranked list, ``flags`` the boolean flag
    table (one column per rule), ``summary`` ScoreResult.summary(), ``previous`` an earlier ranked list."""
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    at_risk = summary["at_risk"]
    excluded = sum(summary["accounts_excluded"].values())
    cards = "".join([
        _card("Accounts scored", f"{summary['accounts_scored']:,}", "accounts_scored",
              f"{excluded:,} more in the inputs not scored" if excluded else ""),
        _card("High risk", f"{at_risk['high']:,}", "high", f"score {words.significant(scoring.tier_high)} or more",
              "high"),
        _card("Medium risk", f"{at_risk['medium']:,}", "medium", f"score {words.significant(scoring.tier_medium)} "
              f"to {words.significant(scoring.tier_high)}", "medium"),
        _card("Revenue at risk", words.money_cents(summary.get("revenue_at_risk"), summary.get("currency")),
              "revenue_at_risk", "per month: risk x MRR, summed over the "
              f"{' and '.join(summary.get('revenue_at_risk_tiers') or ['all'])} tiers"
              + ("" if summary.get("revenue_at_risk") is not None else " (no account has MRR)")),
    ])
    body = [f'<div class="cards">{cards}</div>']
    body.append(f"<section id='distribution'><h2>Distribution of risk</h2>{risk_chart(ranked, scoring)}"
                f"<p class='note'>{at_risk['low']:,} low, {at_risk['medium']:,} medium, {at_risk['high']:,} high. "
                "Dashed lines: the tier thresholds (scoring.tiers).</p></section>")
    shown = min(top, len(ranked))
    body.append(f"<section id='top'><h2>Top {shown} accounts, by who acts</h2>{_by_owner(ranked, top)}</section>")
    counts = flag_counts(flags)
    fired = counts[counts > 0]
    never = [str(n) for n in counts.index[counts == 0]]
    weights = {r.name: r.weight for r in rules}
    flag_note = (f"<p class='note'>Never fired: {escape(', '.join(never))}.</p>" if never else "")
    flag_rows = "".join(f"<tr><td>{escape(str(n))}</td><td class='num'>{c:,}</td>"
                        f"<td class='num'>{words.share(c / max(len(flags), 1), 0)}</td>"
                        f"<td class='num'>{words.decimals(weights.get(n, float('nan')), 2)}</td></tr>" for n, c in fired.items())
    flag_chart = flags_chart(fired, len(flags)) if len(fired) else "<p class='note'>No red flag fired.</p>"
    off = summary.get("rules_off", [])
    if off:  # rules that could not judge on this data: never fired because they were switched off
        flag_note += ("<ul id='rules-off'>" + "".join(f"<li><b>{escape(o['rule'])}</b> off: {escape(o['reason'])}</li>"
                                                       for o in off) + "</ul>")
    body.append(f"<section id='flags'><h2>Red flags fired</h2>{flag_chart}"
                "<details><summary>as a table, with each flag's weight</summary>"
                "<table id='flag-counts'><thead><tr><th>red flag</th><th class='num'>accounts</th>"
                f"<th class='num'>share</th><th class='num'>weight</th></tr></thead><tbody>{flag_rows}</tbody>"
                f"</table></details>{flag_note}</section>")
    if previous is not None:
        m = movers(ranked, previous)
        body.append(
            "<section id='movers'><h2>Since the previous list</h2><div class='grid2'><div><h3>Entered the at-risk "
            f"list ({len(m.entered):,})</h3>"
            + _simple_table(m.entered, {"rank": "rank", "account_name": "account", "account_id": "id",
                                        "risk_score": "risk", "risk_tier": "tier", "previous_score": "before"},
                            "entered", "No account entered the at-risk list.", MOVERS_SHOWN)
            + f"</div><div><h3>Left the at-risk list ({len(m.left):,})</h3>"
            + _simple_table(m.left, {"previous_rank": "was #", "account_name": "account", "account_id": "id",
                                     "previous_score": "before", "risk_score": "now", "risk_tier": "tier"},
                            "left", "No account left the at-risk list.", MOVERS_SHOWN)
            + "</div></div><h3>Biggest movers</h3>"
            + _simple_table(m.biggest, {"rank": "rank", "account_name": "account", "account_id": "id",
                                        "previous_score": "before", "risk_score": "now", "score_change": "change"},
                            "biggest-movers", "No score changed.")
            + "<p class='note'>At risk: tier high or medium. An account no longer scored (churned, or excluded "
              "for another reason) counts as having left, with no current score.</p></section>")
    body.append(f"<section id='data'><h2>What was read</h2>{_inputs_table(summary)}"
                f"<p class='note'>{summary['rows_rejected']:,} rejected rows are listed in the rejects file "
                "beside the ranked list.</p></section>")
    subtitle = f"As of {summary['as_of']} · generated {when}"
    return _page(title, subtitle, "\n".join(body))


def run_report(result: Any, config: Any, *, top: int = 25) -> str:
    """score_report of a pipeline.ScoreResult under its config."""
    return score_report(result.ranked, result.flags, result.summary(), rules=config.rules, scoring=config.scoring,
                        previous=result.previous, top=top)


def lift_by_decile(y: np.ndarray, score: np.ndarray) -> list[dict[str, float]]:
    """Accounts ordered by score (highest first, ties in input order), cut in 10 equal-count groups: the
    churn rate of each and its lift over the base rate."""
    y = np.asarray(y, dtype=float)
    order = np.lexsort((np.arange(len(y)), -np.asarray(score, dtype=float)))
    base = y.mean() if len(y) else float("nan")
    out = []
    for i, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            rate = float(y[chunk].mean())
            out.append({"decile": i, "n": int(len(chunk)), "churn_rate": rate,
                        "lift": rate / base if base > 0 else float("nan")})
    return out


def roc_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every threshold (empty when y has one class only)."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return np.array([]), np.array([])
    fpr, tpr, _ = roc_curve(y, np.asarray(score, dtype=float))
    return fpr, tpr


def evaluate_report(bt: Any, *, title: str = "Churn model backtest", generated: datetime | None = None) -> str:
    """The HTML report of a backtest (evaluate.Backtest): metrics, ROC curves, lift by decile, calibration."""
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    scorers = [s for s in bt.results if s in bt.curves]
    base = bt.results[scorers[0]]["base_rate"] if scorers else float("nan")
    cards = "".join([
        _card("Test rows", f"{bt.n_test:,}", "n_test", f"dates {', '.join(bt.test_dates)}"),
        _card("Training rows", f"{bt.n_train:,}", "n_train", f"{bt.train_dates[0]} to {bt.train_dates[-1]}"
              if bt.train_dates else ""),
        _card("Base churn rate", words.metric("base_rate", base), "base_rate", "in the test rows"),
    ] + [_card(f"ROC AUC, {SCORER_NAMES.get(s, s)}", words.metric("roc_auc", bt.results[s]["roc_auc"]), f"auc_{s}")
         for s in scorers])
    metric_rows = [("ROC AUC", "roc_auc"), ("PR AUC", "pr_auc"), ("top-decile churn rate", "top_decile_churn_rate"),
                   ("top-decile lift", "top_decile_lift"), ("precision at k", "precision_at_k"),
                   ("recall at k", "recall_at_k"), ("Brier score", "brier")]
    head = "".join(f"<th class='num'>{escape(SCORER_NAMES.get(s, s))}</th>" for s in scorers)
    rows = "".join(f"<tr><td>{escape(label)}</td>" + "".join(
        f"<td class='num'>{words.metric(key, bt.results[s].get(key))}</td>" for s in scorers) + "</tr>"
        for label, key in metric_rows)
    k = bt.results[scorers[0]]["top_k"] if scorers else 0
    body = [f'<div class="cards">{cards}</div>',
            f"<section id='metrics'><h2>Scorers side by side</h2><table id='metrics-table'><thead><tr><th>metric"
            f"</th>{head}</tr></thead><tbody>{rows}</tbody></table><p class='note'>k = {k}. Trained on observation "
            f"dates whose horizon ended before the cut-off {escape(bt.cutoff.date().isoformat())}; tested after it."
            "</p></section>"]

    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#9aa5b1", linestyle="--", linewidth=1)
    for s in scorers:
        fpr, tpr = roc_points(np.array(bt.curves[s]["y"]), np.array(bt.curves[s]["score"]))
        if len(fpr):
            ax.plot(fpr, tpr, color=SCORER_COLOURS.get(s), linewidth=1.8,
                    label=f"{SCORER_NAMES.get(s, s)} (AUC {words.metric('roc_auc', bt.results[s]['roc_auc'])})")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    _style(ax)
    roc = img(fig, "ROC curves")

    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    width = 0.8 / max(len(scorers), 1)
    lifts = {s: lift_by_decile(np.array(bt.curves[s]["y"]), np.array(bt.curves[s]["score"])) for s in scorers}
    for i, s in enumerate(scorers):
        xs = np.array([r["decile"] for r in lifts[s]], dtype=float) + (i - (len(scorers) - 1) / 2) * width
        ax.bar(xs, [r["lift"] for r in lifts[s]], width=width, color=SCORER_COLOURS.get(s),
               label=SCORER_NAMES.get(s, s))
    ax.axhline(1, color="#1f2933", linestyle="--", linewidth=1)
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("decile by score (1 = highest risk)")
    ax.set_ylabel("lift over base rate")
    ax.legend(fontsize=8, frameon=False)
    _style(ax)
    lift = img(fig, "Lift by decile")

    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#9aa5b1", linestyle="--", linewidth=1, label="perfect")
    top = 0.0
    calibrated = [s for s in scorers if bt.results[s].get("calibration")]
    for s in calibrated:
        cal = bt.results[s]["calibration"]
        xs = [r["mean_predicted"] for r in cal]
        ys = [r["observed_rate"] for r in cal]
        top = max([top, *xs, *ys])
        ax.plot(xs, ys, marker="o", markersize=4, color=SCORER_COLOURS.get(s), label=SCORER_NAMES.get(s, s))
    lim = min(1.0, max(0.05, top * 1.1))
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("mean predicted probability (decile)")
    ax.set_ylabel("observed churn rate")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    _style(ax)
    calibration = img(fig, "Calibration")
    no_prob = [SCORER_NAMES.get(s, s) for s in scorers if s not in calibrated]
    cal_note = (f"<p class='note'>No calibration for {escape(', '.join(no_prob))}: its score is not a "
                "probability.</p>" if no_prob else "")
    lift_rows = "".join(f"<tr><td class='num'>{d + 1}</td>" + "".join(
        f"<td class='num'>{words.times(lifts[s][d]['lift'])}</td>" if d < len(lifts[s]) else "<td></td>" for s in scorers)
        + "</tr>" for d in range(10))
    body.append(f"<section id='curves'><h2>ROC curves and calibration</h2><div class='grid2'><div><h3>ROC curves</h3>"
                f"{roc}</div><div><h3>Calibration</h3>{calibration}{cal_note}</div></div></section>")
    body.append(f"<section id='lift'><h2>Lift by decile</h2>{lift}<table id='lift-table'><thead><tr>"
                f"<th class='num'>decile</th>{head}</tr></thead><tbody>{lift_rows}</tbody></table><p class='note'>"
                "Deciles: the test rows by score, highest first, cut in ten near-equal groups; the top-decile "
                "figures above take exactly the first round(n/10) rows, so they can differ slightly.</p></section>")
    body.append(_audit_section(getattr(bt, "rule_audit", [])))
    subtitle = f"Cut-off {bt.cutoff.date().isoformat()} · generated {when}"
    return _page(title, subtitle, "\n".join(body))


def _audit_section(audit: list[Any]) -> str:
    """The rule audit (audit.RuleAudit per rule) as the terminal shows it, warnings highlighted."""
    if not audit:
        return ""
    rows = "".join(
        f"<tr><td>{escape(a.rule)}</td><td class='num'>{words.decimals(a.weight, 2)}</td>"
        f"<td class='num'>{words.share(a.share)}</td><td class='num'>{words.share(a.churn_when_fired)}</td>"
        f"<td class='num'>{words.share(a.churn_when_not)}</td><td class='num'>{words.times(a.lift)}</td>"
        f"<td>{'<b>' + escape(', '.join(a.warnings)) + '</b>' if a.warnings else ''}</td></tr>" for a in audit)
    return ("<section id='rule-audit'><h2>Rules on the training snapshots</h2><table id='rule-audit-table'><thead>"
            "<tr><th>rule</th><th class='num'>weight</th><th class='num'>fired</th><th class='num'>churn when fired"
            "</th><th class='num'>churn when not</th><th class='num'>lift</th><th>warning</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p class='note'>{audit[0].rows:,} rows (observation date, account) "
            "before the cut-off; churn within the model's horizon. Lift: churn rate when fired over the base rate. "
            "Inverted: the accounts it flagged churned less than the rest. 'churnscore tune-rules' learns weights "
            "from this history and leaves such rules out.</p></section>")


def write_report(html: str, path: str | Path) -> Path:
    """Write the report atomically (temporary file beside it, then rename)."""
    data = html.encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data))
