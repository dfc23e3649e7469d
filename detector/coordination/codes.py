"""Account ids as integer codes, for joining and counting the linking tokens.

Building the tokens merges and counts millions of (account, token) rows by account. On
string ids pandas hashes every string in every merge and every distinct count; at 1M
accounts that was most of :func:`~detector.coordination.tokens.evidence_tokens`. Equal ids
get equal codes and different ids different codes, so a merge or a distinct count on the
codes gives the same rows, in the same order, as on the ids; the ids are put back at the
end.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["AccountCodes"]


class AccountCodes:
    """Codes for account ids: an account of the population is its position in it; an id
    outside the population (evidence of an account the population lacks, which callers
    other than :func:`~detector.coordination.linking.link_accounts` may pass) gets a code
    after them, the same one each time it is seen."""

    def __init__(self, population: pd.Index) -> None:
        self._known = population if population.is_unique else population.unique()
        self._extra = pd.Index([], dtype=object)

    def codes(self, ids: Iterable[object] | np.ndarray | pd.Index) -> np.ndarray:
        """The int64 code of each id of ``ids``."""
        values = ids if isinstance(ids, pd.Index) else pd.Index(np.asarray(ids, dtype=object))
        codes = self._known.get_indexer(values).astype(np.int64)
        missing = codes < 0
        if missing.any():
            unseen = values[missing]
            self._extra = self._extra.append(unseen[~unseen.isin(self._extra)].unique())
            codes[missing] = len(self._known) + self._extra.get_indexer(unseen)
        return codes

    def ids(self, codes: np.ndarray) -> np.ndarray:
        """The account id of each code (an object array)."""
        names = np.concatenate(
            [self._known.to_numpy(dtype=object), self._extra.to_numpy(dtype=object)]
        )
        return names[codes]
