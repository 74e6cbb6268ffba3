"""Issue 20, hostile and unlucky inputs: planted links, escape codes, forged models, the umask, outputs that
collide, outputs as a set, FIFOs and SIGTERM, and formula neutralisation that reads back exactly.

Each test is one probe of the issue, on a few hand-made rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli as run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links, FIFOs and signals")

ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A001,Acme,pro,500,5,2025-01-01,2026-12-01,true,SMB,
A002,Beta,starter,100,2,2025-06-01,2027-01-01,false,SMB,
"""
USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2026-10-30T10:00:00Z,u1,login,3,200
A001,2026-09-15T10:00:00Z,u1,login,10,200
A002,2026-08-01T10:00:00Z,u3,login,1,30
"""


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "usage.csv").write_text(USAGE)
    return d



def score(inputs: Path, out: Path, *more: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return run("score", "--input-dir", str(inputs), "--as-of", "2026-10-31", "--out", str(out), *more, env=env)


def contents(folder: Path) -> dict[str, bytes]:
    """The files of a folder and their bytes (not the lock: it holds the pid of the last run)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and not p.is_symlink() and p.suffix != ".lock"}


# ----------------------------------------------------------------------------- 1. the lock file


def test_a_planted_lock_symlink_stops_the_run_and_leaves_its_target(inputs: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "o" / "r.csv"
    out.parent.mkdir()
    (out.parent / "r.lock").symlink_to(victim)
    code, _, err = score(inputs, out)
    assert (code, err) == (1, f"churnscore: error: {out.parent / 'r.lock'}: the lock file is a symbolic link; "
                              "churnscore never follows one there (it would overwrite the file it points at): "
                              "remove the link.\n")
    assert victim.read_text() == "precious\n"
    assert not out.exists()


def test_a_planted_lock_hard_link_stops_the_run_and_leaves_its_target(inputs: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "r.csv"
    os.link(victim, tmp_path / "r.lock")
    code, _, err = score(inputs, out)
    assert (code, err) == (1, f"churnscore: error: {tmp_path / 'r.lock'}: the lock file has other hard links "
                              "(writing it would change another file); remove it and run again.\n")
    assert victim.read_text() == "precious\n"


def test_outputs_sharing_companion_files_share_one_lock(inputs: Path, tmp_path: Path) -> None:
    from churnscore.runlock import output_lock

    with output_lock(tmp_path / "r.csv"):
        code, _, err = score(inputs, tmp_path / "r.json")
    assert code == 3, err
    assert not (tmp_path / "r.json").exists()


# ----------------------------------------------------------------------------- 4. modes from the umask


def test_outputs_follow_the_umask(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "r.csv"
    code = (f"import os, sys; os.umask(0o077); from churnscore.cli import main; sys.argv = ['churnscore', "
            f"'score', '--input-dir', {str(inputs)!r}, '--as-of', '2026-10-31', '--out', {str(out)!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.parent.iterdir()}
    assert modes == {"r.csv": "0o600", "r.rejects.csv": "0o600", "r.excluded.csv": "0o600",
                     "r.manifest.json": "0o600", "r.lock": "0o600"}


# ----------------------------------------------------------------------------- 2. terminal escape codes

CLEAR, TITLE, CLIPBOARD = "\x1b[2J", "\x1b]0;pwned\x07", "\x1b]52;c;ZWNobyBoaQ==\x07"
HOSTILE_ACCOUNTS = ACCOUNTS.replace("Acme", f"{CLEAR}Acme{TITLE}").replace("Beta", f'"{CLIPBOARD}\x9b31m"')


def test_printable_shows_controls_as_escapes() -> None:
    from churnscore.limits import printable

    assert printable(f"{CLEAR}a{TITLE}\x9bb\u202ec\td\ne") == \
        "\\x1b[2Ja\\x1b]0;pwned\\x07\\x9bb\\u202ec\\td\\ne"
    assert printable("one\ntwo\x1b", newlines=True) == "one\ntwo\\x1b"


def test_top_table_shows_account_names_escaped() -> None:
    from churnscore.terminal import top_table

    ranked = pd.DataFrame({"rank": [1, 2], "account_id": ["A001", "A002"],
                           "account_name": [f"{CLEAR}Acme{TITLE}", CLIPBOARD], "risk_score": [70.0, 40.0],
                           "risk_tier": ["high", "medium"], "revenue_at_risk": [350.0, 40.0],
                           "reasons": [f"usage down{CLEAR}", ""]})
    table = top_table(ranked)
    assert "\x1b" not in table and "\x07" not in table
    assert table.splitlines()[1:] == [
        "  1  \\x1b[2JAcme\\x1b]0;pwned…   70.0  high           350  usage down\\x1b[2J",
        "  2  \\x1b]52;c;ZWNobyBoaQ==\\…   40.0  medium          40  -"]


def test_explain_and_validate_print_no_escape_codes(inputs: Path) -> None:
    (inputs / "accounts.csv").write_text(HOSTILE_ACCOUNTS)
    (inputs / "usage.csv").write_text(USAGE + f"A002,2026-08-01T10:00:00Z,u3,login,1,{CLEAR}9\n")
    code, out, err = run("explain", "A001", "--input-dir", str(inputs), "--as-of", "2026-10-31")
    assert code == 0, err
    assert out.splitlines()[0] == 'account A001 "\\x1b[2JAcme\\x1b]0;pwned\\x07" as of 2026-10-31'
    code, out, err = run("validate", "--input-dir", str(inputs), "--as-of", "2026-10-31")
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "duration_seconds = '\\x1b[2J9'" in out


def test_an_error_quoting_a_value_prints_it_escaped(inputs: Path) -> None:
    code, _, err = run("explain", f"{TITLE}X", "--input-dir", str(inputs), "--as-of", "2026-10-31")
    assert (code, err) == (1, "churnscore: error: account '\\x1b]0;pwned\\x07X' is not in the inputs (ids are "
                              "matched exactly, leading zeros included).\n")


# ----------------------------------------------------------------------------- 3. signed models

KEY = {"CHURNSCORE_MODEL_KEY": "nightly-secret", "CHURNSCORE_MODEL_KEY_FILE": ""}
NO_KEY = {"CHURNSCORE_MODEL_KEY": "", "CHURNSCORE_MODEL_KEY_FILE": ""}


def save_flat_model(path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Path:
    """A model of the default config with every coefficient 0 (probability 0.5), saved under ``env``."""
    import numpy as np

    from churnscore.config import load_config
    from churnscore.model import LinearChurnModel, feature_config_hash, model_columns, save_model

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(None)
    n = len(model_columns(cfg))
    save_model(LinearChurnModel(model_columns(cfg), np.zeros(n), [], np.zeros(n), np.ones(n), np.zeros(n), 0.0,
                                {"feature_config_hash": feature_config_hash(cfg)}), path)
    for name in env:
        monkeypatch.delenv(name)
    return path


def forge(path: Path) -> None:
    """Change the intercept and recompute the sha256, as anyone who can write the file can."""
    import hashlib

    doc = json.loads(path.read_text())
    doc["params"]["intercept"] = 1000.0
    body = {k: v for k, v in doc.items() if k != "sha256"}
    doc["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    path.write_text(json.dumps(doc))


def test_with_a_key_a_signed_model_scores_and_a_forged_one_is_refused(inputs: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    model = save_flat_model(tmp_path / "model.json", monkeypatch, KEY)
    assert len(json.loads(model.read_text())["signature"]) == 64
    code, _, err = score(inputs, tmp_path / "r.csv", "--model", str(model), env=KEY)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "r.csv")["churn_probability"].tolist() == [0.5, 0.5]
    forge(model)
    for args in (("score", "--input-dir", str(inputs), "--out", str(tmp_path / "r2.csv")),
                 ("explain", "A001", "--input-dir", str(inputs))):
        code, _, err = run(*args, "--model", str(model), env=KEY)
        assert (code, err) == (1, f"churnscore: error: {model}: model file signature does not match the key in "
                                  "CHURNSCORE_MODEL_KEY (or CHURNSCORE_MODEL_KEY_FILE): it was changed or signed "
                                  "with another key; retrain it with this key.\n")
    assert not (tmp_path / "r2.csv").exists()


def test_with_a_key_an_unsigned_model_is_refused_and_without_one_it_scores(inputs: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    model = save_flat_model(tmp_path / "model.json", monkeypatch, NO_KEY)
    assert "signature" not in json.loads(model.read_text())
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    env = {"CHURNSCORE_MODEL_KEY": "", "CHURNSCORE_MODEL_KEY_FILE": str(key_file)}
    code, _, err = score(inputs, tmp_path / "r.csv", "--model", str(model), env=env)
    assert (code, err) == (1, f"churnscore: error: {model}: model file is not signed, and CHURNSCORE_MODEL_KEY "
                              "(or CHURNSCORE_MODEL_KEY_FILE) is set; retrain it with the key set, or unset the "
                              "key to use unsigned models.\n")
    assert score(inputs, tmp_path / "r.csv", "--model", str(model), env=NO_KEY)[0] == 0
    signed = save_flat_model(tmp_path / "signed.json", monkeypatch, env)  # the key file signs as the variable does
    assert score(inputs, tmp_path / "r.csv", "--model", str(signed), env=env)[0] == 0
    code, _, err = score(inputs, tmp_path / "r.csv", "--model", str(signed), env=KEY)
    assert code == 1 and "signature does not match the key" in err


# ----------------------------------------------------------------------------- 12. FIFOs, devices, SIGTERM


def test_a_fifo_as_the_usage_export_is_refused_unopened(inputs: Path, tmp_path: Path) -> None:
    (inputs / "usage.csv").unlink()
    os.mkfifo(inputs / "usage.csv")
    code, _, err = score(inputs, tmp_path / "r.csv")  # a reader of the FIFO would block for ever
    assert (code, err) == (1, f"churnscore: error: {inputs / 'usage.csv'}: the usage export is a FIFO (named "
                              "pipe), not a regular file; give a regular file.\n")


def test_a_fifo_or_device_named_in_the_config_or_an_option_is_refused_unopened(inputs: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    config = tmp_path / "c.yaml"
    config.write_text(f"input_dir: {inputs}\ninputs:\n  tickets:\n    path: {fifo}\n")
    assert run("score", "--config", str(config), "--out", str(tmp_path / "r.csv"))[1:] == (
        "", f"churnscore: error: {fifo}: the tickets export is a FIFO (named pipe), not a regular file or a "
            "folder; give a regular file or a folder.\n")
    assert run("score", "--config", str(fifo))[2] == (
        f"churnscore: error: {fifo}: the config (--config) is a FIFO (named pipe), not a regular file; give a "
        "regular file.\n")
    assert score(inputs, tmp_path / "r.csv", "--model", "/dev/zero")[2] == (
        "churnscore: error: /dev/zero: the model file is a character device, not a regular file; give a regular "
        "file.\n")
    assert score(inputs, tmp_path / "r.csv", "--previous", str(fifo))[2] == (
        f"churnscore: error: {fifo}: the previous ranked list (--previous) is a FIFO (named pipe), not a regular "
        "file; give a regular file.\n")
    assert run("explain", "A001", "--input-dir", str(inputs), "--history", str(fifo))[2] == (
        f"churnscore: error: {fifo}: an earlier ranked list (--history) is a FIFO (named pipe), not a regular "
        "file; give a regular file.\n")
    assert not (tmp_path / "r.csv").exists()


BLOCKED_RUN = """
import sys
from pathlib import Path
import churnscore.load.orchestrate as orchestrate
from churnscore.cli import main

fifo = Path(sys.argv[1])
real = orchestrate.export_files
def export_files(config, input_dir):  # as if a FIFO took the usage file's place after the check
    found = real(config, input_dir)
    found.files["usage"] = [fifo]
    return found
orchestrate.export_files = export_files
sys.argv = ["churnscore", "score", "--input-dir", sys.argv[2], "--out", sys.argv[3]]
main()
"""


def test_sigterm_ends_a_run_blocked_on_a_fifo_and_releases_the_lock(inputs: Path, tmp_path: Path) -> None:
    from churnscore.runlock import output_lock

    fifo = tmp_path / "usage.csv"
    os.mkfifo(fifo)
    out = tmp_path / "o" / "r.csv"
    proc = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, str(fifo), str(inputs), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = out.with_name("r.lock")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(proc.pid)) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(0.5)  # into the read of the FIFO
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)  # bounded: the run is given 5 s to unwind
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.splitlines()[-1].startswith("churnscore: error: stopped by SIGTERM")
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.lock"]  # no temporaries left
    with output_lock(out):  # the lock is free
        pass


STUCK_WRITE = """
import signal, sys, time
from churnscore.stopping import sigterm_watchdog
from churnscore.files import atomic_write

signal.signal(signal.SIGTERM, lambda *_: None)  # as if the run's handler never got to run (a C call)
with sigterm_watchdog("text", grace=1.0):
    atomic_write(sys.argv[1], lambda fh: (fh.write(b"half"), print("writing", flush=True), time.sleep(60)))
"""


def test_sigterm_ends_a_run_that_cannot_unwind_after_the_grace_time_and_removes_its_temporaries(
        tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("last night\n")
    proc = subprocess.Popen([sys.executable, "-c", STUCK_WRITE, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    assert len(list(tmp_path.glob(".r.csv.*.tmp"))) == 1
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err == ("churnscore: error: stopped by SIGTERM; the run did not unwind within 1 s (blocked in a read or "
                   "a library call), so it was ended at once: its temporary files are removed and every output is "
                   "whole (the last run's, or this run's where it had already been written).\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    assert out.read_text() == "last night\n"


# ----------------------------------------------------------------------------- 10. outputs that collide


def test_an_output_that_is_an_input_the_config_the_model_or_another_output_is_refused(inputs: Path,
                                                                                      tmp_path: Path) -> None:
    usage = inputs / "usage.csv"
    before = usage.read_bytes()
    assert score(inputs, usage)[2] == (f"churnscore: error: {usage}: the ranked list (--out) would overwrite the "
                                       f"usage export ({usage}); write the outputs somewhere else.\n")
    (tmp_path / "link.csv").symlink_to(usage)
    assert "would overwrite the usage export" in score(inputs, tmp_path / "link.csv")[2]
    os.link(usage, tmp_path / "hard.csv")
    assert "would overwrite the usage export" in score(inputs, tmp_path / "hard.csv")[2]
    config = tmp_path / "churnscore.yaml"
    config.write_text(f"input_dir: {inputs}\n")
    assert run("score", "--config", str(config), "--out", str(config))[2] == (
        f"churnscore: error: {config}: the ranked list (--out) would overwrite the config ({config}); write the "
        "outputs somewhere else.\n")
    model = tmp_path / "m.json"
    model.write_text("{}")
    assert score(inputs, tmp_path / "x.csv", "--model", str(model), "--report", str(model))[2] == (
        f"churnscore: error: {model}: the report file would overwrite the model (--model) ({model}); write the "
        "outputs somewhere else.\n")
    assert score(inputs, tmp_path / "r.html", "--report", str(tmp_path / "r.html"))[2] == (
        f"churnscore: error: {tmp_path / 'r.html'}: the report file and the ranked list (--out) would be one file; "
        "give --out and --report different names.\n")
    assert "the manifest file and the report file would be one file" in score(
        inputs, tmp_path / "r.csv", "--report", str(tmp_path / "r.manifest.json"))[2]
    assert usage.read_bytes() == before and model.read_text() == "{}" and config.read_text() == f"input_dir: {inputs}\n"
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "x.csv").exists()


def test_an_output_where_the_next_run_would_read_it_as_an_export_is_refused(inputs: Path, tmp_path: Path) -> None:
    assert score(inputs, inputs / "tickets.csv")[2] == (
        f"churnscore: error: {inputs / 'tickets.csv'}: the ranked list (--out) would be read as the tickets export "
        "by the next run; write the outputs somewhere else.\n")
    (inputs / "nps").mkdir()
    (inputs / "nps" / "a.csv").write_text("account_id,responded_at,score\nA001,2026-10-01,9\n")
    assert "would be read as the nps export" in score(inputs, inputs / "nps" / "r.csv")[2]
    assert not (inputs / "tickets.csv").exists() and not (inputs / "nps" / "r.csv").exists()


def test_the_previous_list_may_be_the_list_being_replaced(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert score(inputs, out)[0] == 0
    code, _, err = score(inputs, out, "--previous", str(out))  # read whole before anything is written
    assert code == 0, err
    assert pd.read_csv(out)["score_change"].tolist() == [0.0, 0.0]


def test_an_output_named_as_if_compressed_is_refused(inputs: Path, tmp_path: Path) -> None:
    assert score(inputs, tmp_path / "x.csv.gz")[2] == (
        f"churnscore: error: {tmp_path / 'x.csv.gz'}: churnscore writes csv, parquet, json and html uncompressed; "
        f"name it {tmp_path / 'x.csv'} (and compress it afterwards if you need to).\n")
    assert list(tmp_path.glob("x.*")) == []


# ----------------------------------------------------------------------------- 11. outputs as a set


def manifest_matches(out: Path) -> bool:
    """Every file the manifest names has the sha256 it records."""
    import hashlib

    manifest = json.loads(out.with_name(f"{out.stem}.manifest.json").read_text())
    return all(hashlib.sha256(Path(manifest["outputs"][name]).read_bytes()).hexdigest() == digest
               for name, digest in manifest["output_sha256"].items())


def test_the_manifest_names_every_output_with_its_sha256(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert score(inputs, out)[0] == 0
    manifest = json.loads((tmp_path / "r.manifest.json").read_text())
    assert sorted(manifest["output_sha256"]) == ["excluded", "ranked", "rejects"]
    assert manifest_matches(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in", "r.csv", "r.excluded.csv", "r.lock", "r.manifest.json", "r.rejects.csv"]


def test_a_sibling_path_that_is_a_folder_stops_the_run_before_any_file_changes(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "r.csv"
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0
    before = contents(out.parent)
    (out.parent / "r.excluded.csv").unlink()
    (out.parent / "r.excluded.csv").mkdir()
    del before["r.excluded.csv"]
    code, _, err = score(inputs, out)
    assert (code, err) == (1, f"churnscore: error: {out.parent / 'r.excluded.csv'}: is a folder; give a file name.\n")
    assert contents(out.parent) == before


def test_a_full_disk_while_writing_the_report_leaves_the_whole_old_set(inputs: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import churnscore.outset as outset_mod

    out = tmp_path / "o" / "r.csv"
    report = out.parent / "r.html"
    assert score(inputs, out, "--report", str(report), "--as-of", "2026-09-30")[0] == 0
    before = contents(out.parent)
    real = outset_mod.write_temp

    def full_at_report(path, write, digest=False):  # noqa: ANN001, ANN202
        if Path(path).suffix == ".html":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write, digest=digest)

    monkeypatch.setattr(outset_mod, "write_temp", full_at_report)
    code, _, err = score(inputs, out, "--report", str(report))
    assert (code, err) == (1, f"churnscore: error: {report}: No space left on device.\n")
    assert contents(out.parent) == before  # no new list beside the old manifest, no temporary left
    assert manifest_matches(out)


KILLED_SWITCH = """
import os, sys
from churnscore.cli import main

real, done, after = os.replace, [], int(sys.argv[3])
def replace(src, dst):  # killed once ``after`` files of the set are in place (the journal's own rename aside)
    if not str(dst).endswith(".switch.json"):
        if len(done) == after:
            os._exit(9)
        done.append(dst)
    return real(src, dst)
os.replace = replace
sys.argv = ["churnscore", "score", "--input-dir", sys.argv[1], "--as-of", "2026-10-31", "--out", sys.argv[2]]
main()
"""

KILLED_WRITING = """
import os, sys
import churnscore.outset as outset
from churnscore.cli import main

real = outset.write_temp
def write_temp(path, write, digest=False):  # killed while the excluded file's temporary is written
    if str(path).endswith("excluded.csv"):
        os._exit(9)
    return real(path, write, digest=digest)
outset.write_temp = write_temp
sys.argv = ["churnscore", "score", "--input-dir", sys.argv[1], "--as-of", "2026-10-31", "--out", sys.argv[2]]
main()
"""


def test_a_kill_while_the_temporaries_are_written_leaves_the_whole_old_set(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "r.csv"
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0
    old = contents(out.parent)
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITING, str(inputs), str(out)], capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr
    assert contents(out.parent) == {**old, **{n: b for n, b in contents(out.parent).items() if n.startswith(".")}}
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0  # the next run removes the stray temporaries
    assert sorted(contents(out.parent)) == sorted(old)
    assert manifest_matches(out)


@pytest.mark.parametrize("after", [0, 1, 2, 3])
def test_a_kill_at_any_rename_of_the_switch_is_rolled_forward(inputs: Path, tmp_path: Path, after: int) -> None:
    from churnscore.outset import RunOutputs, finish_switch

    out = tmp_path / "o" / "r.csv"
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0
    killed = subprocess.run([sys.executable, "-c", KILLED_SWITCH, str(inputs), str(out), str(after)],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr
    assert (out.parent / ".r.switch.json").exists()
    assert finish_switch(RunOutputs(out, None))
    assert manifest_matches(out)
    assert json.loads((out.parent / "r.manifest.json").read_text())["as_of"] == "2026-10-31"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "r.csv", "r.excluded.csv", "r.lock", "r.manifest.json", "r.rejects.csv"]


def test_a_kill_between_the_renames_is_finished_by_the_next_run(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "r.csv"
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0
    old = contents(out.parent)
    killed = subprocess.run([sys.executable, "-c", KILLED_SWITCH, str(inputs), str(out), "1"], capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr
    journal = out.parent / ".r.switch.json"
    assert journal.exists()  # half switched: the new list beside the old manifest, and the journal says so
    assert contents(out.parent)["r.csv"] != old["r.csv"]
    assert contents(out.parent)["r.manifest.json"] == old["r.manifest.json"]
    assert not manifest_matches(out)

    from churnscore.outset import RunOutputs, finish_switch

    assert finish_switch(RunOutputs(out, None))  # what the next run does first, under the lock
    assert not journal.exists()
    assert manifest_matches(out)
    assert json.loads((out.parent / "r.manifest.json").read_text())["as_of"] == "2026-10-31"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "r.csv", "r.excluded.csv", "r.lock", "r.manifest.json", "r.rejects.csv"]


def test_the_next_run_finishes_a_killed_switch_and_says_so(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "o" / "r.csv"
    assert score(inputs, out, "--as-of", "2026-09-30")[0] == 0
    subprocess.run([sys.executable, "-c", KILLED_SWITCH, str(inputs), str(out), "2"], capture_output=True, timeout=120)
    code, _, err = score(inputs, out, "--as-of", "2026-09-30")
    assert code == 0, err
    assert err.splitlines()[0] == ("churnscore: finished switching the outputs of a run killed while it did "
                                   f"({out.parent / '.r.switch.json'})")
    assert manifest_matches(out)
    assert json.loads((out.parent / "r.manifest.json").read_text())["as_of"] == "2026-09-30"


def test_a_planted_switch_journal_that_names_other_files_is_refused(inputs: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "o" / "r.csv"
    out.parent.mkdir()
    (out.parent / ".r.switch.json").write_text(json.dumps({"renames": [[str(victim), str(out)]], "remove": []}))
    code, _, err = score(inputs, out)
    assert code == 1
    assert err.startswith(f"churnscore: error: {out.parent / '.r.switch.json'}: an unfinished switch of the "
                          "outputs that cannot be read (entries that churnscore does not write)")
    assert victim.read_text() == "precious\n" and not out.exists()


# ----------------------------------------------------------------------------- 17. formula neutralisation

TRICKY = ["-42", "'-42", "''-42", "=1+1", "\ufeff=cmd|' /C calc'!A0", "\u2067=1+1", "\u200b@SUM(A1)", "'t Hooft",
          "plain", "a=b"]


def test_neutralised_cells_read_back_exactly_and_invisible_prefixes_are_quoted(tmp_path: Path) -> None:
    from churnscore.movers import read_previous
    from churnscore.write import write_table

    frame = pd.DataFrame({"rank": range(1, len(TRICKY) + 1), "account_id": TRICKY, "account_name": TRICKY,
                          "risk_score": [50.0] * len(TRICKY)})
    path = write_table(frame, tmp_path / "r.csv")
    written = pd.read_csv(path, dtype=str)["account_id"].tolist()
    assert written == ["'-42", "''-42", "'''-42", "'=1+1", "'\ufeff=cmd|' /C calc'!A0", "'\u2067=1+1",
                       "'\u200b@SUM(A1)", "''t Hooft", "plain", "a=b"]
    back = read_previous(path)
    assert back["account_id"].tolist() == TRICKY
    assert back["account_name"].tolist() == TRICKY


def test_previous_tells_minus_42_from_quote_minus_42(inputs: Path, tmp_path: Path) -> None:
    (inputs / "accounts.csv").write_text(ACCOUNTS.replace("A001,", "-42,").replace("A002,", "'-42,"))
    (inputs / "usage.csv").write_text(USAGE.replace("A001,", "-42,").replace("A002,", "'-42,"))
    out = tmp_path / "r.csv"
    assert score(inputs, out)[0] == 0
    assert sorted(pd.read_csv(out, dtype=str)["account_id"]) == ["''-42", "'-42"]  # two ids, two cells
    code, _, err = score(inputs, out, "--previous", str(out))
    assert code == 0, err
    again = pd.read_csv(out, dtype=str)
    assert (again["previous_rank"] == again["rank"]).all()  # each found its own row, not the other's


def test_a_link_loop_a_dangling_link_or_a_folder_under_an_exports_file_name_is_refused(inputs: Path,
                                                                                       tmp_path: Path) -> None:
    (inputs / "tickets.csv").symlink_to(inputs / "tickets.csv")
    assert score(inputs, tmp_path / "r.csv")[2] == (
        f"churnscore: error: {inputs / 'tickets.csv'}: the tickets export is a symbolic link that loops, not a "
        "regular file; give a regular file.\n")
    (inputs / "tickets.csv").unlink()
    (inputs / "nps.csv").symlink_to(tmp_path / "gone.csv")
    assert score(inputs, tmp_path / "r.csv")[2] == (
        f"churnscore: error: {inputs / 'nps.csv'}: the nps export is a broken symbolic link, not a regular file; "
        "give a regular file.\n")
    (inputs / "nps.csv").unlink()
    (inputs / "payments.csv").mkdir()
    assert score(inputs, tmp_path / "r.csv")[2] == (
        f"churnscore: error: {inputs / 'payments.csv'}: the payments export is a folder, not a regular file; give a "
        "regular file.\n")
