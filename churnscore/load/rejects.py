"""Rejected rows kept on disk as they are found, so that memory does not follow them.

A large usage export (spilled to disk by account, see spill.py) can hold millions of rows that break the
contract or repeat one another: 38 M copies of one row became 38 M rejects, 12.5 GB as a frame. Their rejects
go to an Arrow file in a temporary folder instead, a batch at a time; only their count, their count per file
and the first HEAD_ROWS of them stay in memory. The rejects file is written from it a batch at a time.
"""

from __future__ import annotations

import shutil
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

REJECT_COLUMNS = ["file", "line", "column", "value", "reason"]
SCHEMA = pa.schema([("file", pa.string()), ("line", pa.int64()), ("column", pa.string()), ("value", pa.string()),
                    ("reason", pa.string())])
HEAD_ROWS = 1000  # rejects kept in memory as well (what validate shows, what a test reads)


class RejectStore:
    """Rejects appended in order to a file in ``folder`` (made for it and removed with it, when this goes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True)
        self.path = folder / "rejects.arrow"
        self._sink: pa.OSFile | None = pa.OSFile(str(self.path), "wb")
        self._writer = ipc.new_stream(self._sink, SCHEMA)
        self.count = 0
        self.per_file: Counter[str] = Counter()
        self.head = pd.DataFrame(columns=REJECT_COLUMNS)

    def add(self, frame: pd.DataFrame) -> None:
        """Append rejects (the columns REJECT_COLUMNS, in order)."""
        if not len(frame):
            return
        if len(self.head) < HEAD_ROWS:
            self.head = pd.concat([self.head, frame[REJECT_COLUMNS].head(HEAD_ROWS - len(self.head))],
                                  ignore_index=True) if len(self.head) else \
                frame[REJECT_COLUMNS].head(HEAD_ROWS).reset_index(drop=True)
        self.count += len(frame)
        self.per_file.update(frame["file"].astype("str").value_counts().to_dict())
        self._writer.write_batch(pa.record_batch([_text(frame["file"]), pa.array(frame["line"].to_numpy("int64")),
                                                  _text(frame["column"]), _text(frame["value"]),
                                                  _text(frame["reason"])], schema=SCHEMA))

    def finish(self) -> None:
        """No more rejects: the file is whole."""
        if self._sink is not None:
            self._writer.close()
            self._sink.close()
            self._sink = None

    def frames(self) -> Iterator[pd.DataFrame]:
        """The rejects, a batch at a time (line int64, the rest text)."""
        self.finish()
        with pa.OSFile(str(self.path), "rb") as source:
            for batch in ipc.open_stream(source):
                yield batch.to_pandas()

    def close(self) -> None:
        self.finish()
        self._cleanup()


def _text(values: pd.Series) -> pa.Array:
    missing = values.isna().to_numpy()
    return pa.array(values.astype("str").to_numpy(dtype=object), type=pa.string(), mask=missing)
