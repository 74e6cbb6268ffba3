"""The files of one scoring run as one set: where they go, what they must not overwrite, and how they are switched.

A run writes the ranked list, ``<stem>.rejects.csv``, ``<stem>.excluded.csv``, the report (``--report``) and
``<stem>.manifest.json``. They are switched as a unit:

1. every file is written to a hidden temporary beside its place and synced, its sha256 worked out as it is
   written; the manifest, which names every other file with its sha256, is written last;
2. a switch journal ``.<stem>.switch.json`` lists each temporary and its place (the manifest last) and is
   synced: from here on the new set is complete on disk;
3. the temporaries are renamed into place, the manifest last, and the journal removed.

A failure before 2 (a full disk while writing the report, ...) removes the temporaries: the old set is whole.
A kill during 3 leaves the journal; the next run on the same output (under the same lock) finishes the switch
before anything else (roll forward), so the new set is then whole. A reader that must see one set reads the
manifest and checks the other files' sha256 against ``output_sha256``; while a journal is present the set is
being switched.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import OutputError
from .runlock import lock_path
from .files import atomic_write, forget_temp, ready_to_write, remove_temp, sibling, write_temp

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".tgz", ".lz4")


def check_ending(path: str | Path) -> None:
    """An output named as if compressed (``x.csv.gz``) would hold plain text under a name that lies about it."""
    path = Path(path)
    if path.suffix.lower() in COMPRESSED:
        plain = path.with_suffix("")
        raise OutputError(f"{path}: churnscore writes csv, parquet, json and html uncompressed; name it {plain} "
                          "(and compress it afterwards if you need to).")


@dataclass(frozen=True)
class RunOutputs:
    """Every path one scoring run writes: the set, the lock, the switch journal, a failed run's diagnostics."""

    ranked: Path
    report: Path | None

    @property
    def stem_files(self) -> dict[str, Path]:
        return {"rejects": sibling(self.ranked, "rejects", ".csv"), "excluded": sibling(self.ranked, "excluded", ".csv"),
                "manifest": sibling(self.ranked, "manifest", ".json")}

    @property
    def failed(self) -> dict[str, Path]:
        """Where a run that stops on its rejects (or with no account left) says why, outside the set."""
        return {"rejects": sibling(self.ranked, "failed.rejects", ".csv"),
                "excluded": sibling(self.ranked, "failed.excluded", ".csv")}

    @property
    def lock(self) -> Path:
        return lock_path(self.ranked)

    @property
    def journal(self) -> Path:
        return self.ranked.with_name(f".{self.ranked.stem}.switch.json")

    def set_files(self) -> dict[str, Path]:
        """The set, in the order it is switched (the manifest last)."""
        files = {"ranked": self.ranked, "rejects": self.stem_files["rejects"], "excluded": self.stem_files["excluded"]}
        if self.report is not None:
            files["report"] = self.report
        files["manifest"] = self.stem_files["manifest"]
        return files

    def every_path(self) -> dict[str, Path]:
        """What the run may write or create, by role (for the collision checks)."""
        return {**{f"the {k} file" if k != "ranked" else "the ranked list (--out)": p
                   for k, p in self.set_files().items()},
                **{f"the failed run's {k} file": p for k, p in self.failed.items()},
                "the lock file": self.lock, "the switch journal": self.journal}


def _same(a: Path, b: Path) -> bool:
    """One file under two names: the same path once links are resolved, or the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def plan_outputs(out: str | Path, report: str | Path | None) -> RunOutputs:
    """The run's outputs, checked before any work: none named as if compressed, every one writable (its folder
    made, no folder in its place), and no two of them one file."""
    outputs = RunOutputs(Path(out), Path(report) if report is not None else None)
    check_ending(outputs.ranked)
    if outputs.report is not None:
        check_ending(outputs.report)
    paths = list(outputs.every_path().items())
    for _, path in paths:
        ready_to_write(path)
    for i, (role, path) in enumerate(paths):
        for other_role, other in paths[:i]:
            if _same(path, other):
                raise OutputError(f"{path}: {role} and {other_role} would be one file; give --out and --report "
                                  "different names.")
    return outputs


def check_inputs(outputs: RunOutputs, inputs: list[tuple[str, Path]]) -> None:
    """Refuse to start when an output would replace an input (an export, the config, the model, ...): one line
    naming both. ``inputs``: (role in words, path)."""
    for role, path in outputs.every_path().items():
        for what, source in inputs:
            if _same(path, source):
                raise OutputError(f"{path}: {role} would overwrite {what} ({source}); write the outputs somewhere "
                                  "else.")


def input_paths(config: Any, input_dir: str | Path | None, *, model: str | Path | None = None,
                previous: str | Path | None = None, exclude_previous_list: Path | None = None
                ) -> list[tuple[str, Path]]:
    """Every file a scoring run reads, by role: each export's files, the account map, the config, the model and
    the earlier list. The earlier list may be the ranked list itself (``exclude_previous_list``): it is read
    whole before any output is written, so ``--previous out/ranked.csv --out out/ranked.csv`` is safe."""
    from .load import export_files, find_account_map

    exports = export_files(config, input_dir, folder_must_exist=False)  # a missing folder: the run says so
    exports.check(required=False)
    found = [(f"the {name} export", p) for name, files in exports.files.items() for p in files]
    amap = find_account_map(config, exports.folder)
    if amap is not None:
        found.append(("the account map", Path(amap)))
    if not str(config.source).startswith("<"):
        found.append(("the config", Path(config.source)))
    if model is not None:
        found.append(("the model (--model)", Path(model)))
    if previous is not None and (exclude_previous_list is None or not _same(Path(previous), exclude_previous_list)):
        found.append(("the previous ranked list (--previous)", Path(previous)))
    return found


def check_not_inside(outputs: RunOutputs, config: Any, input_dir: str | Path | None) -> None:
    """An output in an export's folder (``<input>/usage/``) or under an export's name (``<input>/usage.csv``)
    would be read as that export by the next run."""
    from .contract import EXPORTS, FILE_ENDINGS
    from .load import input_folder

    base = input_folder(config, input_dir, must_exist=False)
    if base is None:
        return
    for role, path in outputs.every_path().items():
        for name in EXPORTS:
            places = [base / f"{name}{ending}" for ending in FILE_ENDINGS]
            folder = base / name
            if any(_same(path, p) for p in places) or (folder.is_dir() and _same(path.parent, folder)):
                raise OutputError(f"{path}: {role} would be read as the {name} export by the next run; write the "
                                  "outputs somewhere else.")


# ----------------------------------------------------------------------------- switching the set


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SetWriter:
    """Writes a run's files to temporaries, then switches them into place as one set (see the module doc)."""

    def __init__(self, outputs: RunOutputs) -> None:
        self.outputs = outputs
        self._temps: dict[str, tuple[str, Path, str]] = {}  # name -> (temporary, place, sha256)

    def add(self, name: str, write: Callable[[IO[bytes]], None]) -> None:
        """Write one file of the set to its temporary (synced), as ``write`` writes it; on a failure every
        temporary of the set is removed."""
        place = self.outputs.set_files()[name]
        try:
            tmp, digest = write_temp(place, write, digest=True)
        except BaseException:
            self.discard()
            raise
        self._temps[name] = (tmp, place, digest or "")

    def digests(self) -> dict[str, str]:
        """sha256 of each file written so far, by name."""
        return {name: digest for name, (_, _, digest) in self._temps.items()}

    def discard(self) -> None:
        """Remove every temporary: the old set stays as it was."""
        for tmp, _, _ in self._temps.values():
            remove_temp(tmp)
        self._temps.clear()

    def commit(self, manifest: dict[str, Any]) -> dict[str, Path]:
        """Write the manifest (with ``output_sha256`` of the others), then switch the whole set into place."""
        try:
            manifest = {**manifest, "output_sha256": self.digests()}
            data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
            self.add("manifest", lambda fh: fh.write(data))
            order = [name for name in self.outputs.set_files() if name in self._temps]
            renames = [[self._temps[name][0], str(self._temps[name][1])] for name in order]
            journal = {"renames": renames, "remove": [str(p) for p in self.outputs.failed.values()]}
            atomic_write(self.outputs.journal, lambda fh: fh.write(json.dumps(journal, indent=1).encode()))
            _fsync_dir(self.outputs.journal.parent)
        except BaseException:
            self.discard()
            raise
        # from here the new set is whole on disk: a kill is finished by the next run (finish_switch)
        for tmp, _ in renames:
            forget_temp(tmp)  # a temporary listed in the journal is the new set: never removed
        _switch(self.outputs, journal)
        placed = {name: self._temps[name][1] for name in order}
        self._temps.clear()
        return placed


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _switch(outputs: RunOutputs, journal: dict[str, Any]) -> None:
    """The renames, with SIGTERM held off for their few milliseconds (it acts right after): a stop never
    splits a set that a kill need not split."""
    held = (signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            if threading.current_thread() is threading.main_thread() else None)
    try:
        _renames(outputs, journal)
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _renames(outputs: RunOutputs, journal: dict[str, Any]) -> None:
    folders = set()
    for tmp, place in journal["renames"]:
        if os.path.lexists(tmp):
            try:
                os.replace(tmp, place)
            except OSError as exc:
                raise OutputError(f"{place}: cannot put the new file in place ({exc.strerror or exc}); the new set "
                                  f"is listed in {outputs.journal} and the next run finishes the switch once the "
                                  "path can be written.") from None
        folders.add(Path(place).parent)
    for path in journal.get("remove", []):
        _unlink(path)
    for folder in folders:
        _fsync_dir(folder)
    _unlink(outputs.journal)
    _fsync_dir(outputs.journal.parent)


def finish_switch(outputs: RunOutputs) -> bool:
    """Under the lock, before anything else: finish a switch that a killed run left (its journal is there), so
    the set is whole (the new one) again. True when there was one. Only the journal's own kind of entries are
    followed: a temporary ``.<name>.*.tmp`` renamed onto ``<name>`` in the same folder, the manifest last."""
    path = outputs.journal
    if not os.path.lexists(path):
        return False
    try:
        if not path.is_file() or path.is_symlink():
            raise ValueError("not a regular file")
        journal = json.loads(path.read_bytes()[:1 << 20])
        renames = journal["renames"]
        ok = all(isinstance(t, str) and isinstance(p, str) and Path(t).parent == Path(p).parent
                 and Path(t).name.startswith(f".{Path(p).name}.") and t.endswith(".tmp") for t, p in renames)
        removes = journal.get("remove", [])
        known = {str(p) for p in outputs.failed.values()}
        if not ok or not renames or not all(r in known for r in removes):
            raise ValueError("entries that churnscore does not write")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"{path}: an unfinished switch of the outputs that cannot be read ({exc}); check the "
                          "outputs beside it against their manifest, then remove it.") from None
    _switch(outputs, {"renames": renames, "remove": removes})
    return True
