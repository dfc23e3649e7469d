"""Tests for detector.safe: CSV injection, atomic writes, HTML and terminal escaping."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from detector.safe import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    html_text,
    neutralise_csv_cell,
    neutralise_csv_frame,
    restore_csv_cell,
    restore_csv_series,
    safe_terminal,
    truncate,
    write_csv,
    write_csv_to,
)
from detector.schema import ACCOUNT_ID, PROMPT, SCORE

# --- CSV injection ----------------------------------------------------------------------

DANGEROUS = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1:A2)",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","click")',
    "\t=1",
    "\r=1",
    "\t",
    "\r",
    "\tplain",
    "\rplain",
    " =1",
    "   +1",
    "\n-1",
    "\x00@x",
    "\u00a0=1",  # no-break space before the formula
    "\uff1dSUM(A1)",  # full-width equals sign
    "-5 apples",
    "'=1",  # already starts with the prefix: escaped again, so the rule can be undone
    "'plain",
]
HARMLESS = ["abc", "", "a=b", "1-2", "x\t", "5", "plain text - with dash", "foo@bar", "a'b"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_dangerous_first_character_is_neutralised(value: str) -> None:
    assert neutralise_csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_cells_unchanged(value: str) -> None:
    assert neutralise_csv_cell(value) == value


@given(st.text())
def test_neutralised_cell_never_starts_a_formula(value: str) -> None:
    out = neutralise_csv_cell(value)
    assert out in (value, "'" + value)
    visible = out.lstrip("".join(chr(c) for c in range(0x20)) + " \u00a0\u3000\x7f")
    assert out[:1] not in ("\t", "\r")
    assert visible[:1] not in tuple("=+-@\uff1d\uff0b\uff0d\uff20")


@given(st.text())
def test_neutralisation_is_undone_exactly(value: str) -> None:
    assert restore_csv_cell(neutralise_csv_cell(value)) == value


@given(st.lists(st.text(), max_size=20))
def test_restore_series_is_the_cell_rule(values: list[str]) -> None:
    shown = pd.Series([neutralise_csv_cell(v) for v in values], dtype=object)
    assert restore_csv_series(shown).tolist() == values


def test_a_written_csv_reads_back_exactly_but_cr_and_nul(tmp_path: Path) -> None:
    values = ["=1+1", "'q", "''", "-x", "@x", "\t=x", 'a "b", c', "l\nf", "ü🙂", "x" * 3000]
    out = tmp_path / "ids.csv"
    write_csv(pd.DataFrame({ACCOUNT_ID: values, SCORE: range(len(values))}), out)
    back = pd.read_csv(out, dtype={ACCOUNT_ID: str}, keep_default_na=False)
    assert restore_csv_series(back[ACCOUNT_ID]).tolist() == values


def test_frame_neutralises_text_and_leaves_numbers() -> None:
    df = pd.DataFrame(
        {
            ACCOUNT_ID: ["=evil", "ok", "@x", None],
            PROMPT: ["-5 apples", "  +1", "fine", "\t=1"],
            SCORE: [-5.0, 1.5, -0.25, 3.0],
            "count": [-5, 1, 2, 3],
            "flag": [True, False, True, False],
        }
    )
    before = df.copy()
    out = neutralise_csv_frame(df)
    assert out[ACCOUNT_ID].tolist() == ["'=evil", "ok", "'@x", None]
    assert out[PROMPT].tolist() == ["'-5 apples", "'  +1", "fine", "'\t=1"]
    # numeric and boolean columns are untouched: a negative number stays a number
    pd.testing.assert_series_equal(out[SCORE], df[SCORE])
    pd.testing.assert_series_equal(out["count"], df["count"])
    pd.testing.assert_series_equal(out["flag"], df["flag"])
    pd.testing.assert_frame_equal(df, before)  # input not mutated


def test_frame_string_categorical_and_mixed_columns() -> None:
    df = pd.DataFrame(
        {
            "s": pd.array(["=1", None, "ok"], dtype="string"),
            "c": pd.Categorical(["-a", "b", "-a"]),
            "m": ["-x", -2, None],
            "b": pd.Series([True, None, False], dtype=object),
        }
    )
    out = neutralise_csv_frame(df)
    assert out["s"].dtype == df["s"].dtype
    assert out["s"].tolist()[0] == "'=1" and out["s"].isna().tolist() == [False, True, False]
    assert out["c"].tolist() == ["'-a", "b", "'-a"]
    assert out["m"].tolist() == ["'-x", -2, None]  # the int in a mixed column stays an int
    assert out["b"].tolist() == [True, None, False]


def test_frame_columns_limit_and_unknown_column() -> None:
    df = pd.DataFrame({"a": ["=1"], "b": ["=2"]})
    out = neutralise_csv_frame(df, columns=["a"])
    assert out.loc[0, "a"] == "'=1" and out.loc[0, "b"] == "=2"
    with pytest.raises(KeyError):
        neutralise_csv_frame(df, columns=["nope"])


def test_write_csv_neutralises_and_is_deterministic(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            ACCOUNT_ID: ["=1+1", "acc-2"],
            SCORE: [-5.0, 97.125],
            PROMPT: ["line1\nline2", "héllo ✓"],
        }
    )
    a, b = tmp_path / "a.csv", tmp_path / "sub" / "b.csv"
    write_csv(df, a)
    write_csv(df, b)
    data = a.read_bytes()
    assert data == b.read_bytes()
    assert b"\r\n" not in data
    assert data.decode("utf-8").startswith(f"{ACCOUNT_ID},{SCORE},{PROMPT}\n'=1+1,-5.0,")
    back = pd.read_csv(a)
    assert back[SCORE].tolist() == [-5.0, 97.125]
    assert back[ACCOUNT_ID].tolist() == ["'=1+1", "acc-2"]
    assert back[PROMPT].tolist() == ["line1\nline2", "héllo ✓"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "sub"]


def test_write_csv_text_columns(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": ["=1"], "b": ["=2"]})
    path = write_csv(df, tmp_path / "x.csv", text_columns=["a"])
    assert path.read_text() == "a,b\n'=1,=2\n"


# --- atomic writes ----------------------------------------------------------------------


def test_atomic_write_text_and_bytes_exact(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.txt"
    atomic_write_text(target, "a\r\nb\n✓")
    assert target.read_bytes() == "a\r\nb\n✓".encode()
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_no_file_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "scores.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_content_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("new but incomplete")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_atomic_path_temp_is_in_same_directory(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        assert not target.exists()
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and not tmp.exists()


def test_write_csv_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "s.csv")
    assert list(tmp_path.iterdir()) == []


# --- HTML and display -------------------------------------------------------------------


def test_html_text_escapes_markup() -> None:
    assert html_text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    img = html_text("<img src=x onerror=\"alert('x')\">")
    assert "<" not in img and '"' not in img and "'" not in img
    assert img == "&lt;img src=x onerror=&quot;alert(&#x27;x&#x27;)&quot;&gt;"
    assert html_text(5) == "5" and html_text("a & b") == "a &amp; b"


def test_truncate() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("exactly10!", 10) == "exactly10!"
    out = truncate("a" * 50, 10)
    assert out == "a" * 9 + "…" and len(out) == 10
    assert truncate("abc", 1) == "…"
    with pytest.raises(ValueError):
        truncate("abc", 0)


# --- terminal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evil", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[2J\x1b[Hwiped", "wiped"),  # clear screen, cursor home
        ("\x1b[1A\x1b[2Kup", "up"),  # cursor up, erase line
        ("\x1b]0;pwned title\x07text", "text"),  # OSC window title (BEL)
        ("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"),  # OSC 8 hyperlink
        ("\x1b]52;c;cm0gLXJmIH4=\x07x", "x"),  # OSC 52 clipboard write
        ("\x9b31mC1 csi", "C1 csi"),  # 8-bit CSI
        ("\x1bc reset", " reset"),
        ("safe\rOVERWRITE", "safeOVERWRITE"),
        ("abc\x08\x08\x08xyz", "abcxyz"),
        ("bell\x07\x00nul\x7f", "bellnul"),
        ("\u202eevil\u202c", "evil"),  # bidi override
        ("tab\there", "tab here"),
        ("two\nlines", "two lines"),
    ],
)
def test_safe_terminal_strips_escapes(evil: str, shown: str) -> None:
    assert safe_terminal(evil, markup=False) == shown


def test_safe_terminal_keep_newlines() -> None:
    assert safe_terminal("a\r\nb\nc\rd", keep_newlines=True, markup=False) == "a\nb\ncd"
    assert safe_terminal("a\nb", markup=False) == "a b"


def test_safe_terminal_escapes_rich_markup() -> None:
    evil = "[bold red]ALERT[/bold red] [link=http://evil]x[/link] \x1b[5mblink"
    console = Console(file=io.StringIO(), color_system=None, width=200, highlight=False)
    console.print(safe_terminal(evil))
    assert (
        console.file.getvalue() == "[bold red]ALERT[/bold red] [link=http://evil]x[/link] blink\n"
    )


def test_safe_terminal_accepts_non_strings() -> None:
    assert safe_terminal(None, markup=False) == "None"
    assert safe_terminal(12) == "12"


@given(st.text())
def test_safe_terminal_output_has_no_controls(text: str) -> None:
    out = safe_terminal(text, markup=False)
    assert "\x1b" not in out
    assert not any(unicodedata.category(ch) == "Cc" for ch in out)
    kept = safe_terminal(text, keep_newlines=True, markup=False)
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in kept)


def test_write_csv_keeps_a_carriage_return_inside_its_cell(tmp_path: Path) -> None:
    """A bare CR would split an unquoted row and smuggle '=1+2' into a fresh cell."""
    import csv

    out = tmp_path / "cr.csv"
    write_csv(pd.DataFrame({"a": ["x\r=1+2", "ok"], "n": [1, -2]}), out)
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["a", "n"], ["x\n=1+2", "1"], ["ok", "-2"]]


@pytest.mark.parametrize(
    "dtype", [object, "string", pd.ArrowDtype(pa.string()), pd.ArrowDtype(pa.large_string())]
)
def test_text_is_neutralised_whatever_its_backing(tmp_path: Path, dtype: object) -> None:
    """Ingest hands over Arrow-backed strings: they must be escaped like object text."""
    frame = pd.DataFrame({"account_id": pd.Series(["=1+1", "\r=cr", "ok"], dtype=dtype)})
    path = tmp_path / "x.csv"
    write_csv_to(frame, path)
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [row[0] for row in csv.reader(fh)][1:]
    assert cells == ["'=1+1", "'\n=cr", "ok"]
