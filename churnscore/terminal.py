"""Output for a person at a terminal: the top of the ranked list as a table, and which stage is running.

The CLI uses these only when stderr is a terminal; under cron (no terminal) a run prints its plain summary,
with no progress line and no colour. NO_COLOR in the environment, or TERM=dumb, turns colour off too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import IO, Any

import click
import pandas as pd

from .limits import printable  # one sanitiser for text from data
from .words import decimals, money, signed  # one place says numbers

TIER_COLOURS = {"high": "red", "medium": "yellow", "low": "green"}
STAGE_WORDS = {"load": "reading the exports", "features": "computing features", "score": "scoring accounts",
               "write": "writing the outputs", "report": "rendering the report",
               "snapshots": "computing snapshots", "choose_c": "choosing C", "fit": "fitting the model",
               "test": "testing the scorers"}


def is_terminal(stream: IO[Any]) -> bool:
    """True when ``stream`` is a terminal that can show a progress line (not a pipe, file or dumb terminal)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


def wants_colour(stream: IO[Any]) -> bool:
    return is_terminal(stream) and "NO_COLOR" not in os.environ


def _fit(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _money(value: Any) -> str:
    return "" if pd.isna(value) else money(float(value))


def _change(row: pd.Series) -> str:
    if "score_change" not in row.index:
        return ""
    if pd.isna(row["previous_score"]):
        return "new"
    return signed(row["score_change"])


def top_table(ranked: pd.DataFrame, n: int = 10, *, colour: bool = False, width: int = 100) -> str:
    """The first ``n`` rows of the ranked list as a fixed-width table: rank, account, score, tier, revenue at
    risk per month, change since the previous list (when known) and the first reason, cut to ``width``."""
    rows = ranked.head(n)
    movers = "score_change" in ranked.columns
    name_w = 24
    head = f"{'#':>3}  {'account':<{name_w}}  {'score':>5}  {'tier':<6}  {'at risk/mo':>10}"
    if movers:
        head += f"  {'change':>6}"
    reason_w = max(width - len(head) - 2, 12)
    lines = [head + "  top reason"]
    for _, r in rows.iterrows():
        name = printable(r["account_name"] if isinstance(r["account_name"], str) and r["account_name"]
                         else r["account_id"])
        tier = f"{r['risk_tier']:<6}"
        if colour:
            tier = click.style(tier, fg=TIER_COLOURS.get(r["risk_tier"]), bold=r["risk_tier"] == "high")
        line = (f"{int(r['rank']):>3}  {_fit(name, name_w):<{name_w}}  {decimals(r['risk_score'], 1):>5}  {tier}  "
                f"{_money(r['revenue_at_risk']):>10}")
        if movers:
            line += f"  {_change(r):>6}"
        reason = printable(str(r["reasons"]).split("; ")[0] if isinstance(r["reasons"], str) and r["reasons"] else "-")
        lines.append(line + "  " + _fit(reason, reason_w))
    if len(ranked) > n:
        lines.append(f"     ... {len(ranked) - n:,} more in the ranked list")
    return "\n".join(lines)


class StageLine:
    """A one-line progress display on a terminal, rewritten in place: the stage running, with the time each
    earlier stage took ("churnscore: computing features ... (load 18.1 s)"), and while the exports are read,
    the rows read so far ("churnscore: reading the exports ... usage: 12,400,000 rows").

    While a line is shown the instance is registered, so an error message can clear it first (clear_progress).
    """

    EVERY = 0.25  # seconds between two rewrites of the rows read (a batch takes a few hundredths)

    def __init__(self, stream: IO[Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.stage: str | None = None
        self.started = 0.0
        self.took: list[str] = []  # "load 18.1 s", ... of the stages done
        self.shown_rows = float("-inf")  # when the rows read were last written

    def __call__(self, stage: str) -> None:
        now = self.clock()
        if self.stage is not None:
            self.took.append(f"{self.stage} {decimals(now - self.started, 1)} s")
        self.stage, self.started = stage, now
        self._write(f"{STAGE_WORDS.get(stage, stage)} ..." + (f" ({', '.join(self.took)})" if self.took else ""))

    def rows(self, export: str, read: int) -> None:
        """Rows read so far of an export; written at most every EVERY seconds."""
        now = self.clock()
        if now - self.shown_rows < self.EVERY:
            return
        self.shown_rows = now
        self.detail(f"{export}: {read:,} rows")

    def detail(self, text: str) -> None:
        """What the stage running is at ("computing snapshots ... 2026-03-05, 3 of 12")."""
        self._write(f"{STAGE_WORDS.get(self.stage or 'load', self.stage)} ... {text}")

    def _write(self, text: str) -> None:
        self.stream.write(f"\r\033[Kchurnscore: {text}")
        self.stream.flush()
        if self not in _SHOWN:
            _SHOWN.append(self)

    def clear(self) -> None:
        if self in _SHOWN:
            _SHOWN.remove(self)
            self.stream.write("\r\033[K")
            self.stream.flush()


_SHOWN: list[StageLine] = []


def clear_progress() -> None:
    """Clear any progress line still shown (before an error message)."""
    for line in list(_SHOWN):
        line.clear()


def stage_line(stream: IO[Any], enabled: bool = True) -> StageLine | None:
    """A StageLine on ``stream`` when it is a terminal (and ``enabled``), else None: no progress under cron."""
    return StageLine(stream) if enabled and is_terminal(stream) else None
