"""Tests for detector.store: the SQLite state of verdicts, suppressions, alerts and runs."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pandas as pd
import pytest

from detector.errors import UserError
from detector.schema import (
    ACCOUNT_ID,
    BAND,
    FLAGGED,
    LABEL,
    LABEL_BENIGN,
    LABEL_EXTRACTION,
    REASONS,
    SCENARIO,
    SCORE,
)
from detector.store import (
    DB_FILENAME,
    MIGRATIONS,
    ModelRecord,
    Store,
    StoreError,
    corrupt_store_error,
)

D1, D2, D3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)
EVIL = "x'); DROP TABLE verdicts;--"


class FakeClock:
    """A clock the test moves by hand, one second per reading."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    with Store.open(tmp_path / "state", create=True, now=clock) as s:
        yield s


def alert(account: str, score: float = 90.0, kind: str = "new") -> dict[str, object]:
    return {ACCOUNT_ID: account, SCORE: score, BAND: "high", REASONS: "r1; r2", "kind": kind}


# --- schema -----------------------------------------------------------------------------


def test_open_creates_schema_with_pragmas(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new" / "dir", create=True) as s:
        assert s.path == tmp_path / "new" / "dir" / DB_FILENAME
        assert s.path.exists()
        assert s.schema_version == len(MIGRATIONS)
        conn = s._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000


def test_reopen_is_a_noop(tmp_path: Path) -> None:
    with Store.open(tmp_path, create=True) as s:
        s.add_verdict("a1", LABEL_EXTRACTION, analyst="alice")
        versions = s._conn.execute("SELECT * FROM schema_version").fetchall()
    with Store.open(tmp_path) as s:
        assert s._conn.execute("SELECT * FROM schema_version").fetchall() == versions
        assert len(s.latest_verdicts()) == 1


def test_open_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    with Store.open(tmp_path, create=True) as writer:
        writer._conn.execute("BEGIN IMMEDIATE")  # e.g. a nightly bulk write in progress
        started = time.monotonic()
        with Store.open(tmp_path) as reader:
            assert reader.latest_verdicts().empty
        assert time.monotonic() - started < 5
        writer._conn.execute("ROLLBACK")


def test_later_migration_adds_table(tmp_path: Path) -> None:
    with Store.open(tmp_path, create=True) as s:
        s.add_verdict("a1", LABEL_BENIGN, analyst="alice")
    extra = "CREATE TABLE notes (account_id TEXT NOT NULL, body TEXT NOT NULL DEFAULT ';');"
    with Store.open(tmp_path, migrations=(*MIGRATIONS, extra)) as s:
        assert s.schema_version == len(MIGRATIONS) + 1
        s._conn.execute("INSERT INTO notes (account_id) VALUES ('a1')")
        assert s._conn.execute("SELECT body FROM notes").fetchone()[0] == ";"
        assert len(s.latest_verdicts()) == 1
    # and code that only knows the older schema refuses the newer file
    with pytest.raises(StoreError, match="newer"):
        Store.open(tmp_path)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    Store.open(tmp_path, create=True).close()
    broken = "CREATE TABLE half (x TEXT); INSERT INTO no_such_table VALUES (1);"
    with pytest.raises(sqlite3.OperationalError):
        Store.open(tmp_path, migrations=(*MIGRATIONS, broken))
    with Store.open(tmp_path) as s:
        assert s.schema_version == len(MIGRATIONS)
        tables = {r[0] for r in s._conn.execute("SELECT name FROM sqlite_master")}
        assert "half" not in tables


# --- a store is created only when asked; an unusable one is an error -------------------


def test_open_without_create_refuses_a_missing_store_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    with pytest.raises(StoreError, match=r"no detector state here.*detector init --state"):
        Store.open(typo)
    assert not typo.exists()
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(StoreError, match="no detector state"):
        Store.open(tmp_path / "empty-dir")
    assert list((tmp_path / "empty-dir").iterdir()) == []
    assert issubclass(StoreError, UserError)  # the CLI's one line and exit 1


def test_a_state_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "state"
    file.write_text("not a directory")
    with pytest.raises(StoreError, match="not a directory"):
        Store.open(file, create=True)


def _state_with_a_verdict(tmp_path: Path) -> Path:
    with Store.open(tmp_path, create=True) as s:
        s.add_verdict("a1", LABEL_EXTRACTION, analyst="alice")
    return tmp_path / DB_FILENAME


def test_an_empty_store_file_is_an_error_not_a_new_store(tmp_path: Path) -> None:
    db = _state_with_a_verdict(tmp_path)
    db.write_bytes(b"")  # e.g. a full disk during a copy, or `> state.sqlite`
    for create in (False, True):
        with pytest.raises(StoreError, match=r"empty \(0 bytes\).*restore it from a backup"):
            Store.open(tmp_path, create=create)
    assert db.stat().st_size == 0  # left as found, for whoever investigates


@pytest.mark.parametrize(
    "content", [b"garbage" * 100, b"SQLite format 3\x00" + b"\xff" * 200], ids=["text", "header"]
)
def test_a_corrupt_store_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    db = _state_with_a_verdict(tmp_path)
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(content)
    with pytest.raises(StoreError, match="restore it from a backup"):
        Store.open(tmp_path, create=True)
    assert db.read_bytes() == content


def test_an_sqlite_file_without_the_detector_schema_is_an_error(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no detector schema"):
        Store.open(tmp_path, create=True)


def test_damage_found_by_a_query_maps_to_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    exc = sqlite3.DatabaseError("database disk image is malformed")
    exc.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
    mapped = corrupt_store_error(exc, path)
    assert isinstance(mapped, StoreError) and str(path) in str(mapped)
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    assert corrupt_store_error(busy, path) is None
    assert corrupt_store_error(ValueError("x"), path) is None


def test_creation_leaves_no_temporary_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s", create=True) as s:
        assert s.schema_version == len(MIGRATIONS)
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert [n for n in names if n.startswith(".")] == []
    assert DB_FILENAME in names


# --- one transaction for several writes ----------------------------------------------


def test_a_transaction_commits_all_its_writes_or_none(store: Store) -> None:
    run = store.start_run(D1, {})
    with pytest.raises(RuntimeError, match="crash"), store.transaction():
        store.record_scores(D1, scores({"a1": 90.0}))
        store.record_alerts(D1, [alert("a1")])
        store.finish_run(run, "ok", {}, "m1")
        raise RuntimeError("crash before commit")
    assert store.scores_frame(D1).empty and store.alerts_frame().empty
    assert store.run_status(run) == "running"
    with store.transaction():
        store.record_scores(D1, scores({"a1": 90.0}))
        store.record_alerts(D1, [alert("a1")])
        store.finish_run(run, "ok", {}, "m1")
    assert len(store.scores_frame(D1)) == 1 and len(store.alerts_frame()) == 1
    assert store.latest_ok_run(D1) == (run, "m1")
    assert store.latest_ok_run(D2) is None


def test_abandon_running_marks_killed_runs_failed(store: Store) -> None:
    killed = store.start_run(D1, {})
    done = store.start_run(D2, {})
    store.finish_run(done, "ok")
    assert store.abandon_running("killed") == [killed]
    assert store.run_status(killed) == "failed" and store.run_status(done) == "ok"
    assert store.abandon_running("killed") == []
    assert store.run_status(12345) is None


def test_was_scored(store: Store) -> None:
    store.record_scores(D1, scores({"a1": 90.0, EVIL: 1.0}))
    assert store.was_scored("a1") and store.was_scored(EVIL)
    assert not store.was_scored("a2")


# --- verdicts ---------------------------------------------------------------------------


def test_verdict_history_and_latest(store: Store) -> None:
    store.add_verdict("a1", LABEL_EXTRACTION, "looks like distillation", analyst="alice")
    store.add_verdict("a2", LABEL_BENIGN, analyst="bob")
    store.add_verdict("a1", LABEL_BENIGN, "it is an eval vendor", analyst="carol")

    history = store.verdict_history("a1")
    assert history["verdict"].tolist() == [LABEL_EXTRACTION, LABEL_BENIGN]
    assert len(store.verdict_history()) == 3

    latest = store.latest_verdicts()
    assert list(latest.columns) == [ACCOUNT_ID, "verdict", "note", "analyst", "created_at"]
    assert latest[ACCOUNT_ID].tolist() == ["a1", "a2"]
    row = latest.iloc[0]
    assert (row["verdict"], row["note"], row["analyst"]) == (
        LABEL_BENIGN,
        "it is an eval vendor",
        "carol",
    )
    # ISO-8601 UTC from the injected clock
    assert row["created_at"] == "2024-05-01T12:00:04.000000+00:00"
    assert datetime.fromisoformat(row["created_at"]).tzinfo is not None


def test_latest_verdict_is_last_recorded_even_if_clock_goes_back(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC))
    with Store.open(tmp_path, create=True, now=clock) as s:
        s.add_verdict("a1", LABEL_EXTRACTION, analyst="alice")
        clock.now -= timedelta(days=1)
        s.add_verdict("a1", LABEL_BENIGN, analyst="alice")
        assert s.latest_verdicts()["verdict"].tolist() == [LABEL_BENIGN]


def test_verdicts_are_append_only(store: Store) -> None:
    store.add_verdict("a1", LABEL_EXTRACTION, analyst="alice")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("UPDATE verdicts SET verdict = 'benign'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("DELETE FROM verdicts")


def test_verdict_validation_and_default_analyst(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError):
        store.add_verdict("a1", "maybe")
    with pytest.raises(ValueError):
        store.add_verdict("", LABEL_BENIGN)
    monkeypatch.setenv("USER", "dana")
    store.add_verdict("a1", LABEL_BENIGN)
    assert store.latest_verdicts()["analyst"].tolist() == ["dana"]


def test_labels_frame_matches_contract(store: Store) -> None:
    store.add_verdict("a1", LABEL_EXTRACTION, analyst="alice")
    store.add_verdict("a2", LABEL_BENIGN, analyst="bob")
    store.add_verdict("a2", LABEL_EXTRACTION, analyst="carol")
    labels = store.labels_frame()
    assert list(labels.columns) == [ACCOUNT_ID, LABEL, SCENARIO]
    assert labels.to_dict("records") == [
        {ACCOUNT_ID: "a1", LABEL: LABEL_EXTRACTION, SCENARIO: "analyst:alice"},
        {ACCOUNT_ID: "a2", LABEL: LABEL_EXTRACTION, SCENARIO: "analyst:carol"},
    ]


def test_empty_frames_have_columns(store: Store) -> None:
    assert list(store.labels_frame().columns) == [ACCOUNT_ID, LABEL, SCENARIO]
    assert list(store.alerted_accounts(D1).columns) == [
        ACCOUNT_ID,
        "first_alert_date",
        "last_alert_date",
        "last_alert_score",
    ]
    assert store.previous_scores(D1).empty
    assert store.cases(D1).empty and "status" in store.cases(D1).columns
    assert store.current_model() is None


# --- suppressions -----------------------------------------------------------------------


def test_suppression_expiry_is_inclusive(store: Store) -> None:
    store.suppress("a1", until=D2, reason="known eval partner", analyst="alice")
    assert store.active_suppressions(D1) == {"a1"}
    assert store.active_suppressions(D2) == {"a1"}  # the day of `until` is still suppressed
    assert store.active_suppressions(D3) == set()  # the day after is not
    assert store.active_suppressions("2024-05-02") == {"a1"}


def test_new_suppression_supersedes_and_unsuppress(store: Store) -> None:
    store.suppress("a1", until=D3, reason="long", analyst="alice")
    store.suppress("a1", until=D1, reason="shortened", analyst="bob")
    assert store.active_suppressions(D2) == set()
    current = store.suppressions_frame()
    assert current[["account_id", "until", "reason"]].values.tolist() == [
        ["a1", "2024-05-01", "shortened"]
    ]
    assert len(store.suppressions_frame(include_lifted=True)) == 2

    store.suppress("a2", until=D3, reason="fp", analyst="alice")
    assert store.unsuppress("a2", analyst="carol") == 1
    assert store.unsuppress("a2") == 0
    assert "a2" not in store.active_suppressions(D1)
    lifted = store.suppressions_frame(include_lifted=True)
    row = lifted[lifted[ACCOUNT_ID] == "a2"].iloc[0]
    assert row["lifted_by"] == "carol" and row["lifted_at"] is not None


def test_suppress_requires_reason_and_valid_date(store: Store) -> None:
    with pytest.raises(ValueError):
        store.suppress("a1", until=D1, reason="  ")
    with pytest.raises(ValueError):
        store.suppress("a1", until="not-a-date", reason="x")


# --- alerts -----------------------------------------------------------------------------


def test_alerts_idempotent_per_date(store: Store) -> None:
    assert store.record_alerts(D1, [alert("a1"), alert("a2", 80.0)]) == 2
    assert store.record_alerts(D1, [alert("a1", 10.0), alert("a3")]) == 1
    frame = store.alerts_frame(D1)
    assert frame[ACCOUNT_ID].tolist() == ["a1", "a2", "a3"]
    assert frame.loc[frame[ACCOUNT_ID] == "a1", SCORE].item() == 90.0  # first recording kept
    assert store.record_alerts(D1, []) == 0

    assert store.delete_alerts_for_run(D1) == 3
    assert store.alerts_frame().empty
    assert store.record_alerts(D1, [alert("a1", 55.0)]) == 1
    assert store.alerts_frame()[SCORE].tolist() == [55.0]


def test_alerted_accounts_first_last(store: Store) -> None:
    store.record_alerts(D1, [alert("a1", 70.0)])
    store.record_alerts(D3, [alert("a1", 95.0, kind="rise"), alert("a2", 60.0)])
    on_d2 = store.alerted_accounts(D2)
    assert on_d2.to_dict("records") == [
        {
            ACCOUNT_ID: "a1",
            "first_alert_date": "2024-05-01",
            "last_alert_date": "2024-05-01",
            "last_alert_score": 70.0,
        }
    ]
    on_d3 = store.alerted_accounts(D3).set_index(ACCOUNT_ID)
    assert on_d3.loc["a1", "first_alert_date"] == "2024-05-01"
    assert on_d3.loc["a1", "last_alert_date"] == "2024-05-03"
    assert on_d3.loc["a1", "last_alert_score"] == 95.0
    assert on_d3.loc["a2", "first_alert_date"] == "2024-05-03"


def test_alert_rows_validated_and_reason_lists_joined(store: Store) -> None:
    with pytest.raises(ValueError, match="kind"):
        store.record_alerts(D1, [alert("a1", kind="other")])
    with pytest.raises(ValueError, match="lacks"):
        store.record_alerts(D1, [{ACCOUNT_ID: "a1"}])
    row = alert("a1") | {REASONS: ["many requests", "wrapper prompts"]}
    store.record_alerts(D1, [row])
    assert store.alerts_frame()[REASONS].item() == "many requests; wrapper prompts"


# --- scores -----------------------------------------------------------------------------


def scores(pairs: dict[str, float], flagged: object = None) -> pd.DataFrame:
    frame = pd.DataFrame({ACCOUNT_ID: list(pairs), SCORE: list(pairs.values())})
    frame[FLAGGED] = [v > 50 for v in pairs.values()] if flagged is None else flagged
    return frame


def test_score_history_and_previous(store: Store) -> None:
    assert store.record_scores(D1, scores({"a1": 10.0, "a2": 20.0})) == 2
    store.record_scores(D2, scores({"a1": 60.0}))
    # strictly before: D2's own scores do not count
    assert store.previous_scores(D2).to_dict() == {"a1": 10.0, "a2": 20.0}
    prev = store.previous_scores(D3)
    assert prev.to_dict() == {"a1": 60.0, "a2": 20.0}
    assert prev.name == SCORE and prev.index.name == ACCOUNT_ID
    assert store.previous_scores(D1).empty


def test_record_scores_replaces_date(store: Store) -> None:
    store.record_scores(D1, scores({"a1": 10.0, "a2": 20.0}))
    store.record_scores(D1, scores({"a3": 70.0}, flagged=["true"]))
    frame = store.scores_frame(D1)
    assert frame.to_dict("records") == [{ACCOUNT_ID: "a3", SCORE: 70.0, FLAGGED: True}]


def test_record_scores_rejects_duplicates_atomically(store: Store) -> None:
    store.record_scores(D1, scores({"a1": 10.0}))
    dup = pd.DataFrame({ACCOUNT_ID: ["a1", "a1"], SCORE: [1.0, 2.0], FLAGGED: [False, False]})
    with pytest.raises(ValueError, match="duplicate"):
        store.record_scores(D1, dup)
    assert store.scores_frame(D1)[SCORE].tolist() == [10.0]


# --- cases ------------------------------------------------------------------------------


def test_a_case_shows_its_latest_score_up_to_the_day(store: Store) -> None:
    """The latest stored score on or before the day, else the last alert's; a score of
    a later night is not seen (one index seek per case: the join it replaced was
    quadratic in the cases)."""
    store.record_alerts(D1, [alert("a", 60.0), alert("b", 65.0), alert("c", 66.0)])
    store.record_scores(D1, scores({"a": 61.0, "b": 62.0}))
    store.record_scores(D2, scores({"a": 71.0}))
    store.record_scores(D3, scores({"a": 99.0, "b": 98.0, "c": 97.0}))
    last = store.cases(D2).set_index(ACCOUNT_ID)["last_score"].to_dict()
    assert last == {"a": 71.0, "b": 62.0, "c": 66.0}
    assert store.cases(D3).set_index(ACCOUNT_ID)["last_score"].to_dict() == {
        "a": 99.0,
        "b": 98.0,
        "c": 97.0,
    }


def test_cases_statuses(store: Store) -> None:
    store.record_alerts(D1, [alert("open1", 70.0), alert("conf", 90.0), alert("clear", 80.0)])
    store.record_alerts(D1, [alert("supp", 75.0), alert("open2", 85.0)])
    store.record_alerts(D3, [alert("later", 99.0)])
    store.record_scores(D2, scores({"open1": 72.5}))
    store.add_verdict("conf", LABEL_BENIGN, "first look", analyst="alice")
    store.add_verdict("conf", LABEL_EXTRACTION, "confirmed: wrapper prompts", analyst="bob")
    store.add_verdict("clear", LABEL_BENIGN, "eval vendor", analyst="alice")
    store.add_verdict("intel", LABEL_EXTRACTION, "external tip", analyst="alice")
    store.suppress("supp", until=D2, reason="fp", analyst="alice")

    cases = store.cases(D2)
    status = dict(zip(cases[ACCOUNT_ID], cases["status"], strict=True))
    assert status == {
        "open1": "open",
        "open2": "open",
        "supp": "suppressed",
        "conf": "confirmed",
        "intel": "confirmed",
        "clear": "cleared",
    }  # "later" was alerted after D2
    # open first, highest score first within a status
    assert cases[ACCOUNT_ID].tolist()[:3] == ["open2", "open1", "supp"]
    rows = cases.set_index(ACCOUNT_ID)
    assert rows.loc["open1", "last_score"] == 72.5  # score history wins over alert score
    assert rows.loc["open2", "last_score"] == 85.0
    assert rows.loc["conf", "note"] == "confirmed: wrapper prompts"
    assert rows.loc["conf", "last_alert_date"] == "2024-05-01"
    assert rows.loc["supp", "suppressed_until"] == "2024-05-02"
    assert pd.isna(rows.loc["intel", "last_alert_date"])

    # the suppression has expired by D3, so "supp" is open again; "later" now appears
    on_d3 = store.cases(D3, status="open")
    assert set(on_d3[ACCOUNT_ID]) == {"open1", "open2", "supp", "later"}
    assert store.cases(D2, status=["cleared"])[ACCOUNT_ID].tolist() == ["clear"]
    with pytest.raises(ValueError):
        store.cases(D2, status="closed")


# --- runs and models --------------------------------------------------------------------


def test_runs_lifecycle(store: Store) -> None:
    run1 = store.start_run(D1, {"window_days": 7, "date": D1})
    run2 = store.start_run(D2, {})
    store.finish_run(run1, "ok", {"scored": 10, "alerts": 2}, model_version="m1")
    store.finish_run(run2, "failed", error="log missing")
    with pytest.raises(ValueError):
        store.finish_run(run1, "ok")  # already finished
    with pytest.raises(ValueError):
        store.finish_run(999, "ok")
    with pytest.raises(ValueError):
        store.finish_run(store.start_run(D3, {}), "done")  # type: ignore[arg-type]

    runs = store.runs_frame()
    assert list(runs.columns)[:8] == [
        "run_id",
        "run_date",
        "started_at",
        "finished_at",
        "status",
        "counts",
        "model_version",
        "error",
    ]
    first = runs.set_index("run_id").loc[run1]
    assert first["status"] == "ok" and first["model_version"] == "m1"
    assert json.loads(first["counts"]) == {"alerts": 2, "scored": 10}
    assert json.loads(first["params"]) == {"date": "2024-05-01", "window_days": 7}
    failed = runs.set_index("run_id").loc[run2]
    assert failed["status"] == "failed" and failed["error"] == "log missing"
    assert runs["run_id"].tolist()[0] > run2  # newest first
    assert len(store.runs_frame(limit=1)) == 1


def test_model_registry(store: Store) -> None:
    first = store.register_model(
        "m1", "/models/m1.joblib", "sha256:aa", "2024-05-01T03:00:00", D1, D2, "initial"
    )
    assert isinstance(first, ModelRecord)
    assert first.trained_at == "2024-05-01T03:00:00.000000+00:00"
    assert (first.window_start, first.window_end) == ("2024-05-01", "2024-05-02")
    trained = datetime(2024, 5, 8, tzinfo=UTC)
    store.register_model("m2", Path("/models/m2.joblib"), "sha256:bb", trained, None, None, "drift")
    assert store.current_model().version == "m2"  # type: ignore[union-attr]
    # a re-run registering the same artefact is a no-op; a different one is an error
    again = store.register_model("m1", "/x", "sha256:aa", "2024-05-01", None, None, "rerun")
    assert again == first
    with pytest.raises(ValueError, match="digest"):
        store.register_model("m1", "/x", "sha256:zz", "2024-05-01", None, None, "clash")
    models = store.models_frame()
    assert models["version"].tolist() == ["m2", "m1"]
    assert store.current_model().path == "/models/m2.joblib"  # type: ignore[union-attr]


def test_registry_paths_are_relative_to_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state = Path("state")  # relative, as `--state state` gives it
    with Store.open(state, create=True) as s:
        record = s.register_model(
            "m1", state / "models" / "m1.bundle", "aa", "2024-05-01", None, None, ""
        )
        assert record.path == "models/m1.bundle"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # another working directory, same state
    with Store.open(tmp_path / "state") as s:
        current = s.current_model()
        assert current is not None
        assert s.model_path(current) == tmp_path / "state" / "models" / "m1.bundle"


# --- hostile text -----------------------------------------------------------------------


@pytest.mark.parametrize("account", [EVIL, "a'b", 'q"; DELETE FROM alerts; --', "ü\x00\n✓"])
def test_sql_injection_looking_ids_round_trip(store: Store, account: str) -> None:
    store.add_verdict(account, LABEL_EXTRACTION, note=EVIL, analyst=EVIL)
    store.suppress(account, until=D1, reason=EVIL, analyst=EVIL)
    store.record_alerts(D1, [alert(account) | {REASONS: EVIL, BAND: EVIL}])
    store.record_scores(D1, scores({account: 90.0}))
    run = store.start_run(D1, {"note": EVIL})
    store.finish_run(run, "failed", error=EVIL)

    latest = store.latest_verdicts().iloc[0]
    assert (latest[ACCOUNT_ID], latest["note"], latest["analyst"]) == (account, EVIL, EVIL)
    assert store.labels_frame()[SCENARIO].item() == f"analyst:{EVIL}"
    assert store.active_suppressions(D1) == {account}
    assert store.alerts_frame()[[ACCOUNT_ID, REASONS]].values.tolist() == [[account, EVIL]]
    assert store.previous_scores(D2).to_dict() == {account: 90.0}
    assert store.cases(D1)[ACCOUNT_ID].tolist() == [account]
    assert store.runs_frame()["error"].item() == EVIL
    tables = {r[0] for r in store._conn.execute("SELECT name FROM sqlite_master")}
    assert {"verdicts", "alerts", "suppressions", "scores", "runs"} <= tables


# --- concurrency ------------------------------------------------------------------------

N_WORKERS = 4
N_EACH = 25


def _writer(state_dir: str, worker: int, barrier: Barrier) -> None:
    """One process: open the (possibly not yet created) store and write as fast as it can."""
    barrier.wait(timeout=60)
    with Store.open(Path(state_dir), create=True) as s:
        run = s.start_run(D1, {"worker": worker})
        for i in range(N_EACH):
            account = f"w{worker}-a{i}"
            s.add_verdict(account, LABEL_EXTRACTION, note=f"n{i}", analyst=f"w{worker}")
            s.record_alerts(D1, [alert(account), alert("shared")])
            if i % 5 == 0:
                s.suppress(account, until=D2, reason="load test", analyst=f"w{worker}")
        s.record_scores(date(2024, 6, worker + 1), scores({f"w{worker}": float(worker)}))
        s.finish_run(run, "ok", {"written": N_EACH})


def test_concurrent_writers(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    state_dir = tmp_path / "state"  # created concurrently by the workers themselves
    barrier = ctx.Barrier(N_WORKERS)
    procs = [
        ctx.Process(target=_writer, args=(str(state_dir), w, barrier)) for w in range(N_WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N_WORKERS  # no "database is locked"

    with Store.open(state_dir) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert len(s.verdict_history()) == N_WORKERS * N_EACH
        alerts = s.alerts_frame(D1)
        assert len(alerts) == N_WORKERS * N_EACH + 1  # "shared" recorded once
        assert alerts[ACCOUNT_ID].is_unique
        assert len(s.active_suppressions(D1)) == N_WORKERS * (N_EACH // 5)
        runs = s.runs_frame()
        assert len(runs) == N_WORKERS and set(runs["status"]) == {"ok"}
        assert len(s.previous_scores(date(2024, 7, 1))) == N_WORKERS
