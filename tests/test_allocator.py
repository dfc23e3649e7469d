"""The ``detector`` command sets Arrow's allocator to give freed memory back at once,
before pyarrow loads (mimalloc reads its options only then), and keeps an operator's own
setting. Each case runs in a fresh interpreter: this one has pyarrow loaded already."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from detector.allocator import PURGE_DELAY_ENV, PURGE_DELAY_MS

# Records the purge delay in the environment at the moment pyarrow is first imported.
PROBE = """
import importlib.abc, os, sys

class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pyarrow" and "seen" not in globals():
            globals()["seen"] = os.environ.get(sys.argv[1], "unset")
        return None

sys.meta_path.insert(0, Probe())
import detector.cli  # the console script's module
import pyarrow  # in case no command module loaded it
print(seen)
"""


LIBRARY_USE = "import os, sys, detector, detector.pipeline; print(os.environ.get(sys.argv[1], 'x'))"
"""Imports the package and a stage as a library would, then prints the purge delay."""


def run_fresh(code: str, env_value: str | None) -> str:
    """What ``code`` prints in a fresh interpreter, the purge delay set to ``env_value``
    (unset for ``None``) and its name passed as the first argument."""
    env = {k: v for k, v in os.environ.items() if k != PURGE_DELAY_ENV}
    if env_value is not None:
        env[PURGE_DELAY_ENV] = env_value
    done = subprocess.run(
        [sys.executable, "-c", code, PURGE_DELAY_ENV],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("operator_value", "expected"), [(None, str(PURGE_DELAY_MS)), ("1000", "1000")]
)
def test_the_purge_delay_is_set_before_pyarrow_loads(
    operator_value: str | None, expected: str
) -> None:
    assert run_fresh(PROBE, operator_value) == expected


def test_importing_the_package_changes_no_setting() -> None:
    assert run_fresh(LIBRARY_USE, None) == "x"
