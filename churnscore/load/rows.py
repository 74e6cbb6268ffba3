"""An export's rows gathered piece by piece as compact columns (codes, typed arrays), in memory or on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import Export
from .codes import Codebook, code_type
from .frames import assemble, narrow_lines


class Rows:
    """An export's rows as compact columns, gathered piece by piece (a batch, or a whole file): repeating
    text as codes into one codebook per column, the rest as typed arrays. A file's pieces are kept apart
    until the file is read to its end, so a file read again another way is not counted twice."""

    def __init__(self, export: Export, spill_parts: int = 0, shared: dict[str, Codebook] | None = None) -> None:
        self.export = export
        shared = shared or {}
        self.books = {c.name: shared[c.name] if c.name in shared else Codebook() for c in export.columns
                      if c.kind == "string" and not c.distinct}
        self.pieces: list[tuple[int, dict[str, object]]] = []
        self.staged: list[tuple[int, dict[str, object]]] = []
        self.files: list[str] = []
        self.spill = None  # spill.UsageSpill: the pieces go to disk by account as they come
        if spill_parts:
            from .spill import UsageSpill

            self.spill = UsageSpill(export, spill_parts, self.books)
            self.spill.files = self.files
            self.spill.start_rejects()

    def add(self, frame: pd.DataFrame, file: int) -> None:
        """One piece of file number ``file`` (parse_table's frame), staged until commit."""
        cols: dict[str, object] = {}
        for name in frame.columns:
            values = frame[name]
            if name in self.books:
                codes = self.books[name].codes(values)
                cols[name] = codes.astype(code_type(len(self.books[name])))
            elif values.dtype.kind in "fMi":
                cols[name] = values.to_numpy()
            else:
                cols[name] = values
        cols["_file"] = np.full(len(frame), file, dtype="int16" if file < (1 << 15) else "int32")
        if self.spill is not None:  # on disk in one schema (spill.py); narrower types only in memory
            self.spill.add(cols, file)
            return
        count = cols.get("count")
        if count is not None and len(count):  # counts are whole numbers: 4 bytes hold them exactly
            small = count.astype("float32")
            if np.array_equal(small, count, equal_nan=True):
                cols["count"] = small
        cols["_line"] = narrow_lines(cols["_line"])
        self.staged.append((len(frame), cols))

    def commit(self) -> None:
        """The staged pieces are kept: their file was read to its end."""
        self.pieces.extend(self.staged)
        self.staged = []

    def rollback(self) -> None:
        """The staged pieces are forgotten: their file is read again another way."""
        self.staged = []
        if self.spill is not None:
            self.spill.rollback(len(self.files) - 1)

    def frame(self) -> pd.DataFrame:
        """One frame of every committed piece, in order (see assemble)."""
        dtypes = {name: book.dtype() for name, book in self.books.items()}
        dtypes["_file"] = pd.CategoricalDtype(pd.Index(self.files, dtype="str"))
        frame = assemble(self.export, self.pieces, dtypes)
        self.pieces = []
        return frame
