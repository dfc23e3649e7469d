"""The contract as data: column names, dtypes and allowed values.

This module is the one home of every contract column name (``../shared/CONTRACT.md``
section 1). Other modules import the constants below instead of spelling column
names as string literals, so a contract change is a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# --- request log (contract 1.1) -------------------------------------------------------

PARTITION_PREFIX: Final = "date="
"""A hive partition directory of the log is ``date=YYYY-MM-DD``; a log directory holding
one is read recursively (:mod:`detector.ingest.discover`), and nothing else may be
created inside it (:mod:`detector.output_paths`)."""

REQUEST_ID: Final = "request_id"
ACCOUNT_ID: Final = "account_id"
TIMESTAMP: Final = "timestamp"
MODEL: Final = "model"
ENDPOINT: Final = "endpoint"
INPUT_TOKENS: Final = "input_tokens"
OUTPUT_TOKENS: Final = "output_tokens"
MAX_TOKENS: Final = "max_tokens"
TEMPERATURE: Final = "temperature"
STATUS: Final = "status"
PROMPT: Final = "prompt"
SYSTEM_PROMPT_HASH: Final = "system_prompt_hash"
CONVERSATION_ID: Final = "conversation_id"
TURN_INDEX: Final = "turn_index"
CLIENT_IP: Final = "client_ip"
USER_AGENT: Final = "user_agent"
LOGPROBS: Final = "logprobs"
THINKING: Final = "thinking"

Kind = Literal["string", "timestamp", "int", "float", "bool"]


@dataclass(frozen=True)
class Column:
    """One contract column: its name, logical kind, whether it is required, and bounds."""

    name: str
    kind: Kind
    required: bool
    # inclusive lower bound for numeric columns; ``strictly_positive`` makes it exclusive
    minimum: float | None = None
    strictly_positive: bool = False


REQUEST_COLUMNS: Final[tuple[Column, ...]] = (
    Column(REQUEST_ID, "string", True),
    Column(ACCOUNT_ID, "string", True),
    Column(TIMESTAMP, "timestamp", True),
    Column(MODEL, "string", True),
    Column(ENDPOINT, "string", False),
    Column(INPUT_TOKENS, "int", True, minimum=0),
    Column(OUTPUT_TOKENS, "int", True, minimum=0),
    Column(MAX_TOKENS, "int", False, minimum=0, strictly_positive=True),
    Column(TEMPERATURE, "float", False, minimum=0),
    Column(STATUS, "string", True),
    Column(PROMPT, "string", False),
    Column(SYSTEM_PROMPT_HASH, "string", False),
    Column(CONVERSATION_ID, "string", False),
    Column(TURN_INDEX, "int", False, minimum=0),
    Column(CLIENT_IP, "string", False),
    Column(USER_AGENT, "string", False),
    Column(LOGPROBS, "bool", False),
    Column(THINKING, "bool", False),
)
COLUMNS_BY_NAME: Final = {c.name: c for c in REQUEST_COLUMNS}
REQUIRED: Final[tuple[str, ...]] = tuple(c.name for c in REQUEST_COLUMNS if c.required)
OPTIONAL: Final[tuple[str, ...]] = tuple(c.name for c in REQUEST_COLUMNS if not c.required)
ALL_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in REQUEST_COLUMNS)

STATUS_OK: Final = "ok"
STATUS_REFUSED: Final = "refused"
STATUS_ERROR: Final = "error"
STATUS_RATE_LIMITED: Final = "rate_limited"
STATUSES: Final[tuple[str, ...]] = (STATUS_OK, STATUS_REFUSED, STATUS_ERROR, STATUS_RATE_LIMITED)

# --- account table (contract 1.2) -----------------------------------------------------

CREATED_AT: Final = "created_at"
PLAN: Final = "plan"
COUNTRY: Final = "country"
PAYMENT_FINGERPRINT: Final = "payment_fingerprint"
ORG_ID: Final = "org_id"
ACCOUNT_COLUMNS: Final[tuple[str, ...]] = (
    ACCOUNT_ID,
    CREATED_AT,
    PLAN,
    COUNTRY,
    PAYMENT_FINGERPRINT,
    ORG_ID,
)
IDLE_DAYS: Final = "idle_days"
"""An extra, optional account-table column (not in the contract): how many days before
the log's first day the account is known to have sent no request (a lower bound; empty
when unknown). The nightly job fills it from the runs it remembers
(:mod:`detector.nightly.idle`); an account table exported with it serves ``score`` too."""
ACCOUNT_HISTORY_COLUMNS: Final[tuple[str, ...]] = (IDLE_DAYS,)
"""Account-table columns about the account's past that the contract does not name."""

# --- labels (contract 1.3) ------------------------------------------------------------

LABEL: Final = "label"
SCENARIO: Final = "scenario"
LABEL_BENIGN: Final = "benign"
LABEL_EXTRACTION: Final = "extraction"
LABELS: Final[tuple[str, ...]] = (LABEL_BENIGN, LABEL_EXTRACTION)

# --- scores (contract 3.1) ------------------------------------------------------------

SCORE: Final = "score"
RANK: Final = "rank"
FLAGGED: Final = "flagged"
CLUSTER_ID: Final = "cluster_id"
REASONS: Final = "reasons"
SCORE_COLUMNS: Final[tuple[str, ...]] = (ACCOUNT_ID, SCORE, RANK, FLAGGED, CLUSTER_ID, REASONS)
# extra columns the project writes after the contract's six: the case first
CASE_ID: Final = "case_id"
CASE_SCORE: Final = "case_score"
BAND: Final = "band"
SUPPRESSED: Final = "suppressed"
UNSUPERVISED_SCORE: Final = "unsupervised_score"
"""With a learned layer: the isolation forest's own score, beside the learned ``score``."""
SUBSTREAM: Final = "substream"
"""The sub-stream that gave the account its score ("" when its own; detector.substreams)."""
SUBSTREAM_SHARE: Final = "substream_share"
"""That sub-stream's share of the account's requests (0 when none)."""
REASONS_SEPARATOR: Final = "; "

# cluster-table (and clusters.json) fields added when a cluster is scored (quiet_clusters)
CLUSTER_BEHAVIOUR: Final = "behaviour"
"""The cluster's median member behaviour score (detector.behaviour)."""
SCORED_AS_CLUSTER: Final = "scored_as_cluster"
"""Whether the cluster's members carried its cluster features into the model."""
CLUSTER_RIDERS: Final = "riders"
"""Members of a cluster scored as one that behave unlike it, scored as unlinked."""
RIDES_ALONG: Final = "rides_along"
"""clusters.json, per member: it is one of its cluster's riders."""

# --- quarantine -----------------------------------------------------------------------

QUARANTINE_REASON: Final = "quarantine_reason"
SOURCE_FILE: Final = "source_file"

# --- quarantine reasons (the ``quarantine_reason`` of a quarantined row) ---------------
# Fixed texts, so counts group by reason; ``{column}`` is filled with the column name.

REASON_INVALID_JSON: Final = "invalid JSON line"
REASON_NOT_OBJECT: Final = "JSON line is not an object"
REASON_INVALID_UTF8: Final = "invalid UTF-8"
REASON_FIELD_COUNT: Final = "wrong number of CSV fields"
REASON_DUPLICATE_KEY: Final = "duplicate key in JSON object: {column}"
"""A JSON line naming a contract column twice: a decoder keeps one value silently."""
REASON_FAR_FROM_PARTITION: Final = "timestamp far from its date= partition"
REASON_ISOLATED: Final = (
    "timestamp isolated from the rest of the log: {days} empty day(s) between it and the "
    "log's span {span}; pass --start/--end to choose the window"
)
REASON_ID_REUSED: Final = "request_id already used by another account"
"""A re-delivery repeats the same account's request; another account's row with a kept
id is a different request, never silently dropped as a duplicate."""
REASON_MISSING: Final = "missing required value: {column}"
REASON_NOT_TEXT: Final = "not text: {column}"
REASON_UNKNOWN_STATUS: Final = "unknown status (expected ok, refused, error or rate_limited)"
REASON_BAD_TIMESTAMP: Final = "unparseable timestamp: {column}"
REASON_TIMESTAMP_OUT_OF_RANGE: Final = (
    "timestamp out of range (1677-09-21T00:12:44Z..2262-04-11T23:47:16Z): {column}"
)
"""A well-formed instant the detector cannot hold (year 9999, year 1): a bad clock or a
placeholder upstream, not a bad format. The bounds are those of nanosecond timestamps
(``pandas.Timestamp.min`` and ``max``, to the second)."""
REASON_NOT_NUMBER: Final = "not a number: {column}"
REASON_NOT_INTEGER: Final = "not an integer: {column}"
REASON_NOT_POSITIVE: Final = "must be > 0: {column}"
REASON_NEGATIVE: Final = "negative value: {column}"
REASON_NOT_FINITE: Final = "not finite: {column}"
REASON_OUT_OF_RANGE: Final = "out of range: {column}"
REASON_NOT_BOOLEAN: Final = "not a boolean: {column}"
