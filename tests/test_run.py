"""churnscore.score_run called from Python: the files it writes, what it returns, the lock, and the runs that
fail (too many rejects, nobody left to score) leaving the previous set of outputs as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_text

import churnscore
from churnscore.config import load_config, parse_config
from churnscore.errors import LockError, NothingScoredError, RejectLimitError
from churnscore.load import FileStats
from churnscore.rejectpolicy import reject_problem
from churnscore.run import ScoreRun, score_run
from churnscore.runlock import output_lock

ACCOUNTS = "account_id,account_name,mrr\nA1,Acme,500\nA2,Beta,100\n"
USAGE = "account_id,timestamp,event\nA1,2026-10-30,login\nA2,2026-08-01,login\nA1,2026-09-01,login\n"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    write_text(d / "accounts.csv", ACCOUNTS)
    write_text(d / "usage.csv", USAGE)
    return d


def outputs(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden ones too) and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_package_offers_score_run() -> None:
    assert churnscore.__all__ == ["ScoreRun", "score_run"]
    assert churnscore.score_run is score_run and churnscore.ScoreRun is ScoreRun
    with pytest.raises(AttributeError, match="module 'churnscore' has no attribute 'nothing'"):
        churnscore.nothing  # noqa: B018 - the attribute lookup is the test


def test_importing_churnscore_does_not_import_pandas() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, churnscore; print('pandas' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "False\n", done.stderr


def test_score_run_writes_the_set_and_returns_what_it_wrote(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "ranked.csv"
    stages: list[str] = []
    events: list[tuple[str, str]] = []
    done = score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31", on_stage=stages.append,
                     on_event=lambda event, text, **fields: events.append((event, text)))
    assert isinstance(done, ScoreRun)
    folder = out.parent
    assert done.paths == {"ranked": out, "rejects": folder / "ranked.rejects.csv",
                          "excluded": folder / "ranked.excluded.csv", "manifest": folder / "ranked.manifest.json"}
    assert sorted(outputs(folder)) == ["ranked.csv", "ranked.excluded.csv", "ranked.lock", "ranked.manifest.json",
                                       "ranked.rejects.csv"]  # the lock stays: the next run takes the same file
    ranked = pd.read_csv(out, dtype=str)
    assert ranked["account_id"].tolist() == done.result.ranked["account_id"].tolist()
    assert sorted(ranked["account_id"]) == ["A1", "A2"]
    assert (folder / "ranked.rejects.csv").read_text() == "file,line,column,value,reason\n"
    assert (folder / "ranked.excluded.csv").read_text() == "account_id,reason\n"
    assert stages == ["load", "features", "score", "write"]
    assert events == []  # nothing left behind by a killed run, no model: no warning
    s = done.summary
    assert (s["as_of"], s["as_of_source"], s["accounts_in_inputs"], s["accounts_scored"], s["rows_read"],
            s["rows_rejected"]) == ("2026-10-31", "--as-of", 2, 2, 5, 0)
    manifest = json.loads((folder / "ranked.manifest.json").read_text())
    assert manifest["counts"]["accounts_scored"] == 2
    assert manifest["outputs"]["ranked"] == str(out)
    assert sorted(manifest["timings_s"]) == ["features", "load", "score", "write"]


def test_top_and_format_as_the_cli_gives_them(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranked.data"
    done = score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31", fmt="json", top=1)
    written = json.loads(out.read_text())
    assert [r["account_id"] for r in written] == done.result.ranked["account_id"].tolist()[:1]
    assert done.summary["accounts_scored"] == 2  # --top keeps the first rows of the list, not fewer scored


def test_a_locked_output_raises_and_writes_nothing(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "ranked.csv"
    with output_lock(out):
        with pytest.raises(LockError, match=r"another churnscore run \(pid ") as caught:
            score_run(load_config(None), out=out, input_dir=inputs)
    assert caught.value.exit_code == 3
    assert not out.exists() and not (tmp_path / "o" / "ranked.manifest.json").exists()


def test_too_many_rejects_raise_and_leave_the_previous_list(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "ranked.csv"
    score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31")
    before = outputs(out.parent)
    write_text(inputs / "usage.csv", USAGE + "A2,not a date,login\n")  # 1 of 6 rows: above the default 5%
    with pytest.raises(RejectLimitError) as caught:
        score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31")
    failed = out.parent / "ranked.failed.rejects.csv"
    assert str(caught.value) == (
        "16.7% of input rows rejected (usage: 1 of 4), above rejects.max_reject_rate 5.0%; the ranking would be "
        f"unreliable. See {failed}; the previous ranked list was left as it was.")
    assert caught.value.exit_code == 1
    after = outputs(out.parent)
    assert after.pop("ranked.failed.rejects.csv") == (
        f"file,line,column,value,reason\n{inputs / 'usage.csv'},5,timestamp,not a date,"
        "unparseable datetime in timestamp\n").encode()
    assert after == before


def test_strict_fails_on_one_reject_under_the_limit(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranked.csv"
    write_text(inputs / "usage.csv", USAGE + "A2,not a date,login\n")
    lenient = parse_config({"rejects": {"max_reject_rate": 0.5}})
    assert score_run(lenient, out=out, input_dir=inputs, as_of="2026-10-31").summary["rows_rejected"] == 1
    with pytest.raises(RejectLimitError) as caught:
        score_run(lenient, out=out, input_dir=inputs, as_of="2026-10-31", strict=True)
    assert str(caught.value) == (
        f"1 input row rejected (usage: 1) and --strict is set. See {tmp_path / 'ranked.failed.rejects.csv'}; "
        "the previous ranked list was left as it was.")


def test_nobody_to_score_keeps_the_previous_list_and_writes_the_excluded_beside_it(inputs: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "ranked.csv"
    score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31")
    before = out.read_bytes()
    write_text(inputs / "accounts.csv", "account_id,account_name,mrr,churn_date\nA1,Acme,500,2026-01-01\n"
                                        "A2,Beta,100,2026-01-01\n")
    with pytest.raises(NothingScoredError) as caught:
        score_run(load_config(None), out=out, input_dir=inputs, as_of="2026-10-31")
    assert str(caught.value).endswith(f". See {tmp_path / 'ranked.failed.excluded.csv'}; the previous ranked list "
                                      "was left as it was.")
    assert out.read_bytes() == before
    assert (tmp_path / "ranked.failed.excluded.csv").read_text() == (
        "account_id,reason\nA1,churned on or before the as-of date\nA2,churned on or before the as-of date\n")


def test_a_stale_temporary_is_removed_under_the_lock(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranked.csv"
    stale = write_text(tmp_path / ".ranked.csv.abc123.tmp", "half a file")
    score_run(load_config(None), out=out, input_dir=inputs)
    assert not stale.exists()
    assert sorted(outputs(tmp_path)) == ["ranked.csv", "ranked.excluded.csv", "ranked.lock",
                                         "ranked.manifest.json", "ranked.rejects.csv"]


def test_the_reject_policy_names_each_export() -> None:
    stats = {"accounts": FileStats("accounts", [], rows_read=10, rows_rejected=0),
             "usage": FileStats("usage", [], rows_read=10, rows_rejected=2)}
    assert reject_problem(stats, 2, 0.5) is None
    over = reject_problem(stats, 2, 0.05)
    assert over is not None and over.sentence("the model") == (
        "10.0% of input rows rejected (usage: 2 of 10), above rejects.max_reject_rate 5.0%; the model would be "
        "unreliable.")
    one = reject_problem(stats, 2, 0.15)  # 10% in all, but 20% of usage: one export broken through
    assert one is not None and one.reason == ("usage: 2 of 10 rows rejected (20.0%), above rejects.max_reject_rate "
                                              "15.0%")
    strict = reject_problem(stats, 2, 0.5, strict=True)
    assert strict is not None and strict.sentence() == "2 input rows rejected (usage: 2) and --strict is set."
    assert reject_problem(stats, 0, 0.5, strict=True) is None
