"""What a feature family receives: one bucket of annotated requests plus population context."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT, Config
from detector.features import agg
from detector.ingest import epoch_seconds


def creation_seconds(created: pd.Series) -> np.ndarray:
    """Each account's creation time in epoch seconds (float), NaN where the account table
    does not say: the one conversion the account, cluster and linking code share, so an
    age is ``(first request - creation) / 86,400`` and unknown stays unknown."""
    known = created.notna().to_numpy()
    return np.where(known, epoch_seconds(created), np.nan).astype(np.float64)


@dataclass(frozen=True)
class Context:
    """Population-wide facts a per-account feature needs (computed in the first pass).

    Attributes
    ----------
    window_start, window_end : first and last request time in the log (epoch seconds).
    present : contract columns present in the log (required + optional ones seen).
    newest_model : the model that first appeared latest, if it appeared after the
        first day of the window (a release inside the window); else ``None``.
    newest_model_first_ts : its first request time in the population (epoch seconds).
    frontier_models : the models of the log whose names mark the provider's most capable
        tier (``Config.frontier_model_pattern``; see :mod:`detector.features.tier`).
    accounts : the optional account table indexed by account_id.
    """

    window_start: int
    window_end: int
    present: frozenset[str]
    newest_model: str | None = None
    newest_model_first_ts: int | None = None
    frontier_models: frozenset[str] = frozenset()
    accounts: pd.DataFrame | None = None
    config: Config = field(default=DEFAULT)

    @property
    def window_days(self) -> float:
        """Length of the log window in whole days (at least one).

        Rounded, not ceiled: a 7-day log whose first partition holds a few minutes of the
        previous day's traffic (late shipping) is still a 7-day window.
        """
        return max(1.0, float(round((self.window_end - self.window_start) / 86_400)))

    def has(self, *columns: str) -> bool:
        """Whether every contract column named is present in the log."""
        return all(c in self.present for c in columns)


@dataclass
class Bucket:
    """The annotated requests of a set of accounts, with dense account codes.

    ``codes[i]`` is the index of row i's account in ``account_ids`` (sorted), so every
    per-account reduction is a ``np.bincount`` over ``codes``.
    """

    frame: pd.DataFrame
    codes: np.ndarray
    account_ids: np.ndarray
    context: Context

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, context: Context) -> Bucket:
        """Factorise the account ids (sorted, so output order never depends on input order)."""
        codes, uniques = pd.factorize(frame[S.ACCOUNT_ID], sort=True)
        return cls(frame, codes.astype(np.int64), np.asarray(uniques, dtype=object), context)

    @property
    def n(self) -> int:
        """Number of accounts in the bucket."""
        return len(self.account_ids)

    def col(self, name: str) -> np.ndarray:
        """A column as a numpy array."""
        return self.frame[name].to_numpy()

    @cached_property
    def active_days(self) -> np.ndarray:
        """Per account: the distinct days of the window it sent requests on. Computed once
        per bucket, shared by the families (volume, timing, diversity)."""
        return agg.nunique(self.codes, self.col(A.DAY).astype(np.uint64) + 1, self.n)

    @cached_property
    def creation_seconds(self) -> np.ndarray | None:
        """Per account: its creation time (:func:`creation_seconds`), NaN where the account
        table has no ``created_at`` for it, ``None`` without that column. Computed once per
        bucket, shared by the families (the account's age, probing while new)."""
        table = self.context.accounts
        if table is None or S.CREATED_AT not in table.columns:
            return None
        return creation_seconds(table[S.CREATED_AT].reindex(pd.Index(self.account_ids)))

    @cached_property
    def _reruns(self) -> np.ndarray:
        """Per row: its account sent the same prompt on another day or to another model."""
        return agg.reruns(
            self.codes, self.col(A.PROMPT_KEY), self.col(A.DAY), self.col(A.MODEL_KEY)
        )

    @cached_property
    def suite_runners(self) -> np.ndarray:
        """Per account: it runs a fixed suite.

        An account whose distinct prompts are mostly re-runs (``Config.suite_rerun_share``
        of them sent again on another day or to another model, at a temperature of at
        most ``Config.suite_max_temperature``) runs a fixed suite -- permitted
        evaluation, safety benchmarking. Extraction wants new answers and never re-runs
        a set; a prober re-sends its probes hot, to draw a different answer. All false
        without prompt text. Computed once per bucket.
        """
        if not self.context.has(S.PROMPT):
            return np.zeros(self.n, dtype=bool)
        c, n, key, rerun = self.codes, self.n, self.col(A.PROMPT_KEY), self._reruns
        hottest = self.context.config.suite_max_temperature
        if hottest is not None and self.context.has(S.TEMPERATURE):
            # a row without a temperature (NaN) keeps counting, as before the limit
            rerun = rerun & ~(self.col(S.TEMPERATURE).astype(np.float64) > hottest)
        share = agg.nunique(c[rerun], key[rerun], n) / np.maximum(agg.nunique(c, key, n), 1)
        return (share >= self.context.config.suite_rerun_share) & (share > 0)

    @cached_property
    def one_turn(self) -> np.ndarray:
        """Per row: a conversation of one turn (turn 0, no other turn in its conversation;
        rows without a conversation id stand alone) -- a standalone question, not a chat's
        opener that was followed up. Needs turn indices. Computed once per bucket, shared
        by the families (diversity's standalone breadth, conversation's short questions)."""
        alone = agg.group_sizes(self.codes, self.col(A.CONVERSATION_KEY)) == 1
        return alone & (self.col(S.TURN_INDEX) == 0)

    @cached_property
    def suite_reruns(self) -> np.ndarray:
        """Per row: a re-run prompt of an account that runs a fixed suite
        (:attr:`suite_runners`): its re-runs say nothing about what it wants next. All
        false without prompt text. Computed once per bucket, shared by the families."""
        if not self.context.has(S.PROMPT):
            return np.zeros(len(self.codes), dtype=bool)
        return self._reruns & self.suite_runners[self.codes]
