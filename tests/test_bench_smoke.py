"""``scripts/bench`` on a fresh tree, at a toy size: the data set, the feature stage and
the four nights of the nightly stage run and record a result each, and a stage whose run
fails makes the script exit 1.

The bench measures, so CI does not time anything here; it only checks that the
measuring still works. The nightly stage once failed on every fresh machine (its state
directory's parent did not exist) while the script exited 0, and nobody saw it until a
session ran it at 10M rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"
ROWS = "3000"


def _bench(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DETECTOR_BENCH_OUT": str(out)}
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_the_bench_runs_on_a_fresh_tree_and_fails_loudly(tmp_path: Path) -> None:
    out = tmp_path / "bench-out"
    for stage in ("data", "features", "nightly"):
        run = _bench(out, stage, "--rows", ROWS)
        assert run.returncode == 0, (stage, run.stdout[-4000:], run.stderr[-4000:])
        assert "FAILED" not in run.stdout and "ERROR" not in run.stdout, run.stdout[-4000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    done = {(r["stage"], r["measurement"]) for r in records}
    nights = {("nightly", f"run_nightly_{kind}") for kind in ("cold", "warm", "next", "retrain")}
    assert {("data", "simulate"), ("features", "build_features"), *nights} <= done
    log = out / "data" / ROWS / "requests"
    shutil.rmtree(log)
    run = _bench(out, "features", "--rows", ROWS)
    assert run.returncode == 1, run.stdout[-4000:]
    assert "features: FAILED" in run.stdout and "  ERROR features: " in run.stdout
