"""The README and the input contract stay true: every shell block a user is meant to paste names commands and
options that exist, the ones that need nothing run as pasted, the crontab line logs into a folder the README
makes, and docs/DATA_CONTRACT.md lists exactly the loader's columns."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from churnscore.cli import main
from churnscore.contract import EXPORTS
from churnscore.starter import exports_readme

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONTRACT = ROOT / "docs" / "DATA_CONTRACT.md"
VENDORS = Path(__file__).parent / "fixtures" / "vendors"
BIN = Path(sys.executable).parent  # the environment the tests run in, whose churnscore is the one installed


def blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line, lines) of every fenced block."""
    out, lang, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, start, body = line[3:].strip(), number + 1, []
            else:
                out.append((lang, start, body))
                lang = None
        elif lang is not None:
            body.append(line)
    return out


SHELL = [(start, body) for lang, start, body in blocks(README.read_text(encoding="utf-8"))
         if lang in ("bash", "sh", "cron")]


def commands(body: list[str]) -> list[str]:
    """The commands of a block: comments and a crontab line's schedule taken off, `a && b` split."""
    out = []
    for line in body:
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"^([\d*/,-]+\s+){5}", line):  # a crontab line: five time fields, then the command
            line = re.sub(r"^([\d*/,-]+\s+){5}", "", line)
        out += [part.strip() for part in line.split("&&")]
    return out


def churnscore_args(command: str) -> list[str] | None:
    """The arguments of a churnscore command (whatever path it is run by), without a shell redirection."""
    words = shlex.split(command.split(" 2>", 1)[0].split(" > ", 1)[0])
    if not words or not words[0].endswith("churnscore"):
        return None
    return words[1:]


def test_the_readme_has_shell_blocks_to_check():
    assert len(SHELL) >= 8
    assert SHELL[0][1][0].startswith("pip install -e . && churnscore score")


@pytest.mark.parametrize("start,body", SHELL, ids=[f"README.md:{s}" for s, _ in SHELL])
def test_every_churnscore_command_in_the_readme_names_a_command_and_options_that_exist(start, body):
    """Parsed as the CLI parses it (files need not exist yet): an unknown command or option fails here."""
    seen = 0
    for command in commands(body):
        args = churnscore_args(command)
        if args is None:
            continue
        seen += 1
        split = 2 if args[0] == "--log-format" else 0  # the group's one option, before the command
        ctx = main.make_context("churnscore", args[:split], resilient_parsing=True)
        name, rest = args[split], args[split + 1:]
        sub = main.get_command(ctx, name)
        assert sub is not None, f"README.md:{start}: no command {name!r}"
        sub.make_context(name, list(rest), parent=ctx, resilient_parsing=True)
    first = next(iter(commands(body)), "")
    assert seen or not first.startswith(("churnscore", ".venv")), f"README.md:{start}: nothing checked"


def provide(need: str, cwd: Path) -> bool:
    """Make what a block's `# needs:` line names, where the test can; False where it cannot."""
    if need.startswith("your exports in acme/exports/"):
        exports = cwd / "acme" / "exports"
        for name in ("accounts.csv", "payments.csv", "tickets.csv", "account_map.csv"):
            lines = (VENDORS / name).read_text(encoding="utf-8").splitlines(keepends=True)
            # the fixtures' two rows for customers missing from account_map.csv (rejects, on purpose) left out
            (exports / name).write_text("".join(x for x in lines if "Nobody Ltd" not in x and "cus_ZZ9" not in x),
                                        encoding="utf-8")
        (exports / "usage.csv").write_text(
            "account_id,timestamp,user_id,event\n"
            "A001,2026-10-01T09:00:00Z,u1,login\nA001,2026-10-30T09:00:00Z,u1,report_created\n"
            "A002,2026-08-01T09:00:00Z,u2,login\nA003,2026-10-29T09:00:00Z,u3,login\n", encoding="utf-8")
        return True
    if need.startswith("a folder downloads/ of exports as the tools named them"):
        from test_detect import team_folder  # the Done-when folder of issue 18: four vendors and a CRM table

        team_folder(cwd)
        return True
    return False


def run_block(body: list[str], cwd: Path) -> list[str]:
    """Run a block's lines as pasted, in ``cwd``; lines after a `# needs:` line run only once the test has made
    what it names. `pip install ... && cmd` runs cmd: this environment is the installed one. The test suite
    itself (`pytest`) is not run again from inside it. Returns the commands run."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    ran = []
    for line in body:
        if line.startswith("# needs:"):
            if not provide(line[len("# needs:"):].strip(), cwd):
                break
            continue
        for command in commands([line]):
            if command.startswith("pip install") or command == "pytest":
                continue
            done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
            ran.append(command)
    return ran


def test_the_detect_walkthrough_scores_a_folder_of_four_vendors_as_the_tools_named_them(tmp_path):
    start, body = next((s, b) for s, b in SHELL if any("init team --detect" in line for line in b))
    ran = run_block(body, tmp_path)
    assert [c.split()[1] for c in ran] == ["init", "validate", "score"], f"README.md:{start}"
    ranked = (tmp_path / "team" / "out" / "ranked.csv").read_text(encoding="utf-8").splitlines()
    assert sorted(line.split(",")[1] for line in ranked[1:]) == ["A001", "A002", "A003"]


def test_the_first_command_scores_the_bundled_sample_from_any_folder(tmp_path):
    ran = run_block(SHELL[0][1], tmp_path)
    assert ran == ["churnscore score"]
    ranked = (tmp_path / "out" / "ranked.csv").read_text(encoding="utf-8").splitlines()
    assert ranked[0].startswith("rank,account_id,account_name,risk_score,risk_tier")
    assert len(ranked) == 1 + 1556


def test_the_init_validate_score_walkthrough_runs_once_the_exports_are_there(tmp_path):
    start, body = next((s, b) for s, b in SHELL if any(line.startswith("churnscore init acme") for line in b))
    ran = run_block(body, tmp_path)
    assert [c.split()[1] for c in ran] == ["init", "validate", "score"], f"README.md:{start}"
    assert (tmp_path / "acme" / "out" / "ranked.csv").is_file()
    assert (tmp_path / "acme" / "out" / "report.html").is_file()


def test_the_crontab_line_logs_into_a_folder_the_readme_makes_first():
    cron = [(s, b) for s, b in SHELL if re.match(r"^([\d*/,-]+\s+){5}", b[0])]
    assert len(cron) == 1
    start, body = cron[0]
    log = re.search(r"2>>\s*(\S+)", body[0]).group(1)
    made = [c for s, b in SHELL if s < start for c in commands(b) if c.startswith("mkdir -p ")]
    assert any(Path(log).parent == Path(c.split()[-1]) for c in made), f"README.md:{start}: {log}"
    assert "cd /srv/churn" in body[0]


def contract_tables(text: str) -> dict[str, list[tuple[str, bool, str]]]:
    """Per export heading (`## name (...)`), its table rows: (column, required, kind)."""
    out: dict[str, list[tuple[str, bool, str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            name = line[3:].split()[0]
            current = name if name in EXPORTS else None
        elif current and line.startswith("| ") and not line.startswith(("| column", "|---")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out.setdefault(current, []).append((cells[0], cells[1] == "yes", cells[2]))
    return out


def test_the_data_contract_page_lists_exactly_the_loaders_columns():
    tables = contract_tables(CONTRACT.read_text(encoding="utf-8"))
    assert set(tables) == set(EXPORTS)
    for name, export in EXPORTS.items():
        assert tables[name] == [(c.name, c.required, c.kind) for c in export.columns], name


def test_the_readme_and_inits_note_link_the_contract_inside_the_repository():
    readme = README.read_text(encoding="utf-8")
    assert "](docs/DATA_CONTRACT.md)" in readme
    assert "../shared" not in readme
    note = exports_readme()
    assert "docs/DATA_CONTRACT.md" in note
    for word in ("2026-03-04T14:23:11Z", "true/false", "paid", "solved", "urgent"):
        assert word in note, word
