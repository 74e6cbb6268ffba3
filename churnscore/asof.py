"""The as-of date: what a command was given (--as-of), or the default read off the exports, and the day the
accounts export describes."""

from __future__ import annotations

from dataclasses import dataclass

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


def default_as_of(loaded: Loaded, today: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest calendar day in the usage export, among rows not past the horizon (see horizon_end)."""
    ts = loaded.frame("usage")["timestamp"]
    beyond = beyond_horizon(loaded, today)
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


def accounts_date(loaded: Loaded, config: Config) -> pd.Timestamp:
    """The day the accounts export describes: inputs.accounts.snapshot_date, else the latest usage date (the
    default as-of). On it the export's renewal dates are used as they are; earlier days step them back."""
    given = config.inputs["accounts"].snapshot_date if "accounts" in config.inputs else None
    return pd.Timestamp(given) if given is not None else default_as_of(loaded)


def parse_as_of(text: str | None) -> pd.Timestamp | None:
    """A date from the command line as a UTC calendar day (an offset is converted to UTC first)."""
    if text is None:
        return None
    try:
        when = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InputDataError(f"--as-of: '{text}' is not a date (use YYYY-MM-DD).") from None
    if when.tz is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when.normalize()


def resolve_as_of(loaded: Loaded, as_of: str | pd.Timestamp | None) -> tuple[pd.Timestamp, str]:
    """The as-of day and where it came from: the one given, or the latest usage date."""
    if isinstance(as_of, str):
        as_of = parse_as_of(as_of)
    if as_of is None:
        return default_as_of(loaded), "latest usage date"
    return pd.Timestamp(as_of).normalize(), "--as-of"
