"""A new team's starting point: a commented config (the default's structure, reading DIR/exports) and a note in
DIR/exports/ of the files churnscore expects there."""

from __future__ import annotations

from pathlib import Path

from .config import DEFAULT_CONFIG, load_preset
from .contract import EXPORTS
from .errors import ConfigError
from .files import atomic_write

CONFIG_NAME = "churnscore.yaml"
EXPORTS_DIR = "exports"
OUTPUT_DIR = "out"  # the ranked list (output.path) and the suggested report go here, beside the config

EVENTS_NOTE = """\
  # EDIT FIRST: the event names of YOUR product (the 'event' column of usage). Names that never occur there
  # switch off the rules built on them (weak_start, low_key_feature_adoption); 'churnscore validate' lists
  # the events your accounts use most, with the share of accounts using each.
"""
HEADER = """\
# churnscore config for this team, written by 'churnscore init'. Paths are relative to this file.
# Every key is checked: a typo fails at start with the closest key named.
#
# Next steps, from the folder 'churnscore init' ran in (paths on the command line are relative to where you are):
#   1. put your exports in exports/ (exports/README.txt lists the files and their columns)
#   2. churnscore validate --config {config}
#      then EDIT FIRST features.login_event and features.key_features below: your product's event names,
#      picked from the events validate lists as most used
#   3. churnscore score --config {config} --report {report}
#      the ranked list goes to {output} next to this file (output.path below), from any working directory
"""
OUTPUT_LINE = f"""\
  path: {OUTPUT_DIR}/ranked.csv           # relative to this file, like input_dir, wherever churnscore runs;
                                 # --out (relative to the working directory) overrides it
"""

PRESETS_BLOCK = """\

# Vendor presets (configs/presets/ of churnscore): column and value mappings for exports as the tools write
# them: stripe (invoices -> payments), zendesk (tickets), delighted (NPS responses -> nps), mixpanel (events ->
# usage). Your own inputs: below win over a preset's. Also on the command line: --preset stripe.
presets: [{presets}]
"""

ACCOUNT_MAP_BLOCK = """\
#   account_map:                 # optional: joins vendor keys to your account ids (default: exports/account_map.csv)
#     path: exports/account_map.csv   # columns source,key,account_id, e.g. zendesk,Acme Inc,A001
"""
ACCOUNT_SOURCE_LINE = """\
#     account_source: null     # the account_map source whose keys account_id holds (presets set it)
"""


def output_folder(target: str | Path) -> Path:
    """Where a team folder's ranked list goes (output.path of its config: out/ranked.csv beside the config), and
    where 'init' suggests the report goes. Relative to the working directory as ``target`` is, as --report is."""
    return Path(target) / OUTPUT_DIR


def starter_config(presets: tuple[str, ...] = (), config_name: str = CONFIG_NAME,
                   report: str = f"{OUTPUT_DIR}/report.html") -> str:
    """The default config's text with this team's header, input_dir: exports, output.path: out/ranked.csv (beside
    the config), and a presets block. ``config_name`` and ``report`` are shown in the next steps."""
    lines = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))  # the default's header comment goes
    out = []
    section = None
    skipping = False  # the default's comment lines under its output.path, replaced with this config's
    for line in lines[start:]:
        if skipping and line.startswith(" ") and line.lstrip().startswith("#"):
            continue
        skipping = False
        if line[:1].isalpha():
            section = line.split(":")[0]
        if section == "output" and line.startswith("  path:"):
            out.append(OUTPUT_LINE)
            skipping = True
            continue
        if line.startswith("input_dir:"):
            out.append(f"input_dir: {EXPORTS_DIR}              # the folder of exports (--input-dir overrides it)\n")
            out.append(PRESETS_BLOCK.format(presets=", ".join(presets)))
            continue
        if line.lstrip("# ").startswith("date_format:"):
            out.append(line.replace("strftime format;", "strftime format, or unix (seconds since 1970);"))
            out.append(ACCOUNT_SOURCE_LINE)
            continue
        if section == "features" and line.startswith("  key_features:"):
            out.append(EVENTS_NOTE)
        out.append(line)
        if line.startswith("# inputs:"):
            out.append(ACCOUNT_MAP_BLOCK)
    return HEADER.format(config=config_name, report=report, output=f"{OUTPUT_DIR}/ranked.csv") + "".join(out)


def exports_readme() -> str:
    """What goes in the exports folder: one file (or folder of files) per export, and their columns."""
    lines = ["Put the exports here, each under its name: <name>.csv, <name>.csv.gz or <name>.parquet,",
             "or a folder <name>/ of several such files (read as one export). Only usage is required.",
             "One of them per export: two (a usage.csv beside a usage/ folder) stop the run, naming both; keep",
             "one, or name it with inputs.<name>.path in churnscore.yaml.",
             "Column names are matched case-insensitively; a preset or the config maps other names.", ""]
    for name, export in EXPORTS.items():
        need = "required" if export.required else ("recommended" if name == "accounts" else "optional")
        cols = ", ".join(c.name + ("*" if c.required else "") for c in export.columns)
        lines.append(f"  {name + '.csv':<14} ({need}) {cols}")
    lines += ["  account_map.csv (optional) source*, key*, account_id*: joins the keys a vendor export uses",
              "                 (a Zendesk organization, a Stripe customer id, an email domain) to account ids",
              "", "* required column.", "",
              "How values are written (a config's inputs.<name>.values maps other words onto these):",
              "  dates       2026-03-04 (ISO 8601), or the strftime pattern of inputs.<name>.date_format",
              "  datetimes   2026-03-04T14:23:11Z or 2026-03-04 14:23:11+02:00 (converted to UTC; no offset = UTC),",
              "              or date_format: unix for seconds since 1970",
              "  numbers     104.40: a dot for decimals, no thousands separator; mrr, seats, count, amount >= 0;",
              "              nps score a whole number 0-10; csat 1-5",
              "  booleans    auto_renew: true/false, yes/no, 1/0 (any case)",
              "  ids         account_id is text: 00123 stays 00123",
              "  statuses    tickets: solved, closed or resolved is closed, anything else open; priority high or",
              "              urgent is urgent. payments: paid, failed, void or refunded; a failure_reason with",
              "              'expir' in it (expired_card) is an expired card",
              "  missing     an empty cell",
              "",
              "The full contract: docs/DATA_CONTRACT.md of the churnscore project (every column, its kind and",
              "bounds, and what happens to a row that breaks it).", ""]
    return "\n".join(lines)


def init_project(target: str | Path, *, presets: tuple[str, ...] = (), force: bool = False) -> dict[str, Path]:
    """Write <target>/churnscore.yaml and <target>/exports/README.txt; refuse to overwrite a config."""
    target = Path(target)
    for name in presets:
        load_preset(name)  # an unknown name fails here, with the choices
    config = target / CONFIG_NAME
    if config.exists() and not force:
        raise ConfigError(f"{config}: already exists; pass --force to overwrite it, or pick another folder.")
    (target / EXPORTS_DIR).mkdir(parents=True, exist_ok=True)
    text = starter_config(tuple(presets), str(config), str(output_folder(target) / "report.html")).encode("utf-8")
    readme = exports_readme().encode("utf-8")
    return {"config": atomic_write(config, lambda fh: fh.write(text)),
            "readme": atomic_write(target / EXPORTS_DIR / "README.txt", lambda fh: fh.write(readme))}
