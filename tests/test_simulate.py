"""The labelled traffic simulator: determinism, contract shape, persona behaviour, CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from detector import schema as S
from detector.cli.base import DetectorTyper
from detector.cli.simulate_cmd import register
from detector.simulate import NEW_MODEL, PERSONAS, SimulationSummary, simulate
from detector.simulate.corpus import load_corpus
from detector.simulate.personas import EXTRACTION_PERSONAS
from detector.simulate.population import World, allocate, build_population, hydra_sizes

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
START = dt.date(2026, 11, 1)
DEFAULT_WORLD_DIGEST = "7774caa384d1c9716321b44495b7001c5735f40603454c6b3a6d607e78092af3"
"""Content of the default world (200 accounts, 3 days, seed 1): the default population
must not change when other worlds or personas are added. Update only on purpose."""


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary, pd.DataFrame]:
    """One small population (200 accounts, 3 days) shared by the read-only tests."""
    out = tmp_path_factory.mktemp("sim")
    summary = simulate(out, accounts=200, days=3, seed=1)
    requests = pd.read_parquet(out / "requests")
    labels = pd.read_csv(out / "labels.csv")
    return out, summary, requests.merge(labels, on=S.ACCOUNT_ID, how="left")


# --- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_same_seed_same_bytes(tmp_path: Path, fmt: str) -> None:
    a = simulate(tmp_path / "a", accounts=60, days=2, seed=7, fmt=fmt)
    b = simulate(tmp_path / "b", accounts=60, days=2, seed=7, fmt=fmt)
    files_a, files_b = _all_files(tmp_path / "a"), _all_files(tmp_path / "b")
    assert files_a == files_b
    assert a.rows == b.rows > 0
    assert f"requests/date=2026-11-01/part-00000.{fmt}" in files_a
    c = simulate(tmp_path / "c", accounts=60, days=2, seed=8, fmt=fmt)
    assert _all_files(tmp_path / "c") != files_a
    assert c.rows != a.rows or _all_files(tmp_path / "c")["labels.csv"] != files_a["labels.csv"]


def _content_digest(root: Path) -> str:
    """SHA-256 of the values written (not the file bytes, which depend on library versions)."""
    h = hashlib.sha256()
    for part in [*sorted((root / "requests").rglob("*.parquet")), root / "accounts.parquet"]:
        table = pq.read_table(part)
        plain = pa.schema(
            pa.field(f.name, pa.int64()) if pa.types.is_timestamp(f.type) else f
            for f in table.schema
        )
        h.update(json.dumps(table.cast(plain).to_pydict(), sort_keys=True).encode())
    h.update((root / "labels.csv").read_bytes())
    return h.hexdigest()


def test_default_world_is_unchanged(world: tuple[Path, SimulationSummary, pd.DataFrame]) -> None:
    out, _, _ = world
    assert _content_digest(out) == DEFAULT_WORLD_DIGEST


# --- contract shape -------------------------------------------------------------------


def test_files_and_columns(world: tuple[Path, SimulationSummary, pd.DataFrame]) -> None:
    out, summary, _ = world
    days = sorted(p.name for p in (out / "requests").iterdir())
    assert days == ["date=2026-11-01", "date=2026-11-02", "date=2026-11-03"]
    schema = pq.read_schema(out / "requests" / days[0] / "part-00000.parquet")
    assert tuple(schema.names) == S.ALL_COLUMNS
    assert schema.field(S.TIMESTAMP).type == pa.timestamp("us", tz="UTC")
    assert (out / "accounts.parquet").exists() and (out / "labels.csv").exists()
    assert summary.rows == sum(summary.rows_per_day.values())


def test_partitions_hold_their_day_sorted(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    out, _, _ = world
    for part in sorted((out / "requests").glob("date=*/part-00000.parquet")):
        day = dt.date.fromisoformat(part.parent.name.removeprefix("date="))
        frame = pd.read_parquet(part)
        assert (frame[S.TIMESTAMP].dt.date == day).all()
        key = list(zip(frame[S.TIMESTAMP], frame[S.REQUEST_ID], strict=True))
        assert key == sorted(key)


def test_labels_accounts_requests_consistent(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    out, summary, requests = world
    labels = pd.read_csv(out / "labels.csv")
    accounts = pd.read_parquet(out / "accounts.parquet")
    assert list(labels.columns) == [S.ACCOUNT_ID, S.LABEL, S.SCENARIO]
    assert list(accounts.columns) == list(S.ACCOUNT_COLUMNS)
    assert labels[S.ACCOUNT_ID].is_unique and labels[S.ACCOUNT_ID].is_monotonic_increasing
    assert set(labels[S.ACCOUNT_ID]) == set(accounts[S.ACCOUNT_ID])
    assert set(labels[S.LABEL]) == set(S.LABELS)
    assert set(labels[S.SCENARIO]) == {p.name for p in PERSONAS}
    assert set(requests[S.ACCOUNT_ID]) <= set(labels[S.ACCOUNT_ID])
    assert requests[S.LABEL].notna().all()
    assert labels[S.ACCOUNT_ID].str.fullmatch(r"acct_[0-9a-f]{10}").all()
    for scenario in EXTRACTION_PERSONAS:
        assert (labels.loc[labels[S.SCENARIO] == scenario, S.LABEL] == S.LABEL_EXTRACTION).all()
    assert set(requests[S.STATUS]) <= set(S.STATUSES)
    assert (requests[S.INPUT_TOKENS] >= 0).all() and (requests[S.OUTPUT_TOKENS] >= 0).all()
    assert (requests[S.OUTPUT_TOKENS] <= requests[S.MAX_TOKENS]).all()
    # turn 0 comes first in every conversation
    first = requests.sort_values(S.TIMESTAMP).groupby(S.CONVERSATION_ID)[S.TURN_INDEX].first()
    assert (first == 0).all()
    assert summary.labels[S.LABEL_EXTRACTION] == (labels[S.LABEL] == S.LABEL_EXTRACTION).sum()


def test_duplicates_are_exact_copies(world: tuple[Path, SimulationSummary, pd.DataFrame]) -> None:
    out, summary, _ = world
    total_dups = 0
    for part in sorted((out / "requests").glob("date=*/part-00000.parquet")):
        frame = pd.read_parquet(part)
        dup = frame[frame[S.REQUEST_ID].duplicated(keep=False)]
        total_dups += int(frame[S.REQUEST_ID].duplicated().sum())
        assert len(dup.drop_duplicates()) == dup[S.REQUEST_ID].nunique()
    assert total_dups == summary.duplicates > 0
    everything = pd.read_parquet(out / "requests")
    assert everything[S.REQUEST_ID].duplicated().sum() == total_dups  # none across days
    assert 0.0005 < summary.duplicates / summary.rows < 0.005


# --- persona behaviour ----------------------------------------------------------------


def test_batch_pipeline_runs_single_turn_at_night(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    _, _, requests = world
    batch = requests[requests[S.SCENARIO] == "batch_document_pipeline"]
    assert len(batch) > 100
    assert (batch[S.TURN_INDEX] == 0).all()
    assert (batch[S.TIMESTAMP].dt.hour < 6).mean() >= 0.9
    assert (batch[S.TEMPERATURE] == 0).all()


def test_safety_probing_is_often_refused(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    _, _, requests = world
    probing = requests[requests[S.SCENARIO] == "safety_probing"]
    others = requests[requests[S.SCENARIO] != "safety_probing"]
    assert (probing[S.STATUS] == S.STATUS_REFUSED).mean() > 0.25
    assert (others[S.STATUS] == S.STATUS_REFUSED).mean() < 0.02
    assert probing.groupby(S.ACCOUNT_ID)[S.CLIENT_IP].nunique().median() > 10


def test_hydra_members_share_creation_window_and_campaign() -> None:
    population = build_population(1500, World(1_793_491_200_000_000, 10, 0, 1.0))
    hydra = next(g for g in population.groups if g.persona.name == "hydra")
    assert [len(c) for c in hydra.clusters] == [6, 15, 41]
    assert len(set(hydra.cluster_evidence)) == 3
    for members in hydra.clusters:
        spread_h = (hydra.created_us[members].max() - hydra.created_us[members].min()) / 3.6e9
        assert spread_h <= 6.0
        assert len({int(s) for s in hydra.style[members]}) == 1  # one campaign, one wrapper set
        assert all(hydra.org[m] is None for m in members)
    orgs = next(g for g in population.groups if g.persona.name == "multi_account_org")
    assert len(set(orgs.org)) >= 8
    for org in set(orgs.org):
        cards = {orgs.fingerprint[i] for i in range(orgs.n) if orgs.org[i] == org}
        assert len(cards) == 1


def test_hydra_members_are_co_active(world: tuple[Path, SimulationSummary, pd.DataFrame]) -> None:
    _, _, requests = world
    hydra = requests[requests[S.SCENARIO] == "hydra"]
    members = hydra[S.ACCOUNT_ID].nunique()
    assert members >= 5
    per_hour = hydra.groupby(hydra[S.TIMESTAMP].dt.floor("h"))[S.ACCOUNT_ID].nunique()
    assert per_hour.median() >= 0.8 * members  # load-balanced: everyone busy every hour


def test_extraction_adopts_new_model_faster(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    _, summary, requests = world
    assert summary.release is not None
    late = requests[requests[S.TIMESTAMP] >= pd.Timestamp(summary.release) + pd.Timedelta(hours=24)]
    before = requests[requests[S.TIMESTAMP] < pd.Timestamp(summary.release)]
    assert (before[S.MODEL] != NEW_MODEL).all()
    is_new = late[S.MODEL] == NEW_MODEL
    extraction = is_new[late[S.LABEL] == S.LABEL_EXTRACTION].mean()
    benign = is_new[late[S.LABEL] == S.LABEL_BENIGN].mean()
    assert extraction > 0.6 and extraction > benign + 0.3


def test_distillation_is_scripted_and_benign_products_diurnal(
    world: tuple[Path, SimulationSummary, pd.DataFrame],
) -> None:
    _, _, requests = world
    ordered = requests.drop_duplicates(S.REQUEST_ID).sort_values(S.TIMESTAMP)
    gaps = ordered.groupby(S.ACCOUNT_ID)[S.TIMESTAMP].diff().dt.total_seconds()
    cv = gaps.groupby([ordered[S.SCENARIO], ordered[S.ACCOUNT_ID]]).agg(
        lambda g: g.std() / g.mean()
    )
    assert cv["bulk_distillation"].median() < 0.5
    assert cv["consumer_chat"].median() > 1.0
    distill = requests[requests[S.SCENARIO] == "bulk_distillation"]
    assert (distill[S.TURN_INDEX] == 0).all()
    assert distill.groupby(S.ACCOUNT_ID)[S.TEMPERATURE].nunique().max() > 1


def test_allocation_floors() -> None:
    default = allocate(1500)
    assert sum(default.values()) == 1500
    assert min(default.values()) >= 10
    extraction = sum(default[p] for p in EXTRACTION_PERSONAS)
    assert 0.10 <= extraction / 1500 <= 0.15
    assert min(allocate(200).values()) >= 3
    assert sum(allocate(7).values()) == 7
    assert hydra_sizes(61) == [6, 15, 40] and hydra_sizes(8) == [8]


# --- text formats, corpus, arguments -------------------------------------------------


def test_text_formats_use_iso_z(tmp_path: Path) -> None:
    simulate(tmp_path / "j", accounts=40, days=1, seed=3, fmt="jsonl")
    simulate(tmp_path / "c", accounts=40, days=1, seed=3, fmt="csv")
    line = (tmp_path / "j/requests/date=2026-11-01/part-00000.jsonl").read_text().splitlines()[0]
    record = json.loads(line)
    assert set(record) == set(S.ALL_COLUMNS)
    assert record[S.TIMESTAMP].endswith("Z") and "T" in record[S.TIMESTAMP]
    frame = pd.read_csv(
        tmp_path / "c/requests/date=2026-11-01/part-00000.csv", keep_default_na=False
    )
    assert list(frame.columns) == list(S.ALL_COLUMNS)
    assert frame[S.TIMESTAMP].str.endswith("Z").all()
    jsonl = pd.read_json(
        tmp_path / "j/requests/date=2026-11-01/part-00000.jsonl", lines=True, dtype=False
    )
    assert jsonl[S.PROMPT].tolist() == frame[S.PROMPT].tolist()


def test_corpus_content(tmp_path: Path) -> None:
    if not (CORPORA.is_dir() and any(CORPORA.rglob("prompts.jsonl"))):
        pytest.skip(f"shared corpora not found at {CORPORA}; corpus mode not exercised")
    corpus = load_corpus(CORPORA)
    assert all(corpus.get(c) for c in ("general", "code", "harmful", "bench"))
    simulate(tmp_path, accounts=80, days=1, seed=2, corpus=CORPORA)
    prompts = pd.read_parquet(tmp_path / "requests")[S.PROMPT].head(1500).tolist()
    heads = [t[:60] for texts in corpus.texts.values() for t in texts if len(t) >= 60]
    found = sum(any(h in p for h in heads) for p in prompts if len(p) >= 60)
    assert found > 20


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accounts"):
        simulate(tmp_path, accounts=0)
    with pytest.raises(ValueError, match="format"):
        simulate(tmp_path, fmt="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"prompts\.jsonl"):
        simulate(tmp_path, accounts=5, days=1, corpus=tmp_path)


# --- CLI ------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    # the project's Typer: usage mistakes (--format xml) are one line and exit 1
    app = DetectorTyper()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test app."""

    return app


def test_cli_runs(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["simulate", str(tmp_path / "out"), "--accounts", "40", "--days", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "hobbyist" in result.stdout and "requests" in result.stdout
    assert (tmp_path / "out/labels.csv").exists()
    assert len(list((tmp_path / "out/requests").glob("date=*/part-00000.parquet"))) == 2
    quiet = CliRunner().invoke(
        cli,
        [
            "simulate",
            str(tmp_path / "q"),
            "--accounts",
            "20",
            "--days",
            "1",
            "--format",
            "csv",
            "-q",
        ],
    )
    assert quiet.exit_code == 0 and quiet.stdout == ""
    help_text = CliRunner().invoke(cli, ["simulate", "--help"])
    assert help_text.exit_code == 0 and "Example" in help_text.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--accounts", "0"],
        ["--format", "xml"],
        ["--days", "0"],
        ["--start", "2026-13-01"],
        ["--volume-scale", "0"],
        ["--corpus", "EMPTY"],
    ],
)
def test_cli_bad_arguments(cli: typer.Typer, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    result = CliRunner().invoke(cli, ["simulate", str(tmp_path / "out"), *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_volume_scale_multiplies_rows(tmp_path: Path) -> None:
    small = simulate(tmp_path / "a", accounts=40, days=1, seed=4)
    big = simulate(tmp_path / "b", accounts=40, days=1, seed=4, volume_scale=3.0)
    assert 2.0 < big.rows / small.rows < 4.0
    assert np.isclose(sum(small.accounts_per_persona.values()), 40)
