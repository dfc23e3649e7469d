"""A few accounts' rows, screened alone, are exactly the rows the full read keeps.

The report and the nightly alert rules read the log again for a few flagged accounts
(:mod:`detector.ingest.subset`): only those accounts' rows are validated. Each contract
rule is a property of its row, so the verdicts cannot differ; deduplication is the one
rule across rows, and a request id shared with another account sends the read the
whole way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pytest

from detector import schema as S
from detector.config import Config
from detector.ingest import (
    SharedRequestIds,
    iter_account_rows,
    iter_clean,
    read_account_rows,
)
from detector.ingest.discover import list_log
from detector.ingest.readers import read_without_text


def _concat(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = list(chunks)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _full_read(log: Path, accounts: list[str], **kw: object) -> pd.DataFrame:
    """The reference: every row screened and deduplicated, then the accounts' rows."""
    parts = [c[c[S.ACCOUNT_ID].isin(accounts)] for c in iter_clean(log, **kw)]  # type: ignore[arg-type]
    return pd.concat(parts, ignore_index=True)


def _messy(make_requests: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Requests with what the full read must sort out: the same row shipped twice,
    broken rules on the wanted accounts' rows and on others', a null account."""
    log = make_requests(600, seed=3)
    log[S.INPUT_TOKENS] = log[S.INPUT_TOKENS].astype(object)
    log.loc[log.index % 37 == 5, S.INPUT_TOKENS] = -4  # negative: quarantined
    log.loc[log.index % 41 == 7, S.STATUS] = "exploded"  # unknown status
    log.loc[log.index % 53 == 9, S.ACCOUNT_ID] = None  # missing account
    replayed = log.iloc[::9]  # at-least-once shipping: the same rows again, later
    return pd.concat([log, replayed], ignore_index=True)


@pytest.mark.parametrize(("fmt", "partitioned"), [("parquet", True), ("jsonl", False)])
def test_a_few_accounts_rows_are_the_full_reads(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
    fmt: str,
    partitioned: bool,
) -> None:
    log = write_log(_messy(make_requests), tmp_path / "log", fmt, partitioned=partitioned)
    wanted = ["acct-1", "acct-3", "nobody"]
    rows_read: list[int] = []
    fast = _concat(iter_account_rows(log, wanted, seen=lambda n, _columns: rows_read.append(n)))
    expected = _full_read(log, wanted)
    assert len(expected) and set(expected[S.ACCOUNT_ID]) == {"acct-1", "acct-3"}
    pd.testing.assert_frame_equal(fast, expected)
    assert sum(rows_read) == 600 + 67  # every row read is told of, anyone's
    # a window: the rows outside it are dropped by the same rules
    start, end = pd.Timestamp("2026-03-02").date(), pd.Timestamp("2026-03-02").date()
    windowed = _concat(iter_account_rows(log, wanted, start=start, end=end))
    pd.testing.assert_frame_equal(windowed, _full_read(log, wanted, start=start, end=end))


def test_a_request_id_shared_with_another_account_reads_the_log_whole(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """acct-2's row carries an id acct-0 used earlier: the full read drops it as a
    duplicate, which screening acct-2's rows alone cannot know."""
    log = make_requests(200, seed=5)
    first_other = log.index[log[S.ACCOUNT_ID] == "acct-0"][0]
    later_mine = log.index[(log[S.ACCOUNT_ID] == "acct-2") & (log.index > first_other)][0]
    log.loc[later_mine, S.REQUEST_ID] = log.loc[first_other, S.REQUEST_ID]
    path = write_log(log, tmp_path, "parquet")
    with pytest.raises(SharedRequestIds):
        _concat(iter_account_rows(path, ["acct-2"]))
    rows = read_account_rows(path, ["acct-2"], _concat)
    expected = _full_read(path, ["acct-2"])
    pd.testing.assert_frame_equal(rows, expected)
    assert log.loc[later_mine, S.REQUEST_ID] not in set(rows[S.REQUEST_ID])
    assert len(rows) == (log[S.ACCOUNT_ID] == "acct-2").sum() - 1


def test_no_account_reads_nothing_but_is_told_of_every_row(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
) -> None:
    path = write_log(make_requests(50), tmp_path, "csv")
    columns: list[set[str]] = []
    rows = read_account_rows(path, [], _concat, seen=lambda _n, c: columns.append(set(c)))
    assert rows.empty
    assert columns and S.PROMPT in columns[0]


def test_json_lines_without_the_account_or_id_key_are_skipped_as_the_full_read_skips_them(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A chunk of JSON lines may lack a required key altogether (every row quarantined
    by the full read): no column to look accounts up in, and no error."""
    log = make_requests(40, seed=7)
    path = write_log(log, tmp_path, "jsonl")
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    broken = [
        json.dumps({k: v for k, v in json.loads(line).items() if k != drop})
        for line, drop in zip(lines[:8], [S.ACCOUNT_ID] * 4 + [S.REQUEST_ID] * 4, strict=True)
    ]
    path.write_text("\n".join(broken + lines[8:]) + "\n", encoding="utf-8")
    config = Config(chunk_rows=4)  # the first two chunks lack a required key entirely
    wanted = ["acct-0", "acct-4"]
    fast = _concat(iter_account_rows(path, wanted, config=config))
    pd.testing.assert_frame_equal(fast, _full_read(path, wanted, config=config))
    assert len(fast) == log.iloc[8:][S.ACCOUNT_ID].isin(wanted).sum()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_slivers_of_many_chunks_are_screened_together_and_read_the_same(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
    fmt: str,
) -> None:
    """The wanted rows of consecutive chunks are gathered before screening (per-call
    overhead, not rows, was the cost): the rows, their order and the dedupe verdicts are
    the full read's, and far fewer chunks come out than were read."""
    log = write_log(_messy(make_requests), tmp_path / "log", fmt)
    config = Config(chunk_rows=16)
    wanted = ["acct-1", "acct-3"]
    read: list[int] = []
    chunks = list(iter_account_rows(log, wanted, config=config, seen=lambda n, _c: read.append(n)))
    pd.testing.assert_frame_equal(_concat(chunks), _full_read(log, wanted, config=config))
    if len(read) > 1:  # the CSV reader cuts by bytes: one chunk here
        # a third of the rows are wanted: about three chunks' slivers fill one
        assert 2 * len(chunks) <= len(read)
        # gathered up to one chunk's worth, plus the sliver that filled it
        assert all(len(c) <= 2 * config.chunk_rows for c in chunks)


def test_only_a_text_typed_parquet_prompt_column_may_be_left_unread(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A prompt typed as text cannot break a rule, so leaving it unread keeps every
    verdict; numbers in a prompt column are quarantined ('not text'), and CSV and JSON
    lines are parsed whole: those are always read."""
    frame = make_requests(30)
    typed = write_log(frame, tmp_path / "text", "parquet")
    numbers = write_log(frame.assign(**{S.PROMPT: 7}), tmp_path / "numbers", "parquet")
    absent = write_log(frame.drop(columns=[S.PROMPT]), tmp_path / "absent", "parquet")
    lines = write_log(frame, tmp_path / "lines", "jsonl")
    verdicts = {
        name: read_without_text(list_log(path).files[0], 10, S.PROMPT)[0] == (S.PROMPT,)
        for name, path in (
            ("text", typed),
            ("numbers", numbers),
            ("absent", absent),
            ("lines", lines),
        )
    }
    assert verdicts == {"text": True, "numbers": False, "absent": False, "lines": False}
