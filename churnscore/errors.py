"""The error hierarchy: small, specific exceptions that the CLI maps to one-line messages and exit codes."""

from __future__ import annotations


class ChurnscoreError(Exception):
    """Base of every error churnscore raises on purpose; its message is meant for people."""

    exit_code = 1


class ConfigError(ChurnscoreError):
    """The YAML config (or a command-line option that feeds it) is wrong."""


class InputDataError(ChurnscoreError):
    """An input export cannot be used: missing, unreadable, empty, or a required column absent.

    ``file``, ``line`` and ``column`` say where, when known, for machines; the message says it for people.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column


class RejectLimitError(ChurnscoreError):
    """Too many rows broke the contract; the ranking would be quietly wrong."""


class OutputError(ChurnscoreError):
    """An output cannot be written where it was asked for (a file in the way of its folder, no permission,
    a full disk)."""


class FileSystemError(ChurnscoreError):
    """The file system refused a read or a write part-way (a full disk, a permission, a file gone)."""


class NothingScoredError(ChurnscoreError):
    """Every account was excluded: an empty list must not replace the last good one."""


class ModelError(ChurnscoreError):
    """A model file cannot be trained, trusted or used with this config."""


class Stopped(ChurnscoreError):
    """The run was told to stop (SIGTERM: a timeout, a service stop): it unwinds, so its temporary files and
    spilled rows are removed and every output is whole (the last run's or this one's)."""

    exit_code = 143  # 128 + SIGTERM, as a shell reports a process ended by it


class LockError(ChurnscoreError):
    """Another run is writing the same output."""

    exit_code = 3
