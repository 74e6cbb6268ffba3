"""click commands only: parse options, call the library (run.py runs each job), print, and map errors to one
line and an exit code.

Exit codes: 0 ok; 1 bad input data, config or model, or an output that cannot be written; 2 bad command-line
usage; 3 another run holds the output's lock; 143 stopped by SIGTERM.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from .version import __version__
from .config import DEFAULT_CONFIG, Config, load_config
from .synth import DEFAULT_SCENARIO, SCENARIO_NAMES
from .errors import ChurnscoreError, FileSystemError
from .limits import error_text, json_safe
from .memory import tune_memory
from .stages import rounded

if TYPE_CHECKING:
    from .asof import AsOf  # pandas: the commands import it after main() has tuned the memory

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


def _json_line(**fields: Any) -> None:
    """One JSON object on a line of stderr; NaN and inf as null: a log line is always JSON."""
    click.echo(json.dumps(json_safe(fields), sort_keys=True, default=str, allow_nan=False), err=True)


def emit(event: str, text: str, **fields: Any) -> None:
    """One message on stderr: the text for people, or one JSON line for machines (--log-format json)."""
    if _log_format() == "json":
        _json_line(event=event, **fields)
    else:
        from .limits import printable  # ... and so does printable: data never drives the terminal

        click.echo(printable(text, newlines=True), err=True)


def _fail(exc: ChurnscoreError) -> None:
    from .terminal import clear_progress, printable

    clear_progress()  # an error starts on its own line, not after a progress line
    message = printable(error_text(str(exc)))  # one line, bounded, no control or bidi character (NUL runs counted)
    emit("error", f"churnscore: error: {message}", level="error", message=message, exit_code=exc.exit_code,
         error=type(exc).__name__)
    sys.exit(exc.exit_code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ChurnscoreError into one line on stderr and its exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .stopping import stop_on_sigterm

        try:
            with stop_on_sigterm(_log_format()):  # SIGTERM: Stopped, or ended after a grace time if blocked
                return fn(*args, **kwargs)
        except ChurnscoreError as exc:
            _fail(exc)
        except OSError as exc:  # the file system said no (a full disk, a permission): one line, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(FileSystemError(f"{where}{exc.strerror or exc}."))
        except RecursionError:  # a bound missed somewhere: still one line, not a traceback
            _fail(ChurnscoreError("input nested too deeply to read (a config, a model or an export value)."))

    return wrapper


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"YAML config. Default: {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])} of the churnscore "
         "checkout, which scores data/sample.")
input_dir_option = click.option(
    "--input-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder with accounts, usage, nps, tickets, payments (.csv, .csv.gz, .parquet or a folder each). "
         "Default: input_dir of the config (relative to the config's folder).")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> AsOf | None:
    """A date option parsed as the command line is read, into the run's asof.AsOf (None: not given): a typo
    is a usage error (exit 2), as a bad --format is, not bad input data."""
    if value is None:
        return None
    from .asof import parse_as_of  # pandas: after main() has tuned the memory (see tune_memory)

    try:
        return parse_as_of(value)
    except ChurnscoreError:
        raise click.BadParameter(f"'{value}' is not a date (use YYYY-MM-DD).") from None


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
         "(payments), zendesk, freshdesk, hubspot (tickets), delighted, qualtrics, surveymonkey, typeform (nps), "
         "mixpanel, mixpanel_raw, amplitude, segment_tracks, posthog, heap (usage). Adds to the config's presets; "
         "the config's own mappings win. See the README's 'Vendor presets'.")
strict_option = click.option(  # the reject policy (rejectpolicy.py): score, train, evaluate, tune-rules, validate
    "--strict", is_flag=True,
    help="Fail (exit 1) if any input row is rejected, not only above rejects.max_reject_rate.")
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
            _json_line(event="error", level="error", error=type(exc).__name__, exit_code=exc.exit_code,
                       message=error_text(exc.format_message()))
            sys.exit(exc.exit_code)


def _json_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A library's warning as one JSON line (--log-format json)."""
    _json_line(event="warning", level="warning", warning=category.__name__, message=error_text(str(message)),
               source=f"{filename}:{lineno}")


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
@strict_option
@preset_option
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PATH.html", help="Also write a self-contained HTML report (needs churnscore[report]).")
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An earlier ranked list: add previous_rank, previous_score and score_change, and show the "
                   "movers in the report.")
@engine_option
@scheduler_option
@handle_errors
def score(config_path: Path | None, input_dir: Path | None, as_of: AsOf | None, out: Path | None,
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
    from .run import score_run
    from .runtext import summary_text
    from .terminal import top_table, wants_colour

    _check_engine(engine, scheduler)
    config = _config(config_path, presets)
    with _progress() as progress:
        done = score_run(config, out=out, input_dir=input_dir, as_of=as_of, fmt=fmt, top=top, rank_by=rank_by,
                         model=model_path, strict=strict, report=report_path, previous=previous, engine=engine,
                         scheduler=scheduler, on_event=emit, **progress)
    emit("score.done", summary_text(done.summary, done.paths), level="info",
         outputs={k: str(v) for k, v in done.paths.items()}, **done.summary)
    if progress["on_stage"] is not None:  # a person at a terminal: the top of the list
        click.echo(top_table(done.result.ranked, colour=wants_colour(sys.stderr)), err=True)


@contextlib.contextmanager
def _progress() -> Iterator[dict[str, Any]]:
    """The progress line on stderr (terminal.StageLine) as a run function's callbacks, cleared once the run is
    done; none off a terminal and with --log-format json (then ``on_stage`` is None)."""
    from .terminal import stage_line

    live = stage_line(sys.stderr, enabled=_log_format() == "text")
    yield {"on_stage": live, "on_detail": getattr(live, "detail", None), "on_rows": getattr(live, "rows", None)}
    if live is not None:
        live.clear()


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
def features(list_only: bool, config_path: Path | None, input_dir: Path | None, as_of: AsOf | None,
             out: Path, presets: tuple[str, ...] = (), engine: str = "pandas", scheduler: str | None = None) -> None:
    """List the features, or write the feature table (one row per account) for a notebook.

    On a terminal it shows each stage as it runs, as score does; the summary ends with each stage's time.

    \b
    Examples:
      churnscore features --list
      churnscore features --as-of 2026-09-30 --out features.parquet
      churnscore features --engine dask --scheduler tcp://10.0.0.5:8786 --out features.parquet
    """
    from .run import features_run
    from .runtext import catalogue_text, features_text

    _check_engine(engine, scheduler)
    config = _config(config_path, presets)
    if list_only:
        click.echo(catalogue_text(config))
        return

    with _progress() as progress:
        done = features_run(config, out, input_dir=input_dir, as_of=as_of, engine=engine, scheduler=scheduler,
                            **progress)
    fields = done.log_fields()
    emit("features.done", features_text(fields, done.timings), level="info", **fields)


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@click.option("--as-of", default=None, metavar="YYYY-MM-DD", callback=_date,
              help="Train on history up to this date. Default: the latest date in the usage export.")
@click.option("--model-out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/model.json"),
              show_default=True, help="Where to write the model file.")
@preset_option
@strict_option
@handle_errors
def train(config_path: Path | None, input_dir: Path | None, as_of: AsOf | None, model_out: Path,
          presets: tuple[str, ...] = (), strict: bool = False) -> None:
    """Train the logistic churn model on the company's own history.

    Snapshots of the feature table every model.observation_interval_days, labelled by churn within
    model.horizon_days; regularisation picked by time-ordered cross-validation. The summary ends with the
    login event and key features found in the same history, as config lines to paste. On a terminal it shows
    each stage as it runs (rows read, snapshot date, C and fold); the summary ends with each stage's time.
    Stops (exit 1, no model written) where score would: more rows rejected than rejects.max_reject_rate, or
    any with --strict.

    \b
    Example:
      churnscore train --model-out out/model.json
      churnscore score --model out/model.json
    """
    from .run import train_run
    from .runtext import train_text

    config = _config(config_path, presets)
    with _progress() as progress:
        done = train_run(config, model_out, input_dir=input_dir, as_of=as_of, strict=strict, **progress)
    emit("train.done", train_text(done.model, done.digest, model_out, done.timings, done.found_text), level="info",
         **done.log_fields())




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
@strict_option
@handle_errors
def evaluate(config_path: Path | None, input_dir: Path | None, as_of: AsOf | None, test_dates: int, top_k: int,
             json_path: Path | None, report_path: Path | None = None, presets: tuple[str, ...] = (),
             strict: bool = False) -> None:
    """Backtest rules only, the logistic model and a gradient-boosting reference side by side.

    Trains on the observation dates whose horizon ends before the first test date, tests on the last
    --test-dates dates: ROC AUC, PR AUC, top-decile churn rate and lift, precision/recall at k, Brier
    score and calibration. Then every rule on the training snapshots: share fired, churn rate when fired and
    not, lift, and a warning for a rule that is inverted, fires on most accounts or never fires. On a
    terminal it shows each stage as it runs; stderr ends with each stage's time. Stops (exit 1, nothing
    written) where score would: more rows rejected than rejects.max_reject_rate, or any
    with --strict.

    \b
    Examples:
      churnscore evaluate --json out/backtest.json
      churnscore evaluate --report out/backtest.html
    """
    from .audit import audit_text
    from .evaluate import table_text
    from .run import evaluate_run
    from .runtext import timings_text
    from .terminal import clear_progress

    config = _config(config_path, presets)

    def show(bt: Any) -> None:  # the table first: a failed write below still leaves it on screen
        clear_progress()
        click.echo(table_text(bt))
        click.echo(audit_text(bt.rule_audit))

    with _progress() as progress:
        done = evaluate_run(config, input_dir=input_dir, as_of=as_of, test_dates=test_dates, top_k=top_k,
                            json_path=json_path, report=report_path, on_backtest=show, strict=strict, **progress)
    text = "\n".join([f"churnscore: wrote {path}" for path in done.outputs.values()] + [timings_text(done.timings)])
    emit("evaluate.done", text, level="info", outputs={k: str(v) for k, v in done.outputs.items()},
         timings_s=rounded(done.timings))


@main.command("tune-rules", epilog=EXIT_CODES)
@config_option
@input_dir_option
@history_end_option
@test_dates_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The config to write: this one with the learned rule weights.")
@preset_option
@strict_option
@handle_errors
def tune_rules(config_path: Path | None, input_dir: Path | None, as_of: AsOf | None, test_dates: int, out: Path,
               presets: tuple[str, ...] = (), strict: bool = False) -> None:
    """Learn the rule weights from history and write a config with them.

    Weights from a non-negative regression on the rules' flags over the backtest's training snapshots
    (time-ordered CV); inverted rules and rules that never fire are left out with a comment. Prints the
    rules-only ROC AUC and top-decile lift before and after on the held-out test dates. Stops (exit 1,
    nothing written) where score would: more rows rejected than rejects.max_reject_rate, or any with
    --strict.

    \b
    Examples:
      churnscore tune-rules --out tuned.yaml
      churnscore score --config tuned.yaml
    """
    from .run import tune_run
    from .runtext import timings_text
    from .tune import tuned_text

    config = _config(config_path, presets)
    with _progress() as progress:
        tuned, path, timings = tune_run(config, out, input_dir=input_dir, as_of=as_of, test_dates=test_dates,
                                        strict=strict, **progress)
    click.echo(tuned_text(tuned, config))
    emit("tune_rules.done", f"churnscore: wrote {path}\n{timings_text(timings)}", level="info",
         outputs={"config": str(path)}, timings_s=rounded(timings))


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
def explain(account_id: str, config_path: Path | None, input_dir: Path | None, as_of: AsOf | None,
            model_path: Path | None, history: tuple[Path, ...], presets: tuple[str, ...] = ()) -> None:
    """Show one account's score, every feature and its contribution, its flags and its history.

    \b
    Example:
      churnscore explain A00017 --model out/model.json --history out/ranked.csv
    """
    from .run import explain_run
    from .limits import printable

    config = _config(config_path, presets)
    click.echo(printable(explain_run(config, account_id, input_dir=input_dir, as_of=as_of, model=model_path,
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
    from .synth import write_sample

    paths = write_sample(out, n_accounts=n_accounts, months=months, seed=seed, usage_rows=usage_rows, fmt=fmt,
                         scenario=scenario)
    emit("sample_data.done", "\n".join(f"churnscore: wrote {name}: {path}" for name, path in paths.items()),
         level="info", outputs={name: str(path) for name, path in paths.items()})


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
    from .run import init_run

    if detect_dir is not None and presets:
        raise click.UsageError("--preset and --detect: give one; --detect chooses the presets from the headers.")
    text, fields = init_run(directory, presets=presets, force=force, detect=detect_dir)
    emit("init.done", text, level="info", **fields)


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@as_of_option
@preset_option
@click.option("--history", is_flag=True, help="Also propose the login event and key features from the history "
              "(as train does), as config lines to paste.")
@strict_option
@handle_errors
def validate(config_path: Path | None, input_dir: Path | None, as_of: AsOf | None, presets: tuple[str, ...],
             history: bool = False, strict: bool = False) -> None:
    """Check the config and every export without scoring: a table per export (files, rows, accounts, date
    range, rejects, columns mapped), the first rejects, and what would stop a run. Exit 1 if anything would.

    \b
    Examples:
      churnscore validate
      churnscore validate --config acme/churnscore.yaml --preset stripe --preset zendesk
      churnscore validate --history
    """
    from .run import history_proposal
    from .limits import printable
    from .validate import table_text, validate as run_validate

    config = _config(config_path, presets)
    result = run_validate(config, input_dir, as_of, strict=strict)
    click.echo(printable(table_text(result), newlines=True))
    if history and result.ok:
        click.echo("\n" + printable(history_proposal(config, input_dir, as_of), newlines=True))
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
