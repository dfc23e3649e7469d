"""Which accounts ``detector train`` fits the forest without (``--exclude`` and confirmed
extraction among the verdicts), and the one-line refusal of an exclusion list it cannot
use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from detector import schema as S
from detector.cli.train_labels import excluded_accounts
from detector.errors import UserError
from detector.ingest import IngestError
from tests.cli_run import refusal_line, run


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_an_exclusion_list_without_labels_leaves_out_every_account_it_names(
    tmp_path: Path,
) -> None:
    ids = pd.DataFrame({S.ACCOUNT_ID: ["a", "b", "=HYPERLINK(1)", "00042"]})
    assert excluded_accounts(_csv(tmp_path / "x.csv", ids), None) == {
        "a",
        "b",
        "=HYPERLINK(1)",
        "00042",  # read as text: an id is never a number
    }


def test_a_labelled_list_leaves_out_its_extraction_rows_and_the_verdicts_confirmed_ones(
    tmp_path: Path,
) -> None:
    labels = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "b", "c"],
            S.LABEL: [S.LABEL_EXTRACTION, S.LABEL_BENIGN, S.LABEL_EXTRACTION],
        }
    )
    verdicts = pd.DataFrame(
        {S.ACCOUNT_ID: ["d", "e"], S.LABEL: [S.LABEL_EXTRACTION, S.LABEL_BENIGN]}
    )
    path = _csv(tmp_path / "labels.csv", labels)
    assert excluded_accounts(path, None) == {"a", "c"}
    assert excluded_accounts(path, verdicts) == {"a", "c", "d"}
    assert excluded_accounts(None, verdicts) == {"d"}
    assert excluded_accounts(None, None) == set()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe\x00 not text", "cannot read"),
        (b"", "cannot read"),
        (b"account_id,label\na,Extraction\nb,benign\n", "1 row(s) not 'benign' or 'extraction'"),
        (b"account_id,label\na,extraction\na,benign\n", "a"),
    ],
)
def test_an_exclusion_list_it_cannot_use_is_refused_in_one_line(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    """Bytes that are not CSV text, an empty file, a label spelt otherwise (which would
    leave that account in the fit without a word) and an account labelled both ways."""
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises((UserError, IngestError)) as err:
        excluded_accounts(path, None)
    line = str(err.value)
    assert "\n" not in line and str(path) in line and needle in line


def test_an_exclusion_list_without_account_ids_is_refused_naming_it(
    tmp_path: Path,
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
) -> None:
    bad = _csv(tmp_path / "ids.csv", pd.DataFrame({"account": ["a"]}))
    with pytest.raises(UserError, match=S.ACCOUNT_ID):
        excluded_accounts(bad, None)
    log = write_log(make_requests(60), tmp_path / "log", "parquet")
    result = run("train", log, "--model", tmp_path / "m.bundle", "--exclude", bad)
    refusal_line(result, bad, S.ACCOUNT_ID)
    assert not (tmp_path / "m.bundle").exists()
