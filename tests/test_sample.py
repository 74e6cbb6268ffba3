"""Tests for churnscore.synth.sample, the synthetic export generator."""

import datetime
import gzip
import io

import pandas as pd
import pytest

from churnscore.synth import sample
from churnscore.contract import EXPORTS

N, MONTHS, SEED = 50, 3, 1
END = pd.Timestamp(sample.SAMPLE_END_DATE)

CONTRACT_COLUMNS = {name: [c.name for c in export.columns] for name, export in EXPORTS.items()}

EVENT_TIME = {"usage": "timestamp", "nps": "responded_at", "tickets": "created_at",
              "payments": "due_date"}


@pytest.fixture(scope="module")
def frames():
    return sample.generate(N, MONTHS, SEED)


@pytest.fixture(scope="module")
def year():
    """A 12-month history, big enough to see the churn story."""
    return sample.generate(400, 12, 3)


def _day(series: pd.Series) -> pd.Series:
    """Calendar day (naive, UTC) of a date or datetime column."""
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.dt.normalize()


def test_tables_and_columns_follow_the_contract(frames):
    assert list(frames) == list(sample.TABLES)
    assert sample.COLUMNS == CONTRACT_COLUMNS
    for table, cols in CONTRACT_COLUMNS.items():
        assert list(frames[table].columns) == cols, table
    assert len(frames["accounts"]) == N
    assert all(len(frames[t]) > 0 for t in ("usage", "tickets", "payments"))


def test_account_ids_are_zero_padded_strings(frames):
    ids = frames["accounts"]["account_id"]
    assert pd.api.types.is_string_dtype(ids)
    assert ids.tolist() == [f"A{i:05d}" for i in range(1, N + 1)]
    for table in ("usage", "nps", "tickets", "payments"):
        col = frames[table]["account_id"]
        assert pd.api.types.is_string_dtype(col)
        assert col.isin(set(ids)).all(), table
    assert frames["usage"]["user_id"].str.fullmatch(r"U\d{6}").all()


def test_same_seed_same_frames_other_seed_differs(frames):
    again = sample.generate(N, MONTHS, SEED)
    for table in sample.TABLES:
        pd.testing.assert_frame_equal(frames[table], again[table])
    other = sample.generate(N, MONTHS, SEED + 1)
    assert not frames["usage"].equals(other["usage"])
    assert not frames["accounts"].equals(other["accounts"])


@pytest.mark.parametrize("fixture", ["frames", "year"])
def test_no_activity_outside_the_account_life_or_the_window(fixture, request):
    f = request.getfixturevalue(fixture)
    months = MONTHS if fixture == "frames" else 12
    start = END - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    acc = f["accounts"].set_index("account_id")
    assert (acc["signup_date"] <= END).all()
    churn = acc["churn_date"].dropna()
    assert ((churn >= start) & (churn <= END)).all()
    for table, col in EVENT_TIME.items():
        df = f[table]
        day = _day(df[col])
        signup = acc["signup_date"].reindex(df["account_id"]).to_numpy()
        churned = acc["churn_date"].reindex(df["account_id"]).to_numpy()
        assert (day.to_numpy() >= signup).all(), table
        assert (day >= start).all(), table
        assert (day <= END).all(), table
        gone = ~pd.isna(churned)
        assert (day.to_numpy()[gone] < churned[gone]).all(), table
    # resolutions and payments may come later, but never after the export date
    for table, col in (("tickets", "resolved_at"), ("payments", "paid_at")):
        assert (_day(f[table][col]).dropna() <= END).all()
    # an unresolved ticket has no resolution time, a failed charge no payment time
    t = f["tickets"]
    assert t.loc[t["status"].isin(["open", "pending"]), "resolved_at"].isna().all()
    assert t.loc[t["status"].isin(["solved", "closed"]), "resolved_at"].notna().all()
    assert (t["resolved_at"].dropna() >= t.loc[t["resolved_at"].notna(), "created_at"]).all()
    p = f["payments"]
    assert p.loc[p["status"].isin(["failed", "open", "void"]), "paid_at"].isna().all()
    assert p.loc[p["status"].isin(["paid", "refunded"]), "paid_at"].notna().all()


def test_ids_unique_and_values_in_range(frames):
    assert frames["tickets"]["ticket_id"].is_unique
    assert frames["payments"]["payment_id"].is_unique
    assert frames["accounts"]["account_id"].is_unique
    nps = frames["nps"]["score"]
    assert nps.between(0, 10).all()
    u = frames["usage"]
    assert (u["count"] >= 1).all() and (u["duration_seconds"] >= 0).all()
    assert set(u["event"]) <= set(sample.EVENTS)
    assert frames["tickets"]["csat"].dropna().between(1, 5).all()
    assert (frames["payments"]["amount"] >= 0).all()
    assert set(frames["accounts"]["plan"]) <= {"starter", "growth", "pro", "enterprise"}


def test_usage_is_one_row_per_user_day_event(frames):
    u = frames["usage"]
    key = [u["account_id"], u["user_id"], _day(u["timestamp"]), u["event"]]
    assert not pd.DataFrame(dict(enumerate(key))).duplicated().any()


@pytest.mark.parametrize("n, months, target", [(50, 3, 5000), (200, 3, 20000), (100, 12, 60000)])
def test_usage_rows_target_is_met(n, months, target):
    got = len(sample.generate(n, months, SEED, usage_rows=target)["usage"])
    assert 0.75 * target <= got <= 1.25 * target


def test_write_sample_csv_gz_is_byte_identical(tmp_path):
    a = sample.write_sample(tmp_path / "a", N, MONTHS, SEED)
    b = sample.write_sample(tmp_path / "b", N, MONTHS, SEED)
    assert sorted(a) == sorted(sample.TABLES)
    for table in sample.TABLES:
        assert a[table].name == f"{table}.csv.gz"
        assert a[table].read_bytes() == b[table].read_bytes(), table


def test_csv_spelling(tmp_path, frames):
    paths = sample.write_sample(tmp_path, N, MONTHS, SEED, fmt="csv.gz")
    text = {t: gzip.decompress(p.read_bytes()).decode("utf-8") for t, p in paths.items()}
    raw = {t: pd.read_csv(io.StringIO(s), dtype=str, keep_default_na=False)
           for t, s in text.items()}
    for table, cols in CONTRACT_COLUMNS.items():
        assert list(raw[table].columns) == cols
        assert len(raw[table]) == len(frames[table])
    acc = raw["accounts"]
    assert acc["account_id"].str.fullmatch(r"A\d{5}").all()
    assert set(acc["auto_renew"]) <= {"true", "false"}
    for col in ("signup_date", "renewal_date"):
        assert acc[col].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert acc["churn_date"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    assert raw["usage"]["timestamp"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").all()
    assert raw["tickets"]["resolved_at"].str.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)?").all()
    assert raw["payments"]["due_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert "NaT" not in text["payments"] and "nan" not in text["payments"]
    assert "<NA>" not in text["tickets"]
    # the same values as the frames
    pd.testing.assert_series_equal(
        pd.to_datetime(raw["usage"]["timestamp"], utc=True).dt.as_unit("s"),
        frames["usage"]["timestamp"].dt.as_unit("s"), check_names=False)
    assert (raw["nps"]["score"].astype(int) == frames["nps"]["score"]).all()


def test_parquet_round_trip(tmp_path, frames):
    paths = sample.write_sample(tmp_path, N, MONTHS, SEED, fmt="parquet")
    for table in sample.TABLES:
        assert paths[table].name == f"{table}.parquet"
        back = pd.read_parquet(paths[table])
        assert list(back.columns) == CONTRACT_COLUMNS[table]
        assert len(back) == len(frames[table])
    back = pd.read_parquet(paths["accounts"])
    assert back["account_id"].tolist() == frames["accounts"]["account_id"].tolist()


def test_write_sample_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError):
        sample.write_sample(tmp_path, 5, 1, 0, fmt="xlsx")


def test_custom_end_date():
    end = datetime.date(2024, 2, 29)
    f = sample.generate(20, 2, 9, end_date=end)
    assert _day(f["usage"]["timestamp"]).max() <= pd.Timestamp(end)
    assert f["accounts"]["signup_date"].max() <= pd.Timestamp(end)


def test_churn_story_has_the_expected_shape(year):
    acc = year["accounts"]
    churned = acc["churn_date"].notna()
    assert 0.12 <= churned.mean() <= 0.35
    new = acc["signup_date"] > END - pd.Timedelta(days=90)
    assert 0.06 <= new.mean() <= 0.2
    assert not acc.loc[~churned, "renewal_date"].le(END).any()
    # involuntary churn shows up as failed charges with a reason
    p = year["payments"]
    failed = p[p["status"] == "failed"]
    assert len(failed) > 0
    assert set(failed["failure_reason"]) <= {"card_declined", "expired_card", "insufficient_funds"}
    assert failed["failure_reason"].notna().all()
    assert p.loc[p["status"] == "paid", "failure_reason"].isna().all()
    assert p.loc[p["payment_method"] != "card", "card_expiry"].isna().all()
    # churners use the product less in their last 30 days than the accounts that stay
    u = year["usage"].merge(acc[["account_id", "churn_date"]], on="account_id")
    last = (_day(u["timestamp"]) > (u["churn_date"].fillna(END) - pd.Timedelta(days=30)))
    per_acc = u[last].groupby("account_id")["count"].sum().reindex(acc["account_id"]).fillna(0)
    per_acc.index = acc.index
    assert per_acc[churned].median() < per_acc[~churned].median()
    # NPS answers are sparse, and every band occurs
    nps = year["nps"]["score"]
    assert (nps <= 6).any() and nps.between(7, 8).any() and (nps >= 9).any()
    names = acc["account_name"]
    assert names.str.startswith("=").any() and names.str.contains(",").any()


def test_bad_arguments():
    with pytest.raises(ValueError):
        sample.generate(0, 12, 1)
    with pytest.raises(ValueError):
        sample.generate(10, 0, 1)
    with pytest.raises(ValueError):
        sample.generate(10, 12, 1, usage_rows=0)
