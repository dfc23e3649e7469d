"""The public stage API in ``detector/__init__.py`` and the typed result of a run."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pandas as pd
import pytest

import detector
from detector import schema as S
from detector.results import ScoreResult


def test_import_detector_loads_no_stage() -> None:
    """``import detector`` stays cheap: the CLI's first import pulls in no stage."""
    code = (
        "import sys, detector\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'pandas', 'numpy', 'pyarrow') or m.startswith('detector.'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


HOMES = {
    "read_log": "detector.ingest",
    "build_features": "detector.pipeline",
    "FeatureResult": "detector.pipeline",
    "AnomalyModel": "detector.model",
    "score_frame": "detector.scored",
    "explain_frame": "detector.explain",
    "score": "detector.scoring",
    "ScoreResult": "detector.results",
}
"""The stage API (issue 15, item 4) and where each name lives."""


def test_the_api_is_the_stages() -> None:
    assert sorted(detector.__all__) == sorted(HOMES)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_public_names_are_their_home_modules_objects(name: str) -> None:
    assert getattr(detector, name) is getattr(importlib.import_module(HOMES[name]), name)
    assert name in dir(detector)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_stage"):
        detector.no_such_stage  # noqa: B018


def _scored() -> ScoreResult:
    table = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["b", "a", "c", "d"],
            S.RANK: [2, 1, 3, 4],
            S.FLAGGED: [True, True, True, False],
            S.CASE_ID: ["k1", "k1", "c", "d"],
        }
    )
    return ScoreResult(table, result=None, bundle=None, clusters=None, meta={"threshold": 61.5})  # type: ignore[arg-type]


def test_score_result_names_what_it_flagged() -> None:
    scored = _scored()
    assert scored.threshold == 61.5
    assert scored.flagged_ids == ["a", "b", "c"]
    assert scored.flagged_case_ids == ["k1", "c"]
    assert dataclasses.replace(scored, meta={"threshold": None}).threshold is None


def test_score_result_is_frozen_but_its_sidecar_grows() -> None:
    scored = _scored()
    with pytest.raises(dataclasses.FrozenInstanceError):
        scored.scores = scored.scores.iloc[:0]  # type: ignore[misc]
    scored.meta["run_id"] = "r1"  # the writer adds the run id to the sidecar
    assert scored.meta["run_id"] == "r1"
