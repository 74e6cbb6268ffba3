"""The words of a run's summary for people (the log's text; its fields are for machines): score, train,
a command's stage timings, and what init --detect placed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .words import share


def summary_text(s: dict[str, Any], paths: dict[str, Path]) -> str:
    """The run summary for people: what was read, who was scored, what was set aside, where it went."""
    from .words import headline as headline_text

    lines = [f"churnscore: as of {s['as_of']} ({s['as_of_source']})"]
    for name, f in s["files"].items():
        extra = []
        if f["rows_rejected"]:
            extra.append(f"{f['rows_rejected']:,} rejected")
        if f["rows_after_as_of"]:
            extra.append(f"{f['rows_after_as_of']:,} after as-of, not used")
        if f["rows_unknown_account"]:
            extra.append(f"{f['rows_unknown_account']:,} for accounts not in accounts")
        if f.get("rows_unmapped"):
            extra.append(f"{f['rows_unmapped']:,} with no account mapping")
        more = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"  read {name:<9} {f['rows_read']:>10,} rows{more}")
    for name in s["missing_exports"]:
        lines.append(f"  no {name} export: scoring without its signals")
    for warning in s.get("warnings", []):
        lines.append(f"  warning: {warning}")
    excluded = sum(s["accounts_excluded"].values())
    lines.append(f"  accounts: {s['accounts_in_inputs']:,} in inputs = {s['accounts_scored']:,} scored "
                 f"+ {excluded:,} excluded")
    for reason, n in s["accounts_excluded"].items():
        lines.append(f"    excluded {n:,}: {reason}")
    tiers = s["at_risk"]
    lines.append(f"  risk: {tiers['high']:,} high, {tiers['medium']:,} medium, {tiers['low']:,} low; "
                 f"revenue at risk {headline_text(s)}")
    lines += [f"  rule {o['rule']} off: {o['reason']}" for o in s.get("rules_off", [])]
    lines += [f"  rule note: {n}" for n in s.get("rule_notes", [])]
    lines.append(f"  wrote {paths['ranked']} (manifest {paths['manifest']})")
    if "report" in paths:
        lines.append(f"  report {paths['report']}")
    if s["rows_rejected"]:
        lines.append(f"  {s['rows_rejected']:,} rejected rows listed in {paths['rejects']}")
    if excluded:
        lines.append(f"  excluded accounts listed in {paths['excluded']}")
    lines.append(timings_text(s["timings_s"]))
    return "\n".join(lines)


def timings_text(timings: dict[str, float]) -> str:
    """The summary's line of stage timings."""
    return "  timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())


def train_text(model: Any, digest: str, path: Path, timings: dict[str, float] | None = None,
               found: str | None = None) -> str:
    """The training summary: data, validation, calibration and the strongest coefficients in words (each
    model input as words.input_words says it), then ``found`` (the key features found in the history:
    discover.propose)."""
    from .features import CATALOGUE
    from .words import input_words

    m = model.metadata
    best = next((r for r in m["cv"] if r["C"] == m["C"]), None)
    cv = f"time-ordered CV ROC AUC {best['cv_roc_auc']:.3f} over {best['folds']} folds" if best else "no CV folds"
    lines = [f"churnscore: trained on {m['rows']:,} account-snapshots at {len(m['observation_dates'])} dates "
             f"({m['observation_dates'][0]}..{m['observation_dates'][-1]}), {m['churners']:,} churned within "
             f"{m['horizon_days']} days (base rate {share(m['base_rate'])})",
             f"  C = {m['C']:g} ({cv}); training ROC AUC {m['train_roc_auc']:.3f}, Brier {m['train_brier']:.4f}",
             "  calibration (predicted -> observed by decile): " + ", ".join(
                 f"{r['mean_predicted']:.2f}->{r['observed_rate']:.2f}" for r in m["calibration"]),
             "  strongest coefficients (log-odds per standard deviation):"]
    meanings = {f.name: f.meaning for f in CATALOGUE}
    for name, coef in model.strongest(8):
        said = input_words(name, meanings=meanings)
        lines.append(f"    {coef:+.2f}  {said}: {'raises' if coef > 0 else 'lowers'} risk")
    terms = m.get("renewal_terms") or {}
    if terms.get("unknown_term"):
        lines.append(f"  renewal features left empty before the export date for "
                     f"{share(terms['unknown_term_share'], 0)} of "
                     f"accounts ({terms['unknown_term']:,} of {terms['accounts_with_renewal_date']:,} with a renewal "
                     "date): no contract term; set contract_term_months or features.contract_terms")
    if found:
        lines.append(found)
    if timings:
        lines.append(timings_text(timings))
    lines.append(f"  wrote {path} (sha256 {digest[:16]}...)")
    return "\n".join(lines)


def detected_text(config: Path, folder: Path, directory: Path, placed: list[Any], unplaced: list[Any]) -> str:
    """init --detect's summary: the config written, each file placed and how it was recognised, each file not
    placed and why, and the next commands."""
    from .starter import output_folder

    lines = [f"churnscore: wrote {config}, reading the exports of {folder} where they are:"]
    lines += [f"  {p.path.name}: {p.match.candidate.label()}, {p.match.why()}" for p in placed]
    lines += [f"  {u.path.name}: not placed: {u.reason}" for u in unplaced]
    if not any(p.match.candidate.export == "usage" for p in placed):
        lines.append("  no usage export recognised: usage is required; name it with inputs.usage.path")
    lines += [f"  next: churnscore validate --config {config}",
              f"        churnscore score --config {config} --report {output_folder(directory) / 'report.html'}"]
    return "\n".join(lines)


def init_text(paths: dict[str, Path], directory: Path) -> str:
    """init's summary: the files written and the next three steps."""
    from .starter import output_folder

    config, out = paths["config"], output_folder(directory)
    return (f"churnscore: wrote {config} and {paths['readme']}\n"
            f"  1. put your exports in {paths['readme'].parent}/ (its README.txt lists files and columns)\n"
            f"  2. churnscore validate --config {config}\n"
            f"  3. churnscore score --config {config} --report {out / 'report.html'}\n"
            f"     (the ranked list goes to {out / 'ranked.csv'}: output.path of the config, relative to it)")


def catalogue_text(config: Any) -> str:
    """features --list: each feature's name, source, window (under ``config``) and meaning, one a line."""
    from .features import CATALOGUE, window_text

    width = max(len(f.name) for f in CATALOGUE)
    return "\n".join(f"{f.name:<{width}}  {f.source:<17} {window_text(f, config.windows, config.features):<13} "
                     f"{f.meaning}" for f in CATALOGUE)


def features_text(fields: dict[str, Any], timings: dict[str, float]) -> str:
    """features' summary, from its log fields (run.FeaturesRun.log_fields)."""
    return (f"churnscore: {fields['accounts']} accounts x {fields['features']} features as of {fields['as_of']} -> "
            f"{fields['path']}\n{timings_text(timings)}")
