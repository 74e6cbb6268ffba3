"""A large usage export, held on disk by account instead of in memory (the pandas engine's bounded-memory path).

While the files are read batch by batch (read.py), each batch's compact rows (codes into the export's
codebooks, typed dates and numbers, line numbers) are split by account into ``parts`` Arrow files in a
temporary folder. Then each part is read back on its own: duplicates found and rejected (exact duplicate rows
share their account, so they share a part), counts filled, and each account's earliest and latest time and
row count kept. ``Loaded.frames["usage"]`` then holds those two dates per account, as the Dask engine's
does (enough for the as-of date, the universe and the summary); the features read one part at a time
(features.usage_features_in_pieces). Memory follows one part and the accounts, not the export's rows.

The results are the in-memory path's by construction: the same reader, parser, duplicate search and feature
code run on pieces that each hold all rows of their accounts in file and line order (tests compare both).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..config import Config
from ..contract import Export
from ..files import write_failed
from ..parallel import in_parallel
from .codes import Grown, KeyTable
from .frames import assemble, date_digest, empty_frame, fill_counts, narrow_lines, two_dates
from .hashing import row_hashes as _row_hashes
from .rejects import SCHEMA, RejectStore

SPILL_BYTES = 1 << 28  # usage files larger than this in all (on disk) are spilled; smaller ones stay in memory
# (256 MB, ~4.5 M CSV rows: at 10 M rows spilling took the same time as memory and 0.2 GB less at the peak)
PART_ROWS = 2_000_000  # rows per part aimed at (the parts are fixed before the rows are counted: see parts_for)


ROOM = "free space or point TMPDIR at a disk with room (about 44 bytes per usage row)"  # the fix, when full
PREFIX = "churnscore-spill-"  # then <process id>@<host>-: a folder whose process is gone is a killed run's


def host_name() -> str:
    """This host's name as a spill folder's name carries it (see remove_leftovers)."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _owner(name: str) -> tuple[int, str] | None:
    """(process id, host) in a spill folder's name; None for a name without them."""
    rest = name[len(PREFIX):].removesuffix("-removing")
    pid, at, tail = rest.partition("@")
    host, dash, _ = tail.rpartition("-")
    return (int(pid), host) if at and dash and pid.isdigit() else None


def remove_leftovers(where: str | None = None) -> list[Path]:
    """Remove the spill folders of runs that were killed before they could (SIGKILL, the OOM killer): those
    under the temporary folder made on this host by a process that is no longer running. (The host is in
    the name so that a temporary folder shared by containers, each with its own process ids, is safe.)
    Returns them."""
    gone = []
    host = host_name()
    for folder in Path(where or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = _owner(folder.name)
        if owner is None or owner[1] != host or not folder.is_dir() or _running(owner[0]):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        gone.append(folder)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: running
        return True
    return True


def parts_for(total_bytes: int) -> int:
    """How many parts for usage files of this size: ~PART_ROWS rows each at ~55 bytes a CSV row."""
    return int(min(max(total_bytes // (55 * PART_ROWS), 2), 512))


class UsageSpill:
    """The rows of one export, by account, in a temporary folder removed when this object goes."""

    def __init__(self, export: Export, parts: int, books: dict) -> None:  # books: codes.Codebook per text column
        self.export = export
        self.parts = parts
        self.books = books
        remove_leftovers()
        try:
            self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}@{host_name()}-"))
        except OSError as exc:
            raise write_failed(Path(tempfile.gettempdir()), exc, ROOM) from None
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        self._writers: dict[tuple[int, int], ipc.RecordBatchStreamWriter] = {}
        self._sinks: dict[tuple[int, int], pa.OSFile] = {}
        self.files: list[str] = []
        self.rejects: RejectStore | None = None  # the export's rejects, on disk (made by start_rejects)
        self._dtypes: dict[str, pd.CategoricalDtype] = {}
        self.digest: pd.DataFrame | None = None  # account code, min, max, size
        self.rows = 0

    @property
    def categories(self) -> dict[str, pd.Index]:
        """Each text column's categories, as its rows are read back (set by finish, share)."""
        return {name: dtype.categories for name, dtype in self._dtypes.items() if name != "_file"}

    # ------------------------------------------------------------------ writing while reading

    def _path(self, file: int, part: int, kept: bool | None = None) -> Path:
        """A part file as read (``f``), or once its duplicates are out (``k``: after finish)."""
        kept = self.digest is not None if kept is None else kept
        return self.folder / f"{'k' if kept else 'f'}{file}-p{part}.arrow"

    def start_rejects(self) -> RejectStore:
        """The store the export's rejects go to, in a folder of its own: it outlives the parts (the rejects
        file is written after the features, when the parts are gone)."""
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}@{host_name()}-"))
            self.rejects = RejectStore(folder)
        except OSError as exc:
            raise write_failed(Path(tempfile.gettempdir()), exc, ROOM) from None
        return self.rejects

    def add_rejects(self, frame: pd.DataFrame) -> None:
        try:
            self.rejects.add(frame)
        except OSError as exc:
            raise write_failed(self.rejects.folder, exc, ROOM) from None

    def add(self, cols: dict[str, np.ndarray], file: int) -> None:
        """One piece of file ``file`` (rows.Rows.add's compact columns), split by account."""
        try:
            self.write_piece(cols, file)
        except OSError as exc:  # a full disk: say where, and what to do
            raise write_failed(self.folder, exc, ROOM) from None

    def write_piece(self, cols: dict[str, np.ndarray], file: int) -> None:
        """Split one piece by account and append each part's rows to its file (add, without naming a full
        disk: an OSError is raised as it comes)."""
        codes = cols["account_id"]
        # int16 when it fits: NumPy's stable sort of 16-bit keys is a radix sort, 6x faster than for int64
        part = np.where(codes >= 0, codes % np.int32(self.parts), 0).astype("int16" if self.parts < 1 << 15
                                                                             else "int64")
        order = np.argsort(part, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=self.parts))])
        place = np.empty(len(part), dtype=np.intp)
        place[order] = np.arange(len(part))  # each row's place once grouped by part
        arrays = {}
        # _file is the same for every row of a part file (f<file>-p<part>): not written, put back on reading
        for name, values in cols.items():
            if name != "_file":  # scattered into place, in the spill's type: 3x faster than values[order] here
                grouped = np.empty(len(values), dtype=_SPILL_TYPES.get(name, "int32") if name in self.books
                                   or name in _SPILL_TYPES else values.dtype)
                grouped[place] = values
                arrays[name] = _arrow(grouped)
        batch = pa.record_batch(list(arrays.values()), names=list(arrays))
        for p in range(self.parts):
            lo, hi = bounds[p], bounds[p + 1]
            if hi <= lo:
                continue
            key = (file, p)
            taken = batch.slice(lo, hi - lo)
            if key not in self._writers:
                self._sinks[key] = pa.OSFile(str(self._path(file, p)), "wb")
                self._writers[key] = ipc.new_stream(self._sinks[key], taken.schema)
            self._writers[key].write_batch(taken)

    def rollback(self, file: int) -> None:
        """Forget what file ``file`` wrote (it is read again another way)."""
        for key in [k for k in self._writers if k[0] == file]:
            self._writers.pop(key).close()
            self._sinks.pop(key).close()
            self._path(*key).unlink()

    def close_writers(self) -> None:
        for key in list(self._writers):
            self._writers.pop(key).close()
            self._sinks.pop(key).close()

    # ------------------------------------------------------------------ reading back

    def _raw_part(self, part: int, columns: list[str] | None = None) -> pd.DataFrame:
        """Part ``part``: every file's rows in file and line order, without the duplicates once finish has
        run (only ``columns`` of them, when given: the others are mapped but never touched)."""
        tables = []
        for file in range(len(self.files)):
            path = self._path(file, part)
            if path.exists():
                with pa.memory_map(str(path)) as source:
                    table = ipc.open_stream(source).read_all()
                if columns is not None:
                    table = table.select([c for c in columns if c in table.column_names])
                tables.append((file, table))
        pieces = []
        for file, table in tables:
            cols = {c: table.column(c).to_numpy() for c in table.column_names}
            if columns is None or "_file" in columns:  # not on disk: one file's rows in each part file
                cols["_file"] = np.full(table.num_rows, file, "int32")
            pieces.append((table.num_rows, cols))
        return assemble(self.export, pieces, self._dtypes)

    def finish(self) -> None:
        """The duplicate search, part by part, each part's batches in file and line order: a row seen before
        in its part (exact duplicates share their account, so their part) goes to the rejects, the others to
        the part's kept files. Memory follows a part's distinct rows, not its duplicates (38 M copies of one
        row were 13.7 GB read as one frame). Keeps each account's digest."""
        try:
            self.close_writers()  # their last rows are written now
        except OSError as exc:
            raise write_failed(self.folder, exc, ROOM) from None
        self._dtypes = {name: book.dtype() for name, book in self.books.items()}
        self.books = dict.fromkeys(self.books)  # the codebooks' lookup tables are not needed any more
        self._dtypes["_file"] = pd.CategoricalDtype(pd.Index(self.files, dtype="str"))
        # two parts at a time (see in_parallel), results in part order
        try:
            found = list(in_parallel(self._search, list(range(self.parts))))
        except OSError as exc:
            raise write_failed(self.folder, exc, ROOM) from None
        self.rows = sum(rows for rows, _ in found)
        digests = [digest for rows, digest in found if rows]
        self.digest = pd.concat(digests) if digests else pd.DataFrame({"min": [], "max": [], "size": []})
        # the rejects in file order, then part order, then line order (as the search over whole parts gave them)
        for file in range(len(self.files)):
            for part in range(self.parts):
                path = self.folder / f"r{file}-p{part}.arrow"
                if path.exists():
                    with pa.OSFile(str(path), "rb") as source:
                        for batch in ipc.open_stream(source):
                            self.add_rejects(batch.to_pandas())
                    path.unlink()

    def _search(self, part: int) -> tuple[int, pd.DataFrame]:
        """One part's duplicate search (see finish): (rows kept, its accounts' digest)."""
        seen = KeyTable()
        check = Grown("uint64")  # a second hash of each distinct row: a row whose first hash matches another's
        first_file, first_line = Grown("int32"), Grown("int64")  # but not its second is kept, never dropped
        accounts, times = [], []
        names = [(c.name, c.kind) for c in self.export.columns]
        for file in range(len(self.files)):
            path = self._path(file, part, kept=False)
            if not path.exists():
                continue
            label = self.files[file]
            kept_sink = kept_writer = rej_sink = rej_writer = None
            with pa.OSFile(str(path), "rb") as source:
                for batch in ipc.open_stream(source):
                    h1, h2 = _row_hashes(batch, names)
                    codes, new = seen.codes(h1)
                    check.extend(h2[new])
                    first_file.extend(np.full(len(new), file, "int32"))
                    lines = batch.column("_line").to_numpy()
                    first_line.extend(lines[new])
                    dup = np.ones(batch.num_rows, bool)
                    dup[new] = False
                    dup &= check.values[codes] == h2
                    keep = ~dup
                    kept = batch.filter(pa.array(keep)) if dup.any() else batch
                    if kept.num_rows:
                        if kept_writer is None:
                            kept_sink = pa.OSFile(str(self._path(file, part, kept=True)), "wb")
                            kept_writer = ipc.new_stream(kept_sink, kept.schema)
                        kept_writer.write_batch(kept)
                        accounts.append(kept.column("account_id").to_numpy())
                        times.append(kept.column("timestamp").to_numpy())
                    if dup.any():
                        at = codes[dup]
                        where = "line " + pd.Series(first_line.values[at]).astype("str")
                        other = first_file.values[at] != file
                        if other.any():
                            where[other] = where[other] + " of " + pd.Series(
                                np.asarray(self.files, dtype=object)[first_file.values[at][other]],
                                index=where.index[other])
                        reason = ("duplicate row (same as " + where + ")").to_numpy()
                        rejects = pd.DataFrame({"file": label, "line": lines[dup].astype("int64"), "column": "",
                                                "value": "", "reason": reason})
                        if rej_writer is None:
                            rej_sink = pa.OSFile(str(self.folder / f"r{file}-p{part}.arrow"), "wb")
                            rej_writer = ipc.new_stream(rej_sink, SCHEMA)
                        rej_writer.write_batch(pa.RecordBatch.from_pandas(rejects, schema=SCHEMA, preserve_index=False))
            for writer, sink in ((kept_writer, kept_sink), (rej_writer, rej_sink)):
                if writer is not None:
                    writer.close()
                    sink.close()
            path.unlink()  # its kept rows are in the k file
        rows = sum(len(a) for a in accounts)
        digest = date_digest(np.concatenate(accounts).astype("int64"), np.concatenate(times)) if rows else None
        return rows, digest

    def share(self, name: str, dtype: pd.CategoricalDtype) -> None:
        """Read column ``name`` back with ``dtype``: the categories of its codebook once other exports added
        to it (codes stay the same)."""
        self._dtypes[name] = dtype

    def part(self, part: int, columns: list[str] | None = None) -> pd.DataFrame:
        """The clean rows of one part (without its duplicates), typed as load gives them; only ``columns``
        of them when given."""
        frame = self._raw_part(part, columns)
        if "count" in frame:
            frame["count"] = fill_counts(frame["count"])
        if "_line" in frame:
            frame["_line"] = narrow_lines(frame["_line"].to_numpy())
        return frame

    def empty(self) -> pd.DataFrame:
        """No rows, typed as part() gives them."""
        frame = empty_frame(self.export)
        for name, dtype in self._dtypes.items():
            frame[name] = pd.Categorical.from_codes(np.array([], dtype="int32"), dtype=dtype)
        return frame

    def digest_frame(self, date_column: str) -> pd.DataFrame:
        """Two rows per account: its earliest and its latest time (what Loaded.frames holds for it)."""
        return two_dates(self.digest, self.categories["account_id"], date_column)

    def after(self, end: pd.Timestamp) -> int:
        """Rows dated on or after ``end``."""
        total = 0
        if not len(self.digest) or self.digest["max"].max() < end:  # no row after it (the default as-of date)
            return 0
        for part in range(self.parts):
            ts = self.part(part, ["timestamp"])["timestamp"].to_numpy()
            total += int((ts >= np.datetime64(end.to_datetime64(), "ns")).sum())
        return total

    def outside(self, known: pd.Index) -> tuple[int, int]:
        """(rows, accounts) of the accounts whose ids are not in ``known`` (distinct ids as text; looked up with
        get_indexer, not isin: 5 s at 1 M ids)."""
        codes = self.digest.index.to_numpy().astype("int64")
        ids = pd.Index(self.categories["account_id"], dtype="str").take(codes)
        out = known.get_indexer(ids) < 0
        return int(self.digest["size"].to_numpy()[out].sum()), int(out.sum())

    def rows_of(self, codes_known: np.ndarray) -> int:
        """Rows of the accounts whose codes are given."""
        sizes = self.digest["size"]
        return int(sizes[sizes.index.isin(codes_known)].sum())

    def close(self) -> None:
        """Close the writers and remove the folder: it is renamed out of the way at once and its files are
        deleted by a thread (0.7 s for the parts of 50 M rows), which the interpreter waits for at exit."""
        self.close_writers()
        self._cleanup.detach()
        gone = self.folder.with_name(self.folder.name + "-removing")
        try:
            self.folder.rename(gone)
        except FileNotFoundError:  # closed before
            return
        except OSError:
            gone = self.folder
        threading.Thread(target=shutil.rmtree, args=(str(gone), True), name="churnscore-spill-removal").start()


_SPILL_TYPES = {"_line": "int64", "count": "float64"}  # one schema for every piece of a file


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "M":
        return pa.array(values.astype("datetime64[ns]"), type=pa.timestamp("ns"))
    return pa.array(values)


def parts_to_spill(config: Config, name: str, files: list[Path]) -> int:
    """How many parts the export goes to disk in (0: it stays in memory): usage files over SPILL_BYTES in
    all, unless a mapping file turns its keys into account ids (that needs the whole export at once)."""
    if name != "usage" or config.inputs[name].account_source:
        return 0
    size = sum(_csv_bytes(p) for p in files)
    return parts_for(size) if size > SPILL_BYTES else 0


CSV_ROW_BYTES = 55  # a usage row as CSV text, to weigh a Parquet file by its rows


def _csv_bytes(path: Path) -> int:
    """What a usage file weighs as CSV text, to choose between memory and disk: a Parquet file by the row
    count in its metadata (60 M rows compress to 4 MB), a gzip file by the larger of 4 times its size and
    the uncompressed size its trailer gives (modulo 4 GiB), a CSV file by its size."""
    size = path.stat().st_size
    if path.name.endswith(".parquet"):
        try:
            return pq.ParquetFile(path).metadata.num_rows * CSV_ROW_BYTES
        except (OSError, pa.ArrowException):
            return size * 4  # the reader names what is wrong with it
    if path.name.endswith(".gz") and size >= 18:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            trailer = int.from_bytes(fh.read(4), "little")
        return max(size * 4, trailer)
    return size
