"""What an input path is, checked before it is opened: a FIFO blocks a reader for ever, a device never ends
(/dev/zero), a socket cannot be read. Only regular files (and folders where a folder is expected) are read."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import InputDataError


def kind(path: str | Path) -> str:
    """'file', 'folder', 'missing', or what else the path is, in words ('a FIFO (named pipe)', ...)."""
    try:
        mode = os.stat(path).st_mode  # follows links: a link to a regular file is one
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "missing"
    except OSError as exc:  # a loop of links (ELOOP), a permission on a folder above
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops"
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")


def check_regular(path: str | Path, role: str, *, folder_ok: bool = False, error: type[Exception] = InputDataError
                  ) -> None:
    """Raise ``error`` (one line naming the path and what it is) unless ``path`` is a regular file (or a folder,
    with ``folder_ok``); a missing path passes: the caller says that in its own words."""
    what = kind(path)
    if what in ("file", "missing") or (folder_ok and what == "folder"):
        return
    wanted = "a regular file or a folder" if folder_ok else "a regular file"
    message = f"{path}: {role} is {what if what != 'folder' else 'a folder'}, not {wanted}; give {wanted}."
    raise error(message, file=str(path)) if error is InputDataError else error(message)
