"""Everything the report is rendered from, gathered once: scores and sidecars, the model,
the flagged accounts' activity, case status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from detector import schema as S
from detector.artifacts import Bundle, load_bundle, read_manifest
from detector.outputs import Scoring, read_scoring
from detector.pipeline import Progress
from detector.ranking import band
from detector.report.activity import Activity, account_activity, require_activity

# --- inputs -------------------------------------------------------------------------------


@dataclass
class ReportInputs:
    """Everything the report is rendered from."""

    scores_path: Path
    table: pd.DataFrame
    meta: dict[str, Any]
    features: pd.DataFrame | None
    clusters: list[dict[str, Any]]
    bundle: Bundle | None
    bundle_note: str
    manifest: dict[str, Any] | None
    activity: Activity | None
    log: Path | None
    window: tuple[dt.date | None, dt.date | None]
    cases: pd.DataFrame | None
    state_note: str
    max_accounts: int
    state: Path | None = None
    """The state directory (case timelines and new-tonight marks), when given."""


def meta_day(value: Any) -> dt.date | None:
    """The UTC day of an ISO instant from the meta sidecar, or ``None``."""
    if not value:
        return None
    try:
        return pd.Timestamp(str(value)).tz_convert("UTC").date()
    except (ValueError, TypeError):
        try:
            return pd.Timestamp(str(value)).date()
        except (ValueError, TypeError):
            return None


def scored_window(meta: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
    """First and last UTC day of the requests a scoring saw (from its meta sidecar)."""
    return meta_day(meta.get("window_start")), meta_day(meta.get("window_end"))


def load_model_for(
    scoring: Scoring, loaded: Bundle | None = None
) -> tuple[Bundle | None, dict[str, Any] | None, str]:
    """The bundle the scores were made with, its manifest, and a note if it is unusable.

    ``loaded`` is that bundle when the caller holds it already (the nightly job scored
    with it a moment ago): it is used instead of loading and verifying it again, when it
    is the model the scores name (its version, which ends in a digest of its content).
    """
    path = scoring.meta.get("model_path")
    if not path:
        return None, None, "the scores' meta sidecar names no model, so percentiles are omitted"
    if loaded is not None and scoring.model_version and loaded.version == scoring.model_version:
        return loaded, loaded.manifest, ""
    try:
        bundle = load_bundle(path)
        want = scoring.model_version
        if want and bundle.version != want:
            note = (
                f"model bundle {path} now holds model {bundle.version}, not {want} that made "
                "these scores; percentiles are omitted"
            )
            return None, None, note
        return bundle, bundle.manifest, ""
    except (OSError, ValueError) as exc:  # BundleError is a ValueError
        note = f"model bundle {path} is not available ({exc}); percentiles are omitted"
    try:
        return None, read_manifest(path, verify=False), note
    except (OSError, ValueError):
        return None, None, note


def load_case_status(state: Path | None) -> tuple[pd.DataFrame | None, str]:
    """Case status of every account with a verdict, alert or suppression (or a note why not)."""
    if state is None:
        return None, ""
    if not Path(state).is_dir():
        return None, f"state directory {state} does not exist; case status is omitted"
    from detector.store import Store

    with Store.open(state) as store:
        cases = store.cases(dt.datetime.now(dt.UTC).date())
    return cases.set_index(S.ACCOUNT_ID), ""


def gather_inputs(
    scores_path: Path,
    log: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    max_accounts: int,
    state: Path | None,
    progress: Progress | None = None,
    bundle: Bundle | None = None,
) -> ReportInputs:
    scoring = read_scoring(scores_path)
    table, meta, features = scoring.table, scoring.meta, scoring.features
    if S.BAND not in table.columns:
        table[S.BAND] = band(table[S.SCORE].to_numpy(dtype=float))
    bundle, manifest, note = load_model_for(scoring, bundle)
    if bundle is not None and features is not None:
        missing = [f for f in bundle.features if f not in features.columns]
        if missing:
            note = (
                f"the feature table lacks {len(missing)} of the model's features "
                f"({', '.join(missing[:3])}…); percentiles are omitted"
            )
            bundle = None
    window = scored_window(meta)
    start, end = start or window[0], end or window[1]
    flagged = table[table[S.FLAGGED]].sort_values(S.RANK, kind="stable")
    shown = flagged[S.ACCOUNT_ID].head(max_accounts).tolist()
    activity = None
    if log is not None:
        activity = account_activity(log, shown, start=start, end=end, progress=progress)
        require_activity(activity, shown, log, start, end)
    cases, state_note = load_case_status(state)
    return ReportInputs(
        scores_path=scores_path,
        table=table,
        meta=meta,
        features=features,
        clusters=scoring.clusters,
        bundle=bundle,
        bundle_note=note,
        manifest=manifest,
        activity=activity,
        log=log,
        window=(start, end),
        cases=cases,
        state_note=state_note,
        max_accounts=max_accounts,
        state=state if state is not None and Path(state).is_dir() else None,
    )
