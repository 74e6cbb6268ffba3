"""Issue 20 item 13: memory follows accounts, not rows, whatever the duplicates and rejects. A small gzip of
millions of copies of one usage row (18 MB held 38 M and reached 13.7 GB) runs under a 2 GiB address-space
limit: the duplicate search holds a part's distinct rows, the rejects go to disk a batch at a time."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")

ROWS = 5_000_000
ROW = b"A001,2026-10-30T10:00:00Z,u1,login,3,200\n"
RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from churnscore.load import spill
spill.SPILL_BYTES = 1 << 20  # on disk by account from 1 MiB (the default, 256 MiB, is ~6 M such rows)
from churnscore.cli import main
sys.argv = ["churnscore", "score", "--input-dir", sys.argv[1], "--as-of", "2026-10-31", "--out", sys.argv[2]]
main()
"""


def test_millions_of_duplicate_rows_of_one_account_stay_within_2_gib_and_fail_on_the_reject_limit(
        tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text("account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,"
                                    "segment,churn_date\nA001,Acme,pro,500,5,2025-01-01,2026-12-01,true,SMB,\n")
    usage = d / "usage.csv.gz"
    with gzip.open(usage, "wb", compresslevel=1) as fh:
        fh.write(b"account_id,timestamp,user_id,event,count,duration_seconds\n")
        for _ in range(ROWS // 100_000):
            fh.write(ROW * 100_000)
    assert usage.stat().st_size < 2 << 20  # small on disk
    out = tmp_path / "out" / "r.csv"
    done = subprocess.run([sys.executable, "-c", RUN, str(d), str(out)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)  # not the checkout's folder: the installed churnscore
    rejects = tmp_path / "out" / "r.failed.rejects.csv"
    assert (done.returncode, done.stderr) == (1, (
        "churnscore: error: 100.0% of input rows rejected (usage: 4,999,999 of 5,000,000), above "
        "rejects.max_reject_rate 5.0%; the ranking "
        f"would be unreliable. See {rejects}; the previous ranked list was left as it was.\n"))
    with open(rejects, "rb") as fh:
        head = [fh.readline() for _ in range(3)]
        lines = 3 + sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))
    assert head == [b"file,line,column,value,reason\n",
                    f"{usage},3,,,duplicate row (same as line 2)\n".encode(),
                    f"{usage},4,,,duplicate row (same as line 2)\n".encode()]
    assert lines == ROWS  # the header and every row but the first
    assert not out.exists()
