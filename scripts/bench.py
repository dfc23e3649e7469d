#!/usr/bin/env python3
"""Performance benchmarks of the detector, against the targets of issues 2, 3, 4, 5 and 7.

Usage (from the repository; ``scripts/bench`` runs this file under ``.venv``)::

    scripts/bench data --rows 10000000      # simulate the 7-day log once (cached)
    scripts/bench ingest --rows 10000000    # bare pyarrow scan vs iter_clean
    scripts/bench features --rows 10000000  # build_features: ingest+annotate+features+coordination
    scripts/bench substreams --rows 10000000  # build_features with sub-streams off and on,
                                            # interleaved rounds: what they add (issue 16)
    scripts/bench model                     # train on 100k synthetic accounts, score 1M
    scripts/bench coordination              # link_accounts at 10k, 30k, 100k, 1M accounts
    scripts/bench nightly --rows 10000000   # run_nightly over the 7-day window (cold, then warm)
    scripts/bench compare --requests 1000000  # whole processes side by side: bare scan of
                                            # every column, DuckDB peer, detector features
    scripts/bench all --rows 10000000       # everything, in that order

Every measured stage runs in a fresh child process (this file again, as
``bench.py _child TASK PARAMS OUT``). The parent reaps it with ``os.wait4``, whose
resource usage is that child's alone (with its own reaped children): its
``ru_maxrss`` is the stage's peak RSS, unpolluted by earlier stages. The parent never
imports numpy, pandas or the detector's modules, so a child inherits little RSS at spawn.

Each measurement is printed in a table with pass/fail against its target and
appended as one JSON line to ``bench-out/results.jsonl`` (time, git commit, machine,
parameters, figures, how busy the machine was). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
OUT = Path(os.environ.get("DETECTOR_BENCH_OUT") or ROOT / "bench-out")
"""Data sets, results and scratch: ``bench-out/``, or ``$DETECTOR_BENCH_OUT`` (the smoke test's)."""
DATA = OUT / "data"
RESULTS = OUT / "results.jsonl"
TMP = OUT / "tmp"


def shown(path: Path) -> Path:
    """``path`` relative to the checkout when it lies inside it (shorter to read)."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


DAYS = 7
SEED = 20261101
START = dt.date(2026, 11, 1)
ROWS_PER_ACCOUNT = 100
"""Mean requests per account over the 7 days: 10M rows ↔ 100k accounts (issue 5)."""
PROBE_ACCOUNTS = 5000
PROBE_SCALE = 0.3
GIB = 1024.0
"""MiB per GiB: RSS targets ("2 GB") are read as GiB."""
BUSY_WARN = 0.15
"""Warn when other processes use more than this share of the machine's CPU."""


def _reexec_under_venv() -> None:
    """Run under the project's ``.venv`` python (the detector and its libraries live there)."""
    if not VENV_PYTHON.exists():
        return
    if Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


# --- targets -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    """One performance target: ``value op limit`` must hold (e.g. peak RSS <= 2.5 GiB)."""

    metric: str
    op: str  # "<=", "<" or ">="
    limit: float
    unit: str
    source: str

    def check(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target (None when nothing was measured)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return {"<=": value <= self.limit, "<": value < self.limit, ">=": value >= self.limit}[
            self.op
        ]

    def text(self) -> str:
        """The target as printed, e.g. ``<= 2.5 GiB``."""
        limit = f"{self.limit:,.0f}" if self.limit >= 1000 else f"{self.limit:g}"
        return f"{self.op} {limit} {self.unit}".strip()


T_INGEST_RSS = Target("peak_rss_gib", "<", 2.0, "GiB", "issue 2")
T_FEATURES_RATE = Target("rows_per_s", ">=", 100_000, "rows/s", "issue 3")
T_FEATURES_RSS = Target("peak_rss_gib", "<=", 2.5, "GiB", "issue 3")
T_FEATURES_VS_SCAN = Target("x_scan", "<=", 10.0, "x scan", "issue 3")
T_SUBSTREAMS = Target("substreams_pct", "<=", 25.0, "% of the features stage", "issue 16")
T_TRAIN = Target("seconds", "<=", 10.0, "s", "issue 4")
T_SCORE = Target("seconds", "<=", 20.0, "s", "issue 4")
T_LINK_100K = Target("seconds", "<=", 30.0, "s", "issue 16 (issue 5: 60 s)")
T_LINK_1M = Target("seconds", "<=", 300.0, "s", "issue 16")
T_LINK_EXPONENT = Target("growth_exponent", "<", 1.5, "", "issue 5")
T_NIGHTLY_TIME = Target("wall_s", "<=", 300.0, "s", "issue 7")
T_NIGHTLY_RSS = Target("peak_rss_gib", "<=", 3.0, "GiB", "issue 7")
T_NIGHTLY_COLD = Target("wall_s", "<=", 90.0, "s", "issue 15, cold")
T_NIGHTLY_WARM = Target("wall_s", "<=", 60.0, "s", "issue 15, warm")
T_COMPARE_SCAN = Target("x_scan", "<=", 5.0, "x scan", "issue 15")
T_COMPARE_PEER = Target("x_peer", "<=", 1.5, "x peer", "issue 15")
T_LEARN_FIT = Target("seconds", "<=", 10.0, "s", "issue 14")
T_SIMILAR = Target("seconds", "<=", 1.0, "s", "issue 14")


# --- machine, commit, load -----------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info() -> dict[str, Any]:
    """Cores, RAM, CPU model, Python and library versions (without importing the libraries)."""
    ram_kib = 0
    cpu_model = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for lib in ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy"):
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "host": platform.node(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(ram_kib / 1024 / 1024, 1),
        "cpu": cpu_model,
        "python": platform.python_version(),
        "libraries": versions,
    }


def commit_info() -> dict[str, Any]:
    """The checked-out commit and whether the working tree differs from it."""
    return {
        "commit": _git("rev-parse", "HEAD") or None,
        "dirty": bool(_git("status", "--porcelain")),
    }


def _cpu_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (busy + idle + iowait) / tick


def busy_share(seconds: float = 1.0) -> float:
    """Share of all cores busy during the next ``seconds`` (nothing of ours runs meanwhile)."""
    b0, t0 = _cpu_busy_seconds()
    time.sleep(seconds)
    b1, t1 = _cpu_busy_seconds()
    return (b1 - b0) / max(t1 - t0, 1e-9)


# --- running a stage in a fresh child process ----------------------------------------------------


@dataclasses.dataclass
class ChildRun:
    """What a child process returned, with its peak RSS and CPU as seen by the parent."""

    ok: bool
    result: dict[str, Any]
    peak_rss_mib: float
    process_wall_s: float
    child_cpu_s: float
    others_cpu_share: float
    """Share of the machine's CPU used by other processes while the child ran."""
    busy_before: float


def run_child(task: str, params: dict[str, Any]) -> ChildRun:
    """Run ``task`` (a function in :data:`TASKS`) in a fresh interpreter and measure it.

    The child writes its result as JSON to a temporary file. ``os.wait4`` returns the
    child's own rusage: ``ru_maxrss`` (KiB on Linux) is its peak RSS, and user+system
    time its CPU, so CPU used meanwhile by anything else can be told apart.
    """
    TMP.mkdir(parents=True, exist_ok=True)
    busy = busy_share()
    if busy > BUSY_WARN:
        print(
            f"  ! machine busy before {task}: {busy:.0%} of CPU used by other processes; "
            "these figures are not final",
            flush=True,
        )
    fd, out_path = tempfile.mkstemp(prefix=f"{task}-", suffix=".json", dir=TMP)
    os.close(fd)
    argv = [sys.executable, str(Path(__file__).resolve()), "_child", task, json.dumps(params)]
    argv.append(out_path)
    cpu_b0, cpu_t0 = _cpu_busy_seconds()
    start = time.perf_counter()
    pid = os.posix_spawn(sys.executable, argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    cpu_b1, cpu_t1 = _cpu_busy_seconds()
    code = os.waitstatus_to_exitcode(status)
    child_cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, (cpu_b1 - cpu_b0) - child_cpu) / max(cpu_t1 - cpu_t0, 1e-9)
    try:
        text = Path(out_path).read_text()
        result = json.loads(text) if text else {}
    finally:
        Path(out_path).unlink(missing_ok=True)
    if code != 0:
        result = {"error": f"child exited with code {code}", **result}
    return ChildRun(
        ok=code == 0 and "error" not in result,
        result=result,
        peak_rss_mib=usage.ru_maxrss / 1024.0,
        process_wall_s=wall,
        child_cpu_s=child_cpu,
        others_cpu_share=others,
        busy_before=busy,
    )


# --- recording and printing ----------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    """One printed line: a figure, and the target it is checked against (if any)."""

    label: str
    value: float | int | str | None
    unit: str = ""
    target: Target | None = None
    signed: bool = False
    """Print a "+" before a positive value (a change: "+12.3 %")."""

    def verdict(self) -> bool | None:
        if self.target is None or not isinstance(self.value, (int, float)):
            return None
        return self.target.check(float(self.value))


class Recorder:
    """Appends measurements to results.jsonl and keeps every verdict for the summary."""

    def __init__(self) -> None:
        self.machine = machine_info()
        self.commit = commit_info()
        self.verdicts: list[tuple[str, str, bool | None]] = []

    def record(
        self,
        stage: str,
        measurement: str,
        run: ChildRun | None,
        params: dict[str, Any],
        figures: dict[str, Any],
        rows: list[Row],
    ) -> None:
        """Write one JSON line for a measurement and remember its verdicts."""
        targets = []
        for row in rows:
            if row.target is not None:
                ok = row.verdict()
                targets.append(
                    {
                        "label": row.label,
                        "metric": row.target.metric,
                        "op": row.target.op,
                        "limit": row.target.limit,
                        "value": row.value,
                        "pass": ok,
                        "source": row.target.source,
                    }
                )
                self.verdicts.append(
                    (f"{stage} {measurement}: {row.label.strip()}", row.target.text(), ok)
                )
        line = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **self.commit,
            "machine": self.machine,
            "stage": stage,
            "measurement": measurement,
            "params": params,
            "figures": figures,
            "targets": targets,
        }
        if run is not None:
            line.update(
                ok=run.ok,
                peak_rss_mib=round(run.peak_rss_mib, 1),
                process_wall_s=round(run.process_wall_s, 3),
                child_cpu_s=round(run.child_cpu_s, 3),
                busy_before=round(run.busy_before, 3),
                others_cpu_share=round(run.others_cpu_share, 3),
                parent_peak_rss_mib=round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1
                ),
            )
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, default=str) + "\n")


def _fmt(value: Any, unit: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and value > 999):
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    if signed and value > 0:
        text = "+" + text
    return f"{text} {unit}".strip()


def print_table(title: str, rows: list[Row]) -> None:
    """A plain-text table: figure, value, target (with the issue it comes from), PASS/FAIL."""
    values = [_fmt(r.value, r.unit, r.signed) for r in rows]
    targets = [f"{r.target.text()} ({r.target.source})" if r.target else "" for r in rows]
    marks = [
        {True: "PASS", False: "FAIL", None: "n/a"}[r.verdict()] if r.target else "" for r in rows
    ]
    w1 = max([len(r.label) for r in rows] + [11])
    w2 = max([len(v) for v in values] + [5])
    w3 = max([len(t) for t in targets] + [6])
    print(f"\n{title}")
    print(f"  {'measurement':<{w1}}  {'value':>{w2}}  {'target':<{w3}}  result")
    print(f"  {'-' * w1}  {'-' * w2}  {'-' * w3}  ------")
    for row, value, target, mark in zip(rows, values, targets, marks, strict=True):
        print(f"  {row.label:<{w1}}  {value:>{w2}}  {target:<{w3}}  {mark}".rstrip())
    sys.stdout.flush()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


STAGE_FAILURES: list[str] = []
"""Measurements whose run failed (not a target missed): ``main`` exits 1 when any did."""


def _failed(title: str, run: ChildRun) -> None:
    why = run.result.get("error", "see the traceback above")
    print(f"\n{title}: FAILED ({why})")
    STAGE_FAILURES.append(f"{title}: {why}")


def _gib(run: ChildRun) -> float:
    return run.peak_rss_mib / GIB


def _machine_rows(run: ChildRun) -> list[Row]:
    """CPU time of the measured call, and how much CPU other processes took meanwhile.

    CPU time (all threads) hardly changes when others share the machine, wall time
    does: a run with a high "other processes" share has an unreliable wall time.
    """
    return [
        Row("CPU time of the call (all threads)", run.result.get("cpu_seconds"), "s"),
        Row("other processes' CPU share (during)", f"{run.others_cpu_share:.0%}"),
    ]


# --- child tasks (run in the child; they import the heavy libraries) -----------------------------


class Stopwatch:
    """Wall and CPU time (all threads of the process) from creation to :meth:`stop`."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds) since the stopwatch was made."""
        return time.perf_counter() - self._wall, time.process_time() - self._cpu


def task_simulate(
    out_dir: str, accounts: int, volume_scale: float, days: int, seed: int
) -> dict[str, Any]:
    """Simulate a labelled population (Parquet, ``days`` days) into ``out_dir``."""
    from detector.simulate import simulate

    watch = Stopwatch()
    summary = simulate(
        Path(out_dir),
        accounts=accounts,
        days=days,
        seed=seed,
        fmt="parquet",
        start=START,
        volume_scale=volume_scale,
    )
    seconds, cpu_seconds = watch.stop()
    size = sum(p.stat().st_size for p in Path(out_dir).rglob("*") if p.is_file())
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rows": summary.rows,
        "duplicates": summary.duplicates,
        "accounts": summary.accounts,
        "hydra_clusters": summary.hydra_clusters,
        "labels": summary.labels,
        "bytes": size,
        "start": summary.start.isoformat(),
        "days": summary.days,
    }


def task_scan(log: str) -> dict[str, Any]:
    """Bare pyarrow scan: ``pq.read_table`` per file, the contract's columns, nothing else."""
    import pyarrow.parquet as pq

    from detector import schema as S

    files = sorted(Path(log).rglob("*.parquet"))
    rows = 0
    watch = Stopwatch()
    for path in files:
        names = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in S.ALL_COLUMNS if c in names])
        rows += table.num_rows
        del table
    seconds, cpu_seconds = watch.stop()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows, "files": len(files)}


def task_iter_clean(log: str, quarantine: str) -> dict[str, Any]:
    """Stream the whole log through ``iter_clean`` (validate, dedupe, quarantine)."""
    from detector.ingest import IngestReport, iter_clean

    report = IngestReport()
    chunks = 0
    watch = Stopwatch()
    for chunk in iter_clean(Path(log), quarantine_path=Path(quarantine), report=report):
        chunks += 1
        del chunk
    seconds, cpu_seconds = watch.stop()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "chunks": chunks,
        "ingest": report.to_dict(),
    }


def task_features(
    log: str, accounts: str, quarantine: str, substreams: bool = True
) -> dict[str, Any]:
    """``build_features`` on the whole log with the account table (coordination included);
    ``substreams`` False turns the sub-streams off (``Config.substreams``, issue 16)."""
    import detector
    from detector.config import DEFAULT
    from detector.pipeline import build_features

    config = dataclasses.replace(DEFAULT, substreams=substreams)
    watch = Stopwatch()
    result = build_features(
        Path(log), accounts=Path(accounts), quarantine_path=Path(quarantine), config=config
    )
    seconds, cpu_seconds = watch.stop()
    clusters = result.clusters
    return {
        "code": detector.__path__[0],  # which checkout's detector was measured
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "ingest": result.report.to_dict(),
        "accounts": len(result.features),
        "features": result.features.shape[1],
        "buckets": result.n_buckets,
        "timings": result.timings,
        "clusters": len(clusters.table) if clusters is not None else None,
        "substreams": len(result.substreams),
        "substream_rows": int(result.substreams.meta["requests"].sum()),
    }


# realistic medians of the catalogue's log-scale features, by unit
_LOG_MEDIANS = {
    "per_day": 14.0,
    "tokens": 600.0,
    "chars": 800.0,
    "count": 2.0,
    "hours": 30.0,
    "days": 200.0,
    "ratio": 1.5,
}
_PER_DAY_FACTORS = {"requests_per_day": 1.0, "output_tokens_per_day": 500.0}
_LIGHT_FAMILIES = ("timing", "diversity")


def synth_features(n: int, seed: int) -> Any:
    """A synthetic feature table of ``n`` accounts with the catalogue's real columns.

    Values follow each feature's spec: log-scale features are lognormal around a
    realistic median for their unit (per-day volumes move together with the
    account's request rate), shares are beta-distributed, bits are spread over
    0..log2(24), linear ratios are lognormal around 1, counts are whole numbers. Light
    accounts (20 %) carry the neutral value of the timing and diversity families, as
    the pipeline gives them; 97 % of accounts are unlinked and carry the coordination
    family's neutral (unlinked) values. Each feature's distribution parameters depend
    on its name only, so tables drawn with different seeds (train, score) come from
    one population and scoring flags about the alert budget (2 %).
    """
    import zlib

    import numpy as np
    import pandas as pd

    from detector.features import ordered_specs

    rng = np.random.default_rng(seed)
    light = rng.random(n) < 0.2
    linked = rng.random(n) < 0.03
    volume = rng.lognormal(np.log(_LOG_MEDIANS["per_day"]), 1.6, n)
    columns: dict[str, np.ndarray] = {}
    for spec in ordered_specs():
        # the shape of each feature's distribution is fixed (same for every draw), so
        # tables drawn with different seeds come from one population
        shape = np.random.default_rng(zlib.crc32(spec.name.encode()))
        if spec.unit == "per_day":
            factor = _PER_DAY_FACTORS.get(spec.name, 400.0)
            values = volume * factor * rng.lognormal(0.0, 0.3, n)
        elif spec.scale == "share":
            values = rng.beta(shape.uniform(0.3, 2.0), shape.uniform(0.8, 6.0), n)
        elif spec.scale == "log":
            median = _LOG_MEDIANS.get(spec.unit, 1.0)
            values = rng.lognormal(np.log(median), shape.uniform(0.6, 1.5), n)
        elif spec.unit == "bits":
            values = np.log2(24) * rng.beta(2.0, 2.0, n)
        else:
            values = rng.lognormal(0.0, 0.5, n)
        if spec.unit == "count":
            values = np.ceil(values)
        if spec.family in _LIGHT_FAMILIES:
            values = np.where(light, spec.neutral, values)
        if spec.family == "coordination":
            unlinked = {
                "cluster_size": 1.0,
                "cluster_requests_per_day": None,
                "cluster_activation_spread_hours": DAYS * 24.0,
            }.get(spec.name, spec.neutral)
            if spec.name == "cluster_size":
                values = 1.0 + np.ceil(rng.lognormal(np.log(2.0), 0.9, n))
            if unlinked is None:
                unlinked_values = columns["requests_per_day"]
            else:
                unlinked_values = np.full(n, unlinked)
            values = np.where(linked, values, unlinked_values)
        columns[spec.name] = values.astype(np.float64)
    ids = pd.Index([f"acct_{i:010d}" for i in rng.permutation(n)], name="account_id")
    return pd.DataFrame(columns, index=ids)


def default_model() -> Any:
    """An unfitted ``AnomalyModel`` with the project's defaults (as ``detector train``)."""
    from detector.config import DEFAULT
    from detector.model import AnomalyModel

    return AnomalyModel(
        n_estimators=DEFAULT.n_estimators,
        family_estimators=DEFAULT.family_estimators,
        max_samples=DEFAULT.max_samples,
        random_state=DEFAULT.random_state,
        alert_budget=DEFAULT.alert_budget,
    )


def task_model_train(accounts: int, seed: int) -> dict[str, Any]:
    """Fit ``AnomalyModel`` (project defaults) on a synthetic table of ``accounts`` rows."""

    features = synth_features(accounts, seed)
    model = default_model()
    watch = Stopwatch()
    model.fit(features)
    seconds, cpu_seconds = watch.stop()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "accounts": accounts,
        "features": features.shape[1],
        "threshold": float(model.threshold_),
    }


def task_model_score(train_accounts: int, score_accounts: int, seed: int) -> dict[str, Any]:
    """Fit on ``train_accounts`` (untimed), then time ``score_frame`` on ``score_accounts``.

    ``score_frame`` includes the reasons: forest attributions for the flagged and the
    top-ranked accounts, percentile reasons for the rest.
    """
    from detector import explain
    from detector.config import DEFAULT
    from detector.scored import score_frame

    model = default_model().fit(synth_features(train_accounts, seed))
    features = synth_features(score_accounts, seed + 1)
    watch = Stopwatch()
    table = score_frame(model, features, n_reasons=DEFAULT.n_reasons)
    seconds, cpu_seconds = watch.stop()
    flagged = int(table["flagged"].sum())
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "accounts": len(table),
        "flagged": flagged,
        "forest_explained": int(
            (table["flagged"] | (table["rank"] <= explain.DEFAULT_EXPLAIN_TOP)).sum()
        ),
    }


HYDRA_SIZES = (6, 15, 40, 10, 25, 80, 8, 120, 30, 200, 12, 60)
HYDRA_EVIDENCE = ("payment", "network", "none")


def pooled_keys(
    rng: Any, n: int, common: float, pool_base: int, zipf_a: float, pool: int, own_base: int
) -> Any:
    """``n`` evidence keys: a ``common`` share drawn from a Zipf-weighted pool of ``pool``
    keys from ``pool_base`` (generic templates, SDK defaults: the first shared by many),
    the rest each its own from ``own_base``."""
    import numpy as np

    shared = rng.random(n) < common
    return np.where(
        shared, pool_base + np.minimum(rng.zipf(zipf_a, n), pool), own_base + np.arange(n)
    )


def synth_link_inputs(n: int, seed: int) -> dict[str, Any]:
    """Inputs of ``link_accounts`` for ``n`` accounts, shaped as the pipeline makes them.

    ``parts`` are per-bucket dicts exactly as :func:`detector.coordination.bucket_evidence`
    returns them (``accounts`` sorted object array; ``evidence`` frame with ``key``
    uint64, ``rows``/``share`` float64, ``kind`` in {network, template, client},
    ``account_id``; ``hourly`` sparse ``HourlyActivity``; ``first_ts`` int64;
    ``requests`` float64), one bucket per 20k accounts (2M rows at 100 rows/account).

    The population: requests per account lognormal (mean ~100 in 7 days); 75 % of
    accounts active from the window's first hours; creation spread over two years;
    1–3 client networks each (residential ones nearly unique, cloud ones drawn from a
    Zipf-weighted pool, the busiest shared by thousands and dropped by the token cap);
    35 % of accounts with 1–3 template keys (half generic ones from a Zipf pool, half
    private); 1–2 client configurations (four in five from a Zipf pool of SDK defaults, the
    busiest shared by a third of the population); organisations of 2–6 accounts sharing
    card, org id and servers (6 %); 70 % of the other accounts with a card of their own.
    About 1 % of accounts are in hydra groups (sizes as the simulator's, 6–200): one
    shared template, created within minutes to hours, started within half an hour of each
    other on day two or later, a synchronised on/off campaign, one client configuration,
    and a shared card or a shared network or neither.
    """
    import numpy as np
    import pandas as pd

    from detector import schema as S
    from detector.coordination import HourlyActivity
    from detector.features import Context

    rng = np.random.default_rng(seed)
    hours = DAYS * 24
    window_start = int(dt.datetime.combine(START, dt.time(), dt.UTC).timestamp())
    window_end = window_start + DAYS * 86_400 - 1
    ids = np.array([f"acct_{v:012x}" for v in rng.choice(16**12, n, replace=False)], dtype=object)
    requests = np.maximum(1.0, np.ceil(rng.lognormal(np.log(33.0), 1.5, n)))
    created = window_start - rng.uniform(1, 730, n) * 86_400
    first_ts = np.where(
        rng.random(n) < 0.75,
        window_start + rng.uniform(0, 3 * 3600, n),
        window_start + rng.uniform(0, hours * 3600, n),
    ).astype(np.int64)
    payment = np.where(
        rng.random(n) < 0.7, np.array([f"pf_{i:x}" for i in range(n)], dtype=object), ""
    )
    org = np.full(n, "", dtype=object)
    group = np.full(n, -1)  # hydra group of each account

    # networks: (account, key) pairs
    k_net = rng.integers(1, 4, n)
    owner = np.repeat(np.arange(n), k_net)
    cloud = rng.random(len(owner)) < 0.4
    zipf_cloud = np.minimum(rng.zipf(1.6, len(owner)), 2000)
    residential = rng.integers(0, 3 * n, len(owner))
    net_key = np.where(cloud, 10**12 + zipf_cloud, 2 * 10**12 + residential)
    # templates
    has_tpl = rng.random(n) < 0.35
    k_tpl = np.where(has_tpl, rng.integers(1, 4, n), 0)
    tpl_owner = np.repeat(np.arange(n), k_tpl)
    tpl_key = pooled_keys(rng, len(tpl_owner), 0.5, 3 * 10**12, 1.5, 300, 4 * 10**12)

    # organisations: consecutive runs of 2..6 accounts sharing card, org and servers
    pos = 0
    org_end = int(0.06 * n)
    extra_net_owner, extra_net_key = [], []
    while pos < org_end:
        size = int(rng.integers(2, 7))
        members = np.arange(pos, min(pos + size, n))
        payment[members] = f"pf_org{pos:x}"
        org[members] = f"org_{pos:x}"
        extra_net_owner.append(members)
        extra_net_key.append(np.full(len(members), 5 * 10**12 + pos))
        pos += size

    # hydra groups, after the organisations
    hydra_total = max(60, int(0.01 * n))
    campaign_on: dict[int, np.ndarray] = {}  # hours each hydra group's campaign runs
    extra_tpl_owner, extra_tpl_key = [], []
    g = 0
    while pos < n and int((group >= 0).sum()) < hydra_total:
        members = np.arange(pos, min(pos + HYDRA_SIZES[g % len(HYDRA_SIZES)], n))
        pos += len(members)
        group[members] = g
        base = window_start - rng.uniform(0, 20) * 86_400
        created[members] = base + np.sort(rng.uniform(0, rng.uniform(600, 6 * 3600), len(members)))
        start = window_start + rng.uniform(30, 140) * 3600
        first_ts[members] = (start + rng.uniform(0, 1800, len(members))).astype(np.int64)
        requests[members] = np.ceil(rng.uniform(20, 120, len(members)))
        extra_tpl_owner.append(members)
        extra_tpl_key.append(np.full(len(members), 6 * 10**12 + g))
        evidence = HYDRA_EVIDENCE[g % len(HYDRA_EVIDENCE)]
        payment[members] = f"pf_hydra{g}" if evidence == "payment" else ""
        if evidence == "network":
            extra_net_owner.append(members)
            extra_net_key.append(np.full(len(members), 7 * 10**12 + g))
        on = rng.random(hours) < 0.6
        on[: int((start - window_start) // 3600)] = False
        campaign_on[g] = on
        g += 1

    net_owner = np.concatenate([owner, *extra_net_owner])
    net_key = np.concatenate([net_key, *extra_net_key])
    tpl_owner = np.concatenate([tpl_owner, *extra_tpl_owner])
    tpl_key = np.concatenate([tpl_key, *extra_tpl_key])
    # client configurations: 1-2 per account, most an SDK's defaults (a Zipf pool whose
    # busiest configuration is shared by a third of the population), some the account's
    # own; each hydra group runs one configuration of its own
    k_cli = rng.integers(1, 3, n)
    cli_owner = np.repeat(np.arange(n), k_cli)
    cli_key = pooled_keys(rng, len(cli_owner), 0.8, 8 * 10**12, 1.4, 500, 9 * 10**12)
    in_hydra = group[cli_owner] >= 0
    cli_key = np.where(in_hydra, 10 * 10**12 + group[cli_owner], cli_key)

    # hourly activity: a diurnal curve in the account's time zone, or the campaign's on/off
    hod = np.arange(hours) % 24
    tz = rng.integers(0, 24, n)
    diurnal = 0.3 + np.exp(-(((hod[None, :] - 14 - tz[:, None]) % 24 - 12) ** 2) / 18.0)
    started = np.arange(hours)[None, :] >= ((first_ts - window_start) // 3600)[:, None]
    weights = diurnal * started
    for gi, on in campaign_on.items():
        members = group == gi
        weights[members] = on * started[members]
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    hourly = rng.poisson(weights * requests[:, None]).astype(np.float32)
    requests = np.maximum(hourly.sum(axis=1).astype(np.float64), 1.0)

    def evidence_frame(kind: str, who: np.ndarray, keys: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame({"who": who, "key": keys.astype(np.uint64)}).drop_duplicates()
        hydra = group[frame["who"].to_numpy()] >= 0
        share = np.where(hydra, rng.uniform(0.8, 1.0, len(frame)), rng.beta(2, 2, len(frame)))
        frame["share"] = np.maximum(share, 0.2)
        frame["rows"] = np.floor(frame["share"] * requests[frame["who"].to_numpy()])
        frame = frame[frame["rows"] >= 3]
        frame = frame.sort_values(["who", "rows", "key"], ascending=[True, False, True])
        frame = frame.groupby("who", sort=False).head(3)
        frame["kind"] = kind
        return frame

    evidence = pd.concat(
        [
            evidence_frame("network", net_owner, net_key),
            evidence_frame("template", tpl_owner, tpl_key),
            evidence_frame("client", cli_owner, cli_key),
        ],
        ignore_index=True,
    )
    evidence["account_id"] = ids[evidence["who"].to_numpy()]

    n_parts = max(1, math.ceil(n / 20_000))
    bucket = rng.integers(0, n_parts, n)
    parts = []
    for b in range(n_parts):
        members = np.flatnonzero(bucket == b)
        members = members[np.argsort(ids[members])]
        ev = evidence[bucket[evidence["who"].to_numpy()] == b]
        parts.append(
            {
                "accounts": ids[members],
                "evidence": ev[["key", "rows", "share", "kind", "account_id"]].reset_index(
                    drop=True
                ),
                "hourly": HourlyActivity.from_dense(hourly[members]),
                "first_ts": first_ts[members],
                "requests": requests[members],
            }
        )
    accounts = pd.DataFrame(
        {
            S.CREATED_AT: pd.to_datetime(created.astype(np.int64), unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            S.PLAN: "build",
            S.COUNTRY: "US",
            S.PAYMENT_FINGERPRINT: payment.astype(str),
            S.ORG_ID: org.astype(str),
        },
        index=pd.Index(ids, name=S.ACCOUNT_ID),
    ).sort_index()
    present = frozenset(S.ALL_COLUMNS) | frozenset(S.ACCOUNT_COLUMNS)
    context = Context(
        window_start=window_start, window_end=window_end, present=present, accounts=accounts
    )
    features = pd.DataFrame(index=pd.Index(np.sort(ids), name=S.ACCOUNT_ID))
    hydra_of = pd.Series(group, index=ids)
    return {
        "parts": parts,
        "accounts": accounts,
        "context": context,
        "features": features,
        "hydra_of": hydra_of,
    }


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux: ``5`` to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_gib() -> float | None:
    """This process's peak RSS since start or the last reset (``VmHWM``), in GiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def task_link(accounts: int, seed: int) -> dict[str, Any]:
    """Time ``link_accounts`` on synthetic evidence of ``accounts`` accounts (synthesis untimed).

    The synthesis peaks higher than linking does at 1M accounts, so the child's peak RSS
    would measure the synthesis: the peak is reset once the inputs exist and read after
    the call (``call_peak_rss_gib``, the inputs included, their synthesis not).
    """
    from detector.coordination import link_accounts

    inputs = synth_link_inputs(accounts, seed)
    reset = _reset_peak_rss()
    watch = Stopwatch()
    clusters = link_accounts(
        inputs["parts"],
        accounts=inputs["accounts"],
        context=inputs["context"],
        features=inputs["features"],
    )
    seconds, cpu_seconds = watch.stop()
    call_peak = _peak_rss_gib() if reset else None
    # sanity: did linking find the hydra groups, and nothing absurd?
    hydra_of = inputs["hydra_of"]
    member = clusters.membership.reindex(hydra_of.index)
    hydra = hydra_of[hydra_of >= 0]
    found = 0
    for _, ids in hydra.groupby(hydra).groups.items():
        cids = member.reindex(ids)
        top = cids[cids != ""].value_counts()
        if len(top) and top.iloc[0] >= 0.8 * len(ids):
            found += int(top.iloc[0])
    sizes = clusters.table["members"] if len(clusters.table) else []
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "call_peak_rss_gib": call_peak,
        "accounts": accounts,
        "buckets": len(inputs["parts"]),
        "evidence_rows": int(sum(len(p["evidence"]) for p in inputs["parts"])),
        "clusters": len(clusters.table),
        "largest_cluster": int(max(sizes)) if len(sizes) else 0,
        "clustered_accounts": int((clusters.membership != "").sum()),
        "hydra_accounts": len(hydra),
        "hydra_recovered_share": found / max(len(hydra), 1),
    }


def task_nightly(
    logs: str,
    accounts: str,
    date: str,
    state: str,
    window_days: int,
    retrain_days: int | None = None,
) -> dict[str, Any]:
    """``run_nightly`` for ``date`` over ``window_days`` days, quietly; ``retrain_days``:
    retrain a model older than this (``None``: the job's default)."""
    import inspect

    try:
        from detector.nightly import run_nightly
    except ImportError as exc:
        return {"available": False, "why": str(exc)}
    wanted = {
        "logs": Path(logs),
        "date": dt.date.fromisoformat(date),
        "state": Path(state),
        "window_days": window_days,
        "accounts": Path(accounts),
        "quiet": True,
    }
    if retrain_days is not None:
        wanted["retrain_days"] = retrain_days
    accepted = inspect.signature(run_nightly).parameters
    watch = Stopwatch()
    summary = run_nightly(**{k: v for k, v in wanted.items() if k in accepted})
    seconds, cpu_seconds = watch.stop()
    return {
        "available": True,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "status": getattr(summary, "status", None),
        "accounts": getattr(summary, "accounts", None),
        "flagged": getattr(summary, "flagged", None),
        "timings": getattr(summary, "timings", {}),
        "model": getattr(summary, "model", {}),
        "ingest": getattr(summary, "ingest", {}),
    }


def task_learned(accounts: int, share: float, seed: int) -> dict[str, Any]:
    """Fit the forest (untimed), then time the learned layer and ``similar`` (issue 14).

    Verdicts on ``share`` of the synthetic accounts, 1 in 10 of them extraction (the
    bench measures time, not quality: which accounts are labelled does not matter).
    Timed: ``fit_learned``, scoring the population with the layer, and the median of
    ten ``nearest`` queries over the preprocessed space (what ``detector similar`` does
    after reading ``scores.space.parquet``).
    """
    import numpy as np
    import pandas as pd

    from detector import schema as S
    from detector.config import DEFAULT
    from detector.learned_fit import fit_learned
    from detector.similar import nearest

    features = synth_features(accounts, seed)
    model = default_model().fit(features)
    rng = np.random.default_rng(seed)
    ids = features.index.to_numpy(dtype=object)
    picked = rng.choice(len(ids), int(share * len(ids)), replace=False)
    labels = pd.DataFrame(
        {
            S.ACCOUNT_ID: ids[picked],
            S.LABEL: np.where(np.arange(len(picked)) % 10 == 0, S.LABEL_EXTRACTION, S.LABEL_BENIGN),
        }
    )
    watch = Stopwatch()
    layer = fit_learned(model, features, labels)
    fit_seconds, fit_cpu = watch.stop()
    assert layer is not None
    watch = Stopwatch()
    layer.score(model, features)
    score_seconds, _ = watch.stop()
    space = model.transform(features).astype(np.float32)
    times = []
    for query in rng.choice(ids, 10, replace=False):
        watch = Stopwatch()
        nearest(space, ids, str(query), k=DEFAULT.similar_k)
        times.append(watch.stop()[0])
    return {
        "seconds": fit_seconds,
        "cpu_seconds": fit_cpu,
        "accounts": accounts,
        "labels": len(labels),
        "calming": len(layer.cleared_ids_),
        "score_seconds": score_seconds,
        "similar_seconds": float(np.median(times)),
    }


TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "simulate": task_simulate,
    "scan": task_scan,
    "iter_clean": task_iter_clean,
    "features": task_features,
    "model_train": task_model_train,
    "model_score": task_model_score,
    "link": task_link,
    "nightly": task_nightly,
    "learned": task_learned,
}


def child_main(task: str, params: str, out_path: str) -> int:
    """Entry point of a child process: run one task, write its result as JSON."""
    try:
        result = TASKS[task](**json.loads(params))
    except Exception as exc:
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["self_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    Path(out_path).write_text(json.dumps(result, default=str))
    return 1 if "error" in result else 0


# --- the data set --------------------------------------------------------------------------------


def data_dir(rows: int) -> Path:
    """Where the simulated log of about ``rows`` rows lives."""
    return DATA / str(rows)


def load_dataset(rows: int) -> dict[str, Any]:
    """The description of a generated data set; exits with the command to make it if missing."""
    meta = data_dir(rows) / "dataset.json"
    if not meta.exists():
        sys.exit(
            f"bench: no data set for --rows {rows}; generate it first with:\n"
            f"  scripts/bench data --rows {rows}"
        )
    return json.loads(meta.read_text())


def calibrate() -> float:
    """Requests per account per day at ``volume_scale`` 1, measured once on a small run.

    Rows grow linearly with accounts × volume_scale (the simulator multiplies every
    rate by the scale), so one probe of 5000 accounts at the scale the benchmarks use
    tells how to reach a row count. Cached in ``bench-out/data/calibration.json``.
    """
    path = DATA / "calibration.json"
    if path.exists():
        cal = json.loads(path.read_text())
        if cal.get("seed") == SEED and cal.get("days") == DAYS:
            return float(cal["rows_per_account_day"])
    probe = DATA / "_probe"
    params = {
        "out_dir": str(probe),
        "accounts": PROBE_ACCOUNTS,
        "volume_scale": PROBE_SCALE,
        "days": DAYS,
        "seed": SEED,
    }
    print(f"calibrating: simulating {PROBE_ACCOUNTS:,} accounts at volume_scale {PROBE_SCALE} ...")
    run = run_child("simulate", params)
    shutil.rmtree(probe, ignore_errors=True)
    if not run.ok:
        sys.exit(f"bench: calibration run failed: {run.result.get('error')}")
    res = run.result
    rate = res["rows"] / (res["accounts"] * DAYS * PROBE_SCALE)
    cal = {"seed": SEED, "days": DAYS, "rows_per_account_day": rate, "probe": res}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cal, indent=2))
    print(
        f"calibration: {res['rows']:,} rows from {res['accounts']:,} accounts in {DAYS} days "
        f"at scale {PROBE_SCALE} -> {rate:.1f} requests/account/day at scale 1"
    )
    return rate


def stage_data(rec: Recorder, rows: int, accounts: int | None, force: bool) -> dict[str, Any]:
    """Generate (once) a 7-day Parquet log of about ``rows`` rows with prompt text.

    Accounts default to ``rows / 100`` (10M rows ↔ 100k accounts, as issue 5 pairs
    them); ``volume_scale`` is set from the calibration so that accounts × days ×
    rate × scale ≈ rows.
    """
    target = data_dir(rows)
    meta_path = target / "dataset.json"
    if meta_path.exists() and not force:
        meta = json.loads(meta_path.read_text())
        print_table(
            f"data --rows {rows:,}: cached in {shown(target)}",
            [
                Row("rows (incl. duplicates)", meta["rows"]),
                Row("accounts", meta["accounts"]),
                Row("volume_scale", f"{meta['volume_scale']:.4f}"),
                Row("size on disk", meta["bytes"] / 2**20, "MiB"),
            ],
        )
        return meta
    rate = calibrate()
    n_accounts = accounts or max(1000, round(rows / ROWS_PER_ACCOUNT))
    scale = rows / (n_accounts * DAYS * rate)
    print(
        f"data: simulating {n_accounts:,} accounts x {DAYS} days at volume_scale {scale:.4f} "
        f"(expect ~{rows:,} rows) into {shown(target)} ..."
    )
    meta_path.unlink(missing_ok=True)
    params = {
        "out_dir": str(target),
        "accounts": n_accounts,
        "volume_scale": scale,
        "days": DAYS,
        "seed": SEED,
    }
    run = run_child("simulate", params)
    if not run.ok:
        _failed("data", run)
        sys.exit(1)
    res = run.result
    meta = {
        **res,
        "requested_rows": rows,
        "volume_scale": scale,
        "seed": SEED,
        "log": str(target / "requests"),
        "accounts_table": str(target / "accounts.parquet"),
        "labels": str(target / "labels.csv"),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **rec.commit,
    }
    rows_out = [
        Row("rows written (incl. duplicates)", res["rows"]),
        Row("vs requested", f"{res['rows'] / rows - 1:+.1%}"),
        Row("duplicates", res["duplicates"]),
        Row("accounts", res["accounts"]),
        Row("hydra clusters", len(res["hydra_clusters"])),
        Row("volume_scale", f"{scale:.4f}"),
        Row("size on disk", res["bytes"] / 2**20, "MiB"),
        Row("generation time", res["seconds"], "s"),
        Row("generation peak RSS", _gib(run), "GiB"),
    ]
    print_table(f"data --rows {rows:,}", rows_out)
    rec.record("data", "simulate", run, params, meta, rows_out)
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


# --- stages --------------------------------------------------------------------------------------


def warm_page_cache(log: str) -> None:
    """Read the log's files once (untimed), so every measured reader finds them cached.

    Without this the first reader of a stage pays the disk and the next ones do not,
    which would flatter whichever runs second (the pipeline against the bare scan).
    Page cache is not process memory: this costs the parent no RSS.
    """
    for path in sorted(Path(log).rglob("*.parquet")):
        with path.open("rb") as fh:
            while fh.read(1 << 22):
                pass


def measure_scan(rec: Recorder, meta: dict[str, Any]) -> ChildRun | None:
    """Bare pyarrow scan of the log (the reference the pipeline is compared with)."""
    params = {"log": meta["log"]}
    warm_page_cache(meta["log"])
    run = run_child("scan", params)
    if not run.ok:
        _failed("bare pyarrow scan", run)
        return None
    res = run.result
    rows = [
        Row("rows", res["rows"]),
        Row("time", res["seconds"], "s"),
        Row("throughput", res["rows"] / res["seconds"], "rows/s"),
        Row("peak RSS (informative)", _gib(run), "GiB"),
        *_machine_rows(run),
    ]
    print_table("ingest: bare pyarrow scan (pq.read_table per file, contract columns)", rows)
    rec.record("ingest", "pyarrow_scan", run, params, res, rows)
    return run


def stage_ingest(rec: Recorder, rows: int) -> ChildRun | None:
    """Bare scan, then ``iter_clean`` over the whole log (issue 2: peak RSS < 2 GB)."""
    meta = load_dataset(rows)
    scan = measure_scan(rec, meta)
    params = {"log": meta["log"], "quarantine": str(TMP / "ingest.quarantine.csv")}
    run = run_child("iter_clean", params)
    if not run.ok:
        _failed("ingest: iter_clean", run)
        return scan
    res = run.result
    ing = res["ingest"]
    table = [
        Row("rows read", ing["read"]),
        Row(
            "kept / duplicates / quarantined",
            f"{ing['kept']:,} / {ing['duplicates']:,} / {ing['quarantined']:,}",
        ),
        Row("reconciles", str(ing["reconciles"])),
        Row("time", res["seconds"], "s"),
        Row("throughput", ing["read"] / res["seconds"], "rows/s"),
        Row("peak RSS", _gib(run), "GiB", T_INGEST_RSS),
        *_machine_rows(run),
    ]
    if scan is not None:
        table.insert(5, Row("time / bare scan", res["seconds"] / scan.result["seconds"], "x"))
    print_table(f"ingest: iter_clean over {meta['log']}", table)
    figures = {**res, "rows_per_s": ing["read"] / res["seconds"]}
    rec.record("ingest", "iter_clean", run, params, figures, table)
    return scan


def stage_features(rec: Recorder, rows: int, scan: ChildRun | None) -> None:
    """``build_features`` on the log (issue 3: >= 100k rows/s, <= 2.5 GB, <= 10x the scan)."""
    meta = load_dataset(rows)
    if scan is None:
        scan = measure_scan(rec, meta)
    params = {
        "log": meta["log"],
        "accounts": meta["accounts_table"],
        "quarantine": str(TMP / "features.quarantine.csv"),
    }
    run = run_child("features", params)
    if not run.ok:
        _failed("features", run)
        return
    res = run.result
    read = res["ingest"]["read"]
    rate = read / res["seconds"]
    ratio = res["seconds"] / scan.result["seconds"] if scan is not None else None
    timings = res.get("timings", {})
    sub_pct = (
        100 * timings["substreams"] / timings["features"]
        if timings.get("features") and "substreams" in timings
        else None
    )
    table = [
        Row("rows read", read),
        Row(
            "accounts / features / buckets",
            f"{res['accounts']:,} / {res['features']} / {res['buckets']}",
        ),
        Row("clusters found", res.get("clusters")),
        Row("time", res["seconds"], "s"),
        Row("  read+validate+annotate", timings.get("read_validate_annotate"), "s"),
        Row("  per-bucket features (+evidence)", timings.get("features"), "s"),
        Row("    of which sub-streams (summed over the workers)", timings.get("substreams"), "s"),
        # worker seconds over the step's wall time: an estimate, not the target's measure
        # (`scripts/bench substreams` measures what turning them on adds, and checks it)
        Row("    sub-streams' seconds / the step's wall", sub_pct, "%"),
        Row(
            "    sub-streams scored / their rows",
            f"{res.get('substreams', 0):,} / {res.get('substream_rows', 0):,}",
        ),
        Row("  coordination (link_accounts)", timings.get("coordination"), "s"),
        Row("throughput", rate, "rows/s", T_FEATURES_RATE),
        Row("peak RSS", _gib(run), "GiB", T_FEATURES_RSS),
        Row("time / bare scan", ratio, "x", T_FEATURES_VS_SCAN),
        *_machine_rows(run),
    ]
    print_table(f"features: build_features over {meta['log']}", table)
    figures = {
        **res,
        "rows_per_s": rate,
        "x_scan": ratio,
        "substreams_share_of_step": sub_pct,
        "scan_seconds": scan.result["seconds"] if scan is not None else None,
    }
    rec.record("features", "build_features", run, params, figures, table)


PEER = ROOT.parent / "shared" / "bench" / "duckdb_peer.py"
"""The yardstick query an analyst would write instead (issue 15), beside the worktree."""

SCAN_SCRIPT = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
rows = 0
for path in sorted(Path(sys.argv[1]).rglob("*.parquet")):
    rows += pq.read_table(path).num_rows  # every column, nothing else
print(f"{rows} rows")
"""
"""A bare pyarrow scan of every column of every file, as a whole process of its own."""


SAME_TABLES = """
import sys
import pandas as pd
a, b = (pd.read_parquet(p) for p in sys.argv[1:3])
same = a.shape == b.shape and a.index.equals(b.index) and list(a.columns) == list(b.columns)
if not same:
    print("DIFFER (shape, accounts or columns)")
elif a.equals(b):
    print("identical")
else:
    print(f"DIFFER (max abs {(a - b).abs().max().max()})")
"""
"""Whether two feature tables are identical (values, columns, accounts), in a child."""


@dataclasses.dataclass
class ProcessRun:
    """A whole process as measured from outside: wall, peak RSS and CPU from ``wait4``."""

    ok: bool
    wall_s: float
    peak_rss_mib: float
    cpu_s: float
    others_cpu_share: float
    tail: str


def run_process(argv: list[str], env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``argv`` to completion and measure it as a whole (interpreter start included).

    ``os.wait4`` gives this child's own rusage: ``ru_maxrss`` is its peak RSS (with its
    reaped children's), user+system its CPU on all threads.
    """
    TMP.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=TMP) as out:
        cpu_b0, cpu_t0 = _cpu_busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        cpu_b1, cpu_t1 = _cpu_busy_seconds()
        out.seek(0)
        tail = out.read().decode("utf-8", "replace").strip().splitlines()[-3:]
    cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, (cpu_b1 - cpu_b0) - cpu) / max(cpu_t1 - cpu_t0, 1e-9)
    return ProcessRun(
        ok=proc.returncode == 0,
        wall_s=wall,
        peak_rss_mib=usage.ru_maxrss / 1024.0,
        cpu_s=cpu,
        others_cpu_share=others,
        tail=" | ".join(tail),
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def baseline_tree(rev: str) -> tuple[str, Path]:
    """The ``detector`` package as of git revision ``rev``, extracted (once) under bench-out.

    Run with ``PYTHONPATH`` set to it, the same interpreter and libraries run the old
    code: a before/after comparison in one run, on one log, under the same load.
    """
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        sys.exit(f"bench: --baseline {rev}: not a git revision")
    tree = OUT / "baseline" / sha[:12]
    if not (tree / "detector" / "__init__.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", sha, "detector"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return sha[:12], tree


def stage_compare(
    rec: Recorder, rows: int, repeats: int, with_accounts: bool, baseline: str | None = None
) -> None:
    """Side by side, whole processes, one run (issue 15): a bare pyarrow scan of every
    column, the DuckDB peer query and ``detector features``, on the same log.

    The three commands run in turn, ``repeats`` rounds, interleaved so that a burst of
    load from elsewhere hits all of them alike; the median of each is reported with
    the ratios features ÷ scan and features ÷ peer.
    """
    meta = load_dataset(rows)
    log = meta["log"]
    out = TMP / "compare.features.parquet"
    # `-P` keeps the working directory (ROOT) off sys.path: each command imports the
    # `detector` its PYTHONPATH names (this tree, or the baseline's), never ROOT's by accident
    cli = [sys.executable, "-P", "-c", "from detector.cli import main; main()", "features"]
    features_argv = [*cli, log, "--out", str(out)]
    if with_accounts:
        features_argv += ["--accounts", meta["accounts_table"]]
    commands = {
        "scan": [sys.executable, "-c", SCAN_SCRIPT, log],
        "peer": [sys.executable, str(PEER), log, "--threads", str(len(os.sched_getaffinity(0)))],
        "features": features_argv,
    }
    envs: dict[str, dict[str, str]] = {"features": {**os.environ, "PYTHONPATH": str(ROOT)}}
    labels = {
        "scan": "bare pyarrow scan, every column",
        "peer": "DuckDB peer query (23 aggregates)",
        "features": "detector features" + (" --accounts" if with_accounts else ""),
    }
    if baseline:
        sha, tree = baseline_tree(baseline)
        commands["baseline"] = [
            *cli,
            log,
            "--out",
            str(TMP / "compare.baseline.parquet"),
            *(["--accounts", meta["accounts_table"]] if with_accounts else []),
        ]
        envs["baseline"] = {**os.environ, "PYTHONPATH": str(tree)}
        labels["baseline"] = f"detector features at {sha} (baseline)"
    if not PEER.exists() or importlib.util.find_spec("duckdb") is None:
        print(f"\ncompare: the DuckDB peer needs {PEER} and duckdb; comparing with the scan only")
        del commands["peer"]
    warm_page_cache(log)
    runs: dict[str, list[ProcessRun]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            run = run_process(argv, envs.get(name))
            if not run.ok:
                print(f"\ncompare: {name} failed: {run.tail}")
                return
            runs[name].append(run)
    med = {
        name: {
            "wall_s": _median([r.wall_s for r in rs]),
            "peak_rss_mib": _median([r.peak_rss_mib for r in rs]),
            "cpu_s": _median([r.cpu_s for r in rs]),
            "walls": [round(r.wall_s, 3) for r in rs],
            "others_cpu_share": max(r.others_cpu_share for r in rs),
        }
        for name, rs in runs.items()
    }
    table: list[Row] = []
    for name, m in med.items():
        table += [
            Row(f"{labels[name]}: wall (median of {repeats})", m["wall_s"], "s"),
            Row("  runs", ", ".join(f"{w:.2f}" for w in m["walls"]) + " s"),
            Row("  peak RSS", m["peak_rss_mib"], "MiB"),
            Row("  CPU (all threads)", m["cpu_s"], "s"),
            Row("  other processes' CPU share (worst run)", f"{m['others_cpu_share']:.0%}"),
        ]
    ratios = {"x_scan": med["features"]["wall_s"] / med["scan"]["wall_s"]}
    ratio_rows = [
        Row("features / scan (wall)", ratios["x_scan"], "x", T_COMPARE_SCAN),
        Row(
            "features / scan (CPU, steadier on a shared machine)",
            med["features"]["cpu_s"] / med["scan"]["cpu_s"],
            "x",
        ),
        Row(
            "features / scan (peak RSS)",
            med["features"]["peak_rss_mib"] / med["scan"]["peak_rss_mib"],
            "x",
        ),
    ]
    if "peer" in med:
        ratios["x_peer"] = med["features"]["wall_s"] / med["peer"]["wall_s"]
        ratio_rows += [
            Row("peer / scan (wall)", med["peer"]["wall_s"] / med["scan"]["wall_s"], "x"),
            Row("features / peer (wall)", ratios["x_peer"], "x", T_COMPARE_PEER),
            Row("features / peer (CPU)", med["features"]["cpu_s"] / med["peer"]["cpu_s"], "x"),
        ]
    if "baseline" in med:
        same = subprocess.run(
            [sys.executable, "-c", SAME_TABLES, str(out), str(TMP / "compare.baseline.parquet")],
            capture_output=True,
            text=True,
        ).stdout.strip()
        ratio_rows.append(Row("feature tables of features and baseline", same or "?"))
        ratios["x_baseline"] = med["features"]["wall_s"] / med["baseline"]["wall_s"]
        ratio_rows += [
            Row("baseline / scan (wall)", med["baseline"]["wall_s"] / med["scan"]["wall_s"], "x"),
            Row("baseline / scan (CPU)", med["baseline"]["cpu_s"] / med["scan"]["cpu_s"], "x"),
            Row("features / baseline (wall)", ratios["x_baseline"], "x"),
            Row(
                "features / baseline (CPU)",
                med["features"]["cpu_s"] / med["baseline"]["cpu_s"],
                "x",
            ),
        ]
    table += ratio_rows
    print_table(f"compare: whole processes side by side on {log} ({meta['rows']:,} rows)", table)
    params = {"log": log, "repeats": repeats, "accounts": with_accounts, "commands": commands}
    rec.record("compare", "side_by_side", None, params, {**med, **ratios}, ratio_rows)


def stage_substreams(rec: Recorder, rows: int, repeats: int) -> None:
    """What sub-streams add to the features stage (issue 16: <= 25 %): the ``features``
    child of :func:`stage_features` with ``Config.substreams`` off and on, ``repeats``
    rounds on the same log. The order flips every round (off, on; on, off; ...), so
    neither mode always runs second and a burst of load from elsewhere hits both alike.
    Medians of each mode, then what turning them on adds: on ÷ off - 1, in %.
    """
    meta = load_dataset(rows)
    warm_page_cache(meta["log"])
    runs: dict[str, list[ChildRun]] = {"off": [], "on": []}
    for i in range(repeats):
        for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
            params = {
                "log": meta["log"],
                "accounts": meta["accounts_table"],
                "quarantine": str(TMP / f"substreams-{mode}.quarantine.csv"),
                "substreams": mode == "on",
            }
            run = run_child("features", params)
            if not run.ok:
                _failed(f"substreams: build_features with sub-streams {mode}", run)
                return
            runs[mode].append(run)

    def medians(rs: list[ChildRun]) -> dict[str, Any]:
        return {
            "wall_s": _median([r.result["seconds"] for r in rs]),
            "cpu_s": _median([r.result["cpu_seconds"] for r in rs]),
            "process_wall_s": _median([r.process_wall_s for r in rs]),
            "process_cpu_s": _median([r.child_cpu_s for r in rs]),
            "peak_rss_mib": _median([r.peak_rss_mib for r in rs]),
            "features_step_s": _median([r.result["timings"]["features"] for r in rs]),
            "substreams_s": _median([r.result["timings"].get("substreams", 0.0) for r in rs]),
            "walls": [round(r.result["seconds"], 3) for r in rs],
            "others_cpu_share": max(r.others_cpu_share for r in rs),
            "substreams": rs[0].result["substreams"],
            "substream_rows": rs[0].result["substream_rows"],
            "code": rs[0].result["code"],
        }

    med = {mode: medians(rs) for mode, rs in runs.items()}
    table: list[Row] = [Row("code under test", med["on"]["code"])]
    for mode, m in med.items():
        table += [
            Row(f"sub-streams {mode}: build_features wall (median of {repeats})", m["wall_s"], "s"),
            Row("  runs", ", ".join(f"{w:.1f}" for w in m["walls"]) + " s"),
            Row("  CPU of the call (all threads)", m["cpu_s"], "s"),
            Row(
                "  whole process: wall / CPU",
                f"{m['process_wall_s']:.1f} / {m['process_cpu_s']:.1f} s",
            ),
            Row("  peak RSS", m["peak_rss_mib"] / GIB, "GiB"),
            Row("  per-bucket features step", m["features_step_s"], "s"),
            Row("    of which sub-streams (summed over the workers)", m["substreams_s"], "s"),
            Row(
                "  sub-streams scored / their rows",
                f"{m['substreams']:,} / {m['substream_rows']:,}",
            ),
            Row("  other processes' CPU share (worst run)", f"{m['others_cpu_share']:.0%}"),
        ]

    def added(key: str) -> float:
        return 100 * (med["on"][key] / med["off"][key] - 1)

    per_round = [
        100 * (on.result["seconds"] / off.result["seconds"] - 1)
        for off, on in zip(runs["off"], runs["on"], strict=True)
    ]

    ratios = {
        "substreams_pct": added("wall_s"),
        "cpu_pct": added("cpu_s"),
        "process_wall_pct": added("process_wall_s"),
        "peak_rss_pct": added("peak_rss_mib"),
        "features_step_pct": added("features_step_s"),
    }
    ratio_rows = [
        Row("off -> on: build_features wall", ratios["substreams_pct"], "%", T_SUBSTREAMS, True),
        Row("off -> on: CPU of the call", ratios["cpu_pct"], "%", signed=True),
        Row("off -> on: whole-process wall", ratios["process_wall_pct"], "%", signed=True),
        Row("off -> on: peak RSS", ratios["peak_rss_pct"], "%", signed=True),
        Row("off -> on: per-bucket features step", ratios["features_step_pct"], "%", signed=True),
    ]
    table += [
        *ratio_rows,
        Row("  build_features wall, round by round", ", ".join(f"{p:+.1f}%" for p in per_round)),
    ]
    print_table(
        f"substreams: build_features off and on, {repeats} rounds interleaved, "
        f"on {meta['log']} ({meta['rows']:,} rows)",
        table,
    )
    params = {"log": meta["log"], "accounts": meta["accounts_table"], "repeats": repeats}
    figures = {**med, **ratios, "per_round_pct": per_round}
    rec.record("substreams", "off_on", None, params, figures, ratio_rows)


def stage_model(rec: Recorder, train_accounts: int, score_accounts: int) -> None:
    """Train on ``train_accounts`` (<= 10 s) and score ``score_accounts`` (<= 20 s), issue 4."""
    params = {"accounts": train_accounts, "seed": SEED}
    run = run_child("model_train", params)
    if run.ok:
        res = run.result
        table = [
            Row("accounts x features", f"{res['accounts']:,} x {res['features']}"),
            Row("fit time", res["seconds"], "s", T_TRAIN),
            Row("peak RSS", _gib(run), "GiB"),
            *_machine_rows(run),
        ]
        print_table(f"model: AnomalyModel.fit on {train_accounts:,} synthetic accounts", table)
        rec.record("model", "train", run, params, res, table)
    else:
        _failed("model: train", run)
    params = {"train_accounts": train_accounts, "score_accounts": score_accounts, "seed": SEED}
    run = run_child("model_score", params)
    if not run.ok:
        _failed("model: score", run)
        return
    res = run.result
    table = [
        Row("accounts scored", res["accounts"]),
        Row("flagged", res["flagged"]),
        Row("with forest-attributed reasons", res["forest_explained"]),
        Row("score_frame time (reasons incl.)", res["seconds"], "s", T_SCORE),
        Row("peak RSS (fit + score)", _gib(run), "GiB"),
        *_machine_rows(run),
    ]
    print_table(f"model: score_frame on {score_accounts:,} synthetic accounts", table)
    rec.record("model", "score", run, params, res, table)


def stage_learned(rec: Recorder, accounts: int, share: float) -> None:
    """The learned layer on ``accounts`` synthetic accounts with verdicts on ``share``."""
    params = {"accounts": accounts, "share": share, "seed": SEED}
    run = run_child("learned", params)
    if not run.ok:
        _failed("learned", run)
        return
    res = run.result
    table = [
        Row("accounts / verdicts", f"{res['accounts']:,} / {res['labels']:,}"),
        Row("cleared accounts that calm (near the queue)", f"{res.get('calming', 0):,}"),
        Row("fit_learned", res["seconds"], "s", T_LEARN_FIT),
        Row("score with the layer", res["score_seconds"], "s"),
        Row("similar (median of 10 queries)", res["similar_seconds"], "s", T_SIMILAR),
        Row("peak RSS (forest + layer)", _gib(run), "GiB"),
        *_machine_rows(run),
    ]
    print_table(f"learned: verdicts on {share:.0%} of {accounts:,} synthetic accounts", table)
    rec.record("learned", "fit", run, params, res, table)


def growth_exponent(sizes: list[float], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) against log(size): 1 is linear, 2 quadratic."""
    if len(sizes) < 2:
        return None
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(t, 1e-9)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else None


def _last_features_result() -> dict[str, Any] | None:
    if not RESULTS.exists():
        return None
    last = None
    for line in RESULTS.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("stage") == "features" and item.get("ok"):
            last = item
    return last


def stage_coordination(rec: Recorder, sizes: list[int]) -> None:
    """``link_accounts`` at each size; time at 100k and 1M and the log-log growth (issues 5, 16)."""
    measured: list[tuple[int, float]] = []
    table: list[Row] = []
    for n in sizes:
        params = {"accounts": n, "seed": SEED}
        run = run_child("link", params)
        if not run.ok:
            _failed(f"coordination: link_accounts at {n:,} accounts", run)
            continue
        res = run.result
        measured.append((n, res["seconds"]))
        target = {100_000: T_LINK_100K, 1_000_000: T_LINK_1M}.get(n)
        row = Row(f"link_accounts, {n:,} accounts", res["seconds"], "s", target)
        table += [
            row,
            Row(
                "  evidence rows / clusters / largest",
                f"{res['evidence_rows']:,} / {res['clusters']:,} / {res['largest_cluster']:,}",
            ),
            Row(
                "  hydra accounts recovered",
                f"{res['hydra_recovered_share']:.0%} of {res['hydra_accounts']:,}",
            ),
            Row(
                "  peak RSS from the call's start (inputs held, their synthesis not)",
                res.get("call_peak_rss_gib") or _gib(run),
                "GiB",
            ),
            Row("  CPU time of the call", res.get("cpu_seconds"), "s"),
            Row("  other processes' CPU share", f"{run.others_cpu_share:.0%}"),
        ]
        rec.record("coordination", f"link_accounts_{n}", run, params, res, [row])
    if len(measured) >= 2:
        slope = growth_exponent([float(n) for n, _ in measured], [t for _, t in measured])
        pairs = ", ".join(
            f"{math.log(tb / ta) / math.log(b / a):.2f}"
            for (a, ta), (b, tb) in itertools.pairwise(measured)
            if ta > 0 and tb > 0
        )
        steps = ", ".join(
            f"{a // 1000}k->{b // 1000}k" for (a, _), (b, _) in itertools.pairwise(measured)
        )
        exp_row = Row("growth exponent (log-log slope)", slope, "", T_LINK_EXPONENT)
        table += [exp_row, Row(f"  pairwise slopes ({steps})", pairs)]
        rec.record(
            "coordination",
            "growth_exponent",
            None,
            {"sizes": [n for n, _ in measured]},
            {"growth_exponent": slope, "seconds": dict(measured)},
            [exp_row],
        )
    last = _last_features_result()
    if last is not None:
        fig = last["figures"]
        coord = fig.get("timings", {}).get("coordination")
        read = (fig.get("ingest") or {}).get("read", 0)
        table.append(
            Row(
                f"coordination inside the last features run ({read:,} rows, "
                f"{fig.get('accounts', 0):,} accounts)",
                coord,
                "s",
            )
        )
    print_table("coordination: link_accounts on synthetic evidence", table)


NIGHTLY_KINDS = {
    "cold": "trains a model, then scores",
    "warm": "re-run, reuses the model and the annotated days",
    "next": "reuses the model; the last day is new (its annotated files dropped)",
    "retrain": "the night after another, due to retrain (6-day window: the window moved)",
}


def forget_day(state: Path, day: dt.date) -> int:
    """Drop the nightly annotation cache's entries of ``day``'s partition: the next run
    then reads that day as a new night reads its new day (the other six replayed)."""
    removed = 0
    for entry in (state / "cache" / "annotated").glob("*/entry.json"):
        if f"date={day.isoformat()}" in json.loads(entry.read_text()).get("source", ""):
            shutil.rmtree(entry.parent)
            removed += 1
    return removed


def stage_nightly(rec: Recorder, rows: int) -> None:
    """``run_nightly`` over the 7-day window: cold (trains a model), warm (a re-run: reuses
    the model and every annotated day), next (as the next night: one day read anew).
    Then retrain: in a state of its own, a night over the first six days (not timed
    against a target), then the next night, whose window has moved by a day, with a
    model due for retraining (``retrain_days`` 0): the weekly retrain of a running job,
    where a new topic model would be a new sample and so a new annotation-cache key."""
    if importlib.util.find_spec("detector.nightly") is None:
        print("\nnightly: not available yet")
        return
    meta = load_dataset(rows)
    last_day = dt.date.fromisoformat(meta["start"]) + dt.timedelta(days=meta["days"] - 1)
    state = OUT / "nightly" / str(rows)
    shutil.rmtree(state, ignore_errors=True)
    state.parent.mkdir(parents=True, exist_ok=True)  # the job creates its state dir, not parents
    for kind, what in NIGHTLY_KINDS.items():
        if kind == "next" and not forget_day(state, last_day):
            print(f"\nnightly ({kind}): no annotation cache to drop a day from")
            continue
        params = {
            "logs": meta["log"],
            "accounts": meta["accounts_table"],
            "date": last_day.isoformat(),
            "state": str(state),
            "window_days": DAYS,
        }
        if kind == "retrain":
            params |= {"state": str(state) + "-retrain", "window_days": DAYS - 1}
            shutil.rmtree(params["state"], ignore_errors=True)
            before = {**params, "date": (last_day - dt.timedelta(days=1)).isoformat()}
            prior = run_child("nightly", before)
            if not prior.ok:
                _failed("nightly (retrain): the night before", prior)
                continue
            params["retrain_days"] = 0
        run = run_child("nightly", params)
        if run.result.get("available") is False:
            print(f"\nnightly: not available yet ({run.result.get('why')})")
            return
        if not run.ok:
            _failed(f"nightly ({kind})", run)
            return
        res = run.result
        model = res.get("model") or {}
        table = [
            Row("rows read", (res.get("ingest") or {}).get("read")),
            Row(
                "files replayed / read (annotation cache)",
                f"{(res.get('ingest') or {}).get('files_replayed', '-')} / "
                f"{(res.get('ingest') or {}).get('files_read', '-')}",
            ),
            Row(
                "accounts / flagged", f"{res.get('accounts') or 0:,} / {res.get('flagged') or 0:,}"
            ),
            Row(
                "model",
                f"{'trained' if model.get('retrained') else 'reused'}: "
                + _clip(str(model.get("reason", "")), 48),
            ),
            Row("topic model", _clip(str(model.get("topics") or "-"), 48)),
            Row("run_nightly time", res["seconds"], "s"),
        ]
        table += [Row(f"  {k}", v, "s") for k, v in (res.get("timings") or {}).items()]
        table += [
            Row("process wall time", run.process_wall_s, "s", T_NIGHTLY_TIME),
            Row(
                "process wall time (issue 15)",
                run.process_wall_s,
                "s",
                T_NIGHTLY_COLD if kind in ("cold", "retrain") else T_NIGHTLY_WARM,
            ),
            Row("peak RSS", _gib(run), "GiB", T_NIGHTLY_RSS),
            *_machine_rows(run),
        ]
        days = params["window_days"]
        print_table(f"nightly ({kind}: {what}) for {last_day}, {days}-day window", table)
        figures = {**res, "wall_s": run.process_wall_s}
        rec.record("nightly", f"run_nightly_{kind}", run, params, figures, table)


def print_summary(rec: Recorder) -> None:
    """Every target checked in this invocation, with its verdict."""
    if not rec.verdicts:
        return
    print("\nsummary")
    for label, target, ok in rec.verdicts:
        mark = {True: "PASS", False: "FAIL", None: "n/a"}[ok]
        print(f"  {mark:4}  {label}  ({target})")
    print(f"\nresults appended to {shown(RESULTS)}")


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The subcommands and their options."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Performance benchmarks of the detector (method: docs/benchmarks.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def rows_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--rows",
            "--requests",
            dest="rows",
            type=int,
            default=10_000_000,
            help="size of the simulated log to use (default 10000000; 1000000 for a quick run)",
        )

    def compare_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--repeats", type=int, default=3, help="rounds of the side-by-side run (median)"
        )
        p.add_argument(
            "--baseline",
            metavar="REV",
            help="also run detector features as of git revision REV (before/after, one run)",
        )
        p.add_argument(
            "--no-accounts",
            action="store_true",
            help="run detector features without the account table (as the peer query)",
        )

    p = sub.add_parser("data", help="simulate the 7-day Parquet log once (cached)")
    rows_option(p)
    p.add_argument("--accounts", type=int, help="accounts (default rows/100)")
    p.add_argument("--force", action="store_true", help="regenerate even if cached")
    rows_option(sub.add_parser("ingest", help="bare pyarrow scan vs iter_clean"))
    rows_option(sub.add_parser("features", help="build_features on the log"))
    p = sub.add_parser(
        "substreams",
        help="build_features with sub-streams off and on, interleaved: what they add",
    )
    rows_option(p)
    p.add_argument(
        "--repeats", type=int, default=3, help="rounds of off and on, interleaved (median)"
    )
    p = sub.add_parser("model", help="train on 100k synthetic accounts, score 1M")
    p.add_argument("--train-accounts", type=int, default=100_000)
    p.add_argument("--score-accounts", type=int, default=1_000_000)
    p = sub.add_parser("learned", help="learned layer and similar on 100k synthetic accounts")
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--share", type=float, default=0.1, help="share of accounts with a verdict")
    p = sub.add_parser("coordination", help="link_accounts scaling on synthetic evidence")
    p.add_argument(
        "--sizes",
        default="10000,30000,100000,1000000",
        help="comma-separated account counts (default 10000,30000,100000,1000000)",
    )
    rows_option(sub.add_parser("nightly", help="run_nightly over the 7-day window"))
    p = sub.add_parser(
        "compare",
        help="whole processes side by side: bare scan, DuckDB peer, detector features",
    )
    rows_option(p)
    compare_options(p)
    p = sub.add_parser("all", help="data, ingest, features, compare, model, coordination, nightly")
    rows_option(p)
    compare_options(p)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the chosen subcommand(s) and print a summary of the targets."""
    if argv[:1] == ["_child"]:
        return child_main(*argv[1:4])
    args = parse_args(argv)
    rec = Recorder()
    m = rec.machine
    print(
        f"bench: {m['cpu']}, {m['usable_cores']} cores, {m['ram_gib']} GiB RAM; commit "
        f"{(rec.commit['commit'] or '?')[:12]}{' (dirty)' if rec.commit['dirty'] else ''}"
    )
    cmd = args.command
    if cmd in ("data", "all"):
        stage_data(rec, args.rows, getattr(args, "accounts", None), getattr(args, "force", False))
    scan = None
    if cmd in ("ingest", "all"):
        scan = stage_ingest(rec, args.rows)
    if cmd in ("features", "all"):
        stage_features(rec, args.rows, scan)
    if cmd in ("compare", "all"):
        stage_compare(rec, args.rows, args.repeats, not args.no_accounts, args.baseline)
    if cmd == "substreams":
        stage_substreams(rec, args.rows, args.repeats)
    if cmd in ("model", "all"):
        stage_model(
            rec,
            getattr(args, "train_accounts", 100_000),
            getattr(args, "score_accounts", 1_000_000),
        )
    if cmd == "learned":
        stage_learned(rec, args.accounts, args.share)
    if cmd in ("coordination", "all"):
        sizes = [int(s) for s in getattr(args, "sizes", "10000,30000,100000").split(",") if s]
        stage_coordination(rec, sizes)
    if cmd in ("nightly", "all"):
        stage_nightly(rec, args.rows)
    print_summary(rec)
    for failure in STAGE_FAILURES:  # a run that failed measured nothing: say so in the status
        print(f"  ERROR {failure}")
    return 1 if STAGE_FAILURES else 0


if __name__ == "__main__":
    _reexec_under_venv()
    sys.exit(main(sys.argv[1:]))
