"""Where the exports are: the input folder (and its "not found" message), each export's files, and the
message for a required export that is not there."""

from __future__ import annotations

import glob as globmod
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..contract import EXPORTS, FILE_ENDINGS
from ..errors import InputDataError
from ..filetype import check_regular


def _files_of(config: Config, name: str, input_dir: Path | None) -> list[Path]:
    """The files of one export: the config's path (file, folder or glob), or else the one of <input_dir>/<name>.csv,
    .csv.gz, .parquet and the folder <input_dir>/<name>/ that exists (more than one is an error, never a choice)."""
    spec = config.inputs[name]
    if spec.path:
        target = config.resolve(spec.path)
        if any(ch in str(spec.path) for ch in "*?["):
            files = sorted(Path(p) for p in globmod.glob(str(target)))
            if not files:
                raise InputDataError(f"{name}: the glob '{spec.path}' matches no file.", file=str(target))
            for p in files:
                check_regular(p, f"the {name} export")
            return files
        check_regular(target, f"the {name} export", folder_ok=True)  # a FIFO would block the run for ever
        if target.is_dir():
            return _folder_files(target, name)
        if not target.exists():
            raise InputDataError(f"{target}: no such file (inputs.{name}.path in the config).",
                                 file=str(target))
        return [target]
    if input_dir is None:
        return []
    for p in [input_dir / f"{name}{ending}" for ending in FILE_ENDINGS] + [input_dir / name]:  # a FIFO, device, dangling link ...
        if os.path.lexists(p):  # ... under an export's name is refused, not passed over as no export
            check_regular(p, f"the {name} export", folder_ok=p.name == name)
    files = [p for p in (input_dir / f"{name}{ending}" for ending in FILE_ENDINGS) if p.is_file()]
    folder = input_dir / name
    found = [str(p) for p in files] + ([f"{folder}{os.sep}"] if folder.is_dir() else [])
    if len(found) > 1:  # a stale usage.csv beside a usage/ folder of this week's files: never pick one silently
        listed = " and ".join(found) if len(found) == 2 else ", ".join(found[:-1]) + " and " + found[-1]
        raise InputDataError(f"{name}: more than one {name} export in the input folder: {listed}. Keep one, or set "
                             f"inputs.{name}.path in the config to the one to read.", file=str(input_dir))
    if files:
        return files
    if folder.is_dir():
        return _folder_files(folder, name)
    return []


def _folder_files(folder: Path, name: str) -> list[Path]:
    named = sorted(p for p in folder.iterdir() if p.name.endswith(FILE_ENDINGS))
    for p in named:
        check_regular(p, f"a file of the {name} export", folder_ok=True)  # a subfolder is passed over
    files = [p for p in named if p.is_file()]
    if not files:
        raise InputDataError(f"{folder}: folder for '{name}' has no .csv, .csv.gz, .parquet or JSON file.",
                             file=str(folder))
    return files


def input_folder(config: Config, input_dir: str | Path | None, *, must_exist: bool = True) -> Path | None:
    """The folder the exports are looked for in: ``input_dir`` (--input-dir), or else the config's input_dir
    (relative to the config's folder); None when neither is given. ``must_exist``: a folder given that is not
    there stops, naming both ways to give it."""
    base = Path(input_dir) if input_dir is not None else (
        config.resolve(config.input_dir) if config.input_dir else None)
    if must_exist and base is not None and not base.is_dir():
        raise InputDataError(f"{base}: input folder not found (--input-dir or input_dir in the config).",
                             file=str(base))
    return base


def looked_for(name: str) -> str:
    """Where an export is looked for in the input folder, as the messages for a missing one say it."""
    return f"looked for {name}.csv, {name}.csv.gz, {name}.parquet or a folder {name}/"


def no_export_found(name: str, folder: Path | None) -> InputDataError:
    """The error for a required export with no file (what stops a load)."""
    where = folder if folder is not None else "the config's inputs"
    return InputDataError(f"{where}: no {name} export found ({looked_for(name)}); usage is required.",
                          file=str(where))


@dataclass(frozen=True)
class ExportFiles:
    """The input folder and each export's files, as every reader of the exports finds them."""

    folder: Path | None
    files: dict[str, list[Path]]  # every export, in EXPORTS order: its files ([]: none, or see errors)
    errors: dict[str, InputDataError]  # exports whose files could not be resolved (two exports under one
    # name, a glob matching nothing, a FIFO in a file's place ...), in EXPORTS order

    @property
    def missing(self) -> list[str]:
        """The exports without a file (and without an error), in EXPORTS order."""
        return [name for name, files in self.files.items() if not files and name not in self.errors]

    def check(self, *, required: bool = True) -> None:
        """Raise what stops a load: the first export (in EXPORTS order) whose files could not be resolved;
        then, with ``required``, the first required export that has none (no_export_found)."""
        for error in self.errors.values():
            raise error
        if required:
            for name, export in EXPORTS.items():
                if export.required and not self.files[name]:
                    raise no_export_found(name, self.folder)


def export_files(config: Config, input_dir: str | Path | None, *, folder_must_exist: bool = True) -> ExportFiles:
    """The input folder (see input_folder) and each export's files: the config's inputs.<export>.path (a
    file, a folder or a glob), or else the one of <folder>/<export>.csv, .csv.gz, .parquet, JSON ... and the
    folder <folder>/<export>/ that exists (more than one is an error, never a choice). An export whose files
    cannot be resolved is in ``errors``; nothing is raised for it here (see ExportFiles.check)."""
    folder = input_folder(config, input_dir, must_exist=folder_must_exist)
    files: dict[str, list[Path]] = {}
    errors: dict[str, InputDataError] = {}
    for name in EXPORTS:
        try:
            files[name] = _files_of(config, name, folder)
        except InputDataError as exc:
            files[name], errors[name] = [], exc
    return ExportFiles(folder, files, errors)
