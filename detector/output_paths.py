"""Where a command may write: the one home of the rule on output paths.

Every output path comes from the user, and one slip points it at something the
command must never replace: the log it is reading, the scores a report is made of,
another output of the same run, a FIFO or a device. The writes are atomic renames, so
nothing would warn: the input would simply be gone. Before a command writes anything
it lists every file it will write -- each named output and the files derived from it
(a scores file's Parquet twin and sidecars, a default quarantine file) -- and every
input it reads, and :func:`check_paths` refuses with one
:class:`~detector.errors.UserError` naming the option and the path when

- an output exists and is not what the command writes: a FIFO, a device, a socket, or
  a directory where a file is expected (a file where a directory is expected); the
  rename would replace the special file itself;
- the directory of a named output does not exist: it is refused, never created, so a
  typo in ``--out /data/sores/x.csv`` does not create ``/data/sores``;
- an output is an input (the same path, or the same file through a link);
- an output lies inside a log directory the command reads: logs are read
  recursively, so the next run would read the output as part of the log;
- two outputs are the same file: the second would silently replace the first.

A command that creates a directory without naming a log (``detector init --state``,
and the nightly job's ``--state`` beside its own ``--logs``) is also refused a place
inside a ``date=``-partitioned log found by looking (:func:`check_outside_logs`): every
later read of that log would take what it writes there for part of the log.

Paths are compared resolved (symbolic links followed, ``..`` removed), and with
:func:`os.path.samefile` when both exist, so a hard link is the same file too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from detector.errors import UserError
from detector.schema import PARTITION_PREFIX

__all__ = [
    "Input",
    "Output",
    "check_output",
    "check_outside_logs",
    "check_paths",
    "partitioned_log_around",
]


@dataclass(frozen=True)
class Output:
    """A path a command writes, and how to name it in a message."""

    option: str
    """The option (or argument) the path comes from: ``--out``, ``--quarantine``."""
    path: Path
    directory: bool = False
    """A directory the command writes into (a model or state directory), not a file."""
    named: bool = True
    """The user named this path: its directory must exist (a derived file's is the same)."""
    given: Path | None = None
    """For a file derived from a named one (a sidecar): the path the user named."""
    what: str = ""
    """For a derived file: what it is (``its Parquet twin``)."""

    def derived(self, path: Path, what: str, *, directory: bool = False) -> Output:
        """A file (or directory) the command writes beside or inside this one (a twin, a
        sidecar), named in messages by this one."""
        return Output(self.option, Path(path), directory, named=False, given=self.path, what=what)

    def describe(self) -> str:
        """``--out s.csv``, or ``--out s.csv (its Parquet twin s.parquet)`` for a derived file."""
        return _describe(self.option, self.path, self.given, self.what)


@dataclass(frozen=True)
class Input:
    """A path a command reads."""

    option: str
    """The option (or argument) the path comes from: ``LOG``, ``--accounts``."""
    path: Path
    log: bool = False
    """A log: when it is a directory, every file under it is read, so nothing may be
    written inside it."""
    given: Path | None = None
    """For a file read with a named one (a scores file's sidecar): the path the user named."""
    what: str = ""
    """For a file read with a named one: what it is (``its Parquet twin``)."""

    def describe(self) -> str:
        """``LOG logs/``, or ``SCORES s.csv (its Parquet twin s.parquet)``."""
        return _describe(self.option, self.path, self.given, self.what)


def _describe(option: str, path: Path, given: Path | None, what: str) -> str:
    """A path as a message names it: by its option, and for a file that goes with a named
    one (a twin, a sidecar), by the named one and what it is."""
    if given is None:
        return f"{option} {path}"
    return f"{option} {given} ({what} {path})"


def _kind(path: Path) -> str | None:
    """What exists at ``path`` (links followed): ``None`` when nothing (or unreadable)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # absent, a dangling link, a parent that is a file: nothing to replace
        return None
    if stat.S_ISREG(mode):
        return "regular file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal once resolved, or the same inode."""
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies anywhere under it."""
    return _resolved(path).is_relative_to(_resolved(directory))


def check_output(out: Output) -> None:
    """Refuse an output that is a special file or whose named directory is missing."""
    kind = _kind(out.path)
    if out.directory:
        if kind not in (None, "directory"):
            raise UserError(f"{out.describe()} is a {kind}, not a directory; give a directory")
    elif kind == "directory":
        raise UserError(f"{out.describe()} is a directory; give a file name inside it")
    elif kind not in (None, "regular file"):
        raise UserError(
            f"{out.describe()} is a {kind}, not a regular file, and writing would replace it; "
            "give the path of a new or regular file"
        )
    parent = Path(out.path).parent
    if out.named and kind is None and not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise UserError(
            f"{out.option}: directory {parent} {state}; create it first or fix the path"
        )


def _check_against(out: Output, source: Input) -> None:
    """Refuse an output that lies inside ``source`` when it is a log directory, or is it."""
    if source.log and Path(source.path).is_dir() and _inside(out.path, source.path):
        raise UserError(
            f"{out.describe()} lies inside the log directory {source.describe()}, "
            "and the next run would read it as part of the log; write outputs outside "
            f"{source.path}"
        )
    if _same_file(out.path, source.path):
        raise UserError(
            f"{out.describe()} is the input {source.describe()}, and writing would "
            "destroy it; give the output another path"
        )


def check_paths(outputs: Iterable[Output | None], inputs: Iterable[Input | None] = ()) -> None:
    """Refuse, before anything is written, outputs that would destroy something.

    ``outputs`` is every path the command will write, derived files included;
    ``inputs`` every path it reads. ``None`` entries (options not given) are skipped.
    Raises one :class:`UserError` naming the first offending option and path.
    """
    outs = [o for o in outputs if o is not None]
    ins = [i for i in inputs if i is not None]
    for index, out in enumerate(outs):
        check_output(out)
        for source in ins:
            _check_against(out, source)
        for earlier in outs[:index]:
            if _same_file(out.path, earlier.path):
                raise UserError(
                    f"{out.describe()} is the same file as {earlier.describe()}, and one would "
                    "replace the other; give each output its own path"
                )


def _holds_partitions(directory: Path) -> bool:
    """Whether ``directory`` holds a ``date=`` partition directory (unlistable: no)."""
    try:
        with os.scandir(directory) as entries:
            return any(e.name.startswith(PARTITION_PREFIX) and e.is_dir() for e in entries)
    except OSError:
        return False


def partitioned_log_around(path: Path) -> Path | None:
    """The ``date=``-partitioned log directory that ``path`` is or lies in, if any.

    The nearest directory at or above ``path`` (resolved) that holds a ``date=``
    partition: the root of a hive log, which every reader reads recursively. A path
    inside a partition finds the root above it.
    """
    here = _resolved(path)
    return next((d for d in (here, *here.parents) if _holds_partitions(d)), None)


def check_outside_logs(out: Output) -> None:
    """Refuse a directory a command creates inside a ``date=``-partitioned log.

    For commands that name no log to check against (``detector init --state``): a
    state store created in the log's tree would be read with the log, and every later
    read of it would fail on ``state.sqlite`` (or take its files for data).
    """
    root = partitioned_log_around(out.path)
    if root is None:
        return
    given = Path(out.path)  # the log named as the user spelled the path, when it can be
    shown = next((p for p in (given, *given.parents) if _resolved(p) == root), root)
    shown = root if shown == Path() else shown  # "inside ." would not say which directory
    raise UserError(
        f"{out.describe()} lies inside {shown}, a log directory (it holds "
        f"{PARTITION_PREFIX} partitions), and every run reading that log would read what "
        f"is written there as part of it; give a directory outside {shown}"
    )
