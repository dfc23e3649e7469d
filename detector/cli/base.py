"""The typer/click classes behind ``detector``: help that reads like a well-kept CLI, and
usage mistakes answered with one line and exit 1 however the app is invoked.

- :class:`DetectorCommand` polishes every command's help: flags show no value
  (``--quiet``, not ``--quiet <bool>``), arguments are named in capitals and the usage
  line reads ``detector score [OPTIONS] LOG`` (optional ones in brackets).
- :class:`DetectorGroup` is the ``detector`` group: ``-h`` and ``--help`` everywhere,
  and click's usage errors (a missing
  argument, an unknown option, an invalid choice) turned into one ``error:`` line on
  stderr and exit 1 -- for the console script and for ``CliRunner`` alike, so tests
  see exactly what users see.
- :class:`DetectorTyper` makes every ``@app.command`` a :class:`DetectorCommand`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from detector.cli.common import err_console

HELP_OPTION_NAMES = ["-h", "--help"]
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": HELP_OPTION_NAMES}
PACKAGE = "detector"
EXIT_USAGE = 1
"""A usage mistake is bad input: exit 1 like every other (click's own default is 2)."""
EXIT_ABORTED = 130


def package_version() -> str:
    """The installed package's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - the package is always installed
        return "unknown"


def argument_metavar(param: Any) -> str:
    """An argument's name as help shows it: ``LOG``, ``ACCOUNT_ID``."""
    return str(param.name).upper()


def polish_params(params: Sequence[Any]) -> None:
    """Give flags an empty metavar and arguments a capitalised one (in place).

    Typer labels every parameter with its Python type; for a flag (``--json``) that
    label (``<bool>``) reads as if the flag took a value. An explicit ``metavar``
    always wins over the generated label, so a metavar set in a command's own
    declaration is kept.
    """
    for param in params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = argument_metavar(param)
        elif getattr(param, "is_flag", False):
            param.metavar = ""


NO_REWRAP = "\b\n"
"""Click's marker of a help paragraph to print as written (e.g. a list of exit codes)."""


def reflow(text: str | None, *, rich: bool) -> str | None:
    """Join the hard-wrapped lines of each paragraph of a docstring.

    Rich help keeps a docstring's line breaks after its first paragraph, so a
    paragraph wrapped at 88 columns in the source comes out ragged in an 80-column
    terminal. A paragraph starting with :data:`NO_REWRAP` is kept as written; for
    ``rich`` help (which never rewraps) the marker itself is dropped, as it would
    print as an empty line.
    """
    if not text:
        return text
    out = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        if paragraph.startswith(NO_REWRAP):
            out.append(paragraph.removeprefix(NO_REWRAP) if rich else paragraph)
        else:
            out.append(" ".join(line.strip() for line in paragraph.splitlines()))
    return "\n\n".join(out)


def _uses_rich(command: TyperCommand | TyperGroup) -> bool:
    return bool(typer.core.HAS_RICH and command.rich_markup_mode == "rich")


class DetectorCommand(TyperCommand):
    """A command whose help and usage line read like a well-kept click CLI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help, rich=_uses_rich(self))
        polish_params(self.params)

    def get_help_option(self, ctx: typer.Context) -> Any:
        """Click's help option, shown as a flag (no value label)."""
        option = super().get_help_option(ctx)
        if option is not None:
            polish_params([option])
        return option

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        """``[OPTIONS] LOG``: required arguments bare, optional ones in brackets."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = param.metavar or argument_metavar(param)
            if param.nargs != 1:
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
        return pieces


class DetectorGroup(TyperGroup):
    """The ``detector`` group: ``-h`` everywhere and one-line usage errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help, rich=_uses_rich(self))
        polish_params(self.params)

    def get_help_option(self, ctx: typer.Context) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            polish_params([option])
        return option

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the app; usage mistakes are one ``error:`` line on stderr and exit 1.

        With ``standalone_mode`` (the console script, ``CliRunner``) this exits with
        the code; otherwise it returns it.
        """
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except typer.Abort:
            err_console.print("error: aborted", markup=False)
            code = EXIT_ABORTED
        except typer.exceptions.TyperException as exc:  # click's usage errors derive from it
            code = _report_usage_error(exc)
        if standalone_mode:
            sys.exit(code)
        return code


def _report_usage_error(exc: Exception) -> int:
    """Print a click usage error as one line on stderr; the exit code."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    err_console.print(f"error: {' '.join(message.split())}{hint}", markup=False)
    return EXIT_USAGE


class DetectorTyper(typer.Typer):
    """A ``typer.Typer`` whose commands are :class:`DetectorCommand` by default."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", DetectorGroup)
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        kwargs.setdefault("cls", DetectorCommand)
        return super().command(*args, **kwargs)
