"""Annotated chunks routed to account-hash buckets, so the features can be computed
bucket by bucket: every request of an account lands in the same bucket, and a bucket's
size (not the log's) bounds the memory of the feature stage (see :mod:`detector.pipeline`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import schema as S
from detector.arrowtext import as_arrow, hash_strings

SPILL_COMPRESSION = "lz4"


class Buckets:
    """Annotated chunks routed by account hash: in memory, or one spill file per bucket.

    Spill files are Arrow IPC streams (LZ4): a bucket is written and read back once by
    this process, so Parquet's encoding work buys nothing; IPC writes and reads at
    memory speed and LZ4 keeps the temporary disk use near Parquet's.
    """

    def __init__(self, n_buckets: int) -> None:
        self.n = n_buckets
        self._memory: list[pd.DataFrame] = []
        self._dir = (
            tempfile.TemporaryDirectory(prefix="detector-buckets-") if n_buckets > 1 else None
        )
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self._options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION)

    def _path(self, b: int) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / f"bucket-{b:05d}.arrow"

    def add(self, frame: pd.DataFrame) -> None:
        """Route an annotated chunk's rows to their buckets (kept, or appended to a file)."""
        if self._dir is None:
            self._memory.append(frame)
            return
        bucket = (hash_strings(as_arrow(frame[S.ACCOUNT_ID])) % np.uint64(self.n)).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(self.n + 1))
        # one gather of the whole chunk in bucket order; each bucket is a zero-copy slice
        table = pa.Table.from_pandas(frame, preserve_index=False).take(pa.array(order))
        for b in range(self.n):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if hi <= lo:
                continue
            writer = self._writers.get(b)
            if writer is None:
                writer = pa.ipc.new_stream(self._path(b), table.schema, options=self._options)
                self._writers[b] = writer
            writer.write_table(table.slice(lo, hi - lo))

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """Each bucket's rows as one frame, bucket by bucket (spill files closed first)."""
        if self._dir is None:
            if self._memory:
                yield pd.concat(self._memory, ignore_index=True)
            return
        for writer in self._writers.values():
            writer.close()
        for b in sorted(self._writers):
            with pa.ipc.open_stream(self._path(b)) as reader:
                table = reader.read_all()
            yield table.to_pandas()

    def close(self) -> None:
        """Remove the spill files."""
        if self._dir is not None:
            self._dir.cleanup()
