"""SIGTERM ends a run within seconds, whatever it is blocked on.

The SIGTERM handler (stop_on_sigterm) raises an exception so that the run unwinds through its clean-ups. Python runs that
handler only when the main thread comes back to Python code: a read blocked inside a C library (a FIFO opened by
pyarrow, a hung network mount) never does. So the signal is also written to a wake-up pipe by the C-level
handler, and a watcher thread reading it gives the run GRACE_S seconds to unwind; after that it removes the
temporary files being written, says so in one line and ends the process with 143. The lock goes with the
process (flock), and every output is whole: a rename either happened or did not.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import Stopped

GRACE_S = 5.0
EXIT_CODE = 143  # 128 + SIGTERM


def _last_words(log_format: str, grace: float) -> None:
    from .files import live_temps

    for tmp in live_temps():
        try:
            os.unlink(tmp)
        except OSError:
            pass
    message = (f"stopped by SIGTERM; the run did not unwind within {grace:g} s (blocked in a read or a "
               "library call), so it was ended at once: its temporary files are removed and every output is "
               "whole (the last run's, or this run's where it had already been written).")
    line = (json.dumps({"event": "error", "level": "error", "error": "Stopped", "exit_code": EXIT_CODE,
                        "message": message}, sort_keys=True) if log_format == "json"
            else f"churnscore: error: {message}")
    try:
        os.write(2, (line + "\n").encode())
    except OSError:
        pass


@contextmanager
def sigterm_watchdog(log_format: str = "text", grace: float = GRACE_S,
                     on_expire: Callable[[str, float], None] | None = None) -> Iterator[None]:
    """While inside, a SIGTERM that the run does not act on within ``grace`` seconds ends the process.
    Only from the main thread (signal.set_wakeup_fd); elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        before = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except (ValueError, OSError):  # pragma: no cover - not the main thread of the main interpreter
        os.close(read_end)
        os.close(write_end)
        yield
        return

    def watch() -> None:
        try:
            while True:
                data = os.read(read_end, 64)
                if not data:  # the write end closed: the run is over
                    return
                if signal.SIGTERM in data:
                    # from now on the process has ``grace`` seconds, unwinding and exiting included (a thread
                    # pool joined at exit can hang too); a process that ends sooner takes this thread with it
                    time.sleep(grace)
                    (on_expire or _last_words)(log_format, grace)
                    os._exit(EXIT_CODE)
        finally:
            os.close(read_end)

    threading.Thread(target=watch, name="churnscore-sigterm", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(before)
        os.close(write_end)


def _stop(signum: int, frame: Any) -> None:
    """SIGTERM (a timeout, a service stop) as an exception: the run unwinds through its clean-ups and says
    so in one line, instead of vanishing with its temporary files and spilled rows left behind."""
    raise Stopped(f"stopped by {signal.Signals(signum).name} before the end; every output is whole: the last "
                  "run's, or this run's where it had already been written.")


@contextmanager
def stop_on_sigterm(log_format: str = "text") -> Iterator[None]:
    """While inside, SIGTERM raises errors.Stopped where the run is, so that it unwinds through its clean-ups;
    a run blocked where that cannot happen is ended after GRACE_S (sigterm_watchdog). The handler before is
    put back on the way out."""
    told = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _stop)
    try:
        with sigterm_watchdog(log_format):
            yield
    finally:
        signal.signal(signal.SIGTERM, told)
