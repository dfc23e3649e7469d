"""Reasons: why an account scored as it did.

Each reason names one feature, its value in human units, the account's percentile in
the *training* population (among the account's peers), and — for the accounts that
matter most — how much that feature's splits shortened the account's isolation paths
in the forest. The package holds one concept per module:

* :mod:`~detector.explain.eligibility` — percentiles among peers, and which features
  may be cited: only those on the suspicious side of their ``direction`` and past
  :data:`ELIGIBLE_PERCENTILE` there, so an explanation never says "flagged because it
  is unusually *diverse*" for a feature where only low diversity is suspicious;
* :mod:`~detector.explain.attribution` — forest attribution (:func:`forest_contributions`):
  per feature, the tree levels its splits saved; the contributions of all features sum
  exactly to ``c(ψ) − E[h(x)]``. It costs two to three times scoring, so
  :func:`~detector.scored.score_frame` attributes the flagged accounts and
  the top :data:`DEFAULT_EXPLAIN_TOP` ranked ones, and gives every other account a
  cheap reason: its most extreme eligible percentiles;
* :mod:`~detector.explain.reasons` — choosing the reasons and putting them in words
  (:func:`explain_frame`, :func:`reasons_strings`);
* :mod:`~detector.explain.render` — the sentences and value texts of many reasons at
  once, each distinct one worded once;
* :mod:`~detector.explain.formatting` — values and percentiles in human units.

Every public name is re-exported here (``X as X`` for those beyond ``__all__``), so
``from detector.explain import X`` and ``explain.X`` keep working.
"""

from __future__ import annotations

from detector.explain.attribution import (
    CHUNK_ROWS,
    average_path_length,
    contributions,
    forest_contributions,
)
from detector.explain.eligibility import ELIGIBLE_PERCENTILE, percentiles
from detector.explain.formatting import (
    BARE_IN_SENTENCE,
    UNIT_FORMATTERS,
    format_percentile,
    format_value,
)
from detector.explain.reasons import (
    CONTRIBUTION,
    DEFAULT_EXPLAIN_TOP,
    DIRECTION,
    EXPLAIN_COLUMNS,
    FEATURE,
    NO_REASON,
    PERCENTILE,
    REASON_RANK,
    SENTENCE,
    VALUE,
    VALUE_TEXT,
    explain_frame,
    reason_strings_for_values,
    reasons_strings,
)
from detector.explain.templates import reason_sentence

__all__ = [
    "BARE_IN_SENTENCE",
    "DEFAULT_EXPLAIN_TOP",
    "ELIGIBLE_PERCENTILE",
    "EXPLAIN_COLUMNS",
    "NO_REASON",
    "UNIT_FORMATTERS",
    "explain_frame",
    "forest_contributions",
    "format_percentile",
    "format_value",
    "percentiles",
    "reasons_strings",
]
