"""Random bytes as a log: every file is read with its rows accounted for, or refused with
an :class:`~detector.errors.UserError` -- never another exception, never a crashed process.

The readers hand a log's text to third-party parsers (pandas, Arrow). Two of them have
crashed the process on a single short value: pandas' number parser on ``1e2147483648``
(screened since, :func:`detector.ingest.validate.numbers_from_text`) and Arrow's JSON
reader on a ``null`` line (not used). A crash is a signal, not an exception: it cannot be
caught in the test process, so the files are read in a child process that says which
file it is on before each. The inputs are drawn from a fixed seed, so a failure is the
same failure on every run; the atoms include the values that have crashed a parser.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

HEADER = (
    b"request_id,account_id,timestamp,model,input_tokens,output_tokens,max_tokens,"
    b"temperature,status,prompt,user_agent,client_ip\n"
)
ATOMS = [
    b'"', b'""', b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf",
    b"null", b"NaN", b"-0", b"1e400", b"1e2147483648", b"1e4294967296", b"9" * 40,
    b"2026-11-01T00:00:00Z", b"0000-12-31T23:59:59Z", b"acct", b"=1+1", b" ", b"\t",
    b"\\", b"\\ud800", b"a" * 3000, b'"a\nb"', b"\x1c", b"\xe2\x80\xa8", b"{", b"}",
    b"[", b"]", b":", b"true", b"ok", b"7",
]  # fmt: skip
JSON_STARTS = [
    b'{"request_id":"r', b'{"account_id":"a', b'{"timestamp":"2026-11-0', b'{"input_tokens":',
    b'{"input_tokens":"1e2147483648"', b"null", b"[", b"{", b'"', b"1e400", b"true",
]  # fmt: skip
FILES = 120
CHILD = """
import json, sys
from pathlib import Path
from detector.errors import UserError
from detector.ingest import read_log
out = []
for name in sys.argv[1:]:
    print(name, flush=True)
    path = Path(name)
    try:
        _, r = read_log(path, quarantine_path=path.with_name(path.name + ".q.csv"))
        out.append([name, "read", r.read, r.kept, r.duplicates, r.quarantined])
    except UserError:
        out.append([name, "refused"])
    except Exception as exc:
        out.append([name, "exception", type(exc).__name__ + ": " + str(exc)[:200]])
print("RESULT " + json.dumps(out), flush=True)
"""


def _field(r: random.Random) -> bytes:
    return b"".join(r.choice(ATOMS) for _ in range(r.randint(0, 4)))


def _csv(r: random.Random) -> bytes:
    rows = [HEADER if r.random() < 0.9 else _field(r) + b"\n"]
    for _ in range(r.randint(0, 40)):
        rows.append(b",".join(_field(r) for _ in range(r.randint(1, 14))) + b"\n")
    return b"".join(rows)


def _jsonl(r: random.Random) -> bytes:
    good = (
        b'{"request_id":"r%d","account_id":"a","timestamp":"2026-11-01T00:00:00Z",'
        b'"model":"m","input_tokens":%s,"output_tokens":1,"status":"ok"}'
    )
    lines = []
    for i in range(r.randint(0, 30)):
        if r.random() < 0.4:
            lines.append(good % (i, r.choice([b"1", b'"1e2147483648"', b'"7"', b"1e400", b"null"])))
        else:
            lines.append(r.choice(JSON_STARTS) + _field(r))
    return b"\n".join(lines)


def test_random_bytes_are_read_or_refused_never_a_crash(tmp_path: Path) -> None:
    r = random.Random(20261208)
    paths = []
    for i in range(FILES):
        fmt = "csv" if i % 2 else "jsonl"
        path = tmp_path / f"f{i}.{fmt}"
        path.write_bytes(_csv(r) if fmt == "csv" else _jsonl(r))
        paths.append(str(path))
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *paths],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    last = run.stdout.splitlines()[-1] if run.stdout else ""
    assert run.returncode == 0, f"the reader died (signal {-run.returncode}) on {last}"
    results = json.loads(last.removeprefix("RESULT "))
    unexpected = [res for res in results if res[1] == "exception"]
    assert unexpected == []
    read = [res for res in results if res[1] == "read"]
    assert len(read) > FILES // 4  # the files are not all refused: the rows reach the parsers
    for _, _, n, kept, duplicates, quarantined in read:
        assert n == kept + duplicates + quarantined
