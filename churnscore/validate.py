"""Check a config and its inputs without scoring: what each export holds, how its columns were mapped, what
was rejected, and what would make a run fail. Every export is checked even when an earlier one is broken, so
one run lists every problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import rules as rules_mod
from .asof import GIVEN, AsOf, accounts_date, as_of_for, beyond_horizon, parse_as_of
from .config import Config
from .contract import EXPORTS
from .errors import ChurnscoreError
from .limits import FUTURE_DAYS
from .load import (REJECT_COLUMNS, ExportFiles, FileStats, Loaded, export_files, find_account_map, looked_for,
                   map_accounts, parts_to_spill, read_export)
from .pipeline import event_use, feature_table
from .playbook import check_playbook
from .rejectpolicy import reject_problem
from .rulecheck import RuleChecks, judge
from .universe import note_rows, nothing_left, universe
from . import words
from .words import share


@dataclass
class ExportCheck:
    """What one export holds (or why it could not be read)."""

    export: str
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    accounts: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    rejects: int = 0
    unmapped: int = 0
    mapped: dict[str, str] = field(default_factory=dict)  # canonical -> source header
    error: str | None = None
    missing: bool = False


@dataclass
class Validation:
    checks: list[ExportCheck]
    rejects: pd.DataFrame
    problems: list[str]  # what makes 'churnscore score' fail
    notes: list[str]  # worth knowing, not fatal
    as_of: pd.Timestamp | None
    as_of_source: str
    rule_checks: RuleChecks | None = None  # the rules switched off on this data, and the events most used
    reject_count: int | None = None  # every reject (``rejects`` holds the first of a spilled export's)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(config: Config, input_dir: str | Path | None = None,
             as_of: AsOf | str | pd.Timestamp | None = None, *, strict: bool = False) -> Validation:
    """Read every export the config and folder provide, as 'churnscore score' would, and report on each.
    ``as_of``: an AsOf (asof.parse_as_of), or a date as text or Timestamp; None: the latest usage date.
    ``strict``: any rejected row is a problem, as it stops 'churnscore score --strict'.

    Raises ConfigError for a bad rule and InputDataError for a missing input folder; every other problem
    is collected in the result.
    """
    rules_mod.check_rules(config.rules)
    check_playbook(config.playbook, config.rules)
    given = parse_as_of(as_of)
    found = export_files(config, input_dir)
    spills: dict = {}  # a large usage export goes to disk by account, as score reads it (see spill.py)
    try:
        return _validate(config, found, given, spills, strict)
    finally:
        for spill in spills.values():
            spill.close()
            if spill.rejects is not None:
                spill.rejects.close()


def _validate(config: Config, found: ExportFiles, given: AsOf | None, spills: dict, strict: bool) -> Validation:
    base = found.folder
    checks: dict[str, ExportCheck] = {}
    frames: dict[str, pd.DataFrame] = {}
    stats: dict[str, FileStats] = {}
    rejects: list[pd.DataFrame] = []
    unlisted = 0  # rejects on disk beyond the first (a spilled export's)
    problems: list[str] = []
    notes: list[str] = []
    for name, export in EXPORTS.items():
        check = checks[name] = ExportCheck(name)
        try:
            if name in found.errors:
                raise found.errors[name]
            check.files = found.files[name]
            if not check.files:
                check.missing = True
                if export.required:
                    problems.append(f"no {name} export found in {base if base is not None else 'the config'} "
                                    f"({looked_for(name)}); {name} is required.")
                continue
            parts = parts_to_spill(config, name, check.files)
            if parts:  # frame: two dates per account; the rows are in spills[name], its rejects on disk
                frame, rej, st, spills[name] = read_export(config, name, check.files, parts)
                rej, unlisted = spills[name].rejects.head, unlisted + spills[name].rejects.count - \
                    len(spills[name].rejects.head)
            else:
                frame, rej, st = read_export(config, name, check.files)
        except ChurnscoreError as exc:
            hints = _looks_like(config, check.files)
            check.error = f"{str(exc).rstrip('.')}{hints}." if hints else str(exc)
            problems.append(check.error)
            continue
        frames[name], stats[name] = frame, st
        if len(rej):
            rejects.append(rej)
    try:
        rejects.extend(map_accounts(config, base, frames, stats))
    except ChurnscoreError as exc:
        problems.append(str(exc))
    amap = None
    try:
        amap = find_account_map(config, base)
    except ChurnscoreError:
        pass  # already reported by map_accounts
    for name, frame in frames.items():
        check, st, export = checks[name], stats[name], EXPORTS[name]
        check.rows, check.rejects, check.unmapped = st.rows_read, st.rows_rejected, st.rows_unmapped
        check.mapped = dict(st.columns)
        check.accounts = int(frame["account_id"].nunique())
        if export.date_column is not None and frame[export.date_column].notna().any():
            check.first, check.last = frame[export.date_column].min(), frame[export.date_column].max()
        source = config.inputs[name].account_source
        if source and amap is None:
            notes.append(f"{name}: no account mapping file (account_map.csv): the values of "
                         f"'{check.mapped.get('account_id', 'account_id')}' are taken as account ids.")
    all_rejects = (pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS))
    loaded = Loaded(frames, all_rejects, stats, [], spilled=spills)  # what was read, as score's stages take it
    when = given
    if when is None and "usage" in frames and frames["usage"]["timestamp"].notna().any():
        beyond = beyond_horizon(loaded)  # as score's default: rows past the run date plus a day are ignored
        if beyond.rows:
            notes.append(f"usage: {beyond.rows:,} rows dated after {(beyond.end - pd.Timedelta(days=1)).date()} "
                         f"(the run date plus {FUTURE_DAYS} day) are ignored for the default as-of date; the "
                         f"latest {beyond.latest.date()}.")
        if (frames["usage"]["timestamp"] < beyond.end).any():
            when = as_of_for(loaded, None, beyond=beyond)
    if when is not None:
        rows = note_rows(loaded, when, count_ids=True)
        for name, later in rows.after_as_of.items():
            if later:
                notes.append(f"{name}: {later:,} rows dated after the as-of date {when.day.date()} are not used.")
            if rows.unknown_rows.get(name):
                notes.append(f"{name}: {words.count(rows.unknown_rows[name], 'row')} for "
                             f"{words.count(rows.unknown_ids[name], 'account id')} "
                             "not in the accounts export (they are not scored).")
    rule_checks = None
    if when is not None and not problems and "usage" in frames:  # as score would find it: no account to score
        found = universe(loaded, when.day)
        if not len(found.index):
            problems.append(f"{nothing_left(when.day, found.excluded)}; 'churnscore score' would stop.")
        else:  # the rules score would switch off on this data (the features as score builds them)
            table = feature_table(loaded, found.index, when, config, accounts_date(loaded, config, when))
            rule_checks = judge(config.rules, table, config.features,
                                event_use(config, loaded, found.index, when, always=True))
    read = sum(st.rows_read for st in stats.values())
    count = len(all_rejects) + unlisted
    rate = count / read if read else 0.0
    over = reject_problem(stats, count, config.rejects.max_reject_rate, strict=strict)  # as score and the rest judge
    if over is not None:
        limit = config.rejects.max_reject_rate
        hints = "".join(_looks_like(config, checks[n].files) for n, st in stats.items()
                        if st.rows_read and st.rows_rejected / st.rows_read > limit)
        problems.append(f"{over.reason}; 'churnscore score' would stop{hints}.")
    elif count:
        per = ", ".join(f"{n}: {st.rows_rejected:,}" for n, st in stats.items() if st.rows_rejected)
        notes.append(f"{words.count(count, 'row')} rejected ({per}; {share(rate)}, within rejects.max_reject_rate "
                     f"{share(config.rejects.max_reject_rate)}): 'churnscore score' lists them in its rejects file.")
    return Validation([checks[n] for n in EXPORTS], all_rejects, problems, notes,
                      when.day if when is not None else None, when.source if when is not None else GIVEN,
                      rule_checks, count)


def _looks_like(config: Config, files: list[Path]) -> str:
    """"; tickets.csv looks like a Freshdesk export (...): add preset freshdesk" for the files of a failing
    export that a preset not in use fits (churnscore/detect.py), else ""."""
    from .detect import preset_hint

    hints = [h for f in files[:5] if Path(f).is_file() and (h := preset_hint(Path(f), config.presets))]
    return "".join(f"; {h}" for h in hints)


def _range(check: ExportCheck) -> str:
    if check.first is None or check.last is None:
        return "-"
    return f"{check.first.date()}..{check.last.date()}"


def one_line(value: str) -> str:
    """A value as it fits on one line of output: line breaks shown as \\r and \\n."""
    return value.replace("\r", "\\r").replace("\n", "\\n")


def table_text(v: Validation, *, max_rejects: int = 5) -> str:
    """The per-export table, the column mappings, the first rejects, the notes and the verdict."""
    head = f"{'export':<9} {'files':>5} {'rows':>11} {'accounts':>9}  {'date range':<22} {'rejects':>7}  columns mapped"
    lines = [head]
    for c in v.checks:
        if c.error is not None:
            lines.append(f"{c.export:<9} {'ERROR':>5}  {c.error}")
            continue
        if c.missing:
            lines.append(f"{c.export:<9} {'-':>5} {'-':>11} {'-':>9}  {'-':<22} {'-':>7}  not found"
                         + (" (required)" if EXPORTS[c.export].required else ": scored without its signals"))
            continue
        n_cols = len(EXPORTS[c.export].columns)
        lines.append(f"{c.export:<9} {len(c.files):>5} {c.rows:>11,} {c.accounts:>9,}  {_range(c):<22} "
                     f"{c.rejects:>7,}  {len(c.mapped)}/{n_cols}")
    detail = []
    for c in v.checks:
        if c.error is not None or c.missing:
            continue
        renamed = [f"{k} <- {s}" for k, s in c.mapped.items() if s.strip().lower() != k]
        absent = [col.name for col in EXPORTS[c.export].columns if col.name not in c.mapped]
        if renamed:
            detail.append(f"  {c.export}: {', '.join(renamed)}")
        if absent:
            detail.append(f"  {c.export}: not in the file (optional): {', '.join(absent)}")
        if c.unmapped:
            detail.append(f"  {c.export}: {c.unmapped:,} row{'s' if c.unmapped != 1 else ''} with no account mapping "
                          "(rejected)")
    if detail:
        lines += ["", "columns:"] + detail
    if len(v.rejects):
        lines += ["", f"first rejects ({v.reject_count if v.reject_count is not None else len(v.rejects):,} in all):"]
        for r in v.rejects.head(max_rejects).itertuples(index=False):
            lines.append(f"  {r.file}:{r.line}: {r.reason}" + (f" ({r.column} = '{one_line(str(r.value))}')"
                                                                if r.column and str(r.value) else ""))
    if v.as_of is not None:
        lines += ["", f"as of {v.as_of.date()} ({v.as_of_source})"]
    if v.rule_checks is not None:
        top = v.rule_checks.events.top()
        lines += ["", f"events most used (share of the {v.rule_checks.events.total:,} accounts scored; pick "
                      "features.login_event and key_features among them):"]
        lines += [f"  {e:<30} {share:>5.0%}" for e, share in top] or ["  (no usage row by the as-of date)"]
        off = v.rule_checks.lines()
        lines += ["", "rules switched off on this data:" if v.rule_checks.off else "rules: all can judge on this data"]
        lines += [f"  - {line}" for line in off]
    if v.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in v.notes]
    if v.problems:
        lines += ["", "problems:"] + [f"  - {p}" for p in v.problems]
        lines.append(f"churnscore: validate: {len(v.problems)} problem{'s' if len(v.problems) > 1 else ''}; "
                     "fix before scoring.")
    else:
        off = len(v.rule_checks.off) if v.rule_checks is not None else 0
        lines.append("churnscore: validate: ok, ready to score" + (
            f" ({off} rule{'s' if off > 1 else ''} switched off, listed above)." if off else "."))
    return "\n".join(lines)

