"""``detector catalogue``: print or write the feature catalogue (docs/features.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import output_file_callback, user_errors
from detector.safe import atomic_write_text


def register(app: typer.Typer) -> None:
    """Add the ``catalogue`` command to ``app``."""

    @app.command("catalogue")
    @user_errors
    def catalogue(
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", callback=output_file_callback, help="Write here instead of stdout."
            ),
        ] = None,
    ) -> None:
        """Print the feature catalogue as Markdown (the source of docs/features.md).

        Example: detector catalogue --out docs/features.md
        """
        from detector.features.catalogue import catalogue_markdown  # loads every family

        text = catalogue_markdown()
        if out is None:
            typer.echo(text, nl=False)
        else:
            atomic_write_text(out, text)
