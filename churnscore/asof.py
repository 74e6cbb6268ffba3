"""The as-of date: what a command was given (--as-of), or the default read off the exports, and the day the
accounts export describes. A run makes one AsOf (parse_as_of, then as_of_for) and passes it inward; the
feature kernels take its ``day``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from .config import Config
from .errors import InputDataError
from .limits import FUTURE_DAYS, horizon_end
from .load import Loaded


@dataclass(frozen=True)
class BeyondHorizon:
    """Usage rows dated past the horizon, which the default as-of date ignored."""

    rows: int
    latest: pd.Timestamp | None
    end: pd.Timestamp  # the first instant ignored

    def said(self) -> str:
        latest = f"; the latest {self.latest.date()}" if self.latest is not None else ""
        return (f"usage: {self.rows:,} row{'s' * (self.rows != 1)} dated after "
                f"{(self.end - pd.Timedelta(days=1)).date()} (the run date plus {FUTURE_DAYS} day"
                f"{'s' * (FUTURE_DAYS != 1)}{latest})")

    def warning(self) -> str:
        return f"{self.said()} ignored for the default as-of date; fix the export's dates, or pass --as-of."


def beyond_horizon(loaded: Loaded, today: pd.Timestamp | None = None) -> BeyondHorizon:
    """The usage rows the default as-of date ignores as implausible (see horizon_end)."""
    end = horizon_end(today)
    ts = loaded.frame("usage")["timestamp"]
    later = ts[ts >= end]
    spill = loaded.spilled.get("usage")
    rows = spill.after(end) if spill is not None else len(later)  # a spill's frame holds two dates per account
    return BeyondHorizon(int(rows), later.max() if len(later) else None, end)


def latest_usage_day(loaded: Loaded, beyond: BeyondHorizon) -> pd.Timestamp:
    """The latest calendar day in the usage export, among rows before ``beyond.end`` (beyond_horizon's)."""
    ts = loaded.frame("usage")["timestamp"]
    if beyond.rows:
        ts = ts[ts < beyond.end]
    if ts.notna().sum() == 0 and beyond.rows:
        raise InputDataError(f"{beyond.said()} and no usage row before: no default as-of date; fix the "
                             "export's dates, or pass --as-of YYYY-MM-DD.")
    if ts.notna().sum() == 0:
        st = loaded.stats.get("usage")
        where = ", ".join(str(p) for p in st.files) if st is not None else "usage"
        counts = f" ({st.rows_rejected:,} of {st.rows_read:,} rows rejected)" if st is not None else ""
        raise InputDataError(f"{where}: no usable usage row{counts}; cannot pick a default as-of date "
                             "(fix the export, or pass --as-of YYYY-MM-DD and see the rejects file).",
                             file=where if st is not None and len(st.files) == 1 else None)
    return ts.max().normalize()


GIVEN = "--as-of"  # AsOf.source of a date the command was given
LATEST = "latest usage date"  # AsOf.source of the default


@dataclass(frozen=True)
class AsOf:
    """The day a run looks from, made once per run (parse_as_of, as_of_for) and passed inward.

    ``day``: a UTC calendar day, as a timezone-naive midnight Timestamp; ``source``: GIVEN or LATEST;
    ``beyond``: with the default, the usage rows past the horizon it ignored (None: there were none).
    """

    day: pd.Timestamp
    source: str
    beyond: BeyondHorizon | None = None

    @property
    def end(self) -> pd.Timestamp:
        """The first instant after the day: rows dated on or after it are after the as-of date."""
        return self.day + pd.Timedelta(days=1)


def parse_as_of(value: AsOf | str | date | pd.Timestamp | None) -> AsOf | None:
    """A date as given (--as-of, or a date or Timestamp from Python) as a UTC calendar day: an offset is
    converted to UTC first; the time of day is dropped. An AsOf is returned as it is, None as None."""
    if value is None or isinstance(value, AsOf):
        return value
    try:
        when = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputDataError(f"--as-of: '{value}' is not a date (use YYYY-MM-DD).") from None
    if when is pd.NaT:
        raise InputDataError(f"--as-of: '{value}' is not a date (use YYYY-MM-DD).")
    if when.tz is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return AsOf(when.normalize(), GIVEN)


def as_of_for(loaded: Loaded, given: AsOf | None, today: pd.Timestamp | None = None, *,
              beyond: BeyondHorizon | None = None) -> AsOf:
    """The run's as-of date: the one given (parse_as_of), or the latest usage date (latest_usage_day) with the
    rows past the horizon it ignored (``beyond``: beyond_horizon's, when already worked out; ``today``: the
    run date, None for now)."""
    if given is not None:
        return given
    beyond = beyond if beyond is not None else beyond_horizon(loaded, today)
    return AsOf(latest_usage_day(loaded, beyond), LATEST, beyond if beyond.rows else None)


def accounts_date(loaded: Loaded, config: Config, as_of: AsOf | None = None) -> pd.Timestamp:
    """The day the accounts export describes: inputs.accounts.snapshot_date, else the latest usage date (the
    default as-of; taken from ``as_of`` when that is the default). On it the export's renewal dates are used
    as they are; earlier days step them back."""
    given = config.inputs["accounts"].snapshot_date if "accounts" in config.inputs else None
    if given is not None:
        return pd.Timestamp(given)
    return as_of.day if as_of is not None and as_of.source == LATEST else as_of_for(loaded, None).day
