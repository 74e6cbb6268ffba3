"""Issue 20 item 16: a full disk while writing is one line naming the file and the fix, for every writer
(the ranked list and its set, a single file, the spilled usage parts), and leaves no temporary behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from churnscore.load import spill as spill_mod
from churnscore.cli import main
from churnscore.errors import FileSystemError
from churnscore.outset import SetWriter, plan_outputs
from churnscore.write import table_writer, write_table
from churnscore.files import atomic_write

ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A001,Acme,pro,500,5,2025-01-01,2026-12-01,true,SMB,
"""
USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2026-10-30T10:00:00Z,u1,login,3,200
"""


def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_single_file_on_a_full_disk_names_itself_and_the_fix(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with pytest.raises(FileSystemError) as err:
        atomic_write(out, full)
    assert str(err.value) == f"{out}: no space left on device; free space or write elsewhere."
    assert list(tmp_path.iterdir()) == []  # its temporary removed


def test_the_table_writer_on_a_full_disk(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "r.parquet"
    with pytest.raises(FileSystemError) as err:
        write_table(pd.DataFrame({"a": [1]}), out, "parquet")
    assert str(err.value) == f"{out}: no space left on device; free space or write elsewhere."
    assert list(tmp_path.iterdir()) == []


def test_a_set_file_on_a_full_disk_names_it_and_leaves_no_temporary(tmp_path: Path) -> None:
    outputs = plan_outputs(tmp_path / "r.csv", None)
    writer = SetWriter(outputs)
    writer.add("ranked", table_writer(pd.DataFrame({"a": [1]}), "csv"))
    with pytest.raises(FileSystemError) as err:
        writer.add("rejects", full)
    assert str(err.value) == f"{tmp_path / 'r.rejects.csv'}: no space left on device; free space or write elsewhere."
    assert list(tmp_path.iterdir()) == []  # the ranked list's temporary went with it


def test_a_quota_is_said_as_such(tmp_path: Path) -> None:
    def quota(fh):  # noqa: ANN001, ANN202
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    with pytest.raises(FileSystemError, match=r"r\.csv: disk quota exceeded; free space or write elsewhere\.$"):
        atomic_write(tmp_path / "r.csv", quota)


def test_score_on_a_full_disk_exits_1_with_one_line_and_the_old_set(monkeypatch, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "usage.csv").write_text(USAGE)
    out = tmp_path / "out" / "r.csv"
    args = ["score", "--input-dir", str(d), "--as-of", "2026-10-31", "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir() if p.suffix != ".lock"}
    monkeypatch.setattr(os, "fsync", full)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(": no space left on device; free space or write elsewhere.")
    assert str(out.parent) in lines[0]
    assert {p.name: p.read_bytes() for p in out.parent.iterdir() if p.suffix != ".lock"} == before


def test_spilled_parts_on_a_full_disk_name_the_folder(monkeypatch, tmp_path: Path) -> None:
    from churnscore.contract import EXPORTS

    monkeypatch.setattr(spill_mod.tempfile, "tempdir", str(tmp_path))
    spill = spill_mod.UsageSpill(EXPORTS["usage"], 2, {})
    monkeypatch.setattr(spill_mod.pa, "OSFile", full)
    with pytest.raises(FileSystemError) as err:
        spill.add({"account_id": pd.Series([0, 1], dtype="int32").to_numpy()}, 0)
    assert str(err.value) == (f"{spill.folder}: no space left on device; free space or point TMPDIR at a disk with "
                              "room (about 44 bytes per usage row).")
    spill.close()


def test_spilled_rejects_on_a_full_disk_name_their_folder(monkeypatch, tmp_path: Path) -> None:
    from churnscore.contract import EXPORTS
    from churnscore.load import RejectStore

    monkeypatch.setattr(spill_mod.tempfile, "tempdir", str(tmp_path))
    spill = spill_mod.UsageSpill(EXPORTS["usage"], 2, {})
    store = spill.start_rejects()
    monkeypatch.setattr(RejectStore, "add", full)
    with pytest.raises(FileSystemError) as err:
        spill.add_rejects(pd.DataFrame({"file": ["u.csv"], "line": [2], "column": [""], "value": [""],
                                        "reason": ["duplicate row (same as line 1)"]}))
    assert str(err.value) == (f"{store.folder}: no space left on device; free space or point TMPDIR at a disk "
                              "with room (about 44 bytes per usage row).")
    spill.close()
    store.close()
    assert not store.folder.exists()
