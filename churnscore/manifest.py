"""The run manifest: what went in (size, rows, SHA-256), what came out, how long each stage took."""

from __future__ import annotations

import hashlib
import os
import platform
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .version import __version__


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: list[str | Path]) -> list[str]:
    """sha256_file of each path, in order; several files at once (hashlib lets go of the GIL while it hashes)."""
    workers = min(len(paths), os.cpu_count() or 1)
    if workers <= 1:
        return [sha256_file(p) for p in paths]
    largest_first = sorted(range(len(paths)), key=lambda i: -Path(paths[i]).stat().st_size)  # none starts last
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {i: pool.submit(sha256_file, paths[i]) for i in largest_first}
        return [futures[i].result() for i in range(len(paths))]


class EarlyDigests:
    """sha256 of files, worked out by a background thread from the moment the files are known (after the
    load), while the run's later stages, mostly on one core, go on: at 50 M usage rows hashing the 3.4 GB
    of input at the end took 2 s. A daemon thread: a run that fails does not wait for it."""

    def __init__(self) -> None:
        self._done: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, paths: list[str | Path]) -> None:
        todo = [str(p) for p in paths]

        def work() -> None:
            for path in todo:
                try:
                    digest = sha256_file(path)
                except OSError:  # left for build_manifest, which then says what went wrong
                    continue
                with self._lock:
                    self._done[path] = digest

        self._thread = threading.Thread(target=work, name="churnscore-sha256", daemon=True)
        self._thread.start()

    def result(self) -> dict[str, str]:
        """The digests worked out (wait for the thread); a file it could not read is not among them."""
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            return dict(self._done)


def versions() -> dict[str, str]:
    """Versions of churnscore and the libraries that shape its results (read from metadata, not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"churnscore": __version__, "python": platform.python_version()}
    for dist in ("pandas", "numpy", "pyarrow", "scikit-learn"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def absolute(path: str | Path) -> str:
    """A path as the manifest records it: absolute and normalised (no 'configs/../data'), so a manifest read
    later, from another folder, still names the files; a config's '<dict>' source is not a path and stays."""
    text = str(path)
    return text if text.startswith("<") else str(Path(text).resolve())


def _absolute_files(files: dict[str, Any]) -> dict[str, Any]:
    """The summary's per-export file lists and per-file counts, keyed by absolute paths."""
    return {name: {**f, "files": [absolute(p) for p in f["files"]],
                   **({"per_file": {absolute(p): c for p, c in f["per_file"].items()}} if "per_file" in f else {})}
            for name, f in files.items()}


def build_manifest(summary: dict[str, Any], outputs: dict[str, Path], *, config_source: str, config_hash: str,
                   model_hash: str | None, started: datetime, early: EarlyDigests | None = None) -> dict[str, Any]:
    """A JSON-able record of one run; the only place run times appear (the ranked list has none). Every path in
    it is absolute and normalised. ``early``: digests already worked out in the background (the files it has
    not done are hashed here)."""
    files = [(name, Path(path), f.get("per_file", {})) for name, f in summary["files"].items() for path in f["files"]]
    known = early.result() if early is not None else {}
    rest = [p for _, p, _ in files if str(p) not in known]
    known.update(zip(map(str, rest), sha256_files(rest)))
    digests = [known[str(p)] for _, p, _ in files]
    inputs = []
    for (name, p, per_file), digest in zip(files, digests):
        counts = per_file.get(str(p), {})
        inputs.append({"export": name, "path": absolute(p), "bytes": p.stat().st_size, "sha256": digest,
                       "rows_read": counts.get("rows_read"), "rows_rejected": counts.get("rows_rejected")})
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "as_of": summary["as_of"],
        "ranked_by": summary.get("ranked_by"),
        "config": {"path": absolute(config_source), "sha256": config_hash},
        "model_sha256": model_hash,
        "versions": versions(),
        "inputs": inputs,
        "files": _absolute_files(summary["files"]),
        "counts": {k: summary[k] for k in ("accounts_in_inputs", "accounts_scored", "accounts_excluded",
                                            "at_risk", "rows_read", "rows_rejected", "revenue_at_risk")},
        "rules_off": summary.get("rules_off", []),  # rules that could not judge on this data, and why
        "timings_s": summary["timings_s"],
        **({"model_checks": summary["model_checks"]} if "model_checks" in summary else {}),
        "outputs": {k: absolute(v) for k, v in outputs.items()},
    }
