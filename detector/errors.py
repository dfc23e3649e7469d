"""Exceptions that mean "the user gave bad input", as opposed to a bug.

The CLI turns these into one line on stderr and exit code 1; anything else is a bug
and is reported as such.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or a failed check; the message names the file, column and what to do."""
