"""Issue 4, property-based: the loader and the features on inputs hypothesis makes up.

- any small valid export set (CSV text written with any separator, BOM, line ending, column order, header case,
  quoting, gzip) loads with zero rejects, every row kept, ids exactly as written (trimmed);
- features computed from any small valid nps / tickets / payments / accounts rows stay finite and inside each
  catalogue Feature's documented low/high;
- any broken input (random bytes, random cells in date and number columns, missing columns, random separators)
  ends in a ChurnscoreError with a one-line message, or loads with every row either kept or counted as a
  reject; never any other exception.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from conftest import AS_OF, config, frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnscore.config import parse_config
from churnscore.contract import EXPORTS
from churnscore.errors import ChurnscoreError, InputDataError
from churnscore.features import CATALOGUE, FEATURE_NAMES, build_features
from churnscore.load import Loaded, load_all
from churnscore.pipeline import score

T = TypeVar("T")
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def folder() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is shared by all examples of one test)."""
    d = Path(tempfile.mkdtemp(prefix="churnscore-prop-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def clear_error_or(fn: Callable[[], T]) -> T | None:
    """fn(), or None when it raised a ChurnscoreError with a one-line message. Any other exception fails the test."""
    try:
        return fn()
    except ChurnscoreError as exc:
        message = str(exc)
        assert message and message == message.strip() and len(message.splitlines()) == 1, repr(message)
        return None


def assert_accounted(loaded: Loaded) -> None:
    """Every row read is either in the typed frame or in the rejects, once; kept rows keep the contract."""
    for name, st_ in loaded.stats.items():
        frame = loaded.frames[name]
        assert st_.rows_read == len(frame) + st_.rows_rejected, name
        assert (loaded.rejects["file"].astype(str).isin([str(p) for p in st_.files]).sum()
                == st_.rows_rejected), name
        for col in EXPORTS[name].columns:
            values = frame[col.name]
            if col.required:
                assert values.notna().all(), (name, col.name)
            if col.kind in ("float", "int"):
                v = values.dropna().to_numpy(dtype="float64")
                assert np.isfinite(v).all(), (name, col.name)
                if col.min is not None:
                    assert (v >= col.min).all(), (name, col.name)
                if col.max is not None:
                    assert (v <= col.max).all(), (name, col.name)
            if col.kind in ("date", "datetime"):
                assert values.dtype == "datetime64[ns]", (name, col.name)
    lines = loaded.rejects["line"].to_numpy(dtype="int64")
    assert (lines >= 2).all()


# ----------------------------------------------------------------------------- valid exports as CSV text

ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,6}", fullmatch=True)
SAFE_TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
                              st.sampled_from(list(",;|\"' "))), max_size=8)
INSTANT = st.datetimes(min_value=datetime(2022, 1, 1), max_value=datetime(2024, 6, 30)).map(
    lambda d: d.replace(microsecond=0, tzinfo=timezone.utc))
OFFSET = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timedelta(minutes=15 * q))


def iso(instant: datetime, style: str, offset: timedelta) -> str:
    """One instant written the ways exports write it: Z, an offset, naive UTC, or (lossy) the date only."""
    if style == "Z":
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "offset":
        return instant.astimezone(timezone(offset)).isoformat()
    if style == "naive":
        return instant.strftime("%Y-%m-%d %H:%M:%S")
    return instant.strftime("%Y-%m-%d")


STYLE = st.sampled_from(["Z", "offset", "naive", "date"])
EXACT_STYLE = st.sampled_from(["Z", "offset", "naive"])


def when(style: st.SearchStrategy[str] = STYLE) -> st.SearchStrategy[str]:
    return st.builds(iso, INSTANT, style, OFFSET)


def number(low: float, high: float, whole: bool = False) -> st.SearchStrategy[str]:
    if whole:
        return st.integers(int(low), int(high)).map(str)
    return st.floats(low, high, allow_nan=False).map(lambda x: repr(round(x, 4)))


def maybe(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), s)


def padded(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["", " ", "  "]), s, st.sampled_from(["", " "])).map("".join)


@st.composite
def ticket_row(draw: st.DrawFn) -> dict[str, str]:
    created = draw(INSTANT)
    resolved = created + timedelta(seconds=draw(st.integers(0, 90 * 86400)))
    return {"account_id": draw(padded(ID)),
            "created_at": draw(st.builds(iso, st.just(created), STYLE, OFFSET)),
            "resolved_at": draw(st.one_of(st.just(""), st.builds(iso, st.just(resolved), EXACT_STYLE, OFFSET))),
            "status": draw(st.sampled_from(["open", "pending", "solved", "closed", "Solved", ""])),
            "priority": draw(st.sampled_from(["low", "normal", "high", "URGENT", ""])),
            "category": draw(maybe(SAFE_TEXT)), "csat": draw(maybe(number(1, 5)))}


ROWS: dict[str, st.SearchStrategy[dict[str, str]]] = {
    "accounts": st.fixed_dictionaries({
        "account_name": SAFE_TEXT, "plan": maybe(SAFE_TEXT), "mrr": maybe(number(0, 1e5)),
        "seats": maybe(number(0, 500, whole=True)), "signup_date": maybe(when()), "renewal_date": maybe(when()),
        "auto_renew": st.sampled_from(["", "true", "False", "yes", "NO", "1", "0", "y", "n"]),
        "segment": maybe(SAFE_TEXT), "churn_date": maybe(when())}),
    "usage": st.fixed_dictionaries({
        "account_id": padded(ID), "timestamp": when(), "event": maybe(SAFE_TEXT),
        "count": maybe(number(0, 10**6, whole=True)), "duration_seconds": maybe(number(0, 86400))}),
    "nps": st.fixed_dictionaries({
        "account_id": padded(ID), "responded_at": when(), "score": number(0, 10, whole=True),
        "comment": st.one_of(SAFE_TEXT, st.just("two\nlines"))}),
    "tickets": ticket_row(),
    "payments": st.fixed_dictionaries({
        "account_id": padded(ID), "due_date": when(), "amount": number(0, 1e5),
        "paid_at": maybe(when(EXACT_STYLE)), "status": st.sampled_from(["paid", "failed", "open", "refunded", ""]),
        "failure_reason": st.sampled_from(["", "card_declined", "expired_card"]),
        "payment_method": st.sampled_from(["", "card", "invoice", "ach"]), "card_expiry": maybe(when())}),
}
UNIQUE = {"usage": "user_id", "nps": "user_id", "tickets": "ticket_id", "payments": "payment_id"}


@st.composite
def export_set(draw: st.DrawFn) -> dict[str, list[dict[str, str]]]:
    """Rows of usage (always) and of any of the other exports (accounts with a row at least); no exact
    duplicates, no repeated keys."""
    out: dict[str, list[dict[str, str]]] = {}
    for name in EXPORTS:
        if name != "usage" and not draw(st.booleans()):
            continue
        n = draw(st.integers(1 if name in ("usage", "accounts") else 0, 6))  # an empty accounts list stops a run
        if name == "accounts":
            ids = draw(st.lists(ID, min_size=n, max_size=n, unique_by=str.lower))
            rows = [{"account_id": draw(padded(st.just(i))), **draw(ROWS[name])} for i in ids]
        else:
            rows = [{**draw(ROWS[name]), UNIQUE[name]: f"k{i}"} for i in range(n)]
        out[name] = rows
    return out


@st.composite
def csv_layout(draw: st.DrawFn) -> dict[str, Any]:
    return {"sep": draw(st.sampled_from([",", ";", "\t", "|"])), "bom": draw(st.booleans()),
            "crlf": draw(st.booleans()), "gzip": draw(st.booleans()), "upper": draw(st.booleans()),
            "shuffle": draw(st.randoms(use_true_random=False)), "quote_all": draw(st.booleans())}


def csv_text(rows: list[dict[str, str]], columns: list[str], layout: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=layout["sep"], lineterminator="\r\n" if layout["crlf"] else "\n",
                        quoting=csv.QUOTE_ALL if layout["quote_all"] else csv.QUOTE_MINIMAL)
    writer.writerow([c.upper() if layout["upper"] else c for c in columns])
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return ("\ufeff" if layout["bom"] else "") + buf.getvalue()


def write_export(d: Path, name: str, text: str, gz: bool) -> Path:
    if gz:
        path = d / f"{name}.csv.gz"
        with gzip.open(path, "wb") as fh:
            fh.write(text.encode("utf-8"))
    else:
        path = d / f"{name}.csv"
        path.write_bytes(text.encode("utf-8"))
    return path


@settings(max_examples=40, **SETTINGS)
@given(exports=export_set(), layout=csv_layout())
def test_any_small_valid_export_set_loads_with_zero_rejects(exports, layout):
    with folder() as d:
        for name, rows in exports.items():
            columns = [c.name for c in EXPORTS[name].columns] + ["extra_column"]
            layout["shuffle"].shuffle(columns)
            write_export(d, name, csv_text(rows, columns, layout), layout["gzip"])
        loaded = load_all(config(base_dir=d), d)
        assert loaded.rejects.values.tolist() == []
        assert_accounted(loaded)
        for name, rows in exports.items():
            frame = loaded.frames[name]
            assert len(frame) == len(rows), name
            assert frame["account_id"].astype(str).tolist() == [r["account_id"].strip() for r in rows], name
        result = score(config(base_dir=d), loaded=loaded, as_of=AS_OF)
        summary = result.summary()
        assert summary["accounts_in_inputs"] == summary["accounts_scored"] + sum(
            summary["accounts_excluded"].values())


# ----------------------------------------------------------------------------- features in their documented range

AGE = st.integers(min_value=-5 * 86400, max_value=400 * 86400)


def at(age_seconds: int) -> str:
    return (AS_OF + pd.Timedelta(hours=12) - pd.Timedelta(seconds=age_seconds)).isoformat()


ACCOUNT_IDS = ["A", "B", "C", "D"]
nps_row = st.fixed_dictionaries({"account_id": st.sampled_from(ACCOUNT_IDS + ["X"]), "responded_at": AGE.map(at),
                                 "score": st.integers(0, 10)})


@st.composite
def typed_ticket(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(AGE)
    resolved = draw(st.one_of(st.none(), st.integers(0, created + 5 * 86400).map(lambda s: at(created - s))))
    return {"ticket_id": None, "account_id": draw(st.sampled_from(ACCOUNT_IDS + ["X"])), "created_at": at(created),
            "resolved_at": resolved, "status": draw(st.sampled_from([None, "open", "solved", "closed", "pending"])),
            "priority": draw(st.sampled_from([None, "low", "high", "urgent"])),
            "category": draw(st.sampled_from([None, "billing", "bug", "login"])),
            "csat": draw(st.one_of(st.none(), st.floats(1, 5)))}


payment_row = st.fixed_dictionaries({
    "payment_id": st.none(), "account_id": st.sampled_from(ACCOUNT_IDS + ["X"]),
    "due_date": st.integers(-40, 400).map(lambda a: (AS_OF - pd.Timedelta(days=a)).date().isoformat()),
    # invoices are in cents; a subnormal earlier amount (1e-313) makes mrr_change_pct_90d overflow to inf
    "amount": st.integers(0, 500_000).map(lambda cents: cents / 100),
    "paid_at": st.one_of(st.none(), AGE.map(at)),
    "status": st.sampled_from([None, "paid", "failed", "open", "refunded", "void"]),
    "failure_reason": st.sampled_from([None, "expired_card", "card_declined", "insufficient_funds"]),
    "payment_method": st.sampled_from([None, "card", "invoice", "ach"]),
    "card_expiry": st.one_of(st.none(), st.integers(-400, 800).map(
        lambda a: (AS_OF - pd.Timedelta(days=a)).date().isoformat()))})
account_row = st.fixed_dictionaries({
    "account_id": st.sampled_from(ACCOUNT_IDS), "mrr": st.one_of(st.none(), st.floats(0, 1e5)),
    "seats": st.one_of(st.none(), st.integers(0, 50)),
    "signup_date": st.one_of(st.none(), st.integers(0, 900).map(lambda a: (AS_OF - pd.Timedelta(days=a)).date()
                                                                  .isoformat())),
    "renewal_date": st.one_of(st.none(), st.integers(-400, 400).map(
        lambda a: (AS_OF - pd.Timedelta(days=a)).date().isoformat())),
    "auto_renew": st.one_of(st.none(), st.sampled_from([0.0, 1.0]))})
usage_row = st.fixed_dictionaries({
    "account_id": st.sampled_from(ACCOUNT_IDS), "timestamp": AGE.map(at),
    "user_id": st.sampled_from([None, "u1", "u2"]), "event": st.sampled_from([None, "login", "report_created"]),
    "count": st.integers(0, 5), "duration_seconds": st.one_of(st.none(), st.floats(0, 5000))})


def keyed(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [{**r, key: f"k{i}"} for i, r in enumerate(rows)]


@settings(max_examples=60, **SETTINGS)
@given(nps=st.lists(nps_row, max_size=8), tickets=st.lists(typed_ticket(), max_size=8),
       payments=st.lists(payment_row, max_size=8), accounts=st.lists(account_row, max_size=4, unique_by=lambda r: r["account_id"]),
       usage=st.lists(usage_row, max_size=4))
def test_nps_ticket_payment_and_account_features_stay_in_their_documented_range(nps, tickets, payments, accounts,
                                                                                usage):
    index = pd.Index(ACCOUNT_IDS, name="account_id", dtype="str")
    given_frames = frames(nps=nps, tickets=keyed(tickets, "ticket_id"), payments=keyed(payments, "payment_id"),
                          accounts=accounts, usage=usage)
    table = build_features(given_frames, index, AS_OF, parse_config({}))
    assert list(table.columns) == list(FEATURE_NAMES)
    assert table.index.equals(index)
    for f in CATALOGUE:
        values = table[f.name].dropna().to_numpy(dtype="float64")
        assert np.isfinite(values).all(), f.name
        if f.low is not None:
            assert (values >= f.low).all(), (f.name, values.tolist())
        if f.high is not None:
            assert (values <= f.high).all(), (f.name, values.tolist())


# ----------------------------------------------------------------------------- broken input


@settings(max_examples=40, **SETTINGS)
@given(data=st.binary(max_size=300), which=st.sampled_from(["usage", "nps", "tickets", "payments", "accounts"]),
       gz=st.booleans())
def test_random_bytes_end_in_a_clear_error_or_counted_rejects(data, which, gz):
    with folder() as d:
        if which != "usage":
            (d / "usage.csv").write_text("account_id,timestamp\nA1,2024-03-01\n")
        name = f"{which}.csv.gz" if gz and data[:1] != b"\x1f" else f"{which}.csv"
        (d / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        loaded = clear_error_or(lambda: load_all(config(base_dir=d), d))
        if loaded is not None:
            assert_accounted(loaded)


CELL = st.one_of(st.text(max_size=12), st.sampled_from(["", "NaN", "inf", "-inf", "1e400", "-0", "0x10", "1,5",
                                                       "99999999999999999999", "0001-01-01", "9999-12-31",
                                                       "2024-02-30", "2024-03-01T25:00", "now", "-1", "11", "3.5"]))


@st.composite
def broken_export(draw: st.DrawFn) -> tuple[str, str]:
    """A CSV for one export with random cells in its date and number columns (and sometimes anywhere),
    some columns dropped, any separator, sometimes a row of the wrong width."""
    name = draw(st.sampled_from(list(EXPORTS)))
    export = EXPORTS[name]
    columns = [c.name for c in export.columns]
    if draw(st.integers(0, 4)) == 0:
        columns = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=len(columns), unique=True))
    typed_cols = {c.name for c in export.columns if c.kind != "string"}
    anywhere = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = {c: draw(CELL) if (c in typed_cols or anywhere) else draw(st.sampled_from(["A1", "007", " B "]))
               for c in columns}
        rows.append(row)
    sep = draw(st.sampled_from([",", ";", "\t", "|", ":", " "]))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [row[c] for c in columns]
        if draw(st.integers(0, 5)) == 0:
            cells = cells + ["extra"] if draw(st.booleans()) else cells[:-1]
        writer.writerow(cells)
    return name, buf.getvalue()


@settings(max_examples=80, **SETTINGS)
@given(broken=broken_export(), through_pipeline=st.booleans())
def test_random_cells_missing_columns_and_separators_end_in_a_clear_error_or_counted_rejects(broken,
                                                                                              through_pipeline):
    name, text = broken
    with folder() as d:
        if name != "usage":
            (d / "usage.csv").write_text("account_id,timestamp\nA1,2024-03-01\n")
        (d / f"{name}.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
        cfg = config(base_dir=d)
        loaded = clear_error_or(lambda: load_all(cfg, d))
        if loaded is None:
            return
        assert_accounted(loaded)
        if through_pipeline:
            clear_error_or(lambda: score(cfg, loaded=loaded, as_of="2024-03-31").summary())


@settings(max_examples=30, **SETTINGS)
@given(columns=st.lists(st.sampled_from([c.name for c in EXPORTS["payments"].columns]), min_size=1, unique=True))
def test_a_missing_required_column_is_named_with_the_columns_found(columns):
    with folder() as d:
        (d / "usage.csv").write_text("account_id,timestamp\nA1,2024-03-01\n")
        path = d / "payments.csv"
        path.write_text(",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n")
        missing = [c for c in EXPORTS["payments"].required_columns if c not in columns]
        try:
            load_all(config(base_dir=d), d)
        except InputDataError as exc:
            hint = (" Only one column was found, so the separator looks wrong (',', ';', tab and '|' tried); "
                    "set inputs.payments.sep in the config.") if len(columns) == 1 else ""
            assert str(exc) == (f"{path}: required column '{missing[0]}' not found; columns found: "
                                f"{', '.join(columns)}.{hint}")
            assert (exc.file, exc.line, exc.column) == (str(path), 1, missing[0])
        else:
            assert missing == []
