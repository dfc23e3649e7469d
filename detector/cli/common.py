"""Shared CLI plumbing: consoles, the user-error boundary, and common options."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from detector.errors import UserError
from detector.output_paths import Output, check_output

if TYPE_CHECKING:  # pyarrow loads after the allocator is set (detector.allocator)
    from detector.ingest import IngestReport

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    err_console.print(f"error: {' '.join(str(message).split())}", markup=False)
    return typer.Exit(code)


def warn_log(report: IngestReport) -> None:
    """Print the read's findings about the whole log on stderr, one line each."""
    for line in report.warnings:
        err_console.print(f"warning: {' '.join(line.split())}", markup=False)


def user_errors(func: F) -> F:
    """Turn expected failures into one stderr line and exit 1 (never a traceback).

    Unexpected exceptions are bugs: one line and exit 3, with the traceback only when
    ``DETECTOR_DEBUG=1``.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (UserError, ValueError, OSError) as exc:
            raise fail(str(exc) or type(exc).__name__) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as exc:
            if os.environ.get("DETECTOR_DEBUG") == "1":
                raise
            raise fail(
                f"internal error ({type(exc).__name__}: {exc}); "
                "rerun with DETECTOR_DEBUG=1 for the traceback and report it",
                3,
            ) from None

    return wrapper  # type: ignore[return-value]


def parse_day(value: str | None, option: str) -> dt.date | None:
    """Parse a ``YYYY-MM-DD`` option value, failing with a one-line message."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: {value!r} is not a date in YYYY-MM-DD form") from None


def parse_window(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    """Parse ``--start``/``--end``; a window that ends before it starts is bad input."""
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if first is not None and last is not None and first > last:
        raise fail(f"--start {first} is after --end {last}; the window would be empty")
    return first, last


def check_output_file(path: Path, option: str) -> Path:
    """An output file the user named, checked alone while the options are parsed.

    Its directory must exist (a typo in ``--out /data/sores/x.csv`` must not quietly
    create ``/data/sores``) and it must not be a directory, FIFO or device: the rule of
    :func:`detector.output_paths.check_output`. Each command then checks all its paths
    together (:func:`detector.output_paths.check_paths`) before it writes anything.
    """
    try:
        check_output(Output(option, path))
    except UserError as exc:
        raise fail(str(exc)) from None
    return path


def output_file_callback(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """Typer callback running :func:`check_output_file` while the options are parsed."""
    if value is None or ctx.resilient_parsing:
        return value
    return check_output_file(Path(value), "/".join(param.opts) or str(param.name))


def alert_budget_callback(value: str | None) -> str | None:
    """Check an ``--alert-budget`` while the options are parsed, before any work."""
    if value is None:
        return None
    from detector.ranking import parse_budget

    try:
        parse_budget(value, 1)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def describe_range(low: float | None, high: float | None) -> str:
    """A closed range as ``--help`` shows it: ``0<=x<=100``, ``x>=0``, ``x<=1``."""
    if low is not None and high is not None:
        return f"{low:g}<=x<={high:g}"
    if low is not None:
        return f"x>={low:g}"
    return f"x<={high:g}"


def finite_float(low: float | None = None, high: float | None = None) -> Callable[[Any], float]:
    """A typer ``parser`` for a number option: a finite float, within ``low..high`` if given.

    Python's ``float()`` reads ``nan`` and ``inf``, and typer's own ``min``/``max``
    check compares them like numbers, so ``--threshold nan`` was refused as "less than
    or equal to 100" (nan compares false to everything) and ``--psi-threshold inf`` was
    taken. No option of this CLI means anything by either, so this one rule refuses
    them by name. Declare options through :func:`number_option`, which keeps the range
    in ``--help`` and here from one pair of bounds.
    """
    wanted = "a finite number" + (
        "" if low is None and high is None else f" in the range {describe_range(low, high)}"
    )

    def parse(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"must be {wanted} (got {value!r})") from None
        inside = (low is None or number >= low) and (high is None or number <= high)
        if not (math.isfinite(number) and inside):
            raise typer.BadParameter(f"must be {wanted} (got {value})")
        return number

    return parse


def number_option(
    *names: str, low: float | None = None, high: float | None = None, **kwargs: Any
) -> Any:
    """A ``typer.Option`` taking a finite float in ``low..high`` (see :func:`finite_float`).

    Every float option is declared here, so none can take ``nan`` or ``inf`` and every
    refusal reads the same: ``Invalid value for '--threshold': must be a finite number
    in the range 0<=x<=100 (got nan)``.
    """
    return typer.Option(*names, min=low, max=high, parser=finite_float(low, high), **kwargs)


@contextlib.contextmanager
def progress_reporter(quiet: bool = False) -> Iterator[Callable[[str, int], None] | None]:
    """A ``progress(stage, rows)`` callback drawing rich progress on a terminal.

    Quiet (``None``) when ``--quiet`` or when stderr is not a terminal, so cron logs and
    pipes get no control characters.
    """
    if quiet or not is_interactive():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, rows: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None)
            bar.update(tasks[stage], advance=rows)

        yield update


def is_interactive() -> bool:
    """Progress bars and colour only when a person is watching."""
    return sys.stderr.isatty()


LogArg = Annotated[
    Path,
    typer.Argument(
        help="Request log: a directory (Parquet/JSONL/CSV, hive date= partitions) or a file."
    ),
]
DAY_METAVAR = "YYYY-MM-DD"
StartOpt = Annotated[
    str | None,
    typer.Option("--start", metavar=DAY_METAVAR, help="First UTC day to read (inclusive)."),
]
EndOpt = Annotated[
    str | None,
    typer.Option("--end", metavar=DAY_METAVAR, help="Last UTC day to read (inclusive)."),
]
AccountsOpt = Annotated[
    Path | None,
    typer.Option(
        "--accounts",
        help="Optional account table (Parquet/JSONL/CSV).",
        exists=True,
        dir_okay=False,
    ),
]
QuarantineOpt = Annotated[
    Path | None,
    typer.Option(
        "--quarantine", help="Where to write quarantined rows (CSV). Default: next to the output."
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
