"""A large usage export goes to disk by account (spill.py): the run's every result is the in-memory run's."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

import churnscore.load.spill as spill_mod
from churnscore.config import DEFAULT_CONFIG, load_config
from churnscore.pipeline import score


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The sample, its usage export split in two files with a duplicate (across the files), rows that break
    the contract, and a row with too many fields."""
    folder = tmp_path_factory.mktemp("inputs")
    for path in SAMPLE.iterdir():
        if path.is_file() and not path.name.startswith("usage"):
            shutil.copy(path, folder / path.name)
    lines = gzip.open(SAMPLE / "usage.csv.gz", "rt").read().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    (folder / "usage").mkdir()
    half = len(rows) // 2
    (folder / "usage" / "a.csv").write_text(header + "".join(rows[:half]))
    bad = [rows[5], rows[half + 7],  # the same as a row of the first file, and as one of this file
           rows[9].replace(",", ",,", 1),  # one field too many
           "A-unknown,2026-10-01T10:00:00Z,u,login,-1,5\n"]  # count below 0
    (folder / "usage" / "b.csv").write_text(header + "".join(rows[half:half + 50] + bad + rows[half + 50:]))
    return folder


def run(monkeypatch, inputs, as_of, spill: bool):  # noqa: ANN001, ANN201
    monkeypatch.setattr(spill_mod, "SPILL_BYTES", 0 if spill else 1 << 60)
    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    return score(load_config(DEFAULT_CONFIG, []), input_dir=inputs, as_of=as_of)


@pytest.mark.parametrize("as_of", [None, "2026-09-15"])  # the latest usage date, and one with rows after it
def test_a_spilled_usage_export_gives_the_in_memory_results(monkeypatch, inputs, as_of):
    memory = run(monkeypatch, inputs, as_of, spill=False)
    disk = run(monkeypatch, inputs, as_of, spill=True)
    assert "usage" in disk.loaded.spilled and not memory.loaded.spilled
    assert not disk.loaded.spilled["usage"].folder.exists()  # removed once the features are built
    pd.testing.assert_frame_equal(disk.features, memory.features, check_exact=True)
    # the task ratios, which the spilled path works out once every part's rows are read, are there to compare
    assert memory.features["task_time_vs_norm_30d"].notna().sum() > 1000
    pd.testing.assert_frame_equal(disk.ranked, memory.ranked, check_exact=True)
    pd.testing.assert_frame_equal(disk.loaded.all_rejects(), memory.loaded.all_rejects())
    pd.testing.assert_frame_equal(disk.excluded, memory.excluded)
    a, b = disk.summary(), memory.summary()
    a.pop("timings_s"), b.pop("timings_s")
    assert a == b
    reasons = disk.loaded.all_rejects()["reason"].astype("str")
    assert reasons.str.startswith("duplicate row (same as line").sum() == 2
    assert reasons.str.contains("fields where the header has").sum() == 1
    assert (reasons == "count below 0").sum() == 1


def test_a_spill_folder_that_cannot_be_written_stops_with_what_to_do(monkeypatch, inputs, tmp_path):
    from churnscore.errors import ChurnscoreError

    def full_disk(self, cols, file):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill_mod.UsageSpill, "write_piece", full_disk)
    monkeypatch.setattr(spill_mod.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ChurnscoreError, match=r"churnscore-spill-[^ ]*: no space left on device; free space or "
                                               r"point TMPDIR at a disk with room \(about 44 bytes per usage row\)\.$"):
        run(monkeypatch, inputs, None, spill=True)
    wait_for_removals()
    assert not list(tmp_path.glob("churnscore-spill-*"))  # removed on the way out


def wait_for_removals() -> None:
    """Spill folders are deleted by threads (the interpreter waits for them at exit; a test waits here)."""
    for thread in threading.enumerate():
        if thread.name == "churnscore-spill-removal":
            thread.join()


def test_closing_a_spill_removes_its_folder_and_can_be_done_twice():
    from churnscore.contract import EXPORTS
    from churnscore.load import UsageSpill

    spill = UsageSpill(EXPORTS["usage"], 2, {})
    (spill.folder / "f0-p0.arrow").write_bytes(b"x" * 1000)
    folder = spill.folder
    spill.close()
    assert not folder.exists()  # renamed away at once
    wait_for_removals()
    assert not folder.with_name(folder.name + "-removing").exists()  # and its files deleted
    spill.close()


def test_a_killed_runs_spill_folder_is_removed_by_the_next_run(monkeypatch, tmp_path):
    import subprocess
    import sys
    import tempfile

    from click.testing import CliRunner

    from churnscore.cli import main

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = int(gone.stdout)  # a process that has ended, as a run killed with SIGKILL has
    host = spill_mod.host_name()
    left = tmp_path / f"churnscore-spill-{dead}@{host}-abc"
    (left / "f0-p0.arrow").parent.mkdir()
    (left / "f0-p0.arrow").write_bytes(b"x" * 100)
    removing = tmp_path / f"churnscore-spill-{dead}@{host}-def-removing"  # killed while it was being deleted
    removing.mkdir()
    live = tmp_path / f"churnscore-spill-{os.getpid()}@{host}-ghi"  # this process: a run still going
    elsewhere = tmp_path / f"churnscore-spill-{dead}@not-{host}-jkl"  # another host's (or container's)
    other = tmp_path / "churnscore-spill-xyz"  # not named with a process id: not ours to judge
    for folder in (live, elsewhere, other):
        folder.mkdir()
    assert sorted(spill_mod.remove_leftovers(str(tmp_path))) == sorted([left, removing])
    assert not left.exists() and not removing.exists() and all(f.exists() for f in (live, elsewhere, other))

    left.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(main, ["--log-format", "json", "score", "--input-dir", str(SAMPLE),
                                       "--out", str(tmp_path / "o" / "ranked.csv")])
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {"event": "score.leftover_removed", "folder": str(left), "level": "warning"} in events
    assert not left.exists() and live.exists()


def test_validate_reads_a_large_usage_export_by_account_and_reports_what_it_reports_in_memory(monkeypatch, inputs,
                                                                                               tmp_path):
    from churnscore.validate import table_text, validate

    inputs = Path(shutil.copytree(inputs, tmp_path / "in"))
    (inputs / "usage" / "c.csv").write_text("account_id,timestamp,user_id,event,count,duration_seconds\n"
                                            "A-extra,2026-09-01T10:00:00Z,u1,login,1,5\n"
                                            "A-extra,2026-09-02T10:00:00Z,u2,login,1,5\n")

    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    made = []
    real = spill_mod.UsageSpill.__init__
    monkeypatch.setattr(spill_mod.UsageSpill, "__init__", lambda self, *a: made.append(self) or real(self, *a))
    config = load_config(DEFAULT_CONFIG, [])
    as_of = pd.Timestamp("2026-09-15")
    monkeypatch.setattr(spill_mod, "SPILL_BYTES", 1 << 60)
    memory = validate(config, inputs, as_of)
    assert not made
    monkeypatch.setattr(spill_mod, "SPILL_BYTES", 0)
    disk = validate(config, inputs, as_of)
    assert len(made) == 1 and not made[0].folder.exists()  # spilled, and removed at the end
    assert table_text(disk) == table_text(memory)
    assert any(n.startswith("usage: ") and "dated after the as-of date 2026-09-15" in n for n in memory.notes)
    assert "usage: 2 rows for 1 account id not in the accounts export (they are not scored)." in disk.notes
    usage = [c for c in memory.checks if c.export == "usage"][0]
    assert usage.rows > 1000 and usage.accounts > 100
    pd.testing.assert_frame_equal(disk.rejects, memory.rejects)


def test_training_snapshots_of_a_spilled_usage_export_are_the_in_memory_ones(monkeypatch, inputs):
    """Training takes the features at every observation date; with usage on disk each date reads the parts."""
    from churnscore.load import load_all
    from churnscore.model import observation_dates, training_set

    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    config = load_config(DEFAULT_CONFIG, [])
    sets = {}
    for spill, threshold in (("memory", 1 << 60), ("disk", 0)):
        monkeypatch.setattr(spill_mod, "SPILL_BYTES", threshold)
        loaded = load_all(config, inputs, spill=True)
        assert bool(loaded.spilled) == (spill == "disk")
        dates = observation_dates(loaded, pd.Timestamp("2026-10-31"), config)
        sets[spill] = (dates, training_set(loaded, config, dates))
        loaded.close()
    (dates, memory), (disk_dates, disk) = sets["memory"], sets["disk"]
    # every 30 days back from 2026-10-31 less the 90-day horizon, no earlier than 60 days into the history
    assert disk_dates == dates == list(pd.date_range(end="2026-08-02", periods=8, freq="30D"))
    assert dates[0] == pd.Timestamp("2026-01-04")
    pd.testing.assert_frame_equal(disk.X, memory.X, check_exact=True)
    assert (disk.y == memory.y).all() and (disk.date == memory.date).all() and (disk.account == memory.account).all()
    assert (disk.rule_score == memory.rule_score).all()
    assert len(memory.y) > 5000 and memory.y.sum() > 100


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_read_a_large_usage_export_by_account(monkeypatch, inputs, tmp_path, command):
    from click.testing import CliRunner

    from churnscore.cli import main

    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    made = []
    real = spill_mod.UsageSpill.__init__
    monkeypatch.setattr(spill_mod.UsageSpill, "__init__", lambda self, *a: made.append(self) or real(self, *a))
    config = tmp_path / "fast.yaml"  # one C and five dates: the reading is under test, not the search
    config.write_text("model:\n  c_grid: [0.1]\n  observation_count: 5\n")
    out = {}
    for spill, threshold in (("memory", 1 << 60), ("disk", 0)):
        monkeypatch.setattr(spill_mod, "SPILL_BYTES", threshold)
        path = tmp_path / f"{spill}.json"
        args = ["--model-out", str(path)] if command == "train" else ["--json", str(path), "--test-dates", "1"]
        result = CliRunner().invoke(main, [command, "--config", str(config), "--input-dir", str(inputs), *args])
        assert result.exit_code == 0, result.stderr
        out[spill] = json.loads(path.read_text())
    assert len(made) == 1 and not made[0].folder.exists()  # spilled once (the second run), removed at the end
    if command == "train":
        assert out["disk"]["sha256"] == out["memory"]["sha256"]
        assert len(out["disk"]["metadata"]["observation_dates"]) == 5
    else:
        assert out["disk"] == out["memory"]
        assert out["disk"]["n_test"] > 1000


def test_rules_off_and_event_counts_of_a_spilled_usage_export_are_the_in_memory_ones(monkeypatch, inputs):
    from dataclasses import replace

    config = load_config(DEFAULT_CONFIG, [])
    config = replace(config, features=replace(config.features, login_event="signin"))  # no such event
    monkeypatch.setattr(spill_mod, "parts_for", lambda size: 3)
    runs = []
    for threshold in (1 << 60, 0):
        monkeypatch.setattr(spill_mod, "SPILL_BYTES", threshold)
        runs.append(score(config, input_dir=inputs))
    memory, disk = runs
    assert "usage" in disk.loaded.spilled
    a, b = disk.summary(), memory.summary()
    assert [o["rule"] for o in a["rules_off"]] == ["weak_start"]
    assert a["rules_off"] == b["rules_off"] and a["top_events"] == b["top_events"]
    assert a["top_events"][0]["event"] == "login"
    pd.testing.assert_frame_equal(disk.ranked, memory.ranked, check_exact=True)
