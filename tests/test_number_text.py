"""Numbers written as text (CSV cells, JSON strings, account-table cells) never reach an
exponent pandas' parser cannot hold.

pandas 2.3.3's ``to_numeric`` keeps a number's exponent in 32 bits: ``1e4294967296``
comes back as 1.0 and ``1e2147483648`` crashes the process (SIGSEGV). Found by feeding
random CSV bytes to ``read_log`` in child processes; the log's token counts, ``max_tokens``
and ``temperature`` are written from what clients send.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector import schema as S
from detector.ingest.validate import numbers_from_text

HUGE = [
    "1e2147483648",  # crashed the process
    "1e4294967296",  # read as 1.0
    "1E+0000002147483648",
    "-1e-99999999999",
    "2.5e100000",
    "1e4009999999999999999999999999999999999999999",
]


def test_an_exponent_beyond_any_float_is_not_a_number() -> None:
    got = numbers_from_text(pd.Series(HUGE, dtype=object))
    assert got.isna().all()
    assert numbers_from_text(pd.Series(["1e+00005", "1e99999"], dtype=object)).tolist()[0] == 1e5


def test_text_arrow_cannot_hold_is_screened_value_by_value() -> None:
    """A JSON string may hold a lone surrogate (``"\\ud800"``), which no Arrow string
    can: the screen still runs, and the value is not a number."""
    got = numbers_from_text(pd.Series(["\ud800", "1e2147483648", "5", None, 7], dtype=object))
    assert np.array_equal(got.to_numpy(), [np.nan, np.nan, 5.0, np.nan, 7.0], equal_nan=True)


_number_text = st.one_of(
    st.from_regex(r"\A[ ]?[+-]?[0-9]{0,12}(\.[0-9]{0,6})?([eE][+-]?0*[0-9]{1,5})?[ ]?\Z"),
    st.text(max_size=12),
    st.none(),
)


@given(values=st.lists(_number_text, max_size=30))
def test_every_other_value_reads_as_pandas_reads_it(values: list[str | None]) -> None:
    """Text without such an exponent (numbers, words, blanks, None) and Arrow-backed
    text give exactly what ``pd.to_numeric(errors="coerce")`` gives."""
    series = pd.Series(values, dtype=object)
    expected = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    for given_as in (series, series.astype("string[pyarrow]")):
        got = numbers_from_text(given_as).to_numpy()
        assert np.array_equal(got, expected, equal_nan=True), (values, got, expected)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_log_row_with_such_a_number_is_quarantined_not_a_crash(
    tmp_path: Path,
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    fmt: str,
) -> None:
    """Read in a child process, so that the old crash fails this test instead of killing
    the test run."""
    df = make_requests(40).astype({S.INPUT_TOKENS: object, S.OUTPUT_TOKENS: object})
    df.loc[3, S.INPUT_TOKENS] = "1e2147483648"
    df.loc[5, S.OUTPUT_TOKENS] = "1e4294967296"
    log = write_log(df, tmp_path, fmt)
    code = (
        "import json, sys; from pathlib import Path; from detector.ingest import read_log; "
        "_, r = read_log(Path(sys.argv[1]), quarantine_path=Path(sys.argv[2])); "
        "print(json.dumps([r.read, r.kept, r.quarantined, dict(r.reasons)]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(log), str(tmp_path / "q.csv")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    read, kept, quarantined, reasons = json.loads(run.stdout)
    assert (read, kept, quarantined) == (40, 38, 2)
    assert reasons == {
        S.REASON_NOT_NUMBER.format(column=S.INPUT_TOKENS): 1,
        S.REASON_NOT_NUMBER.format(column=S.OUTPUT_TOKENS): 1,
    }
