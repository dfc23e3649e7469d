"""The Spark engine gives the local engine's features, ingest counts and scores.

Runs Spark in local mode (``local[2]``, one session for the module). Skipped as a
whole, with the reason, where Java or PySpark is missing.
"""

from __future__ import annotations

import csv
import datetime as dt
import filecmp
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector import schema as S

_java = shutil.which("java") or (
    os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists()
)
if not _java:
    pytest.skip(
        "Spark engine tests need Java 17+ (no java on PATH or in JAVA_HOME)",
        allow_module_level=True,
    )
pytest.importorskip(
    "pyspark",
    reason="Spark engine tests need PySpark: pip install -e '.[spark]'",
)

from typer.testing import CliRunner  # noqa: E402

from detector.cli import app  # noqa: E402
from detector.config import Config  # noqa: E402
from detector.engines import check_engine, parse_spark_conf  # noqa: E402
from detector.engines.spark import build_features_spark, get_spark  # noqa: E402
from detector.errors import UserError  # noqa: E402
from detector.ingest import csvlog, read_log  # noqa: E402
from detector.pipeline import FeatureResult, build_features  # noqa: E402
from detector.simulate import simulate  # noqa: E402

MASTER = "local[2]"
CONF = {"spark.sql.shuffle.partitions": "2"}


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """One small local session for the whole module."""
    session = get_spark(MASTER, CONF)
    yield session
    session.stop()


def _inject(day_file: Path, out: Path) -> None:
    """A second file for the day: 40 re-shipped rows (duplicates of another file), 3
    rows reusing the request_id of another account's row in the other file, and rows
    that break contract rules (all of these quarantined, with their reason)."""
    table = pq.read_table(day_file)
    dup = table.slice(0, 40)
    frame = table.to_pandas()
    keepers = frame.iloc[300:].drop_duplicates(S.ACCOUNT_ID).head(3)
    others = frame.iloc[200:][~frame.iloc[200:][S.ACCOUNT_ID].isin(keepers[S.ACCOUNT_ID])]
    reused = others.head(3).copy()
    reused[S.REQUEST_ID] = keepers[S.REQUEST_ID].to_numpy()
    reused_table = pa.Table.from_pandas(reused, schema=table.schema, preserve_index=False)
    bad = table.slice(100, 6).to_pandas()
    bad.loc[bad.index[0], S.INPUT_TOKENS] = -5
    bad.loc[bad.index[1], S.STATUS] = "exploded"
    bad.loc[bad.index[2], S.ACCOUNT_ID] = " "
    bad.loc[bad.index[3], S.MAX_TOKENS] = 0
    bad[S.REQUEST_ID] = [f"bad-{i}" for i in range(len(bad))]
    bad_table = pa.Table.from_pandas(bad, schema=table.schema, preserve_index=False)
    pq.write_table(pa.concat_tables([dup, reused_table, bad_table]), out)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 accounts × 3 days (Parquet, hive partitions) plus an injected file."""
    root = tmp_path_factory.mktemp("spark-sim")
    simulate(root, accounts=150, days=3, seed=3)
    days = sorted((root / "requests").glob("date=*"))
    # re-shipped rows of the same day (a row far from its partition day is quarantined)
    _inject(days[1] / "part-00000.parquet", days[1] / "part-00001.parquet")
    return root


@pytest.fixture(scope="module")
def both(population: Path, spark: object, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The same log through both engines, with quarantine files."""
    out = tmp_path_factory.mktemp("spark-out")
    log, accounts = population / "requests", population / "accounts.parquet"
    local = build_features(log, accounts=accounts, quarantine_path=out / "local.csv")
    remote = build_features_spark(
        log,
        accounts=accounts,
        quarantine_path=out / "spark.csv",
        spark_master=MASTER,
        spark_conf=CONF,
    )
    return local, remote, out


def _same_features(local: FeatureResult, remote: FeatureResult) -> None:
    a, b = local.features.sort_index(), remote.features.sort_index()
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    assert local.omitted == remote.omitted
    assert local.context.window_start == remote.context.window_start
    assert local.context.window_end == remote.context.window_end
    assert local.context.newest_model == remote.context.newest_model
    assert local.context.present == remote.context.present
    # sub-streams come out of the same per-bucket call in both engines
    sa, sb = local.substreams, remote.substreams
    pd.testing.assert_frame_equal(sa.features, sb.features, rtol=1e-9)
    pd.testing.assert_frame_equal(sa.meta, sb.meta)


def test_features_equal_local(both: tuple) -> None:
    local, remote, _ = both
    _same_features(local, remote)
    assert len(remote.features) > 100
    assert len(remote.substreams) > 0, "some account should have a system-prompt sub-stream"
    mem_l = local.clusters.membership.sort_index()
    mem_r = remote.clusters.membership.sort_index()
    pd.testing.assert_series_equal(mem_l, mem_r)
    assert (mem_r != "").any(), "the simulated hydra should form a cluster"


def test_ingest_reconciles_like_local(both: tuple) -> None:
    local, remote, out = both
    lr, rr = local.report.to_dict(), remote.report.to_dict()
    lr.pop("quarantine_file"), rr.pop("quarantine_file")
    assert lr == rr
    assert rr["reconciles"] and rr["duplicates"] >= 40 and rr["quarantined"] == 4 + 3
    assert rr["quarantine_reasons"][REUSED] == 3
    assert remote.report.first_reasons == local.report.first_reasons
    # the quarantine file: same rows, same reasons, same order, same bytes
    assert filecmp.cmp(out / "local.csv", out / "spark.csv", shallow=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_text_formats_and_window(
    fmt: str, spark: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """JSON Lines / CSV files given one by one (no partition): --start/--end filter rows."""
    root = tmp_path_factory.mktemp(f"spark-{fmt}")
    summary = simulate(root, accounts=40, days=3, seed=5, fmt=fmt)  # type: ignore[arg-type]
    files = sorted((root / "requests").rglob(f"*.{fmt}"))
    start = summary.start + dt.timedelta(days=1)
    local = build_features(files, start=start)
    remote = build_features_spark(files, start=start, spark_master=MASTER, spark_conf=CONF)
    _same_features(local, remote)
    assert remote.engine == "spark" and remote.spark_master == MASTER  # the session's own
    assert remote.report.outside_window > 0
    assert remote.report.to_dict() == local.report.to_dict()


def _spoil(path: Path, fmt: str) -> None:
    """Append the malformed rows issue 11 found: invalid UTF-8, ragged CSV records, JSON
    lines that are stitched, doubled or nested too deep, or that name a column twice."""
    lines = path.read_bytes().splitlines()
    header, first = (lines[0], lines[1]) if fmt == "csv" else (b"", lines[0])
    bad = [
        first.replace(b"acct_", b"acct_\xe9", 1).replace(b"req_", b"req_x", 1),
        first.replace(b"req_", b"req_y", 1) + b",extra",
        b",".join(first.split(b",")[:3]),
    ]
    if fmt == "jsonl":
        bad = [
            bad[0],
            b'{"request_id": "stitched", "prompt": "x}',
            b'{", "status": "ok"}',
            first + b"," + first,
            b"[" * 1000 + b"]" * 1000,
            "\u2003".encode(),
            first.replace(b"req_", b"req_z", 1).replace(b"{", b'{"account_id": "other", ', 1),
        ]
    path.write_bytes(
        b"\n".join([*([header] if header else []), *lines[1 if header else 0 :], *bad]) + b"\n"
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_malformed_text_rows_are_quarantined_like_local(
    fmt: str, spark: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp(f"spark-bad-{fmt}")
    simulate(root, accounts=40, days=2, seed=6, fmt=fmt)  # type: ignore[arg-type]
    files = sorted((root / "requests").rglob(f"*.{fmt}"))
    _spoil(files[0], fmt)
    local = build_features(root / "requests")
    remote = build_features_spark(root / "requests", spark_master=MASTER, spark_conf=CONF)
    assert remote.report.to_dict() == local.report.to_dict()
    expected = {
        "jsonl": {
            "invalid UTF-8": 1,
            "invalid JSON line": 5,
            "duplicate key in JSON object: account_id": 1,
        },
        "csv": {"invalid UTF-8": 1, "wrong number of CSV fields": 2},
    }[fmt]
    assert dict(local.report.reasons) == expected
    _same_features(local, remote)


REUSED = S.REASON_ID_REUSED


def _read_records(path: Path, fmt: str) -> tuple[list[dict[str, object]], list[str]]:
    """A simulated log file's rows as dicts (JSON values, or CSV text) and the CSV header."""
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line], []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader), list(reader.fieldnames or [])


def _write_records(path: Path, fmt: str, rows: list[dict[str, object]], header: list[str]) -> None:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _reuse_ids(first_day: Path, last_day: Path, fmt: str) -> None:
    """Append to the last day's file rows whose request_id another account kept, with a
    same-account re-delivery among them and rows that break a rule in between.

    For one id kept by account A: B's row (quarantined), A's again (a duplicate: the
    keeper stays A), B's again (quarantined: B never becomes the keeper). An id kept on
    the first day, reused on the last by another account (across files). An id whose
    first row is invalid (it keeps nothing), then A's row (kept), then B's (quarantined).
    """
    early, _ = _read_records(first_day, fmt)
    rows, header = _read_records(last_day, fmt)
    a = rows[0]
    b = next(r for r in rows if r[S.ACCOUNT_ID] != a[S.ACCOUNT_ID])
    other = next(r for r in early if r[S.ACCOUNT_ID] != b[S.ACCOUNT_ID])

    def like(row: dict[str, object], **changes: object) -> dict[str, object]:
        return {**row, **changes}

    shared, fresh = a[S.REQUEST_ID], "fresh-id"
    rows += [
        like(rows[5], request_id=shared, account_id=b[S.ACCOUNT_ID]),  # A, B: quarantined
        dict(a),  # A, B, A: a duplicate of the first
        like(rows[7], input_tokens=-5),  # a rule broken between two reused rows
        like(rows[6], request_id=shared, account_id=b[S.ACCOUNT_ID]),  # A, B, A, B
        like(b, request_id=other[S.REQUEST_ID]),  # kept on the first day by another account
        dict(rows[9]),  # a same-account re-delivery
        like(rows[10], request_id=fresh, account_id=b[S.ACCOUNT_ID], status="exploded"),
        like(rows[11], request_id=fresh, account_id=a[S.ACCOUNT_ID]),  # the first valid: kept
        like(rows[12], request_id=fresh, account_id=b[S.ACCOUNT_ID]),  # quarantined
    ]
    _write_records(last_day, fmt, rows, header)


@pytest.mark.parametrize(("fmt", "with_file"), [("jsonl", True), ("csv", True), ("csv", False)])
def test_a_request_id_reused_by_another_account_is_quarantined_like_local(
    fmt: str, with_file: bool, spark: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both engines keep the same rows, count the same duplicates and quarantine the
    reused ids with the same reason, in the same place of the quarantine file (and of
    the first reasons, which the Spark engine finds without reading any row again)."""
    root = tmp_path_factory.mktemp(f"spark-reused-{fmt}")
    simulate(root, accounts=40, days=2, seed=8, fmt=fmt)  # type: ignore[arg-type]
    first_day, last_day = sorted((root / "requests").rglob(f"*.{fmt}"))
    _, before = read_log(root / "requests")  # the simulator re-ships some rows itself
    _reuse_ids(first_day, last_day, fmt)
    out = tmp_path_factory.mktemp("quarantine")
    local_q, remote_q = (out / "local.csv", out / "spark.csv") if with_file else (None, None)
    local = build_features(root / "requests", quarantine_path=local_q)
    remote = build_features_spark(
        root / "requests", quarantine_path=remote_q, spark_master=MASTER, spark_conf=CONF
    )
    lr, rr = local.report.to_dict(), remote.report.to_dict()
    assert lr.pop("quarantine_file") == (str(local_q) if local_q else None)
    assert rr.pop("quarantine_file") == (str(remote_q) if remote_q else None)
    assert rr == lr
    assert lr["reconciles"] and lr["duplicates"] == before.duplicates + 2
    assert lr["quarantine_reasons"] == {
        REUSED: 4,
        "negative value: input_tokens": 1,
        S.REASON_UNKNOWN_STATUS: 1,
    }
    assert remote.report.first_reasons == local.report.first_reasons
    assert [r["reason"] for r in local.report.first_reasons] == [
        REUSED,
        "negative value: input_tokens",
        REUSED,
        REUSED,
        S.REASON_UNKNOWN_STATUS,
        REUSED,
    ]
    if local_q and remote_q:  # the same rows, reasons, order and bytes, prompts included
        assert local_q.read_bytes() == remote_q.read_bytes()
    _same_features(local, remote)


BAD_TIME = "unparseable timestamp: timestamp"
# rows quarantined for their values on either side of ragged records, and two ragged
# records in a row: (spoil, reason) in file order
_SPOILS = [
    ("time", BAD_TIME),
    ("long", S.REASON_FIELD_COUNT),
    ("time", BAD_TIME),
    ("short", S.REASON_FIELD_COUNT),
    ("long", S.REASON_FIELD_COUNT),
    ("time", BAD_TIME),
]


def _interleave_ragged(path: Path) -> list[str]:
    """Put :data:`_SPOILS`' rows at the start, in the middle and at the end of a simulated
    CSV file (copies of its rows under fresh ids); the reasons expected, in file order."""
    rows, header = _read_records(path, "csv")
    records = [[str(r[c]) for c in header] for r in rows]
    ts = header.index(S.TIMESTAMP)
    out, expected = [], []
    cuts = [0, len(records) // 3, 2 * len(records) // 3, len(records)]
    for n, (lo, hi) in enumerate(zip(cuts, [*cuts[1:], len(records)], strict=True)):
        for k, (spoil, reason) in enumerate(_SPOILS):
            fields = list(records[k])
            fields[header.index(S.REQUEST_ID)] = f"spoilt-{n}-{k}"
            if spoil == "time":
                fields[ts] = "not a time"
            elif spoil == "long":
                fields.append("extra")
            else:
                fields = fields[: ts + 1]
            out.append(fields)
            expected.append(reason)
        out += records[lo:hi]
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *out])
    return expected


def test_ragged_csv_records_are_quarantined_in_file_order_like_local(
    spark: object, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ragged CSV records among rows quarantined for their values: both engines write the
    same quarantine file, rows in file order, the local reader reading the file in many
    blocks and chunks."""
    root = tmp_path_factory.mktemp("spark-ragged")
    simulate(root, accounts=40, days=2, seed=8, fmt="csv")
    expected = _interleave_ragged(sorted((root / "requests").rglob("*.csv"))[-1])
    out = tmp_path_factory.mktemp("quarantine-ragged")
    monkeypatch.setattr(csvlog, "CSV_BLOCK_BYTES", 1 << 16)  # ~25 blocks a file
    local = build_features(
        root / "requests", config=Config(chunk_rows=100), quarantine_path=out / "local.csv"
    )
    remote = build_features_spark(
        root / "requests",
        quarantine_path=out / "spark.csv",
        spark_master=MASTER,
        spark_conf=CONF,
    )
    quarantined = pd.read_csv(out / "local.csv", dtype=str, keep_default_na=False)
    assert quarantined[S.QUARANTINE_REASON].tolist() == expected
    lr, rr = local.report.to_dict(), remote.report.to_dict()
    lr.pop("quarantine_file"), rr.pop("quarantine_file")
    assert rr == lr
    assert remote.report.first_reasons == local.report.first_reasons
    assert (out / "local.csv").read_bytes() == (out / "spark.csv").read_bytes()


def test_score_engine_spark_same_scores(population: Path, spark: object, tmp_path: Path) -> None:
    """`detector score --engine spark` writes the local engine's scores.csv, byte for byte."""
    runner = CliRunner()
    log, accounts = str(population / "requests"), str(population / "accounts.parquet")
    model = tmp_path / "m.bundle"
    res = runner.invoke(app, ["train", log, "--model", str(model), "--accounts", accounts, "-q"])
    assert res.exit_code == 0, res.output
    outs = {}
    for engine in ("local", "spark"):
        out = tmp_path / f"{engine}.csv"
        args = ["score", log, "--model", str(model), "--accounts", accounts, "--out", str(out)]
        args += ["-q", "--engine", engine, "--spark-master", MASTER]
        args += ["--spark-conf", "spark.sql.shuffle.partitions=2"]
        if engine == "spark":
            args += ["--scores-parquet", str(tmp_path / "scores.parquet")]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        outs[engine] = out
    assert outs["local"].read_bytes() == outs["spark"].read_bytes()
    a = pd.read_csv(outs["local"], keep_default_na=False)
    assert a[S.FLAGGED].astype(str).str.lower().eq("true").any()
    parquet = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(parquet) == len(a)
    assert list(parquet.columns[: len(S.SCORE_COLUMNS)]) == list(S.SCORE_COLUMNS)


def test_nightly_engine_spark_same_outputs(population: Path, spark: object, tmp_path: Path) -> None:
    """`detector nightly --engine spark`: the local run's scores.csv and alerts.jsonl."""
    from detector.engines import SparkOptions
    from detector.nightly import run_nightly

    days = sorted(p.name[len("date=") :] for p in (population / "requests").glob("date=*"))
    outs = {}
    for engine in ("local", "spark"):
        summary = run_nightly(
            logs=population / "requests",
            date=dt.date.fromisoformat(days[-1]),
            state=tmp_path / engine,
            window_days=len(days),
            quiet=True,
            engine=engine,  # type: ignore[arg-type]
            spark=SparkOptions(MASTER, CONF),
        )
        outs[engine] = Path(summary.out_dir)
    name = "scores.csv"
    assert (outs["local"] / name).read_bytes() == (outs["spark"] / name).read_bytes(), name
    # Each engine trains its own bundle; its version is a digest of the payload, whose
    # floats may differ in the last bits with the engine's summation order. Everything
    # else in an alert must be the same.
    alerts = {
        engine: [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
        for engine, out in outs.items()
    }
    versions = {a.pop("model_version") for rows in alerts.values() for a in rows}
    assert all(re.fullmatch(r"nightly-\d{8}-[0-9a-f]{8}", v) for v in versions), versions
    assert alerts["local"] == alerts["spark"]
    assert alerts["local"], "the population must raise alerts for this comparison to mean anything"


def test_engine_options_are_checked() -> None:
    assert parse_spark_conf(["spark.executor.memory=8g", "a.b = c"]) == {
        "spark.executor.memory": "8g",
        "a.b": "c",
    }
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_spark_conf(["no-equals-sign"])
    with pytest.raises(UserError, match="unknown engine"):
        check_engine("dask")
    assert check_engine("spark") == "spark"
