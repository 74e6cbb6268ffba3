"""Text held by Arrow, read in place: where a string array's values lie in its data buffer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def value_offsets(a: pa.Array) -> np.ndarray:
    """Where each value of a string or large_string array starts in its data buffer, and where the last
    ends: len(a) + 1 offsets, read in place."""
    width = np.dtype(np.int64 if pa.types.is_large_string(a.type) else np.int32)
    return np.frombuffer(a.buffers()[1], dtype=width, count=len(a) + 1, offset=a.offset * width.itemsize)


def value_bytes(a: pa.Array) -> pa.Buffer | None:
    """The UTF-8 bytes of the array's values, end to end (no copy); None when it has no data buffer."""
    data = a.buffers()[2]
    if data is None:
        return None
    offsets = value_offsets(a)
    return data[int(offsets[0]):int(offsets[-1])]
