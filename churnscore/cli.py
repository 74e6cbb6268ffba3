"""click commands only: parse options, call the library, write, and map errors to one line and an exit code.

Exit codes: 0 ok; 1 bad input data, config or model, or an output that cannot be written; 2 bad command-line
usage; 3 another run holds the output's lock; 143 stopped by SIGTERM.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

from . import __version__
from .config import DEFAULT_CONFIG, Config, load_config
from .scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES
from .errors import ChurnscoreError, FileSystemError, NothingScoredError, RejectLimitError, Stopped
from .limits import error_text, json_safe
from .memory import tune_memory
from .stages import Stages, rounded

EXIT_CODES = """\b
Exit codes:
  0  success
  1  bad input data, config or model (the message names file, line, column),
     or an output that cannot be written
  2  bad command-line usage
  3  another run is writing the same output (lock held)
  143  stopped by SIGTERM (outputs stay whole)"""


def _log_format() -> str:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return (root.params.get("log_format") if root is not None else None) or "text"


def emit(event: str, text: str, **fields: Any) -> None:
    """One message on stderr: the text for people, or one JSON line for machines (--log-format json)."""
    if _log_format() == "json":
        line = json.dumps(json_safe({"event": event, **fields}), sort_keys=True, default=str, allow_nan=False)
        click.echo(line, err=True)  # NaN and inf as null: a log line is always JSON
    else:
        from .terminal import printable  # ... and so does printable: data never drives the terminal

        click.echo(printable(text, newlines=True), err=True)


def _fail(exc: ChurnscoreError) -> None:
    from .terminal import clear_progress, printable

    clear_progress()  # an error starts on its own line, not after a progress line
    message = printable(error_text(str(exc)))  # one line, bounded, no control or bidi character (NUL runs counted)
    emit("error", f"churnscore: error: {message}", level="error", message=message, exit_code=exc.exit_code,
         error=type(exc).__name__)
    sys.exit(exc.exit_code)


def _stop(signum: int, frame: Any) -> None:
    """SIGTERM (a timeout, a service stop) as an exception: the run unwinds through its clean-ups and says
    so in one line, instead of vanishing with its temporary files and spilled rows left behind."""
    raise Stopped(f"stopped by {signal.Signals(signum).name} before the end; every output is whole: the last "
                  "run's, or this run's where it had already been written.")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ChurnscoreError into one line on stderr and its exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .stopping import sigterm_watchdog

        told = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _stop)
        try:
            with sigterm_watchdog(_log_format()):  # blocked where _stop cannot run: ended after a grace time
                return fn(*args, **kwargs)
        except ChurnscoreError as exc:
            _fail(exc)
        except OSError as exc:  # the file system said no (a full disk, a permission): one line, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(FileSystemError(f"{where}{exc.strerror or exc}."))
        except RecursionError:  # a bound missed somewhere: still one line, not a traceback
            _fail(ChurnscoreError("input nested too deeply to read (a config, a model or an export value)."))
        finally:
            signal.signal(signal.SIGTERM, told)

    return wrapper


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"YAML config. Default: {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])} of the churnscore "
         "checkout, which scores data/sample.")
input_dir_option = click.option(
    "--input-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder with accounts, usage, nps, tickets, payments (.csv, .csv.gz, .parquet or a folder each). "
         "Default: input_dir of the config (relative to the config's folder).")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A date option checked as the command line is read: a typo is a usage error (exit 2), as a bad
    --format is, not bad input data."""
    if value is None:
        return None
    from .asof import parse_as_of  # pandas: after main() has tuned the memory (see tune_memory)

    try:
        parse_as_of(value)
    except ChurnscoreError:
        raise click.BadParameter(f"'{value}' is not a date (use YYYY-MM-DD).") from None
    return value


as_of_option = click.option(
    "--as-of", default=None, metavar="YYYY-MM-DD", callback=_date,
    help="Score as of this date: later rows are not used. Default: the latest date in the usage export.")


history_end_option = click.option(  # evaluate and tune-rules: one backtest split
    "--as-of", default=None, metavar="YYYY-MM-DD", callback=_date,
    help="End of the history used. Default: the latest date in the usage export.")
test_dates_option = click.option(
    "--test-dates", type=click.IntRange(min=1), default=2, show_default=True,
    help="How many of the last observation dates to hold out and test on (evaluate and tune-rules split alike).")
preset_option = click.option(
    "--preset", "presets", multiple=True, metavar="NAME",
    help="Vendor preset (repeatable): read an export as the tool writes it: stripe, stripe_payments, recurly "
         "(payments), zendesk, freshdesk (tickets), delighted, qualtrics, surveymonkey, typeform (nps), "
         "mixpanel, mixpanel_raw, amplitude, segment_tracks, posthog (usage). Adds to the config's presets; the config's "
         "own mappings win. See the README's 'Vendor presets'.")
engine_option = click.option(
    "--engine", type=click.Choice(["pandas", "dask"]), default="pandas", show_default=True,
    help="Where loading and the per-account features run: in this process (pandas), or on a Dask cluster "
         "(dask, needs churnscore[dask]; same feature table and ranked list). Example: --engine dask "
         "--scheduler tcp://10.0.0.5:8786")
scheduler_option = click.option(
    "--scheduler", metavar="ADDRESS", default=None,
    help="Dask scheduler for --engine dask, e.g. tcp://10.0.0.5:8786; its workers need churnscore and the "
         "input paths. Default: a local cluster on this machine.")


def _check_engine(engine: str, scheduler: str | None) -> None:
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask.")


def _config(path: Path | None, presets: tuple[str, ...] = ()) -> Config:
    if path is not None:  # a FIFO or a device as --config would block or never end: refused unopened
        from .errors import ConfigError
        from .filetype import check_regular

        check_regular(path, "the config (--config)", error=ConfigError)
    return load_config(path, presets)


class _Commands(click.Group):
    """The command group; with --log-format json, a usage error (a bad option, a missing argument) is one
    JSON line too, like every other message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if ctx.params.get("log_format") != "json":
                raise
            click.echo(json.dumps({"event": "error", "level": "error", "error": type(exc).__name__,
                                   "exit_code": exc.exit_code, "message": error_text(exc.format_message())}, sort_keys=True),
                       err=True)
            sys.exit(exc.exit_code)


def _json_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A library's warning as one JSON line (--log-format json)."""
    click.echo(json.dumps({"event": "warning", "level": "warning", "warning": category.__name__,
                           "message": error_text(str(message)), "source": f"{filename}:{lineno}"}, sort_keys=True),
               err=True)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="churnscore")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Messages on stderr as text, or as one JSON object per line for log collectors.")
def main(log_format: str) -> None:
    """Score SaaS accounts for churn risk from usage, NPS, ticket and payment exports.

    \b
    Quick start (scores the bundled sample with configs/default.yaml):
      churnscore score
      churnscore features --list
    """
    # before the command's options are read (a date option imports pandas) and before any work: a command
    # may read large exports in batches, whose memory then goes back as it goes
    tune_memory()
    if log_format == "json":
        import warnings

        warnings.showwarning = _json_warning


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@as_of_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ranked list path, relative to the working directory. Default: output.path of the config, "
                   "relative to the config's folder; if the config sets none (as configs/default.yaml), "
                   "out/ranked.csv in the working directory. Rejected rows go beside it as <name>.rejects.csv, "
                   "excluded accounts as <name>.excluded.csv.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json"]), default=None,
              help="Output format. Default: the ending of --out (.csv, .parquet or .json), else output.format "
                   "of the config (csv).")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Keep only the N highest-risk accounts.")
@click.option("--rank-by", type=click.Choice(["risk", "revenue"]), default=None,
              help="Order by risk score, or by revenue at risk (score x MRR). Default: scoring.rank_by.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file from 'churnscore train': score = churn probability within its horizon.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) if any input row is rejected.")
@preset_option
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PATH.html", help="Also write a self-contained HTML report (needs churnscore[report]).")
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An earlier ranked list: add previous_rank, previous_score and score_change, and show the "
                   "movers in the report.")
@engine_option
@scheduler_option
@handle_errors
def score(config_path: Path | None, input_dir: Path | None, as_of: str | None, out: Path | None,
          fmt: str | None, top: int | None, rank_by: str | None, model_path: Path | None, strict: bool,
          presets: tuple[str, ...] = (), report_path: Path | None = None, previous: Path | None = None,
          engine: str = "pandas", scheduler: str | None = None) -> None:
    """Score every active account and write the ranked at-risk list.

    \b
    Examples:
      churnscore score
      churnscore score --input-dir exports/ --as-of 2026-10-31 --out risk.csv --top 50
      churnscore score --model out/model.json --rank-by revenue
      churnscore score --preset stripe --preset zendesk --report out/report.html --previous out/last.csv
      churnscore score --engine dask --scheduler tcp://10.0.0.5:8786 --input-dir /shared/exports

    On a terminal it shows each stage as it runs (the rows read so far, and how long each stage took) and
    prints the top 10 as a table; under cron it does not.
    """
    from .manifest import EarlyDigests, build_manifest
    from .pipeline import score as run_score
    from .runlock import output_lock
    from .terminal import stage_line, top_table, wants_colour
    from .universe import nothing_left
    from .outset import SetWriter, check_inputs, check_not_inside, finish_switch, input_paths, plan_outputs
    from .write import csv_pieces_writer, format_for, table_writer, write_table
    from .files import atomic_write, remove_stale_temps

    started = datetime.now(timezone.utc)
    _check_engine(engine, scheduler)
    config = _config(config_path, presets)
    if report_path is not None:
        from .report import check_available, run_report

        check_available()  # matplotlib missing: say so before the work
    fmt = format_for(out, fmt, config.output.format)  # an --out's ending, not output.path's
    # --out is relative to the working directory, output.path to the config; every output checked before the
    # work: writable, no two of them one file, none of them an input or where the next run would take it for one
    outputs = plan_outputs(out or config.output_path, report_path)
    out = outputs.ranked
    check_inputs(outputs, input_paths(config, input_dir, model=model_path, previous=previous,
                                      exclude_previous_list=out))
    check_not_inside(outputs, config, input_dir)
    live = stage_line(sys.stderr, enabled=_log_format() == "text")
    model = None
    if model_path is not None:
        from .model import load_model

        model = load_model(model_path, config)
    with output_lock(out):
        if finish_switch(outputs):  # a run killed while switching its outputs: its new set, made whole
            emit("score.switch_finished", f"churnscore: finished switching the outputs of a run killed while it "
                 f"did ({outputs.journal})", level="warning", journal=str(outputs.journal))
        remove_stale_temps(out, [p.name for p in outputs.every_path().values()])  # safe under the lock
        from .load import remove_leftovers

        for folder in remove_leftovers():  # a killed run's usage rows on disk (GBs at 50 M rows)
            emit("score.leftover_removed", f"churnscore: removed {folder}, left by a run that was killed",
                 level="warning", folder=str(folder))
        early = EarlyDigests()  # the manifest's input hashes, worked out while the run goes on
        result = run_score(config, input_dir=input_dir, as_of=as_of, rank_by=rank_by, model=model,
                           previous=previous, on_stage=live, engine=engine, scheduler=scheduler,
                           on_rows=live.rows if live is not None else None,
                           on_loaded=lambda loaded: early.start([p for st in loaded.stats.values()
                                                                 for p in st.files]))
        for event, line in result.model_checks.warnings if result.model_checks is not None else []:
            emit(event, line, level="warning", message=line, **result.model_checks.to_dict())
        problem = reject_problem(result, config, strict)
        if problem is not None or not len(result.ranked):  # keep the last good set of outputs; show why, beside it
            rejects = atomic_write(outputs.failed["rejects"], csv_pieces_writer(result.loaded.reject_frames))
            if problem is not None:
                raise RejectLimitError(f"{problem} See {rejects}; the previous ranked list was left as it was.")
            # nobody to score (a wrong --as-of, a broken export): under cron, an empty list would replace it
            path = write_table(result.excluded, outputs.failed["excluded"], "csv")
            raise NothingScoredError(f"{nothing_left(result.as_of, result.excluded)}. See {path}; the previous "
                                     "ranked list was left as it was.")
        stages = Stages(live, timings=result.timings)  # after pipeline.score's own
        html = None
        if report_path is not None:  # made before any file is written: a report that fails leaves the list
            stages("report")
            html = run_report(result, config)
        stages("write")
        # the outputs as one set: all written to temporaries first, the manifest (naming their sha256) last,
        # then switched into place together (outset.py)
        top = top or config.output.top
        files = outputs.set_files()
        writer = SetWriter(outputs)
        writer.add("ranked", table_writer(result.ranked.head(top) if top else result.ranked, fmt))
        writer.add("rejects", csv_pieces_writer(result.loaded.reject_frames))  # those on disk a batch at a time
        writer.add("excluded", table_writer(result.excluded, "csv"))
        if html is not None:
            data = html.encode("utf-8")
            writer.add("report", lambda fh: fh.write(data))
        paths = {name: files[name] for name in files if name != "manifest"}
        stages.stop()
        summary = result.summary()
        manifest = build_manifest(summary, paths, config_source=config.source, config_hash=config.hash,
                                  model_hash=model.metadata.get("sha256") if model is not None else None,
                                  started=started, early=early)
        paths = writer.commit(manifest)
    if live is not None:
        live.clear()
    emit("score.done", summary_text(summary, paths), level="info", outputs={k: str(v) for k, v in paths.items()},
         **summary)
    if live is not None:  # a person at a terminal: the top of the list
        click.echo(top_table(result.ranked, colour=wants_colour(sys.stderr)), err=True)


def reject_problem(result: Any, config: Config, strict: bool) -> str | None:
    """Why the rejects make this run fail (--strict, or above rejects.max_reject_rate), or None."""
    from .load import reject_limit_problem

    n = result.loaded.reject_count
    if strict and n:
        per = ", ".join(f"{name}: {st.rows_rejected:,}" for name, st in result.loaded.stats.items() if st.rows_rejected)
        return f"{n:,} input rows rejected ({per}) and --strict is set." if per else \
            f"{n:,} input rows rejected and --strict is set."
    problem = reject_limit_problem(result.loaded.stats, config.rejects.max_reject_rate)
    return None if problem is None else f"{problem}; the ranking would be unreliable."


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


def _history(config: Config, input_dir: Path | None) -> tuple[Any, Stages, Any]:
    """For train and evaluate: the progress line (None off a terminal), the stages told to it, and the exports
    read in its "load" stage (a large usage export on disk by account: close what this returns when done)."""
    from .load import load_all
    from .terminal import stage_line

    live = stage_line(sys.stderr, enabled=_log_format() == "text")
    stages = Stages(live, live.detail) if live is not None else Stages()
    stages("load")
    return live, stages, load_all(config, input_dir, spill=True, on_rows=live.rows if live is not None else None)


@main.command(epilog=EXIT_CODES)
@click.option("--list", "list_only", is_flag=True, help="Print the feature catalogue and exit.")
@config_option
@input_dir_option
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/features.csv"),
              show_default=True, help="Where to write the feature table: .csv, .parquet or .json, by its "
                                      "ending (another ending: CSV).")
@preset_option
@engine_option
@scheduler_option
@handle_errors
def features(list_only: bool, config_path: Path | None, input_dir: Path | None, as_of: str | None,
             out: Path, presets: tuple[str, ...] = (), engine: str = "pandas", scheduler: str | None = None) -> None:
    """List the features, or write the feature table (one row per account) for a notebook.

    On a terminal it shows each stage as it runs, as score does; the summary ends with each stage's time.

    \b
    Examples:
      churnscore features --list
      churnscore features --as-of 2026-09-30 --out features.parquet
      churnscore features --engine dask --scheduler tcp://10.0.0.5:8786 --out features.parquet
    """
    from .features import CATALOGUE, window_text

    _check_engine(engine, scheduler)
    config = _config(config_path, presets)
    if list_only:
        width = max(len(f.name) for f in CATALOGUE)
        for f in CATALOGUE:
            click.echo(f"{f.name:<{width}}  {f.source:<17} {window_text(f, config.windows, config.features):<13} "
                       f"{f.meaning}")
        return
    from .pipeline import score as run_score
    from .terminal import stage_line
    from .outset import check_ending
    from .write import format_for, write_table
    from .files import ready_to_write

    check_ending(out)  # features.csv.gz would be plain CSV under a compressed name
    ready_to_write(out)
    live = stage_line(sys.stderr, enabled=_log_format() == "text")
    result = run_score(config, input_dir=input_dir, as_of=as_of, engine=engine, scheduler=scheduler,
                       on_stage=live, on_rows=live.rows if live is not None else None)
    table = result.features.reset_index()
    stages = Stages(live, timings=result.timings)
    stages("write")
    path = write_table(table, out, format_for(out, None, "csv"))
    stages.stop()
    if live is not None:
        live.clear()
    accounts, columns = len(table), table.shape[1] - 1
    emit("features.done", f"churnscore: {accounts} accounts x {columns} features as of {result.as_of.date()} -> "
         f"{path}\n{timings_text(result.timings)}", level="info", path=str(path), accounts=accounts,
         features=columns, as_of=result.as_of.date().isoformat(), timings_s=rounded(result.timings))


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@click.option("--as-of", default=None, metavar="YYYY-MM-DD", callback=_date,
              help="Train on history up to this date. Default: the latest date in the usage export.")
@click.option("--model-out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/model.json"),
              show_default=True, help="Where to write the model file.")
@preset_option
@handle_errors
def train(config_path: Path | None, input_dir: Path | None, as_of: str | None, model_out: Path,
          presets: tuple[str, ...] = ()) -> None:
    """Train the logistic churn model on the company's own history.

    Snapshots of the feature table every model.observation_interval_days, labelled by churn within
    model.horizon_days; regularisation picked by time-ordered cross-validation. The summary ends with the
    login event and key features found in the same history, as config lines to paste. On a terminal it shows
    each stage as it runs (rows read, snapshot date, C and fold); the summary ends with each stage's time.

    \b
    Example:
      churnscore train --model-out out/model.json
      churnscore score --model out/model.json
    """
    from .discover import propose
    from .model import save_model, train as run_train
    from .asof import resolve_as_of
    from .files import ready_to_write

    config = _config(config_path, presets)
    ready_to_write(model_out)
    live, stages, loaded = _history(config, input_dir)
    try:
        when, _ = resolve_as_of(loaded, as_of)
        model, ts = run_train(loaded, config, when, stages)
        found, found_text = propose(loaded, config, when)
    finally:
        loaded.close()
    stages("write")
    digest = save_model(model, model_out)
    timings = stages.stop()
    if live is not None:
        live.clear()
    m = model.metadata
    emit("train.done", train_text(model, digest, model_out, timings, found_text), level="info",
         model=str(model_out), sha256=digest, rows=m["rows"], churners=m["churners"],
         observation_dates=m["observation_dates"], C=m["C"], train_roc_auc=m["train_roc_auc"],
         renewal_terms=m["renewal_terms"], timings_s=rounded(timings),
         login_event=found.login_event if found else None, key_features=found.key_features if found else None)


def _proposal(config: Config, input_dir: Path | None, as_of: str | None) -> str:
    """validate --history: the login event and key features of the history (discover.propose)."""
    from .discover import propose
    from .load import load_all
    from .asof import resolve_as_of

    loaded = load_all(config, input_dir, spill=True)
    try:
        return propose(loaded, config, resolve_as_of(loaded, as_of)[0])[1]
    finally:
        loaded.close()


def describe_input(name: str) -> str:
    """A model input in words, from the feature catalogue."""
    from .features import feature

    if name.startswith("flag_"):
        return f"red flag '{name[len('flag_'):]}' fired"
    if name.endswith("__missing"):
        return f"no data for {name[: -len('__missing')]}"
    return f"{name} ({feature(name).meaning})"


def train_text(model: Any, digest: str, path: Path, timings: dict[str, float] | None = None,
               found: str | None = None) -> str:
    """The training summary: data, validation, calibration and the strongest coefficients in words, then
    ``found`` (the key features found in the history: discover.propose)."""
    m = model.metadata
    best = next((r for r in m["cv"] if r["C"] == m["C"]), None)
    cv = f"time-ordered CV ROC AUC {best['cv_roc_auc']:.3f} over {best['folds']} folds" if best else "no CV folds"
    lines = [f"churnscore: trained on {m['rows']:,} account-snapshots at {len(m['observation_dates'])} dates "
             f"({m['observation_dates'][0]}..{m['observation_dates'][-1]}), {m['churners']:,} churned within "
             f"{m['horizon_days']} days (base rate {m['base_rate']:.1%})",
             f"  C = {m['C']:g} ({cv}); training ROC AUC {m['train_roc_auc']:.3f}, Brier {m['train_brier']:.4f}",
             "  calibration (predicted -> observed by decile): " + ", ".join(
                 f"{r['mean_predicted']:.2f}->{r['observed_rate']:.2f}" for r in m["calibration"]),
             "  strongest coefficients (log-odds per standard deviation):"]
    for name, coef in model.strongest(8):
        lines.append(f"    {coef:+.2f}  {describe_input(name)}: {'raises' if coef > 0 else 'lowers'} risk")
    terms = m.get("renewal_terms") or {}
    if terms.get("unknown_term"):
        lines.append(f"  renewal features left empty before the export date for {terms['unknown_term_share']:.0%} of "
                     f"accounts ({terms['unknown_term']:,} of {terms['accounts_with_renewal_date']:,} with a renewal "
                     "date): no contract term; set contract_term_months or features.contract_terms")
    if found:
        lines.append(found)
    if timings:
        lines.append(timings_text(timings))
    lines.append(f"  wrote {path} (sha256 {digest[:16]}...)")
    return "\n".join(lines)


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@history_end_option
@test_dates_option
@click.option("--top-k", type=click.IntRange(min=1), default=100, show_default=True,
              help="k for precision and recall at the top-k accounts.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures as JSON for machines.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PATH.html", help="Also write an HTML report: ROC curves, lift by decile and calibration "
                                        "of each scorer (needs churnscore[report]).")
@preset_option
@handle_errors
def evaluate(config_path: Path | None, input_dir: Path | None, as_of: str | None, test_dates: int, top_k: int,
             json_path: Path | None, report_path: Path | None = None, presets: tuple[str, ...] = ()) -> None:
    """Backtest rules only, the logistic model and a gradient-boosting reference side by side.

    Trains on the observation dates whose horizon ends before the first test date, tests on the last
    --test-dates dates: ROC AUC, PR AUC, top-decile churn rate and lift, precision/recall at k, Brier
    score and calibration. Then every rule on the training snapshots: share fired, churn rate when fired and
    not, lift, and a warning for a rule that is inverted, fires on most accounts or never fires. On a
    terminal it shows each stage as it runs; stderr ends with each stage's time.

    \b
    Examples:
      churnscore evaluate --json out/backtest.json
      churnscore evaluate --report out/backtest.html
    """
    from .audit import audit_text
    from .evaluate import backtest, table_text
    from .asof import resolve_as_of
    from .write import write_json
    from .files import ready_to_write

    config = _config(config_path, presets)
    if report_path is not None:
        from .report import check_available, evaluate_report, write_report

        check_available()
    for path in (json_path, report_path):
        if path is not None:
            ready_to_write(path)
    live, stages, loaded = _history(config, input_dir)
    try:
        when, _ = resolve_as_of(loaded, as_of)
        bt = backtest(loaded, config, when, test_dates=test_dates, top_k=top_k, stages=stages)
    finally:
        loaded.close()
    stages.stop()
    if live is not None:
        live.clear()
    click.echo(table_text(bt))  # the table first: a failed write below still leaves it on screen
    click.echo(audit_text(bt.rule_audit))
    stages("write")
    outputs = {}
    if json_path is not None:
        outputs["json"] = write_json(bt.to_dict(), json_path)
    if report_path is not None:
        outputs["report"] = write_report(evaluate_report(bt), report_path)
    timings = stages.stop()
    if live is not None:
        live.clear()
    text = "\n".join([f"churnscore: wrote {path}" for path in outputs.values()] + [timings_text(timings)])
    emit("evaluate.done", text, level="info", outputs={k: str(v) for k, v in outputs.items()},
         timings_s=rounded(timings))


@main.command("tune-rules", epilog=EXIT_CODES)
@config_option
@input_dir_option
@history_end_option
@test_dates_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The config to write: this one with the learned rule weights.")
@preset_option
@handle_errors
def tune_rules(config_path: Path | None, input_dir: Path | None, as_of: str | None, test_dates: int, out: Path,
               presets: tuple[str, ...] = ()) -> None:
    """Learn the rule weights from history and write a config with them.

    Weights from a non-negative regression on the rules' flags over the backtest's training snapshots
    (time-ordered CV); inverted rules and rules that never fire are left out with a comment. Prints the
    rules-only ROC AUC and top-decile lift before and after on the held-out test dates.

    \b
    Examples:
      churnscore tune-rules --out tuned.yaml
      churnscore score --config tuned.yaml
    """
    from .asof import resolve_as_of
    from .tune import tune, tuned_text, write_tuned
    from .files import ready_to_write

    config = _config(config_path, presets)
    ready_to_write(out)
    live, stages, loaded = _history(config, input_dir)
    try:
        tuned = tune(loaded, config, resolve_as_of(loaded, as_of)[0], test_dates=test_dates, stages=stages)
    finally:
        loaded.close()
    path = write_tuned(config, tuned, out)
    if live is not None:
        live.clear()
    click.echo(tuned_text(tuned, config))
    emit("tune_rules.done", f"churnscore: wrote {path}\n{timings_text(stages.stop())}", level="info",
         outputs={"config": str(path)}, timings_s=rounded(stages.timings))


@main.command(epilog=EXIT_CODES)
@click.argument("account_id")
@config_option
@input_dir_option
@as_of_option
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file: show each feature's contribution to the churn probability.")
@click.option("--history", "history", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="Earlier ranked lists (repeatable): show this account's past scores.")
@preset_option
@handle_errors
def explain(account_id: str, config_path: Path | None, input_dir: Path | None, as_of: str | None,
            model_path: Path | None, history: tuple[Path, ...], presets: tuple[str, ...] = ()) -> None:
    """Show one account's score, every feature and its contribution, its flags and its history.

    \b
    Example:
      churnscore explain A00017 --model out/model.json --history out/ranked.csv
    """
    from .explain import explain_account

    config = _config(config_path, presets)
    model = None
    if model_path is not None:
        from .model import load_model

        model = load_model(model_path, config)
    from .terminal import printable

    click.echo(printable(explain_account(config, account_id, input_dir=input_dir, as_of=as_of, model=model,
                                         history=list(history)), newlines=True))


@main.command("sample-data", epilog=EXIT_CODES)
@click.option("--accounts", "n_accounts", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Number of accounts; some churn during the history (their churn_date says when).")
@click.option("--months", type=click.IntRange(min=1), default=12, show_default=True,
              help="Months of history, ending 2026-10-31.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Random seed: the same seed and options give the same files, byte for byte.")
@click.option("--usage-rows", type=click.IntRange(min=1), default=None,
              help="Approximate number of usage rows (default: natural for the account count).")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv.gz", "parquet"]), default="csv.gz",
              show_default=True, help="File format of every export.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write accounts, usage, nps, tickets and payments into (made if missing).")
@click.option("--scenario", type=click.Choice(SCENARIO_NAMES), default=DEFAULT_SCENARIO, show_default=True,
              help="Kind of business: b2b (the committed sample), contract (yearly terms, churn at renewal), "
                   "consumer (one plan, churn by low use and short tenure; no nps or tickets file), noise "
                   "(churn independent of every input). data/sample/README.md describes each.")
@handle_errors
def sample_data(n_accounts: int, months: int, seed: int, usage_rows: int | None, fmt: str, out: Path,
                scenario: str = DEFAULT_SCENARIO) -> None:
    """Generate realistic synthetic exports (with known churn) in the input contract's format.

    \b
    Examples:
      churnscore sample-data --accounts 2000 --months 12 --seed 42 --out data/sample   # the committed sample
      churnscore sample-data --scenario contract --months 15 --out /tmp/contract
    """
    from .sample import write_sample

    paths = write_sample(out, n_accounts=n_accounts, months=months, seed=seed, usage_rows=usage_rows, fmt=fmt,
                         scenario=scenario)
    emit("sample_data.done", "\n".join(f"churnscore: wrote {name}: {path}" for name, path in paths.items()),
         level="info", outputs={name: str(path) for name, path in paths.items()})


def _init_detected(directory: Path, folder: Path, presets: tuple[str, ...], force: bool) -> None:
    """init --detect: the config naming each recognised file; the files it could not place, with why."""
    from .detect import init_detected
    from .starter import output_folder

    if presets:
        raise click.UsageError("--preset and --detect: give one; --detect chooses the presets from the headers.")
    config, placed, unplaced = init_detected(directory, folder, force=force,
                                             report=str(output_folder(directory) / "report.html"))
    lines = [f"churnscore: wrote {config}, reading the exports of {folder} where they are:"]
    lines += [f"  {p.path.name}: {p.match.candidate.label()}, {p.match.why()}" for p in placed]
    lines += [f"  {u.path.name}: not placed: {u.reason}" for u in unplaced]
    if not any(p.match.candidate.export == "usage" for p in placed):
        lines.append("  no usage export recognised: usage is required; name it with inputs.usage.path")
    lines += [f"  next: churnscore validate --config {config}",
              f"        churnscore score --config {config} --report {output_folder(directory) / 'report.html'}"]
    emit("init.done", "\n".join(lines), level="info", outputs={"config": str(config)},
         placed={str(p.path): p.match.candidate.label() for p in placed},
         unplaced={str(u.path): u.reason for u in unplaced})


@main.command(epilog=EXIT_CODES)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--preset", "presets", multiple=True, metavar="NAME",
              help="List this vendor preset in the config (repeatable): one of configs/presets/ (stripe, "
                   "zendesk, freshdesk, qualtrics, segment_tracks ...; see the README's 'Vendor presets').")
@click.option("--force", is_flag=True, help="Overwrite an existing DIRECTORY/churnscore.yaml.")
@click.option("--detect", "detect_dir", type=click.Path(file_okay=False, path_type=Path), metavar="FOLDER",
              help="Recognise each export in FOLDER by its header, whatever its name, and write a config that "
                   "reads them where they are, with the presets that read them (nothing is copied).")
@handle_errors
def init(directory: Path, presets: tuple[str, ...], force: bool, detect_dir: Path | None = None) -> None:
    """Start a new team: a commented config that reads DIRECTORY/exports and writes the ranked list to
    DIRECTORY/out/ranked.csv (paths in a config are relative to it, not to where churnscore runs), and the
    exports folder with a note of the files churnscore expects in it.

    \b
    Example:
      churnscore init acme --preset stripe --preset zendesk
      churnscore validate --config acme/churnscore.yaml
      churnscore score --config acme/churnscore.yaml --report acme/out/report.html
      churnscore init acme --detect ~/Downloads/exports
    """
    from .starter import init_project, output_folder

    if detect_dir is not None:
        _init_detected(directory, detect_dir, presets, force)
        return
    paths = init_project(directory, presets=presets, force=force)
    config, out = paths["config"], output_folder(directory)
    emit("init.done", f"churnscore: wrote {config} and {paths['readme']}\n"
         f"  1. put your exports in {paths['readme'].parent}/ (its README.txt lists files and columns)\n"
         f"  2. churnscore validate --config {config}\n"
         f"  3. churnscore score --config {config} --report {out / 'report.html'}\n"
         f"     (the ranked list goes to {out / 'ranked.csv'}: output.path of the config, relative to it)",
         level="info", outputs={name: str(path) for name, path in paths.items()})


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@as_of_option
@preset_option
@click.option("--history", is_flag=True, help="Also propose the login event and key features from the history "
              "(as train does), as config lines to paste.")
@handle_errors
def validate(config_path: Path | None, input_dir: Path | None, as_of: str | None, presets: tuple[str, ...],
             history: bool = False) -> None:
    """Check the config and every export without scoring: a table per export (files, rows, accounts, date
    range, rejects, columns mapped), the first rejects, and what would stop a run. Exit 1 if anything would.

    \b
    Examples:
      churnscore validate
      churnscore validate --config acme/churnscore.yaml --preset stripe --preset zendesk
      churnscore validate --history
    """
    from .asof import parse_as_of
    from .validate import table_text, validate as run_validate

    from .terminal import printable

    config = _config(config_path, presets)
    result = run_validate(config, input_dir, parse_as_of(as_of))
    click.echo(printable(table_text(result), newlines=True))
    if history and result.ok:
        click.echo("\n" + printable(_proposal(config, input_dir, as_of), newlines=True))
    if _log_format() == "json":  # the table is for people (stdout); the verdict also as one line for machines
        fields = {"ok": result.ok, "problems": result.problems, "notes": result.notes}
        if result.ok:
            emit("validate.done", "", level="info", **fields)
        else:
            emit("error", "", level="error", error="ValidationFailed", exit_code=1,
                 message=f"validate: {len(result.problems)} problem(s): " + " | ".join(result.problems), **fields)
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
