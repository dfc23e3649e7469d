"""Read request logs, validate them against the contract, dedupe, quarantine.

A log is a directory (read recursively) or a list of files: Parquet, JSON Lines or
CSV, each text format optionally gzip-compressed. Hive partitions (``date=YYYY-MM-DD``)
are pruned by ``start``/``end`` from the path alone, so days outside the window are
never opened. Reading streams in chunks of ``Config.chunk_rows`` rows; nothing here
holds the whole log in memory.

Counting. A *row* is a Parquet row, a CSV record after the header, or a non-blank
JSON line. Every row of every file opened is accounted for exactly once::

    read == kept + duplicates + quarantined

``kept`` rows go on to scoring; ``duplicates`` repeat a ``request_id`` already kept
for the same account (log shipping is at-least-once); ``quarantined`` rows break a
contract rule -- or reuse a ``request_id`` kept for another account (a different
request, not a re-delivery: ``request_id already used by another account``), or
could not be parsed at all (invalid JSON or UTF-8, a CSV record with the wrong number
of fields), or carry a timestamp far from their ``date=`` partition, or, in a flat
log, on a day isolated from the log's other rows (:mod:`detector.ingest.span`) -- and
are written to the quarantine file with the reason. Not rows, and not in ``read``:

- ``outside_window``: valid rows of an unpartitioned file whose timestamp is outside
  ``start``/``end``; the run selected them away (as it does the files of pruned
  partitions), so they are counted on their own and not copied to the quarantine
  file. (A partition's rows are selected by its path and held to its day instead:
  see :mod:`detector.ingest.window`);
- blank JSON lines (only spaces, tabs, CR) and empty CSV lines, as the final newline
  is not a row (a line of other whitespace, U+2003 say, is a row, and quarantined);
- files skipped by name (``_SUCCESS``, ``_temporary/``, hidden files, ``*.crc``:
  ``ignored_files``) and 0-byte files (``empty_files``).

A file that cannot be read at all is an :class:`IngestError` (one line, naming the
file), never a silent gap: see :mod:`detector.ingest.discover` and the readers.

Modules: ``discover`` (which files), ``readers``, ``jsonl`` and ``csvlog`` (bytes →
raw rows), ``validate`` (contract rules), ``window`` (partition and window checks), ``span`` (a
flat log's dense days),
``dedupe`` (repeated request ids), ``stream`` (the streaming read), ``subset`` (a few
accounts' rows, screened alone), ``quarantine`` (the quarantine file), ``report`` (the
counts), ``tables`` (account table, labels).
"""

from __future__ import annotations

from detector.ingest.csvlog import csv_header
from detector.ingest.dedupe import Deduper, account_tags, in_sorted
from detector.ingest.discover import FORMATS, Listing, LogFile, discover, list_log
from detector.ingest.jsonl import UTF8_BOM, drop_bom, parse_json_lines, strip_lines
from detector.ingest.quarantine import QuarantineWriter, cell_text
from detector.ingest.raw import RawChunk, arrow_types, check_header, one_line
from detector.ingest.readers import holds_rows, open_parquet, read_file
from detector.ingest.report import (
    MAX_FIRST_REASONS,
    IngestError,
    IngestReport,
    nothing_to_score,
)
from detector.ingest.span import LogSpan, log_span
from detector.ingest.stream import (
    FileCounts,
    FileRead,
    LogReader,
    Screened,
    iter_clean,
    read_log,
    screen,
)
from detector.ingest.subset import SharedRequestIds, iter_account_rows, read_account_rows
from detector.ingest.tables import (
    account_table,
    check_account_overlap,
    read_accounts,
    read_labels,
)
from detector.ingest.validate import Checked, epoch_seconds, finalize_dtypes, validate_frame
from detector.ingest.window import TimeBounds, time_bounds

__all__ = [
    "FORMATS",
    "MAX_FIRST_REASONS",
    "UTF8_BOM",
    "Checked",
    "Deduper",
    "FileCounts",
    "FileRead",
    "IngestError",
    "IngestReport",
    "Listing",
    "LogFile",
    "LogReader",
    "LogSpan",
    "QuarantineWriter",
    "RawChunk",
    "Screened",
    "SharedRequestIds",
    "TimeBounds",
    "account_table",
    "account_tags",
    "arrow_types",
    "cell_text",
    "check_account_overlap",
    "check_header",
    "csv_header",
    "discover",
    "drop_bom",
    "epoch_seconds",
    "finalize_dtypes",
    "holds_rows",
    "in_sorted",
    "iter_account_rows",
    "iter_clean",
    "list_log",
    "log_span",
    "nothing_to_score",
    "one_line",
    "open_parquet",
    "parse_json_lines",
    "read_account_rows",
    "read_accounts",
    "read_file",
    "read_labels",
    "read_log",
    "screen",
    "strip_lines",
    "time_bounds",
    "validate_frame",
]
