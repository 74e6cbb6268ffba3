"""Each command's job end to end, callable from Python; the CLI only parses options and prints.

score_run owns a score run: its output plan and checks, the lock, what a killed run left, the model, the
reject policy (rejectpolicy), the "nothing left to score" fallback, the report, the set of outputs and its
manifest. train_run, evaluate_run and tune_run read the history (load_history; each stops on the rejects
as score does); features_run, explain_run, init_run and history_proposal do the rest. Nothing
here prints: progress and log events go to the callbacks given (the CLI gives its stage line and its log)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import NothingScoredError, RejectLimitError
from .stages import Stages, rounded

if TYPE_CHECKING:  # pandas and the stages are imported by the functions that run them: init starts quickly
    from .asof import AsOf
    from .load import Loaded
    from .pipeline import ScoreResult

OnEvent = Callable[..., None]  # (event, text, **fields): one log message (the CLI's emit)


@dataclass
class ScoreRun:
    """What a score run did: the scored result, the files it wrote (ranked, rejects, excluded, report?,
    manifest) and its summary (counts, timings; as in the manifest and the log)."""

    result: ScoreResult
    paths: dict[str, Path]
    summary: dict[str, Any]


def _quiet(event: str, text: str, **fields: Any) -> None:
    """No log: score_run called without on_event."""


def score_run(config: Config, *, out: str | Path | None = None, input_dir: str | Path | None = None,
              as_of: AsOf | str | None = None, fmt: str | None = None, top: int | None = None,
              rank_by: str | None = None, model: str | Path | None = None, strict: bool = False,
              report: str | Path | None = None, previous: str | Path | None = None, engine: str = "pandas",
              scheduler: str | None = None, on_stage: Callable[[str], None] | None = None,
              on_detail: Callable[[str], None] | None = None, on_rows: Callable[[str, int], None] | None = None,
              on_event: OnEvent | None = None) -> ScoreRun:
    """Score every active account and write the ranked list with its rejects, excluded accounts, report
    (``report``: an HTML path) and manifest as one set, under the output's lock.

    ``out``: the ranked list (default: output.path of the config); ``fmt``: csv, parquet or json (default:
    the ending of ``out``, else output.format); ``as_of``: YYYY-MM-DD or an asof.AsOf (default: the latest usage date);
    ``top``: keep the first N rows (default: output.top); ``rank_by``: risk or revenue (default:
    scoring.rank_by); ``previous``: an earlier ranked list to compare with; ``engine``/``scheduler``: pandas
    here, or a Dask cluster. ``model``: a model file from train. ``strict``: any reject
    fails the run, as too many do (rejects.max_reject_rate). A run that fails on its rejects, or that leaves
    no account to score, writes ``<stem>.failed.rejects.csv`` (and ``.failed.excluded.csv``) and raises,
    leaving the previous set of outputs as it was. ``on_stage`` is told each stage's name as it starts,
    ``on_detail`` what a stage is at, ``on_rows`` (export, rows read so far), ``on_event`` each log message
    (event, text, **fields).
    Raises a ChurnscoreError (LockError while another run holds the output).
    """
    from . import pipeline
    from .files import atomic_write, remove_stale_temps
    from .manifest import EarlyDigests, build_manifest
    from .outset import SetWriter, check_inputs, check_not_inside, finish_switch, input_paths, plan_outputs
    from .rejectpolicy import loaded_problem
    from .runlock import output_lock
    from .load import remove_leftovers
    from .universe import nothing_left
    from .write import csv_pieces_writer, format_for, table_writer, write_table

    on_event = on_event or _quiet
    started = datetime.now(timezone.utc)
    if report is not None:
        from .report import check_available, run_report

        check_available()  # matplotlib missing: say so before the work
    fmt = format_for(out, fmt, config.output.format)  # an --out's ending, not output.path's
    # out is relative to the working directory, output.path to the config; every output checked before the
    # work: writable, no two of them one file, none of them an input or where the next run would take it for one
    outputs = plan_outputs(out or config.output_path, report)
    out = outputs.ranked
    check_inputs(outputs, input_paths(config, input_dir, model=model, previous=previous, exclude_previous_list=out))
    check_not_inside(outputs, config, input_dir)
    scorer = None
    if model is not None:
        from .model import load_model

        scorer = load_model(model, config)
    with output_lock(out):
        if finish_switch(outputs):  # a run killed while switching its outputs: its new set, made whole
            on_event("score.switch_finished", f"churnscore: finished switching the outputs of a run killed while "
                     f"it did ({outputs.journal})", level="warning", journal=str(outputs.journal))
        remove_stale_temps(out, [p.name for p in outputs.every_path().values()])  # safe under the lock
        for folder in remove_leftovers():  # a killed run's usage rows on disk (GBs at 50 M rows)
            on_event("score.leftover_removed", f"churnscore: removed {folder}, left by a run that was killed",
                     level="warning", folder=str(folder))
        early = EarlyDigests()  # the manifest's input hashes, worked out while the run goes on
        result = pipeline.score(config, input_dir=input_dir, as_of=as_of, rank_by=rank_by, model=scorer,
                                previous=previous, on_stage=on_stage, engine=engine, scheduler=scheduler,
                                on_rows=on_rows, on_loaded=lambda loaded: early.start(
                                    [p for st in loaded.stats.values() for p in st.files]))
        for event, line in result.model_checks.warnings if result.model_checks is not None else []:
            on_event(event, line, level="warning", message=line, **result.model_checks.to_dict())
        problem = loaded_problem(result.loaded, config, strict)
        if problem is not None or not len(result.ranked):  # keep the last good set of outputs; show why, beside it
            rejects = atomic_write(outputs.failed["rejects"], csv_pieces_writer(result.loaded.reject_frames))
            if problem is not None:
                raise RejectLimitError(f"{problem.sentence()} See {rejects}; the previous ranked list was left as "
                                       "it was.")
            # nobody to score (a wrong as-of date, a broken export): under cron, an empty list would replace it
            path = write_table(result.excluded, outputs.failed["excluded"], "csv")
            raise NothingScoredError(f"{nothing_left(result.as_of, result.excluded)}. See {path}; the previous "
                                     "ranked list was left as it was.")
        stages = Stages(on_stage, on_detail, timings=result.timings)  # after pipeline.score's own
        html = None
        if report is not None:  # made before any file is written: a report that fails leaves the list
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
                                  model_hash=scorer.metadata.get("sha256") if scorer is not None else None,
                                  started=started, early=early)
        paths = writer.commit(manifest)
    return ScoreRun(result, paths, summary)


def load_history(config: Config, input_dir: str | Path | None, stages: Stages, *,
                 on_rows: Callable[[str, int], None] | None = None, checked: tuple[str, str] | None = None,
                 strict: bool = False) -> Loaded:
    """The exports read for train, evaluate and tune-rules, in the "load" stage of ``stages`` (a large usage
    export on disk by account: close what this returns when done). ``checked``: (what the rejects would make
    unreliable, what was kept) to stop, as score does, when the rejects pass the limit, or with ``strict`` when
    any row is rejected (rejectpolicy)."""
    from .pipeline import load_exports
    from .rejectpolicy import stop_on_rejects

    stages("load")
    loaded = load_exports(config, input_dir, on_rows=on_rows)
    if checked is not None:
        try:
            stop_on_rejects(loaded, config, *checked, strict=strict)
        except RejectLimitError:
            loaded.close()
            raise
    return loaded


def history_proposal(config: Config, input_dir: str | Path | None, as_of: AsOf | str | None) -> str:
    """validate --history: the login event and key features of the history, as config lines (discover.propose)."""
    from .asof import as_of_for, parse_as_of
    from .discover import propose
    from .pipeline import load_exports

    loaded = load_exports(config, input_dir)
    try:
        return propose(loaded, config, as_of_for(loaded, parse_as_of(as_of)).day)[1]
    finally:
        loaded.close()


@dataclass
class TrainRun:
    """What train did: the model, the file written and its sha256, each stage's seconds, and the login
    event and key features found in the same history (``found``: discover.Discovery or None; ``found_text``
    as config lines to paste)."""

    model: Any
    path: Path
    digest: str
    timings: dict[str, float]
    found: Any
    found_text: str

    def log_fields(self) -> dict[str, Any]:
        """The log's fields for machines (--log-format json)."""
        m, found = self.model.metadata, self.found
        return {"model": str(self.path), "sha256": self.digest, "rows": m["rows"], "churners": m["churners"],
                "observation_dates": m["observation_dates"], "C": m["C"], "train_roc_auc": m["train_roc_auc"],
                "renewal_terms": m["renewal_terms"], "timings_s": rounded(self.timings),
                "login_event": found.login_event if found else None,
                "key_features": found.key_features if found else None}


def train_run(config: Config, model_out: str | Path, *, input_dir: str | Path | None = None,
              as_of: AsOf | str | None = None, on_stage: Callable[[str], None] | None = None,
              on_detail: Callable[[str], None] | None = None,
              on_rows: Callable[[str, int], None] | None = None, strict: bool = False) -> TrainRun:
    """Train the churn model on the history up to ``as_of`` (default: the latest usage date) and write it to
    ``model_out``. Fails as score does (RejectLimitError, nothing written) when the rejects pass
    rejects.max_reject_rate. ``on_stage``/``on_detail``: progress, as Stages tells it."""
    from .asof import as_of_for, parse_as_of
    from .discover import propose
    from .files import ready_to_write
    from .model import save_model, train

    ready_to_write(model_out)
    stages = Stages(on_stage, on_detail)
    loaded = load_history(config, input_dir, stages, on_rows=on_rows, checked=("the model", "No model was written."),
                          strict=strict)
    try:
        when = as_of_for(loaded, parse_as_of(as_of)).day
        model, _ = train(loaded, config, when, stages)
        found, found_text = propose(loaded, config, when)
    finally:
        loaded.close()
    stages("write")
    digest = save_model(model, model_out)
    return TrainRun(model, Path(model_out), digest, stages.stop(), found, found_text)


@dataclass
class FeaturesRun:
    """What features wrote: the feature table (one row per account) and where, as of when, each stage's seconds."""

    table: Any
    path: Path
    as_of: Any
    timings: dict[str, float]

    def log_fields(self) -> dict[str, Any]:
        """The log's fields for machines (--log-format json)."""
        return {"path": str(self.path), "accounts": len(self.table), "features": self.table.shape[1] - 1,
                "as_of": self.as_of.date().isoformat(), "timings_s": rounded(self.timings)}


def features_run(config: Config, out: str | Path, *, input_dir: str | Path | None = None,
                 as_of: AsOf | str | None = None,
                 engine: str = "pandas", scheduler: str | None = None,
                 on_stage: Callable[[str], None] | None = None, on_detail: Callable[[str], None] | None = None,
                 on_rows: Callable[[str, int], None] | None = None) -> FeaturesRun:
    """Write the feature table as score builds it, to ``out`` (.csv, .parquet or .json by its ending)."""
    from . import pipeline
    from .files import ready_to_write
    from .outset import check_ending
    from .write import format_for, write_table

    check_ending(out)  # features.csv.gz would be plain CSV under a compressed name
    ready_to_write(out)
    result = pipeline.score(config, input_dir=input_dir, as_of=as_of, engine=engine, scheduler=scheduler,
                            on_stage=on_stage, on_rows=on_rows)
    table = result.features.reset_index()
    stages = Stages(on_stage, on_detail, timings=result.timings)
    stages("write")
    path = write_table(table, out, format_for(out, None, "csv"))
    stages.stop()
    return FeaturesRun(table, path, result.as_of, result.timings)


@dataclass
class EvaluateRun:
    """What evaluate did: the backtest (evaluate.Backtest), the files written (json, report) and each stage's
    seconds."""

    backtest: Any
    outputs: dict[str, Path]
    timings: dict[str, float]


def evaluate_run(config: Config, *, input_dir: str | Path | None = None, as_of: AsOf | str | None = None,
                 test_dates: int = 2, top_k: int = 100, json_path: str | Path | None = None,
                 report: str | Path | None = None, on_stage: Callable[[str], None] | None = None,
                 on_detail: Callable[[str], None] | None = None, on_rows: Callable[[str, int], None] | None = None,
                 on_backtest: Callable[[Any], None] | None = None, strict: bool = False) -> EvaluateRun:
    """Backtest the scorers on the history up to ``as_of`` (evaluate.backtest) and write its figures as JSON
    (``json_path``) and an HTML report (``report``). ``on_backtest`` is given the backtest before anything is
    written (the CLI prints its table then: a failed write still leaves it on screen). Fails as score does
    (RejectLimitError, nothing written) when the rejects pass rejects.max_reject_rate."""
    from .asof import as_of_for, parse_as_of
    from .evaluate import backtest
    from .files import ready_to_write
    from .write import write_json

    if report is not None:
        from .report import check_available, evaluate_report, write_report

        check_available()
    for path in (json_path, report):
        if path is not None:
            ready_to_write(path)
    stages = Stages(on_stage, on_detail)
    loaded = load_history(config, input_dir, stages, on_rows=on_rows,
                          checked=("the backtest", "Nothing was written."), strict=strict)
    try:
        when = as_of_for(loaded, parse_as_of(as_of)).day
        bt = backtest(loaded, config, when, test_dates=test_dates, top_k=top_k, stages=stages)
    finally:
        loaded.close()
    stages.stop()
    if on_backtest is not None:
        on_backtest(bt)
    stages("write")
    outputs = {}
    if json_path is not None:
        outputs["json"] = write_json(bt.to_dict(), json_path)
    if report is not None:
        outputs["report"] = write_report(evaluate_report(bt), report)
    return EvaluateRun(bt, outputs, stages.stop())


def tune_run(config: Config, out: str | Path, *, input_dir: str | Path | None = None, as_of: AsOf | str | None = None,
             test_dates: int = 2, on_stage: Callable[[str], None] | None = None,
             on_detail: Callable[[str], None] | None = None,
             on_rows: Callable[[str, int], None] | None = None,
             strict: bool = False) -> tuple[Any, Path, dict[str, float]]:
    """Learn the rule weights from the history (tune.tune) and write this config with them to ``out``;
    returns the tuning (tune.Tuned), the path written and each stage's seconds."""
    from .asof import as_of_for, parse_as_of
    from .files import ready_to_write
    from .tune import tune, write_tuned

    ready_to_write(out)
    stages = Stages(on_stage, on_detail)
    loaded = load_history(config, input_dir, stages, on_rows=on_rows,
                          checked=("the rule weights", "No config was written."), strict=strict)
    try:
        tuned = tune(loaded, config, as_of_for(loaded, parse_as_of(as_of)).day, test_dates=test_dates, stages=stages)
    finally:
        loaded.close()
    path = write_tuned(config, tuned, out)
    return tuned, path, stages.stop()


def explain_run(config: Config, account_id: str, *, input_dir: str | Path | None = None,
                as_of: AsOf | str | None = None,
                model: str | Path | None = None, history: list[Path] | None = None) -> str:
    """One account in words (explain.explain_account), with the model file ``model`` loaded when given."""
    from .explain import explain_account

    scorer = None
    if model is not None:
        from .model import load_model

        scorer = load_model(model, config)
    return explain_account(config, account_id, input_dir=input_dir, as_of=as_of, model=scorer,
                           history=list(history or []))


def init_run(directory: Path, *, presets: tuple[str, ...] = (), force: bool = False,
             detect: Path | None = None) -> tuple[str, dict[str, Any]]:
    """Start a team folder (starter.init_project), or with ``detect`` a config reading the exports of that
    folder where they are (detect.init_detected); returns the summary for people and the log's fields."""
    from .runtext import detected_text, init_text
    from .starter import init_project, output_folder

    if detect is None:
        paths = init_project(directory, presets=presets, force=force)
        return init_text(paths, directory), {"outputs": {name: str(path) for name, path in paths.items()}}
    from .detect import init_detected

    config, placed, unplaced = init_detected(directory, detect, force=force,
                                             report=str(output_folder(directory) / "report.html"))
    return detected_text(config, detect, directory, placed, unplaced), {
        "outputs": {"config": str(config)}, "placed": {str(p.path): p.match.candidate.label() for p in placed},
        "unplaced": {str(u.path): u.reason for u in unplaced}}
