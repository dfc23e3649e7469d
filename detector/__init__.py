"""Usage-pattern anomaly detector for an LLM API provider: the public stage API.

A run goes through the stages in this order; each name below is the stage's entry
point, and what it returns is what the next stage takes::

    frame, report = read_log(log)                  # ingest: validated, deduplicated rows
    built = build_features(log, accounts=...)      # features: FeatureResult, one row per account
    model = AnomalyModel().fit(built.features)     # model: 0–100 anomaly scores
    table = score_frame(model, built.features)     # scores, ranks, flags and reasons
    why = explain_frame(model, built.features)     # explain: reasons, one row per reason
    scored = score(log, "models/")                 # a whole run with a saved bundle:
                                                   # ScoreResult (table, cases, clusters, meta)

The stage *packages* (:mod:`detector.ingest`, :mod:`detector.features`,
:mod:`detector.explain`, ...) hold everything else; between modules only public names
are used, and the layering of the stages is checked by ``lint-imports``
(``[tool.importlinter]`` in pyproject.toml). ``explain`` itself is the explain stage's
package, so its entry point is exported as ``explain_frame``.

Imports are lazy (PEP 562): ``import detector`` loads none of the stages (no
scikit-learn, pandas or NumPy); a stage is imported when one of its names is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.explain import explain_frame
    from detector.ingest import read_log
    from detector.model import AnomalyModel
    from detector.pipeline import FeatureResult, build_features
    from detector.results import ScoreResult
    from detector.scored import score_frame
    from detector.scoring import score

__all__ = [
    "AnomalyModel",
    "FeatureResult",
    "ScoreResult",
    "build_features",
    "explain_frame",
    "read_log",
    "score",
    "score_frame",
]

_HOMES: dict[str, str] = {
    "AnomalyModel": "detector.model",
    "FeatureResult": "detector.pipeline",
    "ScoreResult": "detector.results",
    "build_features": "detector.pipeline",
    "explain_frame": "detector.explain",
    "read_log": "detector.ingest",
    "score": "detector.scoring",
    "score_frame": "detector.scored",
}
"""Each public name's home module, imported on first use."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
