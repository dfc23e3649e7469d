"""A scoring on disk: ``SCORES.csv``, its exact twin and sidecars, and reading them back.

``write_scores`` writes, beside ``SCORES.csv``:

- ``SCORES.parquet`` -- the *twin*: the same table with every value exactly as scored
  (the CSV neutralises account ids and reasons for spreadsheets: see
  :func:`detector.safe.neutralise_csv_cell`);
- ``SCORES.features.parquet`` -- the feature table that was scored (for explain,
  evaluate baselines and the report);
- ``SCORES.clusters.json`` -- clusters with members and evidence, and ``run_id``;
- ``SCORES.meta.json`` -- model version and path, window, ingest counts and ``run_id``;
- ``SCORES.space.parquet`` -- the model's preprocessed matrix (float32, one row per
  account, :meth:`AnomalyModel.transform`), so ``detector similar`` answers without
  loading the model.

**Run identity.** ``run_id`` is a digest of the model version, the feature table and
the score table. Every file beside the CSV carries it (the Parquet files in their
schema metadata, the JSON files as a key), and
the twin also carries the SHA-256 of the CSV written with it, so a reader can tell
when the files beside a ``SCORES.csv`` come from different runs (or the CSV was
changed since) and says so instead of mixing them.

**Reading back.** :func:`read_scores` gives the exact ids: from the twin when there is
one (checked against the CSV), else from the CSV with the neutralisation undone
(exact except a carriage return, which a CSV holds as a newline).
:func:`read_scoring` adds the verified sidecars. Every project reader of a score
table (evaluate, explain, report and the nightly report) goes through these two, and a
new one (e.g. label checking that an id was scored) should too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from detector import schema as S
from detector.cluster_sidecar import clusters_json
from detector.errors import UserError
from detector.safe import atomic_path, atomic_write_text, restore_csv_series, write_csv_to

if TYPE_CHECKING:
    from detector.artifacts import Bundle
    from detector.results import ScoreResult

TWIN_SUFFIX: Final = ".parquet"
RUN_ID_KEY: Final = b"detector.run_id"
CSV_SHA256_KEY: Final = b"detector.csv_sha256"
RUN_ID: Final = "run_id"
"""Key of the run identity in the meta sidecar."""
TEXT_COLUMNS: Final = (S.ACCOUNT_ID, S.CLUSTER_ID, S.REASONS, S.CASE_ID, S.SUBSTREAM)
"""Columns of log-derived text: neutralised in the CSV, exact in the twin (``substream``
names a user agent, which the caller chose)."""
_SIDECARS: Final = {"features": "parquet", "clusters": "json", "meta": "json", "space": "parquet"}


def sidecar(out: Path, kind: str) -> Path:
    """Path of a score table's sidecar (``features``, ``clusters``, ``meta``, ``space``)."""
    return Path(out).with_name(f"{Path(out).stem}.{kind}.{_SIDECARS[kind]}")


def twin_path(out: Path) -> Path:
    """Path of the exact Parquet twin of ``SCORES.csv``: ``SCORES.parquet``."""
    return Path(out).with_suffix(TWIN_SUFFIX)


def scoring_files(out: Path) -> dict[str, Path]:
    """The files beside ``SCORES.csv`` that :func:`write_scores` writes and readers read."""
    beside = {f"its {kind} sidecar": sidecar(out, kind) for kind in _SIDECARS}
    return {"its Parquet twin": twin_path(out), **beside}


def score_csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The score table as written to CSV: booleans as the contract's ``true``/``false``."""
    out = table.copy()
    for col in (S.FLAGGED, S.SUPPRESSED):
        if col in out.columns:
            out[col] = np.where(out[col].astype(bool), "true", "false")
    return out


def run_digest(model_version: str, features: pd.DataFrame, scores: pd.DataFrame) -> str:
    """The run identity: a digest of the model version, feature table and score table."""
    h = hashlib.sha256(str(model_version).encode())
    for frame, index in ((features, True), (scores, False)):
        h.update(",".join(map(str, frame.columns)).encode())
        h.update(pd.util.hash_pandas_object(frame, index=index).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _text_columns(table: pd.DataFrame) -> list[str]:
    """The :data:`TEXT_COLUMNS` to neutralise in ``table``: all of them, except that a
    table scored without sub-streams has no ``substream`` column."""
    return [c for c in TEXT_COLUMNS if c != S.SUBSTREAM or c in table.columns]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_parquet(frame: pd.DataFrame, path: Path, index: bool, meta: dict[bytes, bytes]) -> None:
    """Write ``frame`` atomically with extra key-value metadata in its schema."""
    table = pa.Table.from_pandas(frame, preserve_index=index)
    schema_meta = {**(table.schema.metadata or {}), **meta}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(schema_meta), tmp)


def write_scores(scored: ScoreResult, out: Path) -> list[Path]:
    """Write ``SCORES.csv``, its twin and sidecars; returns the paths written.

    Each file is written atomically, and the CSV -- the file downstream pipelines
    watch -- is renamed into place last, when everything beside it is complete.
    """
    out = Path(out)
    twin = twin_path(out)
    if twin == out:
        raise UserError(f"{out}: a scores file must not end in {TWIN_SUFFIX}; name it .csv")
    run_id = run_digest(
        str(scored.meta.get("model_version", "")), scored.result.features, scored.scores
    )
    scored.meta[RUN_ID] = run_id
    feats, clusters_path, meta, space = (
        sidecar(out, k) for k in ("features", "clusters", "meta", "space")
    )
    with atomic_path(out) as tmp_csv:
        write_csv_to(
            score_csv_frame(scored.scores), tmp_csv, text_columns=_text_columns(scored.scores)
        )
        identity = {RUN_ID_KEY: run_id.encode()}
        _write_parquet(
            scored.scores.reset_index(drop=True),
            twin,
            index=False,
            meta={**identity, CSV_SHA256_KEY: _sha256_file(tmp_csv).encode()},
        )
        _write_parquet(scored.result.features, feats, index=True, meta=identity)
        _write_parquet(space_frame(scored), space, index=True, meta=identity)
        clusters = {RUN_ID: run_id, **clusters_json(scored)}
        atomic_write_text(clusters_path, json.dumps(clusters, indent=1, sort_keys=True))
        atomic_write_text(meta, json.dumps(scored.meta, indent=1, sort_keys=True, default=str))
    return [out, twin, feats, space, clusters_path, meta]


def space_frame(scored: ScoreResult) -> pd.DataFrame:
    """The scored accounts in the model's preprocessed space (float32, index account_id)."""
    features = scored.result.features[list(scored.bundle.features)]
    return pd.DataFrame(
        scored.bundle.model.transform(features), index=features.index, columns=features.columns
    )


def read_space(scoring: Scoring) -> pd.DataFrame | None:
    """The ``space`` sidecar of a scoring (``None`` when absent), checked to be its run's."""
    path = sidecar(scoring.path, "space")
    if not path.exists():
        return None
    found = _parquet_identity(path).get(RUN_ID_KEY)
    _same_run(
        path, found.decode() if found else None, sidecar(scoring.path, "meta"), scoring.run_id
    )
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: cannot read Parquet ({exc})") from None
    frame.index = frame.index.astype(str)
    return frame


# --- reading back -------------------------------------------------------------------------


def _parquet_identity(path: Path) -> dict[bytes, bytes]:
    try:
        return dict(pq.read_schema(path).metadata or {})
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: cannot read Parquet ({exc})") from None


def _read_twin(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: cannot read scores Parquet ({exc})") from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(
            path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, encoding="utf-8"
        )
    except Exception as exc:  # pandas raises several types for a bad CSV
        raise UserError(f"{path}: cannot read scores CSV ({exc})") from None
    for col in TEXT_COLUMNS:
        if col in table.columns:
            table[col] = restore_csv_series(table[col])
    return table


def _read_table(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The score table with exact ids, and the run id its twin carries (if any)."""
    twin = twin_path(path)
    if path.suffix == TWIN_SUFFIX or not twin.is_file():
        if path.suffix == TWIN_SUFFIX:
            run_id = _parquet_identity(path).get(RUN_ID_KEY)
            return _read_twin(path), run_id.decode() if run_id else None
        return _read_csv(path), None
    identity = _parquet_identity(twin)
    want = identity.get(CSV_SHA256_KEY, b"").decode()
    if want and _sha256_file(path) != want:
        raise UserError(
            f"{path}: not the CSV `detector score` wrote with {twin.name} (changed or "
            f"replaced since); re-run `detector score`, or remove {twin.name} to read the "
            "CSV as it is"
        )
    run_id = identity.get(RUN_ID_KEY)
    return _read_twin(twin), run_id.decode() if run_id else None


def read_scores(path: Path) -> pd.DataFrame:
    """Read a score table back with the exact account ids and reasons.

    ``path`` is a ``SCORES.csv`` (its twin ``SCORES.parquet`` is read when present and
    matches it) or the twin itself. ``flagged`` (and ``suppressed``) are booleans.
    """
    path = Path(path)
    table, _ = _read_table(path)
    return _finish(table, path)


NUMERIC: Final = (S.SCORE, S.RANK)
"""Score-table columns read back as numbers (a text value is refused, naming the file)."""


def _finish(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in S.SCORE_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"{path}: not a scores file, missing column(s) {', '.join(missing)}")
    for col in (S.FLAGGED, S.SUPPRESSED):
        if col in table.columns and table[col].dtype != bool:
            table[col] = table[col].astype(str).str.lower().eq("true")
    for col in (S.ACCOUNT_ID, S.CLUSTER_ID, S.REASONS):
        table[col] = table[col].fillna("").astype(str)
    bad = {c: pd.to_numeric(table[c], errors="coerce").isna() & table[c].notna() for c in NUMERIC}
    bad[S.ACCOUNT_ID] = table[S.ACCOUNT_ID].duplicated()
    for col, rows in bad.items():
        if rows.any():
            what = "listed more than once" if col == S.ACCOUNT_ID else "not a number"
            raise UserError(
                f"{path}: column {col}: {int(rows.sum()):,} row(s) {what} (first: "
                f"{str(table.loc[rows, col].iloc[0])[:40]!r}); pass a file `detector score` wrote"
            )
    table[list(NUMERIC)] = table[list(NUMERIC)].apply(pd.to_numeric)
    return table


@dataclass
class Scoring:
    """A score table read back with its sidecars, all checked to be from one run."""

    path: Path
    table: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    features: pd.DataFrame | None = None
    clusters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str | None:
        """The run identity from the meta sidecar (``None`` for older outputs)."""
        return self.meta.get(RUN_ID)

    @property
    def model_version(self) -> str | None:
        """The version of the model the scores were made with."""
        return self.meta.get("model_version")


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read JSON sidecar ({exc})") from None


def _same_run(path: Path, found: str | None, meta_path: Path, expected: str | None) -> None:
    if found and expected and found != expected:
        raise UserError(
            f"{path}: from run {found}, but {meta_path.name} is from run {expected}: the "
            "files beside the scores come from different runs; re-run `detector score`"
        )


def read_scoring(path: Path, *, features: bool = True) -> Scoring:
    """Read ``SCORES.csv`` and its sidecars (``features=False``: not the feature table).

    Raises :class:`UserError` when the twin, the feature table and the meta sidecar
    do not carry the same run id.
    """
    path = Path(path)
    table, twin_run = _read_table(path)
    table = _finish(table, path)
    meta_path = sidecar(path, "meta")
    meta = _read_json(meta_path) or {}
    _same_run(twin_path(path), twin_run, meta_path, meta.get(RUN_ID))
    frame = None
    feats_path = sidecar(path, "features")
    if features and feats_path.exists():
        found = _parquet_identity(feats_path).get(RUN_ID_KEY)
        _same_run(feats_path, found.decode() if found else None, meta_path, meta.get(RUN_ID))
        frame = pd.read_parquet(feats_path)
        frame.index = frame.index.astype(str)
    clusters_path = sidecar(path, "clusters")
    clusters = _read_json(clusters_path) or {}
    _same_run(clusters_path, clusters.get(RUN_ID), meta_path, meta.get(RUN_ID))
    return Scoring(
        path=path, table=table, meta=meta, features=frame, clusters=clusters.get("clusters", [])
    )


def check_model(scoring: Scoring, bundle: Bundle, given: str | Path | None = None) -> None:
    """Fail unless ``bundle`` is the model ``scoring`` was made with.

    ``given`` is the ``--model`` the user passed (``None``: the path from the meta
    sidecar). Older outputs without a model version are not checked.
    """
    want = scoring.model_version
    if not want or bundle.version == want:
        return
    if given is not None:
        raise UserError(
            f"--model {given}: is model {bundle.version}, but {scoring.path} was scored with "
            f"model {want}; leave out --model to use that one, or score again with this one"
        )
    raise UserError(
        f"{bundle.path}: now holds model {bundle.version}, but {scoring.path} was scored "
        f"with model {want}; give that model with --model, or score again"
    )
