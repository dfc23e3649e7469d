"""The realistic world: composition, the traps and the quiet extraction it holds, determinism.

One small realistic world (1,500 accounts, 3 days, 5% extraction so that every persona
has accounts) is simulated once per module; composition at full size is checked on the
allocation alone, which needs no traffic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import typer
from typer.testing import CliRunner

from detector import schema as S
from detector.annotate import ASKS_REASONING, PATTERNS
from detector.cli.simulate_cmd import register
from detector.simulate import NEW_MODEL, SimulationSummary, simulate
from detector.simulate.corpus import load_corpus
from detector.simulate.networks import network_of
from detector.simulate.personas_realistic import BENIGN, EXTRACTION, SWARM_PERSONA
from detector.simulate.worlds import DEFAULT_WORLD, REALISTIC_WORLD, allocate_by_prevalence

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SMALL = ("hobbyist", "developer_testing", "new_signup", "small_app", "classroom_cohort")
TRAPS = (
    "llm_judge_platform",
    "data_labelling_platform",
    "evaluation_company",
    "safety_benchmarking",
    "translation_batch",
    "batch_document_pipeline",
    "content_generation",
    "coding_assistant",
    "enterprise_mixed",
    "global_chat_247",
    "research_org",
    "classroom_cohort",
    "multi_account_org",
)
QUIET = ("plain_distillation", "low_and_slow", "mixed_cover", "reseller_relay")
HYDRAS = (SWARM_PERSONA, "hydra_template_timing", "hydra_shared_card", "hydra_shared_network")
PREVALENCE = 0.05


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SimulationSummary, pd.DataFrame, pd.DataFrame]:
    """Requests (with labels) and accounts of one small realistic world."""
    out = tmp_path_factory.mktemp("realistic")
    summary = simulate(
        out, population="realistic", accounts=1500, days=3, seed=3, prevalence=PREVALENCE,
        hydra_accounts=30,
    )  # fmt: skip
    labels = pd.read_csv(out / "labels.csv")
    accounts = pd.read_parquet(out / "accounts.parquet").merge(labels, on=S.ACCOUNT_ID)
    requests = pd.read_parquet(out / "requests").merge(labels, on=S.ACCOUNT_ID)
    return summary, requests, accounts


def _of(frame: pd.DataFrame, scenario: str) -> pd.DataFrame:
    return frame[frame[S.SCENARIO] == scenario]


# --- composition ----------------------------------------------------------------------


@pytest.mark.parametrize("prevalence", [0.005, 0.01, 0.02])
def test_prevalence_is_exact_and_small_accounts_dominate(prevalence: float) -> None:
    counts = REALISTIC_WORLD.counts(20_000, prevalence, None)
    extraction = sum(counts[p.name] for p in EXTRACTION)
    assert sum(counts.values()) == 20_000
    assert extraction == round(prevalence * 20_000)
    small = sum(counts[name] for name in SMALL)
    heavy = sum(counts[p.name] for p in BENIGN if p.name not in SMALL)
    assert small / 20_000 > 0.85
    assert 0.02 <= heavy / 20_000 <= 0.12  # heavy products and orgs: a few percent
    assert all(counts[name] >= 20 for name in TRAPS)
    assert all(counts[p.name] >= 2 for p in EXTRACTION)


def test_default_size_and_pinned_hydra() -> None:
    assert (REALISTIC_WORLD.accounts, REALISTIC_WORLD.days) == (20_000, 7)
    counts = REALISTIC_WORLD.counts(40_000, 0.02, 350)
    assert counts[SWARM_PERSONA] == 350
    assert sum(counts[p.name] for p in EXTRACTION) == 800
    with pytest.raises(ValueError, match="do not fit"):
        allocate_by_prevalence(REALISTIC_WORLD.personas, 1000, 0.01, {SWARM_PERSONA: 50})
    with pytest.raises(ValueError, match="prevalence"):
        REALISTIC_WORLD.counts(20_000, 0.6, None)


def test_labels_and_traffic_composition(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    summary, requests, accounts = world
    assert set(accounts[S.SCENARIO]) == {p.name for p in BENIGN + EXTRACTION}
    assert (accounts[S.LABEL] == S.LABEL_EXTRACTION).sum() == round(PREVALENCE * 1500)
    assert summary.labels[S.LABEL_EXTRACTION] == round(PREVALENCE * 1500)
    active = set(requests[S.SCENARIO])
    assert set(TRAPS) | set(QUIET) | set(HYDRAS) <= active
    per_account = requests.groupby(S.ACCOUNT_ID).size()
    per_day = per_account / 3
    assert per_day.median() < 15  # most accounts are small
    scenario = requests.groupby(S.ACCOUNT_ID)[S.SCENARIO].first()
    assert scenario.isin(SMALL).mean() > 0.8
    top = scenario[per_account.sort_values(ascending=False).index[: len(per_account) // 20]]
    assert not top.isin(SMALL).any()  # the heaviest 5% are products, not hobbyists
    ip_accounts = requests.groupby(S.CLIENT_IP)[S.ACCOUNT_ID].nunique()
    shared = requests[requests[S.CLIENT_IP].isin(ip_accounts[ip_accounts > 1].index)]
    assert shared[S.ACCOUNT_ID].nunique() > 0.1 * requests[S.ACCOUNT_ID].nunique()


# --- benign traps ---------------------------------------------------------------------


def test_safety_benchmarking_reruns_a_fixed_set_mostly_refused(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    summary, requests, _ = world
    suite = _of(requests, "safety_benchmarking")
    runs = suite[suite[S.TEMPERATURE] == 0]
    assert (runs[S.STATUS] == S.STATUS_REFUSED).mean() > 0.5
    assert runs[S.PROMPT].nunique() < 0.6 * len(runs)  # the same set, re-run
    assert summary.release is not None
    on_release = runs[S.TIMESTAMP] >= pd.Timestamp(summary.release)
    assert on_release.mean() > 0.5 and (runs.loc[on_release, S.MODEL] == NEW_MODEL).any()


def test_evaluation_company_repeats_its_suite_daily_at_temperature_zero(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, _ = world
    suite = _of(requests, "evaluation_company")
    suite = suite[suite[S.TURN_INDEX] == 0]
    zero = suite[suite[S.TEMPERATURE] == 0]
    assert len(zero) > 0.9 * len(suite)
    days = zero.groupby(S.PROMPT)[S.TIMESTAMP].agg(lambda t: t.dt.date.nunique())
    assert (days >= 2).mean() > 0.5


def test_research_orgs_and_cohorts_share_infrastructure(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, accounts = world
    labs = _of(accounts, "research_org").groupby(S.ORG_ID)
    assert labs.size().between(5, 15).all()
    assert (labs[S.PAYMENT_FINGERPRINT].nunique() == 1).all()
    cohort = _of(requests, "classroom_cohort")
    members = _of(accounts, "classroom_cohort")
    assert (members[S.PLAN] == "free").all() and members[S.PAYMENT_FINGERPRINT].isna().all()
    first_ip = cohort.groupby(S.ACCOUNT_ID)[S.CLIENT_IP].agg(lambda s: s.mode().iloc[0])
    ua = cohort.groupby(S.ACCOUNT_ID)[S.USER_AGENT].first()
    groups = pd.DataFrame({"ip": first_ip.map(network_of), "ua": ua})
    assert groups.groupby("ip")["ua"].nunique().max() == 1  # one pinned SDK per campus
    assert groups.groupby("ip").size().max() >= 10  # a class on one network


def test_boilerplate_system_prompts_are_shared_by_unrelated_products(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, _ = world
    with_sys = requests[requests[S.SYSTEM_PROMPT_HASH] != ""]
    users = with_sys.groupby(S.SYSTEM_PROMPT_HASH)[S.ACCOUNT_ID].nunique()
    top = users.idxmax()
    holders = with_sys[with_sys[S.SYSTEM_PROMPT_HASH] == top]
    assert users.max() >= 30
    assert holders[S.SCENARIO].nunique() >= 3


# --- harder extraction ----------------------------------------------------------------


def test_plain_distillation_looks_like_a_careful_customer(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, accounts = world
    for scenario in ("plain_distillation", "low_and_slow"):
        rows = _of(requests, scenario)
        per = rows.groupby(S.ACCOUNT_ID)
        assert per[S.CLIENT_IP].nunique().max() <= 4
        assert (
            rows[S.USER_AGENT].str.contains("python|typescript|node|langchain|llama|ai-sdk").all()
        )
        assert rows[S.MAX_TOKENS].isin([1024, 2048, 4096]).all()
        assert rows[S.TEMPERATURE].between(0.7, 1.0).all()
        reasoning = pc.match_substring_regex(
            pc.utf8_lower(pa.array(rows[S.PROMPT])), PATTERNS[ASKS_REASONING]
        )
        assert pc.mean(pc.cast(reasoning, pa.float64())).as_py() < 0.02
        created = _of(accounts, scenario)[S.CREATED_AT]
        start = pd.Timestamp(dt.date(2026, 11, 1), tz="UTC")
        assert (start - created).min() > pd.Timedelta(days=60)
        hours = rows[S.TIMESTAMP].dt.hour.value_counts(normalize=True)
        assert hours.max() > 2 / 24  # a daily rhythm, not a flat script


def test_swarm_shares_no_card_org_or_network(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    summary, requests, accounts = world
    members = _of(accounts, SWARM_PERSONA)
    assert len(members) == 30
    cards = members[S.PAYMENT_FINGERPRINT].dropna()
    assert cards.is_unique and members[S.ORG_ID].isna().all()
    rows = _of(requests, SWARM_PERSONA)
    nets = rows.assign(net=rows[S.CLIENT_IP].map(network_of))
    assert (nets.groupby("net")[S.ACCOUNT_ID].nunique() == 1).all()
    assert rows[S.CLIENT_IP].str.contains(":").any()  # IPv6 exits too
    assert members[S.COUNTRY].nunique() >= 8
    per_day = rows.groupby(S.ACCOUNT_ID).size() / 3
    assert per_day.median() < 45
    created = members[S.CREATED_AT].sort_values().diff().dt.total_seconds() / 3600
    assert (created > 24 * 3).sum() == 2  # three sign-up bursts
    assert summary.release is not None
    late = rows[rows[S.TIMESTAMP] > pd.Timestamp(summary.release) + pd.Timedelta(hours=8)]
    assert (late[S.MODEL] == NEW_MODEL).mean() > 0.8


def test_template_hydra_shares_only_templates_and_activity_hours(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, accounts = world
    members = _of(accounts, "hydra_template_timing")
    assert members[S.PAYMENT_FINGERPRINT].dropna().is_unique
    rows = _of(requests, "hydra_template_timing")
    nets = rows.assign(net=rows[S.CLIENT_IP].map(network_of))
    assert (nets.groupby("net")[S.ACCOUNT_ID].nunique() == 1).all()
    heads = rows[S.PROMPT].str.replace(r"\d+", "#", regex=True).str.split().str[:3].str.join(" ")
    assert heads.value_counts(normalize=True).iloc[:2].sum() > 0.9  # one campaign's wrappers
    spread = members[S.CREATED_AT].max() - members[S.CREATED_AT].min()
    assert spread > pd.Timedelta(days=5)  # not signed up in one sitting
    hours = rows[S.TIMESTAMP].dt.hour
    assert hours.between(6, 19).mean() > 0.95  # one operator's working hours, shared


def test_mixed_cover_runs_extraction_in_a_tenth_to_a_third_of_its_traffic(
    world: tuple[SimulationSummary, pd.DataFrame, pd.DataFrame],
) -> None:
    _, requests, _ = world
    rows = _of(requests, "mixed_cover")
    # the pull is single-turn without the product's system prompt (which the product
    # sends on 97% of its conversations): a close stand-in for the hidden sub-stream
    pull = (rows[S.SYSTEM_PROMPT_HASH] == "") & (rows[S.TURN_INDEX] == 0)
    share = pull.groupby(rows[S.ACCOUNT_ID]).mean()
    assert len(share) >= 2
    assert share.between(0.08, 0.34).all()
    assert 0.1 <= share.mean() <= 0.3


# --- determinism, corpus, CLI ---------------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    kwargs = {"population": "realistic", "accounts": 300, "days": 1, "prevalence": 0.05}
    simulate(tmp_path / "a", seed=9, **kwargs)  # type: ignore[arg-type]
    simulate(tmp_path / "b", seed=9, **kwargs)  # type: ignore[arg-type]
    a = _files(tmp_path / "a")
    assert a == _files(tmp_path / "b")
    assert "requests/date=2026-11-01/part-00000.parquet" in a
    simulate(tmp_path / "c", seed=10, **kwargs)  # type: ignore[arg-type]
    assert _files(tmp_path / "c")["labels.csv"] != a["labels.csv"]


def test_corpus_content_reaches_realistic_personas(tmp_path: Path) -> None:
    if not (CORPORA.is_dir() and any(CORPORA.rglob("prompts.jsonl"))):
        pytest.skip(f"shared corpora not found at {CORPORA}; corpus mode not exercised")
    corpus = load_corpus(CORPORA)
    simulate(
        tmp_path, population="realistic", accounts=300, days=1, seed=2, prevalence=0.1,
        corpus=CORPORA,
    )  # fmt: skip
    requests = pd.read_parquet(tmp_path / "requests").merge(
        pd.read_csv(tmp_path / "labels.csv"), on=S.ACCOUNT_ID
    )
    heads = [t[:50] for t in corpus.get("general") + corpus.get("harmful") if len(t) >= 50]
    for scenario in ("plain_distillation", "safety_benchmarking"):
        prompts = _of(requests, scenario)[S.PROMPT].head(300)
        assert sum(any(h in p for h in heads) for p in prompts) > 0.1 * len(prompts)


def test_cli_realistic_options(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test app."""

    bad = CliRunner().invoke(app, ["simulate", str(tmp_path / "x"), "--prevalence", "0.02"])
    assert bad.exit_code == 1 and "realistic" in bad.stderr
    big = CliRunner().invoke(
        app,
        ["simulate", str(tmp_path / "y"), "--population", "realistic", "--accounts", "100",
         "--hydra-accounts", "50"],
    )  # fmt: skip
    assert big.exit_code == 1 and "do not fit" in big.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    helped = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    text = " ".join(helped.stdout.split())
    for world in (DEFAULT_WORLD, REALISTIC_WORLD):  # the help follows the worlds' defaults
        assert f"--population {world.name} ({world.accounts:,} accounts, {world.days} days)" in text
    assert f"realistic: {REALISTIC_WORLD.accounts})" in text
    assert f"(default: {REALISTIC_WORLD.prevalence})" in text


def test_a_week_without_a_release_has_no_new_model_and_no_release_runs(tmp_path: Path) -> None:
    """``release=False``: nobody uses the model that ships after the window, the
    release-day safety suites do not run, and the detector sees no release (its
    adoption evidence is silent) -- the week most nightly runs see."""
    from detector.pipeline import build_features

    summary = simulate(
        tmp_path, population="realistic", accounts=600, days=3, seed=5, prevalence=PREVALENCE,
        hydra_accounts=12, release=False,
    )  # fmt: skip
    assert summary.release is None
    requests = pd.read_parquet(tmp_path / "requests")
    assert not (requests[S.MODEL] == NEW_MODEL).any()
    labels = pd.read_csv(tmp_path / "labels.csv")
    safety = labels.loc[labels[S.SCENARIO] == "safety_benchmarking", S.ACCOUNT_ID]
    suite = requests[requests[S.ACCOUNT_ID].isin(safety) & (requests[S.TEMPERATURE] == 0)]
    assert len(safety)
    # no new model, no release-day re-run: at most the one-day regression run is left
    assert (suite.groupby(S.ACCOUNT_ID)[S.TIMESTAMP].agg(lambda t: t.dt.date.nunique()) <= 1).all()
    result = build_features(tmp_path / "requests", accounts=tmp_path / "accounts.parquet")
    assert result.context.newest_model is None
    assert (result.features["newest_model_share"] == 0).all()


def test_cli_no_release(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test app."""

    out = CliRunner().invoke(
        app,
        ["simulate", str(tmp_path / "w"), "--population", "realistic", "--accounts", "300",
         "--days", "2", "--prevalence", "0.05", "--hydra-accounts", "5", "--no-release"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert "no new model released" in out.stdout
    models = pd.read_parquet(tmp_path / "w" / "requests", columns=[S.MODEL])[S.MODEL]
    assert NEW_MODEL not in set(models)
