"""Which export a file is, and which preset reads it, from its header alone (whatever the file is named).

Every candidate lists the source columns it expects: a preset, the columns its mapping names for its export plus
a few columns of the header the tool writes (SIGNATURES, from the header documented in the preset's file); the
contract itself ("no preset"), the export's own column names; the account mapping, ``source,key,account_id`` or
``account_id`` and a column per tool. A candidate's score is the share of its columns the header holds (case and
surrounding spaces ignored); the best one places the file when it holds every column its export cannot do
without (account id, times ...) and at least half of its columns (the contract's own: two of them, as a
contract export may hold only its required columns). Used by ``churnscore init --detect`` and by ``validate``,
which names the preset a failing file looks like.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .config import load_preset, preset_names
from .contract import EXPORTS, FILE_ENDINGS
from .errors import ConfigError, InputDataError
from .load import ANY_SOURCE, is_json, open_member, preset_sources, wide_column_source, zip_members
from .starter import CONFIG_NAME, starter_config
from .files import atomic_write

HEAD_BYTES = 65536
JSON_HEAD_RECORDS = 50
MIN_SHARE = 0.5
ACCOUNT_MAP = "account_map"

# A few columns of the header each tool writes beyond those its preset maps (the preset files name the source):
# they tell apart exports whose mapped columns are alike (three event tables: event, a time, a user).
SIGNATURES: dict[str, tuple[str, ...]] = {
    "stripe": ("Amount Paid", "Subtotal", "Total"),
    "stripe_payments": ("Seller Message", "Captured", "Amount Refunded"),
    "recurly": ("invoice_number", "billed_date", "closed_at"),
    "zendesk": ("Requester", "Assignee", "Ticket type"),
    "freshdesk": ("Agent", "Created time", "Last update time", "Resolution status"),
    "delighted": ("Response ID", "Permalink", "Survey type"),
    "qualtrics": ("StartDate", "ResponseId", "DistributionChannel", "Finished"),
    "surveymonkey": ("Respondent ID", "Collector ID", "IP Address"),
    "typeform": ("#", "Start Date (UTC)", "Network ID"),
    "mixpanel": ("distinct_id", "time"),
    "mixpanel_raw": ("properties.$insert_id",),
    "segment_tracks": ("anonymous_id", "received_at", "sent_at", "uuid_ts"),
    "posthog": ("uuid", "person_id"),
    "amplitude": ("amplitude_id", "$insert_id", "server_upload_time"),
}
# The name a tool goes by in messages ("looks like a Freshdesk export").
TOOLS = {"stripe": "Stripe invoices", "stripe_payments": "Stripe payments", "recurly": "Recurly invoices",
         "zendesk": "Zendesk", "freshdesk": "Freshdesk", "delighted": "Delighted", "qualtrics": "Qualtrics",
         "surveymonkey": "SurveyMonkey", "typeform": "Typeform", "mixpanel": "Mixpanel (CSV)",
         "mixpanel_raw": "Mixpanel raw", "segment_tracks": "Segment tracks", "posthog": "PostHog", "heap": "Heap",
         "amplitude": "Amplitude", "hubspot": "HubSpot tickets"}


@dataclass(frozen=True)
class Candidate:
    export: str  # a contract export, or ACCOUNT_MAP
    preset: str | None  # None: the contract's own column names
    expected: tuple[str, ...]  # the source columns looked for
    needed: tuple[str, ...]  # of those, the ones without which the export cannot be read

    def label(self) -> str:
        if self.export == ACCOUNT_MAP:
            return "the account mapping"
        if self.preset:
            return f"{TOOLS.get(self.preset, self.preset)} ({self.export}, preset {self.preset})"
        return f"the contract's {self.export} export (no preset)"


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    found: tuple[str, ...]
    missing_needed: tuple[str, ...]

    @property
    def share(self) -> float:
        return len(self.found) / len(self.candidate.expected) if self.candidate.expected else 0.0

    @property
    def placed(self) -> bool:
        if self.missing_needed:
            return False
        if self.candidate.preset is None and self.candidate.export in EXPORTS:  # a contract export may hold
            return len(self.found) >= 2  # only its required columns (account_id, timestamp): two of its own
        return self.share >= MIN_SHARE

    def why(self) -> str:
        """"3 of 7 columns", and what is missing that the export needs."""
        text = f"{len(self.found)} of {len(self.candidate.expected)} columns"
        if self.missing_needed:
            text += f"; no {', '.join(self.missing_needed)}"
        return text


def _key(name: str) -> str:
    return str(name).strip().lower()


def candidates() -> list[Candidate]:
    """Every preset's export, every contract export as it is named, and the long account mapping."""
    out = []
    for name in preset_names():
        for export, spec in (load_preset(name) or {}).items():
            if export not in EXPORTS or not isinstance(spec, dict):
                continue
            columns = {k: v for k, v in (spec.get("columns") or {}).items() if isinstance(v, str)}
            expected = list(dict.fromkeys([*columns.values(), *SIGNATURES.get(name, ())]))
            needed = [columns.get(c, c) for c in EXPORTS[export].required_columns]
            out.append(Candidate(export, name, tuple(expected), tuple(dict.fromkeys(needed))))
    for export in EXPORTS.values():
        out.append(Candidate(export.name, None, tuple(c.name for c in export.columns),
                             tuple(export.required_columns)))
    out.append(Candidate(ACCOUNT_MAP, None, ("source", "key", "account_id"), ("source", "key", "account_id")))
    return out


def _wide_map(header: list[str], sources: set[str]) -> Match | None:
    """A wide account table: account_id and columns named after the tools' sources."""
    keys = [_key(h) for h in header]
    if "account_id" not in keys:
        return None
    tools = tuple(h for h in header if _key(h) != "account_id" and wide_column_source(h, sources) is not None)
    if not tools or not any(wide_column_source(h, sources) != ANY_SOURCE for h in tools):
        return None
    cand = Candidate(ACCOUNT_MAP, None, tuple(header), ("account_id",))
    return Match(cand, ("account_id", *tools), ())


def rank(header: list[str]) -> list[Match]:
    """Every candidate scored against ``header``, best first (placed ones, then share, then columns found)."""
    have = {_key(h) for h in header}
    out = []
    for cand in candidates():
        found = tuple(c for c in cand.expected if _key(c) in have)
        missing = tuple(c for c in cand.needed if _key(c) not in have)
        out.append(Match(cand, found, missing))
    wide = _wide_map(header, preset_sources())
    if wide is not None:
        out.append(wide)
    return sorted(out, key=lambda m: (not m.placed, -m.share, -len(m.found), m.candidate.preset is not None))


# ----------------------------------------------------------------------------- reading a header


def is_export_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(FILE_ENDINGS)


def _head(path: Path, nbytes: int = HEAD_BYTES) -> bytes:
    if path.name.lower().endswith(".zip"):  # its first JSON member's head
        members = zip_members(path)
        if not members:
            return b""
        with zipfile.ZipFile(path) as zf, open_member(zf, members[0]) as fh:
            return fh.read(nbytes)
    with (gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")) as fh:
        return fh.read(nbytes)


def _flat_keys(record: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in record.items():
        name = f"{prefix}{k}"
        out += _flat_keys(v, name + ".") if isinstance(v, dict) else [name]
    return out


def read_header(path: Path) -> list[str]:
    """The column names of an export file: a CSV file's first row (separator and UTF-16 recognised), a Parquet
    file's schema, the keys of a JSON file's first records (nested ones dotted: ``properties.time``)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq
        return list(pq.read_schema(path).names)
    head = _head(path)
    if is_json(path):
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
        records: list = []
        if text.startswith("["):
            try:
                records = json.loads(_head(path, 16 * 2**20).decode("utf-8", errors="replace").lstrip("\ufeff"))
            except ValueError:
                records = []
        else:
            for line in text.splitlines()[:JSON_HEAD_RECORDS]:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        keys: dict[str, None] = {}
        for rec in records[:JSON_HEAD_RECORDS] if isinstance(records, list) else []:
            if isinstance(rec, dict):
                keys.update(dict.fromkeys(_flat_keys(rec)))
        return list(keys)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text else ""
    sep = max((",", ";", "\t", "|"), key=first.count)
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(text), delimiter=sep))]
    except (StopIteration, csv.Error):
        return []


def best(path: Path) -> Match | None:
    """The best candidate for the file at ``path`` (None when it has no header to read)."""
    try:
        header = read_header(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    ranked = rank(header) if header else []
    return ranked[0] if ranked else None


def preset_hint(path: Path, presets: tuple[str, ...]) -> str | None:
    """For a file that failed to read: "tickets.csv looks like a Freshdesk export: add preset freshdesk", when
    a preset not in ``presets`` fits its header; else None."""
    match = best(path)
    if match is None or not match.placed or match.candidate.preset is None or match.candidate.preset in presets:
        return None
    preset = match.candidate.preset
    return (f"{path.name} looks like a {TOOLS.get(preset, preset)} export ({match.why()} of the preset): "
            f"add preset {preset}")


# ----------------------------------------------------------------------------- a folder


@dataclass(frozen=True)
class Placed:
    path: Path
    match: Match


@dataclass(frozen=True)
class Unplaced:
    path: Path
    reason: str


def detect_folder(folder: Path) -> tuple[list[Placed], list[Unplaced]]:
    """Each export file of ``folder`` (not its subfolders) placed as an export (or the account mapping) with the
    preset that reads it; a file that fits nothing, or a second file for an export already placed by a better
    match, is unplaced with the closest match and why."""
    placed: dict[str, Placed] = {}
    unplaced: list[Unplaced] = []
    for path in sorted(p for p in folder.iterdir() if is_export_file(p)):
        match = best(path)
        if match is None:
            unplaced.append(Unplaced(path, "no header to read"))
            continue
        if not match.found:
            unplaced.append(Unplaced(path, "no column of any export or preset"))
            continue
        if not match.placed:
            unplaced.append(Unplaced(path, f"looks most like {match.candidate.label()}: {match.why()}"))
            continue
        export = match.candidate.export
        other = placed.get(export)
        if other is not None:
            new = Placed(path, match)
            keep, drop = (other, new) if other.match.share >= match.share else (new, other)
            placed[export] = keep
            unplaced.append(Unplaced(drop.path, f"a second {export} export ({drop.match.candidate.label()}: "
                                                f"{drop.match.why()}); {keep.path.name} is read"))
            continue
        placed[export] = Placed(path, match)
    order = [*EXPORTS, ACCOUNT_MAP]
    return (sorted(placed.values(), key=lambda p: order.index(p.match.candidate.export)),
            sorted(unplaced, key=lambda u: u.path.name))


# ----------------------------------------------------------------------------- init --detect


def _quoted(path: str) -> str:
    return json.dumps(path)  # a YAML double-quoted scalar


def detected_config(config_path: Path, folder: Path, placed: list[Placed], report: str) -> str:
    """The starter config with input_dir the folder, the presets chosen, and inputs.<export>.path (and
    inputs.account_map.path) naming each placed file, relative to the config."""
    base = config_path.resolve().parent
    rel = lambda p: Path(os.path.relpath(Path(p).resolve(), base)).as_posix()  # noqa: E731
    presets = tuple(dict.fromkeys(p.match.candidate.preset for p in placed if p.match.candidate.preset))
    text = starter_config(presets, str(config_path), report)
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("input_dir:"):
            lines[i] = f"input_dir: {_quoted(rel(folder))}   # the folder of exports 'init --detect' looked at\n"
    block = ["\n# The exports 'churnscore init --detect' recognised by their header, as the tools named them:\n",
             "inputs:\n"]
    for p in placed:
        c = p.match.candidate
        how = f"preset {c.preset}" if c.preset else ("wide or long account table" if c.export == ACCOUNT_MAP
                                                     else "the contract's columns")
        block += [f"  {c.export}:    # {how}: {p.match.why()}\n", f"    path: {_quoted(rel(p.path))}\n"]
    return "".join(lines) + "".join(block)


def init_detected(target: Path, folder: Path, *, force: bool = False, report: str | None = None
                  ) -> tuple[Path, list[Placed], list[Unplaced]]:
    """Write <target>/churnscore.yaml reading the exports of ``folder`` where they are (nothing copied)."""
    if not folder.is_dir():
        raise InputDataError(f"{folder}: no such folder (init --detect); give the folder of your exports.",
                             file=str(folder))
    config = target / CONFIG_NAME
    if config.exists() and not force:
        raise ConfigError(f"{config}: already exists; pass --force to overwrite it, or pick another folder.")
    placed, unplaced = detect_folder(folder)
    target.mkdir(parents=True, exist_ok=True)
    text = detected_config(config, folder, placed, report or str(target / "out" / "report.html")).encode("utf-8")
    return atomic_write(config, lambda fh: fh.write(text)), placed, unplaced
