"""What each writing command writes and reads, checked before it writes anything.

The rule itself (no output on an input, inside a log directory, on another output or on
a special file; a named output's directory must exist) lives in
:mod:`detector.output_paths`. This module only lists, for the commands that share
them, the paths they write: ``detector score``'s table with its twin and sidecars, the
default quarantine file, a model bundle or directory.
"""

from __future__ import annotations

from pathlib import Path

from detector.output_paths import Input, Output
from detector.outputs import scoring_files

TRAIN_QUARANTINE = "train.quarantine.csv"
"""``train``'s quarantine file in the model's directory when ``--quarantine`` is not given."""

__all__ = [
    "TRAIN_QUARANTINE",
    "cache_output",
    "default_quarantine",
    "inputs",
    "log_input",
    "quarantine_output",
    "scores_inputs",
    "scores_outputs",
    "train_outputs",
]


def default_quarantine(out: Path) -> Path:
    """Where quarantined rows go when ``--quarantine`` is not given: beside ``--out``."""
    return out.with_name(out.stem + ".quarantine.csv")


def quarantine_output(given: Path | None, out: Path) -> Output:
    """``--quarantine`` as given, else the default file beside ``--out``."""
    if given is not None:
        return Output("--quarantine", given)
    return Output("--out", out).derived(default_quarantine(out), "its quarantine file")


def cache_output(cache_dir: Path | None) -> Output | None:
    """``--cache-dir``: a directory the annotation cache writes into (created when new)."""
    return (
        None if cache_dir is None else Output("--cache-dir", cache_dir, directory=True, named=False)
    )


def scores_outputs(out: Path) -> list[Output]:
    """``--out SCORES.csv`` and every file written beside it (twin, sidecars)."""
    named = Output("--out", out)
    return [named, *(named.derived(path, what) for what, path in scoring_files(out).items())]


def scores_inputs(scores: Path, option: str = "SCORES") -> list[Input]:
    """A scores file read back, with the twin and sidecars read with it."""
    beside = (
        Input(option, path, given=scores, what=what) for what, path in scoring_files(scores).items()
    )
    return [Input(option, scores), *beside]


def train_outputs(model: str | Path, is_directory: bool, quarantine: Path | None) -> list[Output]:
    """``train --model`` (a bundle file, or a directory of versioned bundles, created
    when new but only inside an existing directory) and its quarantine file (default:
    ``train.quarantine.csv`` in the model's directory)."""
    named = Output("--model", Path(model), directory=is_directory)
    if quarantine is not None:
        return [named, Output("--quarantine", quarantine)]
    folder = named.path if is_directory else named.path.parent
    return [named, named.derived(folder / TRAIN_QUARANTINE, "its quarantine file")]


def log_input(log: Path, option: str = "LOG") -> Input:
    """A request log: a file, or a directory read recursively (nothing may go inside it)."""
    return Input(option, log, log=True)


def inputs(**paths: Path | str | None) -> list[Input]:
    """Plain input files by option name (``accounts=...`` is ``--accounts``), given ones only."""
    return [
        Input("--" + name.replace("_", "-"), Path(path))
        for name, path in paths.items()
        if path is not None
    ]
