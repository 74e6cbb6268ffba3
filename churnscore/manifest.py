"""The run manifest: what went in (size, rows, SHA-256), what came out, how long each stage took."""

from __future__ import annotations

import hashlib
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__


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


def build_manifest(summary: dict[str, Any], outputs: dict[str, Path], *, config_source: str, config_hash: str,
                   model_hash: str | None, started: datetime) -> dict[str, Any]:
    """A JSON-able record of one run; the only place run times appear (the ranked list has none)."""
    files = [(name, Path(path), f.get("per_file", {})) for name, f in summary["files"].items() for path in f["files"]]
    digests = sha256_files([p for _, p, _ in files])
    inputs = []
    for (name, p, per_file), digest in zip(files, digests):
        counts = per_file.get(str(p), {})
        inputs.append({"export": name, "path": str(p), "bytes": p.stat().st_size, "sha256": digest,
                       "rows_read": counts.get("rows_read"), "rows_rejected": counts.get("rows_rejected")})
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "as_of": summary["as_of"],
        "config": {"path": config_source, "sha256": config_hash},
        "model_sha256": model_hash,
        "versions": versions(),
        "inputs": inputs,
        "files": summary["files"],
        "counts": {k: summary[k] for k in ("accounts_in_inputs", "accounts_scored", "accounts_excluded",
                                            "at_risk", "rows_read", "rows_rejected", "revenue_at_risk")},
        "timings_s": summary["timings_s"],
        "outputs": {k: str(v) for k, v in outputs.items()},
    }
