"""The learned layer's defaults: learning from analysts' verdicts (:mod:`detector.learned`).

A part of :class:`detector.config.Config` (its base class), kept apart so that each
module holds one concept: these settings are read by :mod:`detector.learned`,
:mod:`detector.learned_fit`, the nightly job's retraining on verdicts and
``detector similar``, never by ingest or the features.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LearnedSettings:
    """Defaults for learning from verdicts; use them through :class:`detector.config.Config`."""

    learned_min_labels: int = 6
    """Fewer labelled accounts in the population than this: no learned layer (the
    unsupervised score, exactly)."""
    learned_min_per_class: int = 2
    """Fewer ``extraction`` or ``benign`` labels than this: no learned layer either."""
    learned_weight: float = 1.0
    """Largest weight of the learned evidence (a log-odds) beside the unsupervised score
    (whose unit is the distance from the training median to the 99th percentile); the
    verdicts choose the weight used, 0 to this (detector.learned_fit.verdict_weight). At
    this weight alone, 10% of the labels as verdicts lowered PR-AUC on the other accounts
    of two realistic populations (0.991 -> 0.963, 0.983 -> 0.976); chosen, every one of
    five gained 0 to 0.019 (docs/operations.md)."""
    learned_weight_tolerance: float = 0.005
    """Weight 0 is chosen only when it ranks the verdicts better than every other weight by
    more than this average precision (detector.learned_fit.verdict_weight): about one
    confirmed case of 40 ranked under 10 cleared ones."""
    learned_clip: float = 6.0
    """The learned log-odds is clipped to ±this, so verdicts move an account a bounded
    distance (at most ``weight · (clip − dead_zone)`` units)."""
    learned_dead_zone: float = 3.0
    """The first ±this of the log-odds is ignored: only strong, verdict-backed similarity
    moves an account (weak similarity to a confirmed case lifted benign look-alikes over
    unconfirmed kinds of extraction in a time-split evaluation)."""
    learned_case_neighbours: int = 5
    """A lift fades with the distance to the nearest confirmed case, over the distance
    from that case to its this-many-th nearest unlabelled account: a case in a crowd of
    ordinary accounts (a low-and-slow account among hobbyists) lifts only its closest
    look-alikes, a case alone in its corner of the space lifts a wider neighbourhood."""
    learned_calm: float = 0.25
    """Units a cleared account's closest look-alike loses (0: no calming). Replayed on four
    realistic populations, 10% of the labels as verdicts: 0.25 raised average precision
    on the others on all four, 0.5 lowered it on one, 1 on all (docs/operations.md)."""
    learned_calm_queue: float = 2.0
    """A benign verdict calms look-alikes when the forest ranked its account within this
    many times the training alerts (detector.learned_fit.calming_accounts)."""
    learned_folds: int = 5
    """Cross-fitting folds: every account is scored by a classifier that never saw it."""
    learned_background_weight: float = 0.02
    """Weight of an unlabelled account as a weak benign example (a benign verdict weighs 1)."""
    learned_positive_share: float = 0.3
    """Total weight of the extraction verdicts as a share of the benign side's."""
    learned_background_max: int = 5_000
    """Unlabelled accounts sampled as background (their weights scaled up to the rest)."""
    learned_iterations: int = 30
    """Boosting rounds of each fold's classifier (small, shallow trees: scoring 1M
    accounts through them costs about as much as one isolation forest)."""
    learned_learning_rate: float = 0.3
    learned_max_depth: int = 3
    learned_leaf_nodes: int = 8
    learned_min_leaf: int = 10
    verdict_max_age_days: int = 365
    """Verdicts older than this are expired: not used for learning (behaviour changes)."""
    retrain_new_verdicts: int = 25
    """The nightly job retrains when this many accounts got a verdict since its model was
    trained (the learned layer learns from them only when retrained)."""
    similar_k: int = 10
    """Accounts listed by ``detector similar``."""
