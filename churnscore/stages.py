"""How long each stage of a command takes (the summary's timings), told to a progress display as each starts."""

from __future__ import annotations

import time
from collections.abc import Callable


class Stages:
    """Call with a stage's name as it starts; a stage lasts until the next starts or stop() is called.

    ``timings`` holds the seconds of each stage done, in order; ``on_stage`` (e.g. terminal.StageLine) is
    told each name as it starts, and ``on_detail`` (e.g. StageLine.detail) what a stage is at within it.
    """

    def __init__(self, on_stage: Callable[[str], None] | None = None,
                 on_detail: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter, timings: dict[str, float] | None = None) -> None:
        self.timings: dict[str, float] = {} if timings is None else timings  # (given: stages added to it)
        self.on_stage = on_stage
        self.on_detail = on_detail
        self.clock = clock
        self.current: str | None = None
        self.started = 0.0

    def __call__(self, stage: str) -> None:
        now = self.clock()
        self._end(now)
        self.current, self.started = stage, now
        if self.on_stage is not None:
            self.on_stage(stage)

    def detail(self, text: str) -> None:
        if self.on_detail is not None:
            self.on_detail(text)

    def stop(self) -> dict[str, float]:
        """End the stage running (if any); returns the timings."""
        if self.current is not None:
            self._end(self.clock())
        return self.timings

    def _end(self, now: float) -> None:
        if self.current is not None:
            self.timings[self.current] = self.timings.get(self.current, 0.0) + now - self.started
            self.current = None


def rounded(timings: dict[str, float]) -> dict[str, float]:
    """Timings as logs and the manifest give them: to the millisecond."""
    return {k: round(v, 3) for k, v in timings.items()}
