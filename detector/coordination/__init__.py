"""Cross-account coordination: find groups of accounts run by one operator ("hydra").

Per-account outlier scores miss an extraction job spread thin over many accounts.
What gives such a job away is what its accounts share. This package links accounts by
shared *evidence* and turns each linked group into cluster features that every
member carries into the model, one step per module:

* :mod:`~detector.coordination.evidence` — what each bucket contributes (runs beside
  the features): every account's top templates, wrappers and networks, its hourly
  activity and first request (:func:`bucket_evidence`);
* :mod:`~detector.coordination.tokens` — the evidence as linking tokens: a strong
  token (a shared payment fingerprint or org id) links on its own; weak evidence
  (templates, networks, creation and activation time bins) only in specific pairs of
  two different kinds, weighed by how rare it is (banding as in LSH);
* :mod:`~detector.coordination.schedules` — a token for the users of one template who
  keep one schedule (a campaign behind proxies shares nothing else);
* :mod:`~detector.coordination.linking` — accounts sharing a token joined into
  connected components, the clusters (:func:`link_accounts`; linear in the number of
  tokens, no all-pairs comparison);
* :mod:`~detector.coordination.describe` — the cluster table and what linked each
  cluster, in words.

Sharing alone is not an alert: a benign organisation (one card, one server pool) is
a cluster, but its cluster features (diverse templates, accounts created months
apart, unsynchronised activity) look nothing like a hydra's.

The ``coordination`` feature family — each member's cluster described as features
(size, combined volume, shared template, synchrony, activation and creation spread,
new members) — is :mod:`detector.features.coordination`, registered with the other
families; the linking here calls it once the clusters are known. Every public name of
the former single module is re-exported here.
"""

from __future__ import annotations

from detector.coordination.describe import describe_evidence
from detector.coordination.evidence import MIN_KEY_ROWS, MIN_KEY_SHARE, TOP_KEYS, bucket_evidence
from detector.coordination.linking import (
    Clusters,
    cluster_id_for,
    link_accounts,
    token_components,
)
from detector.coordination.schedules import (
    ALIGN_LINK_MIN,
    CORE_FIT_MIN,
    SYNC_GROUP_MIN,
    SYNC_LINK_MIN,
    synchronised_templates,
)
from detector.coordination.tokens import (
    ACTIVATION_BIN_S,
    ACTIVATION_MIN_OFFSET_S,
    CREATED_BIN_S,
    PAIR_COVERAGE,
    PAIR_MIN_ACCOUNTS,
    PAIR_MIN_LIFT,
    PAIRED_KINDS,
    STRONG_KINDS,
    evidence_tokens,
)
from detector.features.coordination import NEUTRAL_CLUSTER, NEW_ACCOUNT_DAYS, SPECS

# imported by callers from here when this was one module (scripts/bench.py)
from detector.features.synchrony import HourlyActivity as HourlyActivity

__all__ = [
    "ACTIVATION_BIN_S",
    "ACTIVATION_MIN_OFFSET_S",
    "ALIGN_LINK_MIN",
    "CORE_FIT_MIN",
    "CREATED_BIN_S",
    "MIN_KEY_ROWS",
    "MIN_KEY_SHARE",
    "NEUTRAL_CLUSTER",
    "NEW_ACCOUNT_DAYS",
    "PAIRED_KINDS",
    "PAIR_COVERAGE",
    "PAIR_MIN_ACCOUNTS",
    "PAIR_MIN_LIFT",
    "SPECS",
    "STRONG_KINDS",
    "SYNC_GROUP_MIN",
    "SYNC_LINK_MIN",
    "TOP_KEYS",
    "Clusters",
    "bucket_evidence",
    "cluster_id_for",
    "describe_evidence",
    "evidence_tokens",
    "link_accounts",
    "synchronised_templates",
    "token_components",
]
