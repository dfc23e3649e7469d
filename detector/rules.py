"""Suppression rules: which flagged accounts an analyst's standing rule keeps quiet.

A rule names a field and a value -- an account, a case, an org, a payment card
(fingerprint), or a pattern on the user agent or the prompt template -- with a reason
and an expiry (required: a rule without an end outlives the reason for it). The
nightly job applies the active rules when it selects tonight's alerts: a covered
account is still scored and flagged in ``scores.csv``, but not alerted.

Patterns are analyst input matched against attacker-controlled text, so:

* a pattern is at most :attr:`Config.max_rule_pattern_chars` characters and must
  compile both as a Python :mod:`re` pattern (checked when the rule is added) and as
  RE2 (the engine that evaluates it, through pyarrow): RE2 runs in linear time, so no
  pattern can make a hostile user agent or prompt stall the job (no catastrophic
  backtracking), and it is vectorised over Arrow arrays (no Python loop per request);
* a user-agent rule covers an account when **every** user agent it sent matches, and
  a template rule when **every** prompt's opening (the first
  :attr:`Config.text_head_chars` characters, where templates live) matches -- an
  attacker who adds one request with a suppressed user agent gains nothing;
* values never reach SQL text (the store binds them) nor a shell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.errors import UserError

__all__ = [
    "EXACT_FIELDS",
    "PATTERN_FIELDS",
    "RULE_FIELDS",
    "check_rule",
    "covered_by_rules",
    "pattern_coverage",
]

RULE_FIELDS: Final[tuple[str, ...]] = ("account", "case", "org", "card", "user_agent", "template")
"""What a rule can name (the ``rules.field`` column's allowed values)."""
PATTERN_FIELDS: Final[tuple[str, ...]] = ("user_agent", "template")
"""Fields whose value is a regular expression rather than an exact value."""
EXACT_FIELDS: Final[dict[str, str]] = {
    "account": S.ACCOUNT_ID,
    "case": S.CASE_ID,
    "org": S.ORG_ID,
    "card": S.PAYMENT_FINGERPRINT,
}
"""Exact-value fields and the score/account-table column each is compared with."""
LOG_COLUMN: Final[dict[str, str]] = {"user_agent": S.USER_AGENT, "template": S.PROMPT}

RULE_ID: Final = "rule_id"
FIELD: Final = "field"
VALUE: Final = "value"


def check_rule(field: str, value: str, config: Config = DEFAULT) -> str:
    """Validate a rule's field and value; return the value. Raises :class:`UserError`."""
    if field not in RULE_FIELDS:
        raise UserError(f"rule field {field!r} is not one of {', '.join(RULE_FIELDS)}")
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"a {field} rule needs a non-empty value")
    if field not in PATTERN_FIELDS:
        return value
    limit = config.max_rule_pattern_chars
    if len(value) > limit:
        raise UserError(f"{field} pattern is {len(value)} characters; at most {limit} are allowed")
    try:
        re.compile(value)
    except re.error as exc:
        raise UserError(f"{field} pattern {value!r} is not a regular expression ({exc})") from None
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), value)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserError(
            f"{field} pattern {value!r} uses a construct RE2 does not run (backreferences, "
            f"lookaround): {str(exc).splitlines()[0]}"
        ) from None
    return value


def pattern_coverage(
    rows: pd.DataFrame, field: str, pattern: str, config: Config = DEFAULT
) -> pd.Index:
    """Accounts all of whose ``rows`` (``account_id`` and the field's log column) match.

    Missing values count as not matching. Evaluated by RE2 over whole Arrow arrays.
    """
    column = LOG_COLUMN[field]
    if rows.empty or column not in rows.columns:
        return pd.Index([], dtype=object)
    text = pa.array(rows[column].astype(object).where(rows[column].notna(), None), pa.string())
    if field == "template":
        text = pc.utf8_slice_codeunits(text, 0, config.text_head_chars)
    hit = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    matched = pd.Series(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    every = matched.groupby(rows[S.ACCOUNT_ID].to_numpy()).all()
    return every.index[every.to_numpy()]


def covered_by_rules(
    candidates: pd.DataFrame,
    rules: pd.DataFrame,
    accounts: pd.DataFrame | None,
    log_rows: Callable[[list[str]], pd.DataFrame] | None,
    config: Config = DEFAULT,
) -> pd.Series:
    """The first active rule covering each candidate account (0 when none).

    ``candidates`` has ``account_id`` and ``case_id`` (tonight's would-be alerts);
    ``rules`` has ``rule_id, field, value``; ``accounts`` is the account table indexed
    by ``account_id`` (org and card rules need it); ``log_rows(ids)`` returns those
    accounts' requests (pattern rules need them; called at most once, only when a
    pattern rule is active). Returns a Series of rule ids indexed like ``candidates``.
    """
    out = pd.Series(0, index=candidates.index, dtype="int64")
    if candidates.empty or rules.empty:
        return out
    ids = candidates[S.ACCOUNT_ID].astype(str)
    columns = {S.ACCOUNT_ID: ids, S.CASE_ID: candidates[S.CASE_ID].astype(str)}
    if accounts is not None:
        for column in (S.ORG_ID, S.PAYMENT_FINGERPRINT):
            if column in accounts.columns:
                columns[column] = ids.map(accounts[column]).fillna("").astype(str)
    patterns = rules[rules[FIELD].isin(PATTERN_FIELDS)]
    rows = log_rows(ids.tolist()) if (log_rows is not None and not patterns.empty) else None
    for rule in rules.sort_values(RULE_ID).to_dict("records"):  # one per active rule
        field, value = str(rule[FIELD]), str(rule[VALUE])
        if field in EXACT_FIELDS:
            column = columns.get(EXACT_FIELDS[field])
            hit = column == value if column is not None else pd.Series(False, index=out.index)
        elif rows is not None:
            hit = ids.isin(pattern_coverage(rows, field, value, config))
        else:
            continue
        out = out.where(~(hit.to_numpy() & (out.to_numpy() == 0)), int(rule[RULE_ID]))
    return out
