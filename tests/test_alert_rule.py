"""The default alert threshold: bulk spreads above the median, under a ceiling of cases.

A fixed budget flags the same share of every population; the spread rule flags what
stands out from the population's ordinary accounts, however many accounts that is.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector import calibration
from detector.cases import case_threshold
from detector.ranking import (
    default_threshold,
    describe_alert_rule,
    parse_budget,
    spread_threshold,
    threshold_for_budget,
)


def calibrated(raw: np.ndarray, anchors_from: np.ndarray | None = None) -> np.ndarray:
    """Published scores of ``raw`` through the model's calibration."""
    cal = calibration.calibration_anchors(raw if anchors_from is None else anchors_from)
    return np.round(calibration.calibrate(raw, cal), 2)


def population(n_bulk: int, n_outliers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores: an ordinary bulk, and outliers far out in its tail."""
    rng = np.random.default_rng(seed)
    bulk = rng.normal(0.0, 1.0, n_bulk)
    outliers = rng.normal(9.0, 0.5, n_outliers)
    return bulk, outliers


def test_the_threshold_is_spreads_times_the_bulk_spread_in_raw_score() -> None:
    bulk, outliers = population(5_000, 50)
    raw = np.concatenate([bulk, outliers])
    scores = calibrated(raw)
    median, q75 = np.quantile(raw, [0.5, 0.75])
    expected = calibrated(np.array([median + 5.0 * (q75 - median)]), anchors_from=raw)[0]
    assert spread_threshold(scores, 5.0) == pytest.approx(expected, abs=0.05)
    # more spreads, a higher threshold
    assert spread_threshold(scores, 6.0) > spread_threshold(scores, 5.0)


@pytest.mark.parametrize("share", [0.01, 0.12])
def test_it_flags_the_outliers_whatever_their_share(share: float) -> None:
    n = 5_000
    bulk, outliers = population(n, int(share * n))
    scores = calibrated(np.concatenate([bulk, outliers]))
    t = default_threshold(scores, budget=None, spreads=5.0, ceiling="20%")
    flagged = scores >= t
    assert flagged[len(bulk) :].all()
    assert flagged[: len(bulk)].mean() < 0.001
    # a fixed 2% budget is right for neither population
    by_budget = scores >= threshold_for_budget(scores, "2%")
    assert by_budget[: len(bulk)].any() if share < 0.02 else not by_budget[len(bulk) :].all()


def test_the_ceiling_bounds_what_the_rule_flags() -> None:
    bulk, outliers = population(1_000, 300)
    scores = calibrated(np.concatenate([bulk, outliers]))
    free = default_threshold(scores, budget=None, spreads=5.0, ceiling="100%")
    capped = default_threshold(scores, budget=None, spreads=5.0, ceiling="5%")
    assert (scores >= free).sum() > parse_budget("5%", len(scores))
    assert (scores >= capped).sum() <= parse_budget("5%", len(scores))


def test_an_explicit_budget_is_spent_as_before() -> None:
    bulk, outliers = population(2_000, 40)
    scores = calibrated(np.concatenate([bulk, outliers]))
    got = default_threshold(scores, budget="2%", spreads=5.0, ceiling="5%")
    assert got == threshold_for_budget(scores, "2%")


def test_no_spread_no_alert() -> None:
    assert math.isinf(spread_threshold(np.full(100, 15.0), 5.0))
    assert math.isinf(spread_threshold(np.array([]), 5.0))
    assert math.isinf(default_threshold(np.full(10, 3.0), budget=None, spreads=5.0, ceiling="5%"))


def test_cases_count_once_and_the_bulk_is_the_accounts() -> None:
    """A 200-account campaign is one case: it cannot exhaust the ceiling by itself, and the
    bulk spread is measured on accounts (as the calibration is)."""
    bulk, outliers = population(3_000, 200)
    scores = calibrated(np.concatenate([bulk, outliers]))
    clusters = np.array([""] * len(bulk) + ["hydra"] * len(outliers), dtype=object)
    t = case_threshold(scores, clusters, None, spreads=5.0, ceiling="1%")
    assert t == max(spread_threshold(scores, 5.0), t)
    assert (scores[len(bulk) :] >= t).all()


def test_the_rule_is_described_in_words() -> None:
    assert describe_alert_rule("2%", 5.0, "5%") == "flags 2% of the training cases"
    assert describe_alert_rule(None, 5.0, "10%") == (
        "5 bulk spreads above the training median, flagging at most 10% of the training cases"
    )
    # spreads that follow the family trees' depth are shown to two decimals
    assert describe_alert_rule(None, 5 + 1.42 / 6, "10%").startswith("5.24 bulk spreads")
    # a bundle saved before the rule existed recorded only its budget
    assert describe_alert_rule("2%", None, None) == "flags 2% of the training cases"
