"""The tail score tells apart the accounts at the very top of a feature.

About 1% of a provider's accounts extract, so the ranking that matters is decided
among the top few dozen of tens of thousands. The tail scorer keeps
``N_TAIL_QUANTILES`` training quantiles per feature; with 513 of them the top 20 of
20,000 accounts got one and the same term, however far apart they were.
"""

from __future__ import annotations

import numpy as np
import pytest

from detector.tails import N_TAIL_QUANTILES, TailScorer


def test_the_top_of_a_large_population_is_ordered() -> None:
    rng = np.random.default_rng(5)
    train = rng.beta(1, 12, size=(20_000, 1))
    scorer = TailScorer(["high"]).fit(train)
    top = np.sort(train[:, 0])[::-1]
    # the 5th and the 15th highest training values: both beyond the 99.9th percentile
    terms = scorer.contributions(np.array([[top[4]], [top[14]]]))[:, 0]
    assert terms[0] > terms[1] + 0.5
    assert N_TAIL_QUANTILES >= 2_000


def test_a_scorer_fitted_with_fewer_quantiles_still_scores() -> None:
    """A bundle saved before keeps its 513 quantiles and scores on them: alike in the
    bulk, capped lower at the extreme."""
    rng = np.random.default_rng(6)
    train = rng.beta(1, 12, size=(5_000, 1))
    scorer = TailScorer(["high"]).fit(train)
    old = TailScorer(["high"])
    old.quantiles_ = np.quantile(train, np.linspace(0.0, 1.0, 513), axis=0)
    bulk = np.quantile(train, [[0.6], [0.9], [0.97]])
    # within a quantile step of each other
    np.testing.assert_allclose(old.score(bulk), scorer.score(bulk), atol=0.05)
    extreme = np.array([[1.0]])
    assert old.score(extreme)[0] == pytest.approx(np.log(1026 / 2))
    assert scorer.score(extreme)[0] == pytest.approx(np.log(2 * N_TAIL_QUANTILES / 2))
