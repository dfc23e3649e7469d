"""Sub-stream scoring (detector.substreams): a mixed account's pull is scored on its own.

One hand-built population: ordinary chat products (one client, one system prompt each),
honest products with two streams (prod + staging clients, two system prompts, the same
behaviour), and one *mixed* account whose product traffic hides a 20% pull from another
client on another network, without a system prompt, round the clock, with large
outputs. The model is trained on the accounts only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT
from detector.features import Context
from detector.ingest import finalize_dtypes
from detector.outputs import TEXT_COLUMNS
from detector.ranking import BAND_EDGES
from detector.safe import write_csv_to
from detector.scoring import score, train
from detector.substream_scores import describe, lift_scores
from detector.substreams import SEP, SubStreams, compute_substreams, substream_ids

START = pd.Timestamp("2026-03-01", tz="UTC")
DAYS = 7
MIXED = "acct-mixed"
PULL_UA, PULL_NET = "python-httpx/0.27.0", "203.0.113.0/24"
TWO_CLIENTS = [f"acct-two-{i:02d}" for i in range(12)]
WORDS = ["weather", "recipe", "travel", "email", "poem", "summary", "meeting", "budget", "story"]


def _requests(
    rng: np.random.Generator,
    account: str,
    n: int,
    *,
    ua: str,
    net: str,
    system: str,
    hours: tuple[int, int] = (8, 20),
    max_tokens: int = 1024,
    output: float = 300.0,
    temperatures: tuple[float, ...] = (0.7,),
    bench: float = 0.0,
    networks: int = 1,
) -> pd.DataFrame:
    """``n`` requests of one stream; ``bench`` is the share of benchmark-style prompts."""
    day = rng.integers(0, DAYS, n)
    sec = day * 86_400 + rng.integers(hours[0] * 3600, hours[1] * 3600, n)
    words = rng.choice(WORDS, (n, 40))
    length = rng.integers(3, 40, n)
    prompts = [
        "Solve the following problem step by step and give the final answer. "
        f"Problem {i}: compute the integral of x^{i % 9} dx"
        if is_bench
        else "please help with my " + " ".join(words[i, : length[i]]) + f" {i}"
        for i, is_bench in enumerate(rng.random(n) < bench)
    ]
    prefix = net.split("/")[0].rsplit(".", 2)[0]
    third = int(net.split(".")[2])
    return pd.DataFrame(
        {
            S.REQUEST_ID: [f"{account}-{ua}-{i}" for i in range(n)],
            S.ACCOUNT_ID: account,
            S.TIMESTAMP: START + pd.to_timedelta(np.sort(sec), unit="s"),
            S.MODEL: "model-a",
            S.ENDPOINT: "messages",
            S.INPUT_TOKENS: rng.integers(50, 400, n).astype("int64"),
            S.OUTPUT_TOKENS: rng.poisson(output, n).astype("int64"),
            S.MAX_TOKENS: np.full(n, max_tokens, dtype="int64"),
            S.TEMPERATURE: rng.choice(temperatures, n),
            S.STATUS: "ok",
            S.PROMPT: prompts,
            S.SYSTEM_PROMPT_HASH: system,
            S.CONVERSATION_ID: [f"{account}-{ua}-c{i // 4}" for i in range(n)],
            S.TURN_INDEX: (np.arange(n) % 4).astype("int64"),
            S.CLIENT_IP: [
                f"{prefix}.{(third + k % networks) % 256}.{k % 250 + 1}"
                for k in rng.integers(0, 10_000, n)
            ],
            S.USER_AGENT: ua,
        }
    )


def _population(extra: list[pd.DataFrame] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(16)
    parts = []
    for i in range(300):  # ordinary products of every size, each in its own way
        parts.append(
            _requests(
                rng,
                f"acct-{i:03d}",
                int(rng.integers(60, 500)),
                ua=["product-sdk/2.1", "curl/8.4", "webapp/3"][i % 3],
                net=f"198.{51 + i % 50}.{i % 256}.0/24",
                system="" if i % 10 == 0 else f"sys-{i}",
                hours=[(8, 20), (0, 24), (6, 23)][i % 3],
                max_tokens=[512, 1024, 2048, 4096][i % 4],
                output=float(rng.uniform(150, 1500)),
                temperatures=[(0.2,), (0.7, 1.0), (0.0, 0.5, 1.0), (1.0,)][i % 4],
                bench=float(rng.choice([0.0, 0.0, 0.1, 0.3])),
                networks=int(rng.integers(1, 4)),
            )
        )
    for i, acct in enumerate(TWO_CLIENTS):  # prod 70% + staging 30%, same behaviour
        for n, ua, net, system in (
            (280, "product-sdk/2.1", f"100.64.{i}.0/24", f"sys-a{i}"),
            (120, "product-sdk/2.1 staging", f"100.65.{i}.0/24", f"sys-b{i}"),
        ):
            parts.append(_requests(rng, acct, n, ua=ua, net=net, system=system))
    parts.append(
        _requests(rng, MIXED, 400, ua="product-sdk/2.1", net="192.0.2.0/24", system="sys-1")
    )
    parts.append(  # the pull: 100 of 500 requests
        _requests(
            rng,
            MIXED,
            100,
            ua=PULL_UA,
            net=PULL_NET,
            system="",
            hours=(0, 24),
            max_tokens=8192,
            output=3500.0,
            temperatures=(1.0,),
            bench=1.0,
        )
    )
    parts += extra or []
    return pd.concat(parts, ignore_index=True)


BOTH = dataclasses.replace(DEFAULT, substream_kinds=("client", "system"))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("substreams")
    log = root / "log.parquet"
    _population().to_parquet(log, index=False)
    model, _, _ = train(log, root / "model.bundle")
    return root, model, score(log, model)


@pytest.fixture(scope="module")
def scored_both(scored):
    root, model, _ = scored
    return score(root / "log.parquet", model, config=BOTH)


def _lead(phrase: str) -> str:
    return f"{phrase} \u2014 20% of this account's traffic \u2014 "


def test_the_pull_scores_above_its_account_and_the_reasons_name_it(scored):
    _, _, result = scored
    table = result.scores.set_index(S.ACCOUNT_ID)
    subs = result.result.substreams
    own = result.bundle.model.score(result.result.features.loc[[MIXED]])[0]
    row = table.loc[MIXED]
    assert row[S.SCORE] > own + 5.0
    assert row[S.FLAGGED]
    assert row[S.SUBSTREAM] == "requests without a system prompt"
    assert row[S.SUBSTREAM_SHARE] == pytest.approx(0.2)
    assert row[S.REASONS].startswith(_lead("requests without a system prompt"))
    # the pull is the mixed account's one sub-stream by default; its product side
    # (80%, a majority) is not one
    mine = subs.meta[subs.meta[S.ACCOUNT_ID] == MIXED]
    assert list(mine["requests"]) == [100] and list(mine["kind"]) == ["system"]


def test_client_substreams_name_the_user_agent_and_network(scored_both):
    table = scored_both.scores.set_index(S.ACCOUNT_ID)
    phrase = f'requests from "{PULL_UA}" on "{PULL_NET}"'
    assert table.loc[MIXED, S.SUBSTREAM] == phrase
    assert table.loc[MIXED, S.REASONS].startswith(_lead(phrase))
    mine = scored_both.result.substreams.meta
    mine = mine[mine[S.ACCOUNT_ID] == MIXED]
    assert sorted(mine["kind"]) == ["client", "system"] and set(mine["requests"]) == {100}


@pytest.mark.parametrize("kinds", ["default", "both"])
def test_honest_two_stream_accounts_do_not_rise(scored, scored_both, kinds):
    result = scored[2] if kinds == "default" else scored_both
    table = result.scores.set_index(S.ACCOUNT_ID)
    subs = result.result.substreams
    # their staging stream qualifies (30%) and is scored...
    assert set(TWO_CLIENTS) <= set(subs.meta[S.ACCOUNT_ID])
    # ...but looks like their product: none is lifted into an alert, none rises much.
    # A third of the traffic scored alone varies by sampling (one staging stream's
    # weekend share, 0.73 against the account's 1.10), so "much" is measured against the
    # alert line: a tenth of the way to it (8.6 points; the largest rise is 7.2, from
    # 6.1, the whole account scoring low since its two networks and clients no longer
    # count as unusual -- 14.0 -> 16.4 before that, session 23)
    assert not table.loc[TWO_CLIENTS, S.FLAGGED].any()
    own = result.bundle.model.score(result.result.features.loc[TWO_CLIENTS])
    rise = table.loc[TWO_CLIENTS, S.SCORE].to_numpy() - np.round(own, 2)
    assert rise.max() < 0.1 * result.bundle.model.threshold_
    assert table.loc[TWO_CLIENTS, S.SCORE].max() < BAND_EDGES[0]  # all stay in the low band


def test_the_table_reconciles_every_account_once_no_substream_rows(scored):
    _, _, result = scored
    table = result.scores
    accounts = result.result.features.index
    assert len(table) == len(accounts) == table[S.ACCOUNT_ID].nunique()
    assert set(table[S.ACCOUNT_ID]) == set(accounts)
    assert not set(table[S.ACCOUNT_ID]) & set(result.result.substreams.features.index)
    assert sorted(table[S.RANK]) == list(range(1, len(table) + 1))
    assert list(result.result.substreams.features.columns) == list(result.bundle.features)
    # sub-streams take their parent's account-level and cluster features
    subs = result.result.substreams
    parents = result.result.features.reindex(subs.meta[S.ACCOUNT_ID])
    for col in ("account_age_days", "cluster_size"):
        if col in subs.features:
            assert np.array_equal(subs.features[col].to_numpy(), parents[col].to_numpy())


def test_a_crafted_account_id_cannot_pose_as_a_substream(scored):
    root, model, first = scored
    subs = first.result.substreams
    pull_id = subs.meta.index[subs.meta[S.ACCOUNT_ID] == MIXED]
    crafted = str(pull_id[0])
    assert crafted.endswith(SEP + MIXED)
    rng = np.random.default_rng(4)
    fake = _requests(rng, crafted, 300, ua="product-sdk/2.1", net="198.18.0.0/24", system="s")
    log = root / "crafted.parquet"
    _population([fake]).to_parquet(log, index=False)
    again = score(log, model)
    table = again.scores.set_index(S.ACCOUNT_ID)
    assert len(table) == table.index.nunique() == len(again.result.features)
    # the crafted account is scored on its own traffic, the mixed account keeps its pull
    own = again.bundle.model.score(again.result.features.loc[[crafted]])[0]
    assert table.loc[crafted, S.SCORE] == pytest.approx(round(own, 2))
    assert table.loc[crafted, S.SUBSTREAM] == ""
    assert table.loc[MIXED, S.SCORE] == first.scores.set_index(S.ACCOUNT_ID).loc[MIXED, S.SCORE]
    assert table.loc[MIXED, S.SUBSTREAM] == "requests without a system prompt"


def test_switching_substreams_off_scores_accounts_alone(scored):
    root, model, first = scored
    off = score(root / "log.parquet", model, config=dataclasses.replace(DEFAULT, substreams=False))
    assert len(off.result.substreams) == 0
    assert (off.scores[S.SUBSTREAM] == "").all()
    table = off.scores.set_index(S.ACCOUNT_ID)
    assert table.loc[MIXED, S.SCORE] < first.scores.set_index(S.ACCOUNT_ID).loc[MIXED, S.SCORE]


def test_substream_ids_are_injective_whatever_the_account_id():
    a = substream_ids("client", np.array([1], dtype=np.uint64), np.array([f"x{SEP}2{SEP}y"]))
    b = substream_ids("client", np.array([2], dtype=np.uint64), np.array(["y"]))
    c = substream_ids("client", np.array([1], dtype=np.uint64), np.array([f"x{SEP}client"]))
    assert len({a[0], b[0], c[0]}) == 3
    assert a[0] == f"client{SEP}1{SEP}x{SEP}2{SEP}y"


def test_attacker_text_in_a_substream_name_is_inert(tmp_path: Path):
    meta = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "b"],
            "kind": ["client", "system"],
            "requests": [60, 60],
            "share": [0.2, 0.2],
            A.UA_TEXT: ['=cmd|"/c calc"!a; flagged\n\u202e', ""],
            A.NETWORK_TEXT: ["203.0.113.0/24", ""],
            A.SYSTEM_TEXT: ["", ""],
            S.MAX_TOKENS: [np.nan, np.nan],
            S.TEMPERATURE: [np.nan, np.nan],
        }
    )
    phrase = describe(meta)
    assert phrase[0] == (
        'requests from "=cmd|\\x22/c calc\\x22!a\\x3b flagged\\x0a\\u202e" on "203.0.113.0/24"'
    )
    assert S.REASONS_SEPARATOR not in phrase[0] and "\n" not in phrase[0]
    assert phrase[1] == "requests without a system prompt"
    assert S.SUBSTREAM in TEXT_COLUMNS
    out = tmp_path / "t.csv"
    frame = pd.DataFrame({c: ["ok", "ok"] for c in TEXT_COLUMNS})
    frame[S.SUBSTREAM] = ["=1+1", "@x"]
    write_csv_to(frame, out, text_columns=TEXT_COLUMNS)
    assert pd.read_csv(out)[S.SUBSTREAM].tolist() == ["'=1+1", "'@x"]


def test_lift_takes_the_worst_substream_and_reranks():
    table = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "b", "c"],
            S.SCORE: [50.0, 40.0, 30.0],
            S.RANK: [1, 2, 3],
            S.FLAGGED: [False, False, False],
            S.CLUSTER_ID: "",
            S.REASONS: ["ra", "rb", "rc"],
        }
    )
    ids = ["s1", "s2", "s3"]
    feats = pd.DataFrame({"f": [80.0, 70.0, 20.0]}, index=pd.Index(ids, name=S.ACCOUNT_ID))
    meta = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["c", "c", "a"],
            "kind": "system",
            "requests": 60,
            "share": [0.1, 0.3, 0.2],
            A.UA_TEXT: "",
            A.NETWORK_TEXT: "",
            A.SYSTEM_TEXT: ["h1", "h2", "h3"],
        },
        index=feats.index,
    )
    out = lift_scores(
        table,
        SubStreams(feats, meta),
        lambda f: f["f"].to_numpy(),
        lambda f, forest: np.array([f"why {i}" for i in f.index], dtype=object),
        cut_of=lambda s: 75.0,
        explain_top=10,
    ).set_index(S.ACCOUNT_ID)
    assert out.loc["c", S.SCORE] == 80.0 and out.loc["c", S.RANK] == 1 and out.loc["c", S.FLAGGED]
    assert out.loc["c", S.REASONS] == (
        'requests with system prompt "h1" \u2014 10% of this account\'s traffic \u2014 why s1'
    )
    assert out.loc["a", S.SCORE] == 50.0 and out.loc["a", S.REASONS] == "ra"
    assert out.loc["a", S.SUBSTREAM] == "" and out.loc["a", S.SUBSTREAM_SHARE] == 0.0
    assert list(out[S.RANK]) == [1, 2, 3]


def test_a_shape_substream_is_named_by_its_parameters_even_without_a_labelled_row():
    """A ``shape`` sub-stream need not hold a labelled row (labels mark the first request
    of each client and system prompt): it gets empty texts and is named by its shape."""
    rng = np.random.default_rng(8)
    frame = _requests(rng, "acct-shape", 150, ua="sdk/1", net="198.51.100.0/24", system="s")
    frame[S.MAX_TOKENS] = np.where(np.arange(150) < 90, 1024, 4096)
    frame[S.TEMPERATURE] = np.where(np.arange(150) < 90, 0.7, 1.0)
    ann = A.annotate(finalize_dtypes(frame))
    assert ann[A.LABEL_ROW].sum() == 1
    context = Context(
        window_start=int(ann[A.TS].min()),
        window_end=int(ann[A.TS].max()),
        present=frozenset(frame.columns),
        config=dataclasses.replace(DEFAULT, substream_kinds=("shape",)),
    )
    subs = compute_substreams(ann, context)
    assert len(subs) == 1
    meta = subs.meta.iloc[0]
    assert meta["requests"] == 60 and meta[A.UA_TEXT] == "" and meta[A.NETWORK_TEXT] == ""
    assert describe(subs.meta)[0] == "requests with max_tokens 4096 and temperature 1"
    assert subs.features.index[0].startswith("shape" + SEP)


def _system_streams(
    rng: np.random.Generator, accounts: dict[str, list[tuple[int, str]]]
) -> tuple[pd.DataFrame, Context]:
    """Annotated requests of each account's ``(requests, system prompt)`` streams (one
    client; ``""`` is no system prompt), and their context."""
    frame = pd.concat(
        [
            _requests(rng, account, n, ua="sdk/1", net="198.51.100.0/24", system=sys).assign(
                **{S.REQUEST_ID: lambda f, a=account, s=sys: f[S.REQUEST_ID] + a + s}
            )
            for account, streams in accounts.items()
            for n, sys in streams
        ],
        ignore_index=True,
    )
    ann = A.annotate(finalize_dtypes(frame))
    context = Context(
        window_start=int(ann[A.TS].min()),
        window_end=int(ann[A.TS].max()),
        present=frozenset(frame.columns),
        config=DEFAULT,
    )
    return ann, context


def test_the_stream_without_a_system_prompt_is_scored_before_the_small_ones():
    """A product with several system prompts spreads its own traffic over small
    sub-streams; taken smallest first, they used the account's row budget before the
    pull that carries no system prompt (mixed cover missed 1-3 of 10 accounts on
    realistic populations). The stream without one is taken first."""
    streams = [(400, "sys-main"), (150, "sys-b"), (150, "sys-c"), (300, "")]
    ann, context = _system_streams(np.random.default_rng(21), {"acct-multi": streams})
    meta = compute_substreams(ann, context).meta
    # budget 50% of 1,000 rows: the 300 without a system prompt, then one of the 150s
    assert sorted(meta["requests"].tolist()) == [150, 300]
    assert describe(meta[meta["requests"] == 300])[0] == "requests without a system prompt"
    assert meta["share"].sum() <= DEFAULT.substream_max_rows_share


def test_the_stream_without_a_system_prompt_qualifies_from_fewer_requests():
    """A mixed-cover pull of a few requests a day is 37-48 requests in a week, under the
    50 a sub-stream needs; as the first suspect, the stream without a system prompt
    qualifies from ``substream_min_unshaped_requests`` (30) when it is at least
    ``substream_min_unshaped_share`` (10%) of its account. A product's own system-prompt
    stream of the same size does not, nor does a developer's 5% of tests through a big
    product's key."""
    accounts = {
        "acct-mixed": [(240, "sys-main"), (40, "sys-b"), (40, "")],  # 12.5% unshaped
        "acct-big": [(700, "sys-main"), (60, "sys-b"), (40, "")],  # 5% unshaped
    }
    ann, context = _system_streams(np.random.default_rng(34), accounts)
    assert DEFAULT.substream_min_unshaped_requests <= 40 < DEFAULT.substream_min_requests
    assert 40 / 800 < DEFAULT.substream_min_unshaped_share <= 40 / 320
    meta = compute_substreams(ann, context).meta
    got = sorted(zip(meta[S.ACCOUNT_ID], meta["requests"], describe(meta), strict=True))
    assert got == [
        ("acct-big", 60, 'requests with system prompt "sys-b"'),
        ("acct-mixed", 40, "requests without a system prompt"),
    ]
    # at the general minimum for every stream (the rule before), only the 60 qualify
    strict = dataclasses.replace(DEFAULT, substream_min_unshaped_requests=50)
    before = compute_substreams(ann, dataclasses.replace(context, config=strict)).meta
    assert before["requests"].tolist() == [60]
