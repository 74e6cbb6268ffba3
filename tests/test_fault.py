"""Issue 4, faults: a run killed part-way leaves the previous ranked list whole; two runs never write one output.

The real command runs in a subprocess on the committed sample (data/sample through configs/default.yaml) and
is killed with SIGKILL, which no cleanup code can catch: only the atomic rename and the OS-released flock
protect the output.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_text

from churnscore.cli import main
from churnscore.runlock import output_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

OUTPUTS = {"ranked.csv", "ranked.rejects.csv", "ranked.excluded.csv", "ranked.manifest.json", "ranked.lock"}


def start(out: Path, cwd: Path) -> subprocess.Popen[str]:
    """`churnscore score --out OUT` (default config: the committed sample) as its own process."""
    return subprocess.Popen([sys.executable, "-m", "churnscore.cli", "score", "--out", str(out)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lock(proc: subprocess.Popen[str], out: Path, timeout: float = 60.0) -> None:
    """Until ``proc`` holds the output's lock (it writes its pid into <stem>.lock once it has it)."""
    lock = out.with_name(out.stem + ".lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it was killed: {proc.returncode} {proc.stderr.read()}")
        if lock.exists() and lock.read_text().strip() == str(proc.pid):
            return
        time.sleep(0.02)
    raise AssertionError("the run never took the lock")


def listing(folder: Path) -> tuple[set[str], set[str]]:
    """(visible files, hidden files) of a folder."""
    names = {p.name for p in folder.iterdir()}
    return {n for n in names if not n.startswith(".")}, {n for n in names if n.startswith(".")}


def test_sigkill_part_way_leaves_the_previous_ranked_list_and_the_next_run_succeeds(tmp_path: Path) -> None:
    out = tmp_path / "out" / "ranked.csv"
    first = subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--out", str(out)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = out.read_bytes()
    rows = len(pd.read_csv(out))
    assert rows > 1000

    victim = start(out, tmp_path)
    try:
        wait_for_lock(victim, out)
        time.sleep(0.5)  # into the loading and scoring
        victim.send_signal(signal.SIGSTOP)  # frozen part-way: it cannot finish while we look
        # a second run on the same output while the first holds it: exit 3, naming the holder
        second = subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--out", str(out)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert (second.returncode, second.stderr) == (
            3, f"churnscore: error: {out}: another churnscore run (pid {victim.pid}) is writing this output; "
               "wait for it to finish or choose another --out.\n")
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        victim.stdout.close()
        victim.stderr.close()

    assert out.read_bytes() == before  # byte-identical
    ranked = pd.read_csv(out, dtype={"account_id": str})
    assert len(ranked) == rows and ranked["rank"].tolist() == list(range(1, rows + 1))
    visible, hidden = listing(out.parent)
    assert visible == OUTPUTS  # nothing half-written under a name a reader would open
    assert all(re.fullmatch(r"\.ranked\.(rejects\.|excluded\.|manifest\.)?(csv|json)\..+\.tmp", h) for h in hidden)

    again = subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--out", str(out)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr  # the killed run's lock went with its process
    assert out.read_bytes() == before  # same as-of, same inputs: the same bytes
    assert listing(out.parent) == (OUTPUTS, set())


def test_sigkill_in_the_middle_of_writing_leaves_the_old_file_and_only_a_hidden_temp(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_text(inputs / "usage.csv", "account_id,timestamp\nA1,2024-03-20\nA2,2024-03-21\n")
    out = tmp_path / "out" / "ranked.csv"
    runner = CliRunner()
    assert runner.invoke(main, ["score", "--input-dir", str(inputs), "--out", str(out)]).exit_code == 0
    before = out.read_bytes()
    # the writer itself, killed after writing half a file into its temporary file
    script = (
        "import os, signal\n"
        "from churnscore.write import write_table\n"
        "import churnscore.write as w\n"
        "real = w.atomic_write\n"
        "def half(path, write):\n"
        "    def partial(fh):\n"
        "        fh.write(b'rank,account_id\\n1,A')\n"
        "        fh.flush()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(path, partial)\n"
        "w.atomic_write = half\n"
        "import pandas as pd\n"
        f"write_table(pd.DataFrame({{'rank': [1]}}), {str(out)!r})\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert out.read_bytes() == before
    visible, hidden = listing(out.parent)
    assert visible == OUTPUTS
    assert len(hidden) == 1 and re.fullmatch(r"\.ranked\.csv\.[^.]+\.tmp", hidden.pop())
    # the next run removes what the killed one left (it holds the lock, so nobody else owns it)
    assert runner.invoke(main, ["score", "--input-dir", str(inputs), "--out", str(out)]).exit_code == 0
    assert out.read_bytes() == before
    assert listing(out.parent) == (OUTPUTS, set())


def test_a_second_run_on_a_locked_output_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_text(inputs / "usage.csv", "account_id,timestamp\nA1,2024-03-20\n")
    out = tmp_path / "out" / "ranked.csv"
    with output_lock(out):
        run = subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--input-dir", str(inputs),
                              "--out", str(out)], capture_output=True, text=True, timeout=120)
        json_run = subprocess.run([sys.executable, "-m", "churnscore.cli", "--log-format", "json", "score",
                                   "--input-dir", str(inputs), "--out", str(out)],
                                  capture_output=True, text=True, timeout=120)
    message = (f"{out}: another churnscore run (pid {os.getpid()}) is writing this output; wait for it to finish "
               "or choose another --out.")
    assert (run.returncode, run.stdout, run.stderr) == (3, "", f"churnscore: error: {message}\n")
    assert json_run.returncode == 3
    assert json_run.stderr == ('{"error": "LockError", "event": "error", "exit_code": 3, "level": "error", '
                               f'"message": "{message}"}}\n')
    assert listing(out.parent) == ({"ranked.lock"}, set())
    # the lock is released with the holder: now it runs
    assert subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--input-dir", str(inputs),
                           "--out", str(out)], capture_output=True, timeout=120).returncode == 0


def test_sigterm_part_way_unwinds_says_so_in_one_line_and_leaves_the_previous_list(tmp_path: Path) -> None:
    """A timeout or a service stop sends SIGTERM: the run removes its temporary files, says why it ended, and
    exits 143 (128 + 15, as a shell reports it); the list it did not finish is not in place."""
    out = tmp_path / "out" / "ranked.csv"
    first = subprocess.run([sys.executable, "-m", "churnscore.cli", "score", "--out", str(out)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = out.read_bytes()
    victim = start(out, tmp_path)
    try:
        wait_for_lock(victim, out)
        time.sleep(0.3)  # into the loading
        victim.send_signal(signal.SIGTERM)
        _, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert victim.returncode == 143
    assert err.splitlines()[-1] == ("churnscore: error: stopped by SIGTERM before the end; every output is whole: "
                                    "the last run's, or this run's where it had already been written.")
    assert out.read_bytes() == before
    assert listing(out.parent) == (OUTPUTS, set())  # no temporary file left behind
