"""Where the Spark engine writes a score table: decided by the session's master.

No Spark needed: the rule is a plain function of the path and the master URL, and the
writer is checked with a stand-in session (its master is what ``spark-submit`` set).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from detector.engines.spark import scoring
from detector.engines.spark.scoring import output_uri
from detector.engines.spark.session import is_local_master


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[4, 2]"])
def test_a_local_master_writes_a_bare_path_to_this_machine(master: str, tmp_path: Path) -> None:
    assert is_local_master(master)
    assert output_uri(str(tmp_path / "scores"), master) == f"file://{tmp_path / 'scores'}"
    assert output_uri("rel/scores", master) == "file://" + str(Path("rel/scores").resolve())


@pytest.mark.parametrize(
    "master", ["yarn", "spark://head:7077", "k8s://https://api.example:6443", "mesos://m:5050"]
)
def test_a_cluster_master_leaves_a_bare_path_to_its_default_file_system(master: str) -> None:
    assert not is_local_master(master)
    assert output_uri("/data/scores", master) == "/data/scores"
    assert output_uri("scores", master) == "scores"


@pytest.mark.parametrize("master", ["local[2]", "yarn"])
def test_a_path_with_a_scheme_is_kept(master: str) -> None:
    for uri in ("s3a://bucket/scores", "hdfs:///scores", "file:///tmp/scores"):
        assert output_uri(uri, master) == uri


class _Writer:
    def __init__(self, written: list[str]) -> None:
        self.written = written

    def coalesce(self, n: int) -> _Writer:
        return self

    @property
    def write(self) -> _Writer:
        return self

    def mode(self, how: str) -> _Writer:
        return self

    def parquet(self, target: str) -> None:
        self.written.append(target)


def _session(master: str, written: list[str]) -> Any:
    return SimpleNamespace(
        sparkContext=SimpleNamespace(master=master),
        createDataFrame=lambda frame: _Writer(written),
    )


@pytest.mark.parametrize(
    ("session_master", "expected"),
    [("yarn", "/data/scores"), ("local[2]", "file:///data/scores")],
)
def test_the_writer_asks_the_session_not_the_option(
    monkeypatch: pytest.MonkeyPatch, session_master: str, expected: str
) -> None:
    """``spark-submit --master yarn`` with the ``--spark-master local[*]`` default: the
    session runs on YARN, so a bare path goes to the cluster's file system (it went to
    ``file://`` when the option decided)."""
    written: list[str] = []
    monkeypatch.setattr(scoring, "get_spark", lambda *a, **k: _session(session_master, written))
    monkeypatch.setattr(scoring, "run_job", lambda what, action, spark=None: action())
    frame = pd.DataFrame({"account_id": ["a"], "score": [1.0]})
    got = scoring.write_scores_parquet_spark(frame, "/data/scores", spark_master="local[*]")
    assert got == "/data/scores"
    assert written == [expected]
