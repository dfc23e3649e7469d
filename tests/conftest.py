"""Shared fixtures: small contract-valid request logs (CONTRACT.md 1.1), as frames and files,
and the real prompt corpora beside the project with the text flags of any prompts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detector import annotate as A
from detector import schema as S

START = pd.Timestamp("2026-03-01", tz="UTC")
"""First instant of the logs built here; rows spread over ``DAYS`` UTC days from it."""
DAYS = 3

_PROMPTS = (
    'plain, with a comma and "quotes"',
    "two\nlines\r\nand a CR\r",
    "ünïcödé 🙂 日本語 \u2028 sep",
    '=HYPERLINK("http://x")',
    "",
    "trailing backslash \\",
)


def _make_requests(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` valid requests with every contract column, in contract dtypes.

    Ids are unique per (seed, row); timestamps are whole seconds in ``DAYS`` days from
    ``START``; optional ints and bools have some missing values.
    """
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, DAYS * 86_400, n))
    idx = np.arange(n)
    max_tokens = pd.array(rng.integers(1, 4096, n), dtype="Int64")
    max_tokens[idx % 5 == 0] = pd.NA
    turn = pd.array(rng.integers(0, 20, n), dtype="Int64")
    turn[idx % 7 == 3] = pd.NA
    logprobs = pd.array(rng.random(n) < 0.5, dtype="boolean")
    logprobs[idx % 4 == 1] = pd.NA
    temperature = np.round(rng.random(n) * 2, 2)
    temperature[idx % 6 == 2] = np.nan
    return pd.DataFrame(
        {
            S.REQUEST_ID: [f"req-{seed}-{i:05d}" for i in idx],
            S.ACCOUNT_ID: [f"acct-{k}" for k in rng.integers(0, 5, n)],
            S.TIMESTAMP: START + pd.to_timedelta(seconds, unit="s"),
            S.MODEL: rng.choice(["model-a", "model-b"], n),
            S.ENDPOINT: rng.choice(["messages", "batch", "code"], n),
            S.INPUT_TOKENS: rng.integers(0, 10_000, n).astype("int64"),
            S.OUTPUT_TOKENS: rng.integers(0, 2_000, n).astype("int64"),
            S.MAX_TOKENS: max_tokens,
            S.TEMPERATURE: temperature,
            S.STATUS: rng.choice(list(S.STATUSES), n),
            S.PROMPT: [f"{_PROMPTS[i % len(_PROMPTS)]} #{i}" for i in idx],
            S.SYSTEM_PROMPT_HASH: [("" if i % 3 == 0 else f"h{i % 4}") for i in idx],
            S.CONVERSATION_ID: [f"conv-{i // 3}" for i in idx],
            S.TURN_INDEX: turn,
            S.CLIENT_IP: [(f"10.0.0.{i % 250}" if i % 2 else f"2001:db8::{i:x}") for i in idx],
            S.USER_AGENT: rng.choice(["sdk-py/1.2", "curl/8.0", "sdk-ts/0.9 (node)"], n),
            S.LOGPROBS: logprobs,
            S.THINKING: pd.array(rng.random(n) < 0.3, dtype="boolean"),
        }
    )


def _text_value(v: object) -> object:
    """One cell as JSON-ready Python: ISO strings for instants, None for missing."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _write_one(df: pd.DataFrame, path: Path, fmt: str, gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        if gz:
            raise ValueError("a Parquet log is never gzipped as a whole")
        df.to_parquet(path, index=False)
        return
    if fmt == "jsonl":
        records = [{k: _text_value(v) for k, v in row.items()} for row in df.to_dict("records")]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    elif fmt == "csv":
        out = df.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col].dtype):
                out[col] = out[col].map(lambda t: t.isoformat(), na_action="ignore")
            elif pd.api.types.is_bool_dtype(out[col].dtype):
                out[col] = out[col].map(lambda b: "true" if b else "false", na_action="ignore")
        text = out.to_csv(index=False, lineterminator="\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)


def _write_log(
    df: pd.DataFrame,
    directory: Path,
    fmt: str,
    *,
    gz: bool = False,
    partitioned: bool = False,
    name: str = "part-0",
) -> Path:
    """Write ``df`` as a log in ``directory`` and return the path to give to ``read_log``.

    ``fmt`` is ``parquet``, ``jsonl`` or ``csv``; ``gz`` gzips JSONL/CSV. Unpartitioned,
    the result is the file itself; ``partitioned`` writes one ``date=YYYY-MM-DD/`` folder
    per UTC day of ``timestamp`` and returns ``directory``.
    """
    suffix = f".{fmt}" + (".gz" if gz else "")
    if not partitioned:
        path = directory / f"{name}{suffix}"
        _write_one(df, path, fmt, gz)
        return path
    days = pd.to_datetime(df[S.TIMESTAMP], utc=True).dt.strftime("%Y-%m-%d")
    for day, part in df.groupby(days.to_numpy(), sort=True):
        _write_one(part, directory / f"date={day}" / f"{name}{suffix}", fmt, gz)
    return directory


@pytest.fixture
def make_requests() -> Callable[..., pd.DataFrame]:
    """``make_requests(n, seed=0)``: a frame of ``n`` contract-valid requests."""
    return _make_requests


@pytest.fixture
def write_log() -> Callable[..., Path]:
    """``write_log(df, dir, fmt, gz=False, partitioned=False, name="part-0")`` -> log path."""
    return _write_log


CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
"""Real prompt corpora (public data nobody on this project wrote), beside the project."""


@functools.cache
def _read_corpus(name: str) -> pd.DataFrame:
    path = CORPORA / name / "prompts.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return pd.DataFrame([json.loads(line) for line in lines if line.strip()])


@pytest.fixture(scope="session")
def real_corpus() -> Callable[[str], pd.DataFrame]:
    """``real_corpus(name)``: one corpus of ``../shared/corpora`` (text, category, source).

    Skips the calling test when the corpora are absent: they live beside the project and
    a clean clone (CI) may not have them.
    """

    def load(name: str) -> pd.DataFrame:
        if not (CORPORA / name / "prompts.jsonl").exists():
            pytest.skip(f"real prompt corpora not found at {CORPORA} (kept beside the project)")
        return _read_corpus(name)

    return load


def _text_flags(texts: list[str]) -> pd.DataFrame:
    n = len(texts)
    frame = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["a"] * n,
            S.TIMESTAMP: pd.Timestamp("2026-11-01", tz="UTC"),
            S.MODEL: "m",
            S.STATUS: "ok",
            S.INPUT_TOKENS: 1,
            S.OUTPUT_TOKENS: 1,
            S.PROMPT: pd.Series(texts, dtype=pd.ArrowDtype(pa.string())),
        }
    )
    return A.annotate(frame)[list(A.TEXT_FLAGS)].reset_index(drop=True)


@pytest.fixture(scope="session")
def text_flags() -> Callable[[list[str]], pd.DataFrame]:
    """``text_flags(texts)``: one row of boolean text flags per prompt, as annotated."""
    return _text_flags


# --- a short nightly season for the analyst queue's tests ------------------------------


@dataclasses.dataclass(frozen=True)
class QueueSeason:
    """Two nights of a small simulated population: 2026-11-07 given ``--accounts``,
    2026-11-08 not (it reuses the recorded table). The report is left out."""

    sim: Path
    logs: Path
    accounts: Path
    state: Path


QUEUE_NIGHTS = (dt.date(2026, 11, 7), dt.date(2026, 11, 8))


@pytest.fixture(scope="session")
def queue_season(tmp_path_factory: pytest.TempPathFactory) -> QueueSeason:
    """Built once per session (~25 s); tests work on copies (:func:`queue_state`)."""
    from detector.nightly import output_stages, run_nightly
    from detector.simulate import simulate

    sim = tmp_path_factory.mktemp("queue-sim")
    simulate(sim, accounts=250, days=10, seed=5)
    state = tmp_path_factory.mktemp("queue-season") / "state"
    logs, accounts = sim / "requests", sim / "accounts.parquet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(output_stages, "load_report_writer", lambda: None)
        first, second = QUEUE_NIGHTS
        run_nightly(logs=logs, date=first, state=state, accounts=accounts, quiet=True)
        run_nightly(logs=logs, date=second, state=state, quiet=True)
    return QueueSeason(sim, logs, accounts, state)


@pytest.fixture
def queue_state(queue_season: QueueSeason, tmp_path: Path) -> Path:
    """A private copy of the queue season's state directory."""
    target = tmp_path / "state"
    shutil.copytree(queue_season.state, target)
    return target
