"""click commands only: parse options, call the library, write, and map errors to one line and an exit code.

Exit codes: 0 ok; 1 bad input data, config or model; 2 bad command-line usage; 3 another run holds the
output's lock.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from . import __version__
from .config import DEFAULT_CONFIG, Config, load_config
from .errors import ChurnscoreError, RejectLimitError

EXIT_CODES = """\b
Exit codes:
  0  success
  1  bad input data, config or model (the message names file, line, column)
  2  bad command-line usage
  3  another run is writing the same output (lock held)"""


def _fail(exc: ChurnscoreError) -> None:
    click.echo(f"churnscore: error: {exc}", err=True)
    sys.exit(exc.exit_code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ChurnscoreError into one line on stderr and its exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChurnscoreError as exc:
            _fail(exc)

    return wrapper


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"YAML config. Default: {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])} of the churnscore "
         "checkout, which scores data/sample.")
input_dir_option = click.option(
    "--input-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder with accounts, usage, nps, tickets, payments (.csv, .csv.gz, .parquet or a folder each). "
         "Default: input_dir of the config.")
as_of_option = click.option(
    "--as-of", default=None, metavar="YYYY-MM-DD",
    help="Score as of this date: later rows are not used. Default: the latest date in the usage export.")


def _config(path: Path | None) -> Config:
    return load_config(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="churnscore")
def main() -> None:
    """Score SaaS accounts for churn risk from usage, NPS, ticket and payment exports.

    \b
    Quick start (scores the bundled sample with configs/default.yaml):
      churnscore score
      churnscore features --list
    """


@main.command(epilog=EXIT_CODES)
@config_option
@input_dir_option
@as_of_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ranked list path. Default: output.path of the config (out/ranked.csv). "
                   "Rejected rows go beside it as <name>.rejects.csv, excluded accounts as <name>.excluded.csv.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json"]), default=None,
              help="Output format. Default: output.format of the config (csv).")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Keep only the N highest-risk accounts.")
@click.option("--rank-by", type=click.Choice(["risk", "revenue"]), default=None,
              help="Order by risk score, or by revenue at risk (score x MRR). Default: scoring.rank_by.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) if any input row is rejected.")
@handle_errors
def score(config_path: Path | None, input_dir: Path | None, as_of: str | None, out: Path | None,
          fmt: str | None, top: int | None, rank_by: str | None, strict: bool) -> None:
    """Score every active account and write the ranked at-risk list.

    \b
    Examples:
      churnscore score
      churnscore score --input-dir exports/ --as-of 2026-10-31 --out risk.csv --top 50
    """
    from .pipeline import score as run_score
    from .write import write_run

    config = _config(config_path)
    result = run_score(config, input_dir=input_dir, as_of=as_of, rank_by=rank_by)
    out = out or Path(config.output.path)
    paths = write_run(result.ranked, result.loaded.rejects, result.excluded, out,
                      fmt or config.output.format, top or config.output.top)
    click.echo(summary_text(result.summary(), paths), err=True)
    check_rejects(result, config, strict)


def summary_text(s: dict[str, Any], paths: dict[str, Path]) -> str:
    """The run summary for people: what was read, who was scored, what was set aside, where it went."""
    lines = [f"churnscore: as of {s['as_of']} ({s['as_of_source']})"]
    for name, f in s["files"].items():
        extra = []
        if f["rows_rejected"]:
            extra.append(f"{f['rows_rejected']:,} rejected")
        if f["rows_after_as_of"]:
            extra.append(f"{f['rows_after_as_of']:,} after as-of, not used")
        if f["rows_unknown_account"]:
            extra.append(f"{f['rows_unknown_account']:,} for accounts not in accounts")
        more = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"  read {name:<9} {f['rows_read']:>10,} rows{more}")
    for name in s["missing_exports"]:
        lines.append(f"  no {name} export: scoring without its signals")
    excluded = sum(s["accounts_excluded"].values())
    lines.append(f"  accounts: {s['accounts_in_inputs']:,} in inputs = {s['accounts_scored']:,} scored "
                 f"+ {excluded:,} excluded")
    for reason, n in s["accounts_excluded"].items():
        lines.append(f"    excluded {n:,}: {reason}")
    tiers = s["at_risk"]
    lines.append(f"  risk: {tiers['high']:,} high, {tiers['medium']:,} medium, {tiers['low']:,} low; "
                 f"revenue at risk {s['revenue_at_risk']:,.2f}/month")
    lines.append(f"  wrote {paths['ranked']}")
    if s["rows_rejected"]:
        lines.append(f"  {s['rows_rejected']:,} rejected rows listed in {paths['rejects']}")
    if excluded:
        lines.append(f"  excluded accounts listed in {paths['excluded']}")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in s["timings_s"].items())
    lines.append(f"  timings: {timing}")
    return "\n".join(lines)


def check_rejects(result: Any, config: Config, strict: bool) -> None:
    from .pipeline import reject_rate

    n = len(result.loaded.rejects)
    rate = reject_rate(result.loaded)
    if strict and n:
        raise RejectLimitError(f"{n} input rows rejected and --strict is set; see the rejects file.")
    if rate > config.rejects.max_reject_rate:
        raise RejectLimitError(
            f"{rate:.1%} of input rows rejected, above rejects.max_reject_rate "
            f"{config.rejects.max_reject_rate:.1%}; the ranking would be unreliable. See the rejects file.")


@main.command(epilog=EXIT_CODES)
@click.option("--list", "list_only", is_flag=True, help="Print the feature catalogue and exit.")
@config_option
@input_dir_option
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/features.csv"),
              show_default=True, help="Where to write the feature table (.csv or .parquet).")
@handle_errors
def features(list_only: bool, config_path: Path | None, input_dir: Path | None, as_of: str | None,
             out: Path) -> None:
    """List the features, or write the feature table (one row per account) for a notebook.

    \b
    Examples:
      churnscore features --list
      churnscore features --as-of 2026-09-30 --out features.parquet
    """
    from .features import CATALOGUE, window_text

    config = _config(config_path)
    if list_only:
        width = max(len(f.name) for f in CATALOGUE)
        for f in CATALOGUE:
            click.echo(f"{f.name:<{width}}  {f.source:<17} {window_text(f, config.windows, config.features):<13} "
                       f"{f.meaning}")
        return
    from .pipeline import score as run_score
    from .write import write_table

    result = run_score(config, input_dir=input_dir, as_of=as_of)
    table = result.features.reset_index()
    path = write_table(table, out, "parquet" if out.suffix == ".parquet" else "csv")
    click.echo(f"churnscore: {len(table)} accounts x {table.shape[1] - 1} features as of "
               f"{result.as_of.date()} -> {path}", err=True)


@main.command("sample-data", epilog=EXIT_CODES)
@click.option("--accounts", "n_accounts", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--months", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--usage-rows", type=click.IntRange(min=1), default=None,
              help="Approximate number of usage rows (default: natural for the account count).")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv.gz", "parquet"]), default="csv.gz",
              show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@handle_errors
def sample_data(n_accounts: int, months: int, seed: int, usage_rows: int | None, fmt: str, out: Path) -> None:
    """Generate realistic synthetic exports (with known churn) in the input contract's format.

    \b
    Example (the committed sample):
      churnscore sample-data --accounts 2000 --months 12 --seed 42 --out data/sample
    """
    from .sample import write_sample

    paths = write_sample(out, n_accounts=n_accounts, months=months, seed=seed, usage_rows=usage_rows, fmt=fmt)
    for name, path in paths.items():
        click.echo(f"churnscore: wrote {name}: {path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
