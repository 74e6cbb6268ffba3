"""Numbers and times as people's files hold them: a decimal comma and thousands separators (a spreadsheet
saved in a European locale writes "104,40" and "1.234,56"), hours without zero padding ("2025-02-27 9:56"),
a trailing " UTC" (Segment's warehouse tables), epoch seconds or milliseconds, and times without an offset
in a stated time zone. parse.py calls these for the text that its fast typed path could not convert.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SPACES = "[\\s\u00a0\u202f']"  # thousands grouped by a space, a no-break space or an apostrophe (Swiss)
# evidence that a comma (resp. point) is the decimal mark: it is followed by other than three digits, or it
# comes after the other mark ("1.234,56"), or the other mark groups thousands twice ("1.234.567")
_COMMA_DECIMAL = r"^[+-]?\d*,(?:\d{1,2}|\d{4,})$|\.\d{3},\d+$|^[+-]?\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?$"
_POINT_DECIMAL = r"^[+-]?\d*\.(?:\d{1,2}|\d{4,})$|,\d{3}\.\d+$|^[+-]?\d{1,3}(?:,\d{3}){2,}(?:\.\d+)?$"


def decimal_mark(text: pd.Series) -> str | None:
    """The column's decimal mark, "," or ".", when its values show it; None when no value tells (every
    separator could group thousands, as in "1,234") or values contradict each other."""
    comma = text.str.contains(_COMMA_DECIMAL, regex=True, na=False).any()
    point = text.str.contains(_POINT_DECIMAL, regex=True, na=False).any()
    if comma == point:
        return None
    return "," if comma else "."


def parse_numbers(text: pd.Series, decimal: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """float64 of number text with thousands separators and either decimal mark, and the mask of values
    left unread because their separator is ambiguous ("1,234": 1234 or 1.234?) with ``decimal`` None.
    ``decimal``: the mark the export uses (inputs.<name>.decimal); None: as the column shows it. A value
    whose thousands groups are not three digits ("1,23,4") is not a number (NaN)."""
    s = text.astype("object").where(text.notna()).astype("str").str.strip()
    s = s.str.replace(f"(?<=\\d){_SPACES}(?=\\d{{3}})", "", regex=True)
    mark = decimal or decimal_mark(s)
    comma = s.str.contains(",", regex=False, na=False)
    plain = pd.to_numeric(s.where(~comma), errors="coerce").astype("float64")  # as before: "5", "1e5", "inf"
    if mark is None:  # only values without a comma read, as written
        ambiguous = s.str.contains(r"^[+-]?\d{1,3}(?:[,.]\d{3})+$", regex=True, na=False).to_numpy() & \
            comma.to_numpy()
        return plain, ambiguous
    group = "." if mark == "," else ","
    g, d = ("\\" + group), ("\\" + mark)
    pattern = rf"[+-]?(?:\d{{1,3}}(?:{g}\d{{3}})+|\d+)(?:{d}\d*)?|[+-]?{d}\d+"
    ok = s.str.fullmatch(pattern, na=False)
    norm = s.where(ok).str.replace(group, "", regex=False).str.replace(mark, ".", regex=False)
    out = pd.to_numeric(norm, errors="coerce").astype("float64")
    other = s.str.contains(group, regex=False, na=False)  # "inf", "1e5": read as before
    return out.fillna(plain.where(~other & ~comma)), np.zeros(len(s), bool)


_HOUR = r"^(\d{4}-\d{2}-\d{2})[ T](\d)(?=:)"  # "2025-02-27 9:56" -> "2025-02-27 09:56"
# a zone named by its abbreviation after the time ("... 08:00:00.281 UTC", Recurly's "... 12:01:33 PST")
ZONE_ABBREVIATIONS = {"UTC": "+00:00", "GMT": "+00:00", "Z": "+00:00", "PST": "-08:00", "PDT": "-07:00",
                      "MST": "-07:00", "MDT": "-06:00", "CST": "-06:00", "CDT": "-05:00", "EST": "-05:00",
                      "EDT": "-04:00", "BST": "+01:00", "CET": "+01:00", "CEST": "+02:00"}
_UTC = r"(?<=\d)\s+(?:" + "|".join(k for k in ZONE_ABBREVIATIONS if k != "Z") + ")$"
_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"  # an offset after the time


def parse_times(text: pd.Series, timezone: str | None = None) -> pd.Series:
    """tz-aware UTC datetimes of ISO 8601 text (hours with one digit, a trailing " UTC") or of epoch times
    (seconds, or milliseconds above 1e11: no date before 1973 is written so); text without an offset is in
    ``timezone`` (None: UTC). Unreadable values are NaT."""
    s = text.astype("object").where(text.notna()).astype("str").str.strip()
    s = s.str.replace(_HOUR, r"\1 0\2", regex=True)
    zone = s.str.extract(f"({_UTC})", flags=re.IGNORECASE, expand=False).str.strip().str.upper()
    named = zone.notna()
    if named.any():
        s = s.where(~named, s.str.replace(_UTC, "", regex=True, case=False) + zone.map(ZONE_ABBREVIATIONS))
    parts = []  # in microseconds: year 1 and 9999-12-31 fit (the caller rejects what nanoseconds cannot hold)
    number = s.str.fullmatch(r"\d{9,14}(?:\.\d+)?", na=False)
    if number.any():
        value = pd.to_numeric(s[number], errors="coerce")
        millis = value >= 1e11  # each in its own unit: ms / 1000 as a float is off by a microsecond
        for unit, part in (("s", value[~millis]), ("ms", value[millis])):
            if len(part):
                parts.append(pd.to_datetime(part, unit=unit, utc=True, errors="coerce"))
    rest = text.notna() & ~number & (s != "")
    offset = s.str.contains(_OFFSET, regex=True, na=False) & rest
    if offset.any():
        parts.append(pd.to_datetime(s[offset], format="ISO8601", utc=True, errors="coerce"))
    naive = rest & ~offset
    if naive.any():
        local = pd.to_datetime(s[naive], format="ISO8601", errors="coerce")
        if timezone and timezone != "UTC":
            local = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        else:
            local = local.dt.tz_localize("UTC")
        parts.append(local)
    parts = [p.astype("datetime64[us, UTC]") for p in parts if len(p)]
    if not parts:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    return pd.concat(parts).reindex(text.index)


def parse_formatted(text: pd.Series, fmt: str, timezone: str | None = None) -> pd.Series:
    """tz-aware UTC datetimes of text in the strftime format ``fmt`` (inputs.<name>.date_format); times without
    an offset are in ``timezone`` (None: UTC). Unreadable values are NaT."""
    if not timezone or timezone == "UTC":
        return pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
    local = pd.to_datetime(text, format=fmt, errors="coerce")
    if getattr(local.dt, "tz", None) is not None:  # the format reads an offset (%z)
        return local.dt.tz_convert("UTC")
    return local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
