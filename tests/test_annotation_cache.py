"""The annotation cache replays earlier runs' files exactly as the full read would give
them, and only then (detector.annotation_cache, detector.first_pass)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from detector import schema as S
from detector.annotation_cache import (
    ENTRY,
    ROW_SETTINGS,
    ROWS,
    SOURCES,
    AnnotationCache,
    run_key,
)
from detector.artifacts import load_bundle
from detector.config import Config
from detector.pipeline import FeatureResult, build_features
from detector.scoring import TOPIC_MODEL_KEY, train
from tests.cli_run import ok, run
from tests.cli_run import refusal_line as assert_clean_failure
from tests.test_features import synthetic_log

# small chunks and buckets: every log spans several of each, so replayed and freshly
# annotated chunks meet in the spilled buckets
CFG = Config(topic_clusters=4, topic_sample_rows=250, chunk_rows=300, bucket_target_rows=700)


def day_log(tmp_path: Path, log: pd.DataFrame | None = None) -> tuple[Path, pd.DataFrame]:
    """A hive-partitioned log (one file a day) and its account table."""
    frame, accounts = synthetic_log(n_accounts=50)
    frame = frame if log is None else log
    days = frame[S.TIMESTAMP].dt.strftime("%Y-%m-%d")
    root = tmp_path / "log"
    for day, part in frame.groupby(days):
        (root / f"date={day}").mkdir(parents=True, exist_ok=True)
        part.to_parquet(root / f"date={day}" / "part-0.parquet", index=False)
    return root, accounts


def build(root: Path, accounts: pd.DataFrame, cache: Path | None, **kw: object) -> FeatureResult:
    return build_features(
        root,
        accounts=accounts,
        config=CFG,
        cache_dir=cache,
        quarantine_path=root.parent / "quarantine.csv",
        **kw,  # type: ignore[arg-type]
    )


def assert_same(full: FeatureResult, other: FeatureResult) -> None:
    pd.testing.assert_frame_equal(full.features, other.features, check_exact=True)
    pd.testing.assert_frame_equal(
        full.substreams.features, other.substreams.features, check_exact=True
    )
    assert other.report.to_dict() == full.report.to_dict()
    assert other.context.newest_model == full.context.newest_model
    assert other.context.newest_model_first_ts == full.context.newest_model_first_ts
    assert (other.context.window_start, other.context.window_end) == (
        full.context.window_start,
        full.context.window_end,
    )


def test_a_replayed_window_gives_the_full_reads_table_and_counts(tmp_path: Path) -> None:
    root, accounts = day_log(tmp_path)
    full = build(root, accounts, None)
    cache = tmp_path / "cache"
    first = build(root, accounts, cache)
    again = build(root, accounts, cache)
    n_files = len(full.report.files)
    assert n_files >= 9
    assert first.annotation_cache == {"replayed": 0, "read": n_files}
    assert again.annotation_cache == {"replayed": n_files, "read": 0}
    assert_same(full, first)
    assert_same(full, again)
    assert again.metadata()["annotation_cache"] == {"replayed": n_files, "read": 0}
    # scoring with the fitted topic model (what `score` does) replays the same entries
    scored = build(root, accounts, cache, topic_model=full.topic_model, fit_topics=False)
    assert scored.annotation_cache == {"replayed": n_files, "read": 0}
    assert_same(full, scored)


def test_a_changed_file_is_read_again_and_only_it(tmp_path: Path) -> None:
    root, accounts = day_log(tmp_path)
    cache = tmp_path / "cache"
    build(root, accounts, cache)
    day = sorted(root.glob("date=*/part-0.parquet"))[3]
    part = pd.read_parquet(day)
    part.loc[part.index[0], S.OUTPUT_TOKENS] += 1234
    part.to_parquet(day, index=False)
    os.utime(day, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, surely
    again = build(root, accounts, cache)
    assert again.annotation_cache is not None
    assert again.annotation_cache["read"] == 1
    assert_same(build(root, accounts, None), again)


def test_a_file_rewritten_with_its_old_modification_time_is_read_again(tmp_path: Path) -> None:
    """`rsync -t` or `touch -d` can set a modification time back; the change time of a
    write cannot be."""
    root, accounts = day_log(tmp_path)
    cache = tmp_path / "cache"
    build(root, accounts, cache)
    day = sorted(root.glob("date=*/part-0.parquet"))[2]
    before = day.stat()
    part = pd.read_parquet(day)
    part.loc[part.index[0], S.OUTPUT_TOKENS] += 7
    part.to_parquet(day, index=False)
    os.utime(day, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert day.stat().st_mtime_ns == before.st_mtime_ns
    again = build(root, accounts, cache)
    assert again.annotation_cache is not None and again.annotation_cache["read"] == 1
    assert_same(build(root, accounts, None), again)


def test_a_file_with_quarantined_rows_is_never_replayed(tmp_path: Path) -> None:
    """Its quarantine rows and reasons come from reading it, every time."""
    log, _ = synthetic_log(n_accounts=50)
    log[S.OUTPUT_TOKENS] = log[S.OUTPUT_TOKENS].astype("int64")
    log.loc[log.index[:3], S.OUTPUT_TOKENS] = -5
    root, accounts = day_log(tmp_path, log)
    cache = tmp_path / "cache"
    full = build(root, accounts, None)
    full_quarantine = (tmp_path / "quarantine.csv").read_text()
    assert full.report.quarantined == 3
    build(root, accounts, cache)
    again = build(root, accounts, cache)
    assert again.annotation_cache is not None and again.annotation_cache["read"] >= 1
    assert_same(full, again)
    assert (tmp_path / "quarantine.csv").read_text() == full_quarantine


def test_request_ids_shared_across_files_are_read_not_replayed(tmp_path: Path) -> None:
    """A file whose rows were duplicates of an earlier file's is not kept; a kept file
    whose id now comes first in a new earlier file is read again: the full read's
    dedupe decides in both cases."""
    log, _ = synthetic_log(n_accounts=50)
    days = log[S.TIMESTAMP].dt.strftime("%Y-%m-%d")
    last_day = sorted(days.unique())[-1]
    # five rows of the last day repeat (same ids, later times) in an extra file of it
    copies = log[days == last_day].head(5).copy()
    root, accounts = day_log(tmp_path, log)
    copies.to_parquet(root / f"date={last_day}" / "part-1.parquet", index=False)
    cache = tmp_path / "cache"
    full = build(root, accounts, None)
    assert full.report.duplicates == 5
    first = build(root, accounts, cache)
    again = build(root, accounts, cache)
    assert again.annotation_cache is not None and again.annotation_cache["read"] == 1
    assert_same(full, first)
    assert_same(full, again)
    # an id of a cached day now also comes first, in a file of an earlier day
    first_day = sorted(days.unique())[0]
    moved = log[days == sorted(days.unique())[2]].head(2).copy()
    moved[S.TIMESTAMP] = log[days == first_day][S.TIMESTAMP].iloc[0]
    moved.to_parquet(root / f"date={first_day}" / "part-1.parquet", index=False)
    full = build(root, accounts, None)
    assert full.report.duplicates == 7
    replayed = build(root, accounts, cache)
    assert_same(full, replayed)
    # the new file, the copies' file and the day whose ids came first elsewhere are read
    assert replayed.annotation_cache == {"replayed": len(full.report.files) - 3, "read": 3}


def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    root, accounts = day_log(tmp_path)
    cache = tmp_path / "cache"
    full = build(root, accounts, cache)
    entries = sorted(p for p in cache.iterdir() if (p / ENTRY).is_file())
    rows = entries[0] / ROWS
    rows.write_bytes(rows.read_bytes()[:-20])  # truncated: the digest no longer matches
    (entries[1] / ENTRY).write_text("{not json")
    again = build(root, accounts, cache)
    assert again.annotation_cache is not None and again.annotation_cache["read"] == 2
    assert_same(full, again)


def test_the_key_follows_settings_and_topic_model_not_threads(tmp_path: Path) -> None:
    root, accounts = day_log(tmp_path)
    full = build(root, accounts, None)
    model = full.topic_model
    assert run_key(CFG, model) == run_key(dataclasses.replace(CFG, workers=1), model)
    assert run_key(CFG, model) == run_key(dataclasses.replace(CFG, alert_budget="2%"), model)
    assert run_key(CFG, model) != run_key(dataclasses.replace(CFG, text_head_chars=100), model)
    assert run_key(CFG, model) != run_key(CFG, None)
    other = build(root, accounts, None)
    assert run_key(CFG, other.topic_model) == run_key(CFG, model)  # fitted alike: same model


def test_a_topic_model_read_back_from_a_bundle_has_the_same_fingerprint(tmp_path: Path) -> None:
    """So `score` (the bundle's topic model) replays what `train` (its fit) kept."""
    root, accounts = day_log(tmp_path)
    path, result, _ = train(
        root, tmp_path / "m.joblib", accounts=accounts, config=CFG, cache_dir=tmp_path / "c"
    )
    loaded = load_bundle(path).text_models[TOPIC_MODEL_KEY]
    assert result.topic_model is not None
    assert loaded.fingerprint() == result.topic_model.fingerprint()
    replay = build(root, accounts, tmp_path / "c", topic_model=loaded, fit_topics=False)
    assert replay.annotation_cache == {"replayed": len(result.report.files), "read": 0}


def test_prune_removes_only_entries_unused_for_the_configured_days(tmp_path: Path) -> None:
    root, accounts = day_log(tmp_path)
    cache = tmp_path / "cache"
    build(root, accounts, cache)
    entries = sorted(p for p in cache.iterdir() if (p / ENTRY).is_file())
    old = time.time() - 5 * 86_400
    os.utime(entries[0] / ENTRY, (old, old))
    abandoned = cache / ".tmp-abandoned"
    abandoned.mkdir()
    os.utime(abandoned, (old, old))
    assert AnnotationCache(cache, "run").prune(3.0) == 2
    assert not entries[0].exists() and not abandoned.exists()
    assert all(p.exists() for p in entries[1:])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_text_logs_replay_as_well(tmp_path: Path, fmt: str, write_log) -> None:  # type: ignore[no-untyped-def]
    log, accounts = synthetic_log(n_accounts=30)
    root = write_log(log, tmp_path / "log", fmt, gz=True, partitioned=True)
    full = build(root, accounts, None)
    build(root, accounts, tmp_path / "cache")
    again = build(root, accounts, tmp_path / "cache")
    assert again.annotation_cache == {"replayed": len(full.report.files), "read": 0}
    assert_same(full, again)


def test_an_unpartitioned_file_is_kept_per_window(tmp_path: Path) -> None:
    """Without a date= partition the window decides which rows are outside it, so each
    window is an entry of its own and each replays its own read."""
    log, accounts = synthetic_log(n_accounts=40)
    path = tmp_path / "log.parquet"
    log.to_parquet(path, index=False)
    cache = tmp_path / "cache"
    windows = [(dt.date(2026, 11, 2), dt.date(2026, 11, 5)), (dt.date(2026, 11, 3), None)]
    for start, end in windows:
        full = build_features(path, accounts=accounts, config=CFG, start=start, end=end)
        assert full.report.outside_window > 0
        first = build_features(
            path, accounts=accounts, config=CFG, start=start, end=end, cache_dir=cache
        )
        again = build_features(
            path, accounts=accounts, config=CFG, start=start, end=end, cache_dir=cache
        )
        assert first.annotation_cache == {"replayed": 0, "read": 1}
        assert again.annotation_cache == {"replayed": 1, "read": 0}
        assert_same(full, again)


# settings the annotating code reads that cannot change an annotated row, and why
LEAVE_ROWS_ALONE = {
    "workers": "threads: the output is consumed in order",
    "prompt_memo_entries": "a memo of computed columns, never a different value",
    "annotation_cache_days": "the cache's own pruning",
    "random_state": "the topic model's fit: the model's fingerprint is in the key",
    "topic_clusters": "the topic model's fit",
    "topic_components": "the topic model's fit",
    "topic_fit_rows": "the topic model's fit",
    "topic_hash_features": "the topic model's fit",
    "topic_sample_rows": "the topic model's fit",
}


def test_every_setting_the_annotating_code_reads_is_keyed_or_known_harmless() -> None:
    """A setting added to ingest or annotation must join ROW_SETTINGS (or this list,
    with the reason it cannot change a row): otherwise a cache would replay rows made
    with another value."""
    package = Path(__file__).resolve().parents[1] / "detector"
    read: set[str] = set()
    for name in (*SOURCES, "topic_fit.py"):
        path = package / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            read |= set(re.findall(r"\b(?:config|cfg)\.([a-z_]+)", source.read_text()))
    read.discard("py")  # "config.py" in the docstrings
    assert read, "the scan found no setting at all"
    unknown = read - set(ROW_SETTINGS) - set(LEAVE_ROWS_ALONE)
    assert not unknown, f"settings read while annotating but not in the cache key: {unknown}"
    assert not set(ROW_SETTINGS) & set(LEAVE_ROWS_ALONE)


def test_train_then_score_on_the_command_line_share_the_cache(tmp_path: Path) -> None:
    """`train --cache-dir` keeps the files; `score --cache-dir` with the trained bundle
    replays them and writes the scores a run without the cache writes."""
    root, _ = day_log(tmp_path)
    cache, model = tmp_path / "cache", tmp_path / "m.bundle"
    ok("train", root, "--model", model, "--cache-dir", cache, "--alert-budget", "5%", "-q")
    ok("score", root, "--model", model, "--out", tmp_path / "plain.csv", "-q")
    ok("score", root, "--model", model, "--out", tmp_path / "cached.csv", "--cache-dir", cache)
    assert (tmp_path / "cached.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    meta = json.loads((tmp_path / "cached.meta.json").read_text())
    assert meta["annotation_cache"]["read"] == 0, meta.get("annotation_cache")
    failed = assert_clean_failure(
        run(
            "score",
            root,
            "--model",
            model,
            "--out",
            tmp_path / "s.csv",
            "--cache-dir",
            cache,
            "--engine",
            "spark",
        )
    )
    assert "--cache-dir" in failed


def test_a_cache_that_cannot_be_written_costs_the_run_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while writing an entry drops the entry, never the run."""
    root, accounts = day_log(tmp_path)
    full = build(root, accounts, None)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    # every entry fails as it is published (after its rows were written)
    monkeypatch.setattr(hashlib, "file_digest", no_space)
    first = build(root, accounts, tmp_path / "cache")
    assert_same(full, first)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written left behind
    monkeypatch.undo()
    again = build(root, accounts, tmp_path / "cache")
    assert again.annotation_cache == {"replayed": 0, "read": len(full.report.files)}
    assert_same(full, again)


def test_an_unusable_cache_directory_is_one_clear_error(tmp_path: Path) -> None:
    root, _ = day_log(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    failed = assert_clean_failure(
        run("features", root, "--out", tmp_path / "f.parquet", "--cache-dir", blocker / "c")
    )
    assert "annotation cache" in failed and str(blocker) in failed
