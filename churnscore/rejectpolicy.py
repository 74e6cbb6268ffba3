"""The reject policy every command applies: when the rows rejected from the exports stop a run (any with
--strict; else above rejects.max_reject_rate, in all or in any one export). score, train, evaluate and
validate all ask reject_problem, so they stop on the same data and say why in the same words."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .errors import RejectLimitError
from .load import FileStats, Loaded, reject_limit_problem
from .words import count


@dataclass(frozen=True)
class RejectProblem:
    """Why the rejects stop a run: ``reason`` names the counts per export, without the sentence's end."""

    reason: str
    strict: bool = False  # any reject with --strict, rather than too many

    def sentence(self, what: str = "the ranking") -> str:
        """The reason as one sentence: too many rejects make ``what`` (the ranking, the model) unreliable."""
        return f"{self.reason}." if self.strict else f"{self.reason}; {what} would be unreliable."


def reject_problem(stats: dict[str, FileStats], rejected: int, limit: float, *,
                   strict: bool = False) -> RejectProblem | None:
    """Why ``rejected`` rows (per export in ``stats``) stop a run, or None: with ``strict``, any reject;
    otherwise more than ``limit`` (rejects.max_reject_rate) of the rows read, in all or in any one export."""
    if strict and rejected:
        per = ", ".join(f"{name}: {st.rows_rejected:,}" for name, st in stats.items() if st.rows_rejected)
        said = count(rejected, "input row")
        return RejectProblem(f"{said} rejected ({per}) and --strict is set" if per else
                             f"{said} rejected and --strict is set", strict=True)
    problem = reject_limit_problem(stats, limit)
    return None if problem is None else RejectProblem(problem)


def loaded_problem(loaded: Loaded, config: Config, strict: bool = False) -> RejectProblem | None:
    """reject_problem for what was loaded, under the config's rejects.max_reject_rate."""
    return reject_problem(loaded.stats, loaded.reject_count, config.rejects.max_reject_rate, strict=strict)


def first_reject(loaded: Loaded) -> str | None:
    """The first rejected row as 'file:line: reason', or None when nothing was rejected."""
    for frame in loaded.reject_frames():
        if len(frame):
            row = frame.iloc[0]
            return f"{row['file']}:{row['line']}: {row['reason']}"
    return None


def stop_on_rejects(loaded: Loaded, config: Config, what: str, kept: str, strict: bool = False) -> None:
    """Raise RejectLimitError when the rejects stop a run that writes no rejects file (train, evaluate): the
    reason as score gives it, the first reject and where to see them all, then what was kept (``kept``)."""
    problem = loaded_problem(loaded, config, strict)
    if problem is None:
        return
    first = first_reject(loaded)
    where = f" The first: {first}; 'churnscore validate' lists them all." if first else ""
    raise RejectLimitError(f"{problem.sentence(what)}{where} {kept}")
