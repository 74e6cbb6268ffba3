"""Where the exports are: the input folder a run reads, and the error for a required export not found."""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .errors import InputDataError


def input_folder(config: Config, input_dir: str | Path | None) -> Path | None:
    """The folder to read the exports from: ``input_dir`` (--input-dir), else the config's input_dir (relative
    to the config's folder), else None (every export's path is in the config). Raises InputDataError when
    that folder does not exist."""
    base = Path(input_dir) if input_dir is not None else (
        config.resolve(config.input_dir) if config.input_dir else None)
    if base is not None and not base.is_dir():
        raise InputDataError(f"{base}: input folder not found (--input-dir or input_dir in the config).",
                             file=str(base))
    return base


def export_not_found(name: str, base: Path | None) -> InputDataError:
    """The error for a required export with no file in ``base`` (input_folder's) or the config's inputs."""
    where = base if base is not None else "the config's inputs"
    return InputDataError(f"{where}: no {name} export found (looked for {name}.csv, {name}.csv.gz, "
                          f"{name}.parquet or a folder {name}/); usage is required.", file=str(where))
