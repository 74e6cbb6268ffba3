"""--engine dask against the pandas engine: the same feature table, ranked list, rejects and excluded accounts.

One local cluster for the module: two worker processes with one thread each (a 2-core machine runs them
side by side, and every task's inputs and results cross a process boundary as on a real cluster).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from dask.distributed import LocalCluster

from churnscore.cli import main
from churnscore.config import DEFAULT_CONFIG, load_config
from churnscore.errors import ChurnscoreError, InputDataError
from churnscore.pipeline import ScoreResult, score
from churnscore.write import write_run

SAMPLE_AS_OF = "2026-10-31"
AS_OF = "2024-03-31"


@pytest.fixture(scope="module")
def scheduler() -> str:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def written(result: ScoreResult, folder: Path) -> dict[str, bytes]:
    """The run's files as bytes: ranked list, rejects and excluded accounts (CSV, as `score` writes them)."""
    paths = write_run(result.ranked, result.loaded.rejects, result.excluded, folder / "ranked.csv")
    return {name: path.read_bytes() for name, path in paths.items()}


def same_run(pandas_run: ScoreResult, dask_run: ScoreResult, tmp_path: Path) -> None:
    pd.testing.assert_frame_equal(dask_run.features, pandas_run.features, check_exact=True)
    pd.testing.assert_frame_equal(dask_run.ranked, pandas_run.ranked, check_exact=True)
    pd.testing.assert_frame_equal(dask_run.excluded, pandas_run.excluded)
    pd.testing.assert_frame_equal(dask_run.loaded.rejects, pandas_run.loaded.rejects)
    assert written(dask_run, tmp_path / "dask") == written(pandas_run, tmp_path / "pandas")
    assert dask_run.rows == pandas_run.rows  # note_rows on the cluster: rows after the as-of date, unknown ids
    assert sorted(dask_run.accounts_seen) == sorted(pandas_run.accounts_seen)
    expected, got = pandas_run.summary(), dask_run.summary()
    del expected["timings_s"], got["timings_s"]
    assert got == expected


def test_sample_gives_the_same_feature_table_and_ranked_list(scheduler: str, tmp_path: Path) -> None:
    config = load_config(None)
    pandas_run = score(config, as_of=SAMPLE_AS_OF)
    dask_run = score(config, as_of=SAMPLE_AS_OF, engine="dask", scheduler=scheduler)
    assert len(dask_run.features) == 1556 and dask_run.features.notna().any().all()
    same_run(pandas_run, dask_run, tmp_path)


# ----------------------------------------------------------------------------- a small messy input

ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A001,Acme,pro,500,10,2024-01-10,2025-01-10,true,smb,
A002,Beta,basic,100,3,2023-06-01,2024-06-01,false,smb,
A003,Gamma,pro,-5,4,2023-01-01,,true,mid,
A003,Gamma,pro,50,4,2023-01-01,,true,mid,
A004,Delta,basic,80,2,2022-01-01,,yes,smb,2024-02-01
A005,Epsilon,basic,80,2,2024-05-01,,no,smb,
A002,Beta,basic,100,3,2023-06-01,2024-06-01,false,smb,
A006,Zeta,pro,300,5,2023-03-01,2024-09-01,true,ent,
"""
USAGE_1 = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2024-03-30T10:00:00Z,u1,login,1,300
A001,2024-03-30T10:05:00Z,u1,report_created,1,60
A001,2024-03-30T10:05:00Z,u1,report_created,1,60
A002,2024-02-20T09:00:00Z,u2,login,1,120
A002,2024-03-25,u3,dashboard_viewed,2
A006,not-a-date,u9,login,1,100
A006,2024-03-01T08:00:00Z,u9,login,1,100
A007,2024-03-10T08:00:00Z,x1,login,1,50
,2024-03-10T08:00:00Z,x1,login,1,50
A001,2024-04-05T08:00:00Z,u1,login,1,80
A003,2024-03-20T11:00:00Z,u5,integration_sync,-1,10
A003,2024-03-20T11:00:00Z,u5,integration_sync,3,10
A002,2024-03-02T09:00:00Z,u2,report_created,1,80
"""
USAGE_2 = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2024-03-30T10:05:00Z,u1,report_created,1,60
A002,2024-03-28T09:00:00Z,u2,report_created,1,45
A006,2024-03-29T08:00:00Z,u9,dashboard_viewed,1,30
A006,2024-03-29T08:00:00Z,u10,dashboard_viewed,1,90
A002,2024-03-28T09:00:00Z,u2,report_created,1,45,extra
A003,2024-03-21T11:00:00Z,u5,login,1,200
A006,2024-03-30T08:00:00Z,u9,report_created,2,240
"""
NPS = """account_id,responded_at,score,user_id,comment
A001,2024-01-15T12:00:00Z,9,u1,"Great, really"
A002,2024-03-01T12:00:00Z,11,u2,too high
A002,2024-03-02T12:00:00Z,4,u2,meh
A006,2023-12-01T12:00:00Z,7,u9,
A006,2023-12-01T12:00:00Z,7,u9,
"""
TICKETS = """ticket_id,account_id,created_at,resolved_at,status,priority,category,csat
T1,Acme Inc,2024-03-01T10:00:00Z,2024-03-02T10:00:00Z,solved,high,billing,4
T2,Beta LLC,2024-03-10T10:00:00Z,,open,urgent,bugs,
T3,Acme Inc,2024-03-12T10:00:00Z,2024-03-11T10:00:00Z,solved,low,bugs,5
T1,Acme Inc,2024-03-01T10:00:00Z,2024-03-02T10:00:00Z,solved,high,billing,4
T4,Unknown Org,2024-03-16T10:00:00Z,,open,low,bugs,
T5,Zeta Corp,2024-03-17T10:00:00Z,2024-03-18T10:00:00Z,solved,normal,onboarding,6
T6,Zeta Corp,2024-03-18T10:00:00Z,2024-03-19T10:00:00Z,solved,normal,onboarding,3
T6,Zeta Corp,2024-03-18T10:00:00Z,2024-03-19T10:00:00Z,solved,normal,onboarding,3
"""
ACCOUNT_MAP = """source,key,account_id
zendesk,Acme Inc,A001
zendesk,Beta LLC,A002
zendesk,Zeta Corp,A006
"""


def _payments() -> pa.Table:
    day = pd.Timestamp
    rows = [  # payment_id, account_id, due_date, amount, paid_at, status, failure_reason
        ("P1", "A001", day("2024-01-01"), 500.0, day("2024-01-02", tz="UTC"), "paid", None),
        ("P2", "A001", day("2024-02-01"), 500.0, None, "failed", "expired card"),
        ("P3", "A001", day("2024-02-01"), 500.0, day("2024-02-05", tz="UTC"), "paid", None),
        ("P4", "A002", day("2024-03-01"), -10.0, None, "open", None),
        ("P4", "A006", day("2024-03-01"), 300.0, None, "open", None),
        ("P5", "A006", day("2024-02-01"), 300.0, None, "open", None),
        ("P6", "A002", day("2024-03-01"), 100.0, day("2024-03-20", tz="UTC"), "paid", None),
    ]
    cols = list(zip(*rows))
    return pa.table({
        "payment_id": pa.array(cols[0]), "account_id": pa.array(cols[1]),
        "due_date": pa.array([d.date() for d in cols[2]], pa.date32()), "amount": pa.array(cols[3]),
        "paid_at": pa.array(cols[4], pa.timestamp("us", tz="UTC")), "status": pa.array(cols[5]),
        "failure_reason": pa.array(cols[6], pa.string()),
    })


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A config over a folder of exports with every kind of reject: ragged, unparseable and out-of-range
    rows, duplicates within and across the files of a folder, a ticket id used by two accounts, a ticket
    resolved before it was created, vendor keys with and without a mapping, unknown, churned and future
    accounts, rows after the as-of date; usage as two files, payments as Parquet."""
    d = tmp_path / "in"
    (d / "usage").mkdir(parents=True)
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "usage" / "part-1.csv").write_text(USAGE_1)
    (d / "usage" / "part-2.csv").write_text(USAGE_2)
    (d / "nps.csv").write_text(NPS)
    (d / "tickets.csv").write_text(TICKETS)
    (d / "account_map.csv").write_text(ACCOUNT_MAP)
    pq.write_table(_payments(), d / "payments.parquet")
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw.update(input_dir="in", inputs={"tickets": {"account_source": "zendesk"}}, rejects={"max_reject_rate": 1.0})
    path = tmp_path / "churnscore.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_messy_input_gives_the_same_rejects_and_excluded_accounts(scheduler: str, messy: Path,
                                                                   tmp_path: Path) -> None:
    config = load_config(messy)
    pandas_run = score(config, as_of=AS_OF)
    dask_run = score(config, as_of=AS_OF, engine="dask", scheduler=scheduler)
    same_run(pandas_run, dask_run, tmp_path)
    rejects = dask_run.loaded.rejects
    usage = str(messy.parent / "in" / "usage" / "part-2.csv")
    assert rejects[["file", "line", "reason"]].astype({"file": "str"}).values.tolist()[:3] == [
        [str(messy.parent / "in" / "accounts.csv"), 4, "mrr below 0"],
        [str(messy.parent / "in" / "accounts.csv"), 8, "duplicate row (first at line 3)"],
        [str(messy.parent / "in" / "usage" / "part-1.csv"), 6, "5 fields where the header has 6 (separator ',')"]]
    assert [usage, 2, "duplicate row (same as line 3 of " + usage.replace("part-2", "part-1") + ")"] in \
        rejects[["file", "line", "reason"]].values.tolist()
    assert set(rejects["reason"]) >= {"duplicate row (first at line 2)", "no account mapping for 'Unknown Org'",
                                      "resolved_at before created_at", "amount below 0", "score above 10"}
    assert dask_run.excluded.values.tolist() == [
        ["A004", "churned on or before the as-of date"], ["A005", "signed up after the as-of date"],
        ["A007", "not in the accounts export"]]


def test_rules_switched_off_and_the_events_counted_are_the_pandas_engines(scheduler: str, messy: Path,
                                                                         tmp_path: Path) -> None:
    raw = yaml.safe_load(messy.read_text())
    raw["features"] = {**raw["features"], "login_event": "signin"}  # no such event: weak_start is off
    path = messy.parent / "signin.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    pandas_run = score(config, as_of=AS_OF)
    dask_run = score(config, as_of=AS_OF, engine="dask", scheduler=scheduler)
    same_run(pandas_run, dask_run, tmp_path)
    off = {o["rule"]: o["reason"] for o in dask_run.summary()["rules_off"]}
    assert off["weak_start"].startswith("no 'signin' event in usage; most frequent events: ")
    assert dask_run.summary()["top_events"] == pandas_run.summary()["top_events"] != []


def test_cli_dask_engine_writes_the_same_files(scheduler: str, messy: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for engine in ("pandas", "dask"):
        extra = ["--engine", "dask", "--scheduler", scheduler] if engine == "dask" else []
        result = runner.invoke(main, ["score", "--config", str(messy), "--as-of", AS_OF,
                                      "--out", str(tmp_path / engine / "ranked.csv"), *extra])
        assert result.exit_code == 0, result.stderr
    for name in ("ranked.csv", "ranked.rejects.csv", "ranked.excluded.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "pandas" / name).read_bytes(), name


def test_errors_are_the_pandas_engines(scheduler: str, messy: Path) -> None:
    (messy.parent / "in" / "usage" / "part-2.csv").write_text("account_id,user_id,event\nA001,u1,login\n")
    config = load_config(messy)
    with pytest.raises(InputDataError) as pandas_error:
        score(config, as_of=AS_OF)
    with pytest.raises(InputDataError, match="required column 'timestamp' not found") as dask_error:
        score(config, as_of=AS_OF, engine="dask", scheduler=scheduler)
    assert str(dask_error.value) == str(pandas_error.value)
    assert (dask_error.value.file, dask_error.value.line) == (pandas_error.value.file, pandas_error.value.line)


def test_without_dask_installed_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # import dask.dataframe now raises ImportError
    with pytest.raises(ChurnscoreError, match=r"install churnscore\[dask\] \(pip install 'churnscore\[dask\]'\)"):
        score(load_config(None), engine="dask")


def test_a_scheduler_address_without_a_port_fails_at_once() -> None:
    with pytest.raises(ChurnscoreError, match=r"^--scheduler nonsense: cannot start or reach a Dask scheduler "
                                              r"\(missing port number in address 'nonsense'\)"):
        score(load_config(None), engine="dask", scheduler="nonsense")


def test_scheduler_needs_the_dask_engine() -> None:
    result = CliRunner().invoke(main, ["score", "--scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2
    assert "Error: --scheduler needs --engine dask." in result.stderr
