"""Find the files of a log: formats, hive ``date=`` partitions, what is skipped and why.

A directory is read recursively, the way Spark and Hive read a table's directory:

- names starting with ``_`` or ``.`` (``_SUCCESS``, ``_temporary/``, ``.part-0.crc``,
  editor and OS files) and checksum sidecars (``*.crc``) are bookkeeping, not data,
  and are skipped (counted as ``ignored``);
- a file of any other name must be a log file (``.parquet``, ``.jsonl[.gz]``,
  ``.csv[.gz]``): a ``.json``, ``.txt`` or ``.zst`` among the data is an error, not a
  silent gap in the data;
- a directory that cannot be listed is an error (the log would be read incomplete);
- 0-byte files hold no row: they are counted as ``empty`` and not opened, so a day
  holding only an empty file is a missing day;
- ``date=YYYY-MM-DD`` directories are pruned by ``start``/``end`` from the path alone;
  a ``date=`` directory whose name is not a date is an error.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detector import schema as S
from detector.ingest.report import IngestError

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".csv": "csv"}
PARTITION_PREFIX = S.PARTITION_PREFIX
EXPECTED = ".parquet, .jsonl[.gz] or .csv[.gz]"
_SHOWN = 3  # unknown files named in the error message


@dataclass(frozen=True)
class LogFile:
    """One input file: its path, format, compression and hive partition date."""

    path: Path
    fmt: str
    gzipped: bool
    partition: dt.date | None


@dataclass
class Listing:
    """The files of a log within a window, and what was skipped (by reason)."""

    files: list[LogFile] = field(default_factory=list)
    pruned: int = 0
    """Files in ``date=`` partitions outside the window (never opened)."""
    ignored: int = 0
    """Hidden and bookkeeping files and directories (``_*``, ``.*``, ``*.crc``)."""
    empty: int = 0
    """0-byte log files."""


def is_ignored(name: str) -> bool:
    """True for a file or directory name that Spark/Hive readers skip as bookkeeping."""
    return name.startswith(("_", ".")) or name.endswith(".crc")


def classify(path: Path) -> tuple[str, bool] | None:
    """``(format, gzipped)`` from a file name, or ``None`` when it is not a log file."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    fmt = FORMATS.get(Path(name).suffix)
    if fmt is None or (gz and fmt == "parquet"):
        return None
    return fmt, gz


def partition_date(relative: Path, root: Path = Path()) -> dt.date | None:
    """The day of the innermost ``date=`` directory of a path relative to the log root.

    A ``date=`` directory whose name is not a date is an :class:`IngestError` naming it
    under ``root`` (the log path the user gave), so the message points at the directory
    to rename whatever the working directory.
    """
    parents = relative.parts[:-1]
    for depth in range(len(parents) - 1, -1, -1):
        part = parents[depth]
        if part.startswith(PARTITION_PREFIX):
            try:
                return dt.date.fromisoformat(part[len(PARTITION_PREFIX) :])
            except ValueError:
                raise IngestError(
                    f"{root.joinpath(*parents[: depth + 1])}: partition directory name "
                    f"{part!r} is not {PARTITION_PREFIX}YYYY-MM-DD; rename it or move it out "
                    "of the log"
                ) from None
    return None


def _walk(root: Path) -> tuple[list[Path], int]:
    """Every non-ignored file under ``root`` in sorted path order, and how many files and
    directories were skipped by name (an ignored directory is not entered).

    Symbolic links to directories are followed (a day linked in from elsewhere is
    data), each real directory once. Raises :class:`IngestError` for a directory that
    cannot be listed or an entry that is not a readable regular file.
    """

    def unlistable(err: OSError) -> None:
        raise IngestError(
            f"{err.filename}: cannot list directory ({err.strerror}); the log would be read "
            "incomplete: fix its permissions or move it out of the log"
        )

    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    ignored = 0
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a link loop, or a directory linked twice
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        ignored += sum(map(is_ignored, dirnames)) + sum(map(is_ignored, filenames))
        dirnames[:] = [d for d in dirnames if not is_ignored(d)]
        found += [Path(dirpath, name) for name in filenames if not is_ignored(name)]
    return sorted(found), ignored


def _file_size(path: Path) -> int:
    """Size of a regular file (following links); :class:`IngestError` for anything else."""
    try:
        st = path.stat()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{path}: not a regular file; move it out of the log")
    return st.st_size


def list_log(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Listing:
    """List the log files under ``paths``, pruning ``date=`` partitions outside [start, end].

    Files are in a deterministic (sorted) order per root. A file given by name is read
    whatever its name, but must have a log format's extension. Raises
    :class:`IngestError` when a path does not exist, holds a file of unknown format or
    an unlistable directory, or holds no log file at all.
    """
    roots = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    out = Listing()
    for root in roots:
        if not root.exists():
            raise IngestError(f"{root}: no such file or directory")
        if not root.is_dir():
            kind = classify(root)
            if kind is None:
                raise IngestError(f"{root}: unknown log format; expected {EXPECTED}")
            if _file_size(root) == 0:
                out.empty += 1
            else:
                out.files.append(LogFile(root, kind[0], kind[1], None))
            continue
        unknown: list[Path] = []
        paths, ignored = _walk(root)
        out.ignored += ignored
        for path in paths:
            relative = path.relative_to(root)
            day = partition_date(relative, root)
            if day is not None and (
                (start is not None and day < start) or (end is not None and day > end)
            ):
                out.pruned += 1
                continue
            kind = classify(path)
            if kind is None:
                unknown.append(path)
            elif _file_size(path) == 0:
                out.empty += 1
            else:
                out.files.append(LogFile(path, kind[0], kind[1], day))
        if unknown:
            shown = ", ".join(str(p) for p in unknown[:_SHOWN])
            more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
            raise IngestError(
                f"{root}: {len(unknown)} file(s) of unknown format ({shown}{more}); a log "
                f"holds only {EXPECTED} files: convert them, or move them out of the log "
                "(names starting with '_' or '.' are skipped)"
            )
    if not out.files and not out.pruned and not out.empty:
        raise IngestError(f"{', '.join(map(str, roots))}: no {EXPECTED} files found")
    return out


def discover(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> tuple[list[LogFile], int]:
    """The log files under ``paths`` within [start, end] and how many were pruned.

    :func:`list_log` without the counts of skipped files (see there for the errors).
    """
    listing = list_log(paths, start=start, end=end)
    return listing.files, listing.pruned
