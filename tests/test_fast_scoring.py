"""The fast scorers give exactly the numbers of the straightforward ones.

:mod:`detector.forest_scoring` replaces ``IsolationForest.score_samples`` and
:class:`detector.tails.TailScorer` reads its terms from per-column tables; published
scores are rounded, so both must agree bit for bit, not just closely. The score table
is assembled in rank order without sorting a frame, the top ranked are found without
ranking everyone, and reason strings are joined in one pass per row; they must be the
same frame, the same accounts and the same strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from detector import forest_scoring, schema
from detector.bucket_search import BucketSearch, search_left
from detector.explain.templates import fill, join_slots, template_pieces
from detector.forest_scoring import forest_raws
from detector.ranking import band, rank_accounts, score_table, top_ranked
from detector.tails import TailScorer


def _reference_contributions(scorer: TailScorer, matrix: np.ndarray) -> np.ndarray:
    """The per-column formula, two binary searches per entry (the original code)."""
    m = np.asarray(matrix, dtype=np.float64)
    q = scorer.quantiles_
    n_q = q.shape[0]
    floor = 0.5 / n_q
    out = np.empty(m.shape, dtype=np.float64)
    for j, direction in enumerate(scorer.directions):
        below = np.searchsorted(q[:, j], m[:, j], side="left") / n_q
        at_or_below = np.searchsorted(q[:, j], m[:, j], side="right") / n_q
        upper = 1.0 - (below + at_or_below) / 2.0
        lower = (below + at_or_below) / 2.0
        if direction == "high":
            tail = upper
        elif direction == "low":
            tail = lower
        else:
            tail = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
        out[:, j] = -np.log(np.maximum(tail, floor))
    return np.maximum(out - np.log(2.0), 0.0)


def _tied_population(rng: np.random.Generator, n: int, f: int, spread: float) -> np.ndarray:
    """Columns with a mass at 0 (one-sided clipping), few distinct values, and a plain one."""
    m = rng.standard_normal((n, f)).astype(np.float32) * spread
    m[:, 0::3] = np.maximum(m[:, 0::3], 0.0)
    m[:, 1::3] = np.round(m[:, 1::3])
    return m


def test_tail_tables_equal_the_per_entry_formula() -> None:
    rng = np.random.default_rng(7)
    directions = ["high", "low", "both", "high", "both", "low", "high", "low", "both"]
    train = _tied_population(rng, 5000, len(directions), 1.0)
    scorer = TailScorer(directions).fit(train)
    # wider than training (values beyond every quantile), the training rows themselves
    # (values on quantiles), the quantiles in float64, and more rows than one chunk
    test = _tied_population(rng, 40_000, len(directions), 3.0).astype(np.float64)
    test[:5000] = train
    test[5000 : 5000 + len(scorer.quantiles_)] = scorer.quantiles_
    test[6000, :] = np.inf
    test[6001, :] = -np.inf
    test[7000:7100, :] = -0.0  # shares the term of 0 (the column's clipped side)
    expected = _reference_contributions(scorer, test)
    assert np.array_equal(scorer.contributions(test), expected)
    assert np.array_equal(scorer.score(test), expected.sum(axis=1))
    clipped = test[:5000].astype(np.float32)  # the model passes its float32 matrix
    assert np.array_equal(
        scorer.score(clipped), _reference_contributions(scorer, clipped).sum(axis=1)
    )
    assert scorer.score(test[:0]).shape == (0,)


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_forest_raws_equal_score_samples(max_features: float) -> None:
    rng = np.random.default_rng(3)
    X = _tied_population(rng, 3000, 8, 1.0)
    cols = np.array([1, 4, 6])
    full = IsolationForest(
        n_estimators=20, max_samples=128, max_features=max_features, random_state=0
    ).fit(X)
    part = IsolationForest(n_estimators=7, max_samples=64, random_state=1).fit(X[:, cols])
    Y = _tied_population(rng, 20_000, 8, 2.0)
    Y[np.ix_(np.arange(0, len(Y), 3), cols)] = 0.0  # rows at 0 in a family: walked once
    Y[np.ix_(np.arange(1, len(Y), 9), cols)] = -0.0
    raws = forest_raws(Y, [(full, slice(None)), (part, cols)], chunk_rows=1000, workers=2)
    assert np.array_equal(raws[0], -full.score_samples(Y))
    assert np.array_equal(raws[1], -part.score_samples(Y[:, cols]))


@pytest.mark.parametrize("max_cell_share", [0.0, 0.6, 1.0])
def test_forest_raws_by_cell_equal_score_samples(
    monkeypatch: pytest.MonkeyPatch, max_cell_share: float
) -> None:
    """Forests walked one row per cell (never, when it pays, always) score as sklearn does.

    A one-column forest, a two-column one with a mass at 0 and -0.0, one whose trees see
    half its columns, and values on the thresholds themselves (a value equal to a
    threshold goes left, one a float32 step above goes right).
    """
    monkeypatch.setattr(forest_scoring, "MAX_CELL_SHARE", max_cell_share)
    monkeypatch.setattr(forest_scoring, "CELL_SAMPLE_ROWS", 500)
    rng = np.random.default_rng(11)
    X = _tied_population(rng, 3000, 6, 1.0)
    one = IsolationForest(n_estimators=9, max_samples=100, random_state=2).fit(X[:, [3]])
    two = IsolationForest(n_estimators=8, max_samples=128, random_state=3).fit(X[:, [0, 1]])
    half = IsolationForest(n_estimators=6, max_samples=64, max_features=0.5, random_state=4).fit(
        X[:, [0, 2, 4, 5]]
    )
    full = IsolationForest(n_estimators=5, max_samples=64, random_state=5).fit(X)
    Y = _tied_population(rng, 12_000, 6, 2.0)
    Y[::7, 0] = -0.0
    splits = one.estimators_[0].tree_.threshold[one.estimators_[0].tree_.children_left >= 0]
    on = splits.astype(np.float32)  # float32 values at (or a rounding step off) the splits
    Y[: len(on), 3] = on
    Y[len(on) : 2 * len(on), 3] = np.nextafter(on, np.float32(np.inf))
    forests = [
        (one, np.array([3])),
        (two, np.array([0, 1])),
        (half, np.array([0, 2, 4, 5])),
        (full, slice(None)),
    ]
    raws = forest_raws(Y, forests, chunk_rows=1000, workers=2)
    for (forest, cols), raw in zip(forests, raws, strict=True):
        assert np.array_equal(raw, -forest.score_samples(Y[:, cols]))


def _reference_table(
    ids: np.ndarray,
    scores: np.ndarray,
    ranks: np.ndarray,
    flagged: np.ndarray,
    reasons: np.ndarray,
    **extra: np.ndarray,
) -> pd.DataFrame:
    """The score table as first written: a frame sorted by rank, columns picked."""
    out = pd.DataFrame(
        {
            schema.ACCOUNT_ID: ids,
            schema.SCORE: scores,
            schema.RANK: ranks,
            schema.FLAGGED: flagged,
            schema.CLUSTER_ID: "",
            schema.REASONS: reasons,
            schema.BAND: band(scores),
            **extra,
        }
    )
    out = out.sort_values(schema.RANK, kind="stable").reset_index(drop=True)
    return out[[*schema.SCORE_COLUMNS, schema.BAND, *extra]]


@pytest.mark.parametrize("ties", [False, True])
def test_score_table_equals_the_sorted_frame(ties: bool) -> None:
    """Rank order by scatter (ranks 1..n) or by stable sort (tied or gapped ranks)."""
    rng = np.random.default_rng(5)
    n = 2000
    ids = np.array([f"acct_{i:05d}" for i in rng.permutation(n)], dtype=object)
    scores = np.round(rng.uniform(0, 100, n), 2)
    ranks = rank_accounts(scores, ids)
    if ties:
        ranks = ranks // 3 + 5
    flagged = scores >= 70
    reasons = np.array([f"reason {i}" for i in range(n)], dtype=object)
    extra = {"unsupervised_score": np.round(scores / 2, 2)}
    got = score_table(ids, scores, ranks, flagged, reasons, **extra)
    pd.testing.assert_frame_equal(
        got, _reference_table(ids, scores, ranks, flagged, reasons, **extra), check_exact=True
    )
    empty = score_table(ids[:0], scores[:0], ranks[:0], flagged[:0], reasons[:0])
    pd.testing.assert_frame_equal(
        empty, _reference_table(ids[:0], scores[:0], ranks[:0], flagged[:0], reasons[:0])
    )


@pytest.mark.parametrize("top", [0, 1, 7, 50, 299, 300, 301])
def test_top_ranked_is_rank_at_most_top(top: int) -> None:
    """Ties at the cut ordered by id (strings, ints, NaN ranked last) as the ranking does."""
    rng = np.random.default_rng(11)
    n = 300
    scores = np.round(rng.uniform(0, 10, n), 0)  # heavy ties, -0.0 among the zeros
    scores[rng.integers(0, n, 20)] = -0.0
    for ids in (
        np.array([f"acct_{i:04d}" for i in rng.permutation(n)], dtype=object),
        rng.permutation(n),  # not strings: numpy's str order ("10" < "9")
    ):
        expected = rank_accounts(scores, ids) <= top
        np.testing.assert_array_equal(top_ranked(scores, ids, top), expected)
        with_nan = np.where(np.arange(n) % 13 == 0, np.nan, scores)
        np.testing.assert_array_equal(
            top_ranked(with_nan, ids, top), rank_accounts(with_nan, ids) <= top
        )


def test_fill_and_join_slots_equal_adding_piece_by_piece() -> None:
    """Reason sentences and per-row joins as the object-array additions built them."""
    rng = np.random.default_rng(9)
    n = 500
    value = np.array([f"{v:,.1f} requests/day" for v in rng.lognormal(3, 2, n)], dtype=object)
    pct = np.array([f"{p}th percentile" for p in rng.integers(90, 100, n)], dtype=object)
    pieces = template_pieces("{value}, unusual ({percentile}) é")
    assert pieces is not None
    expected = value + ", unusual (" + pct + ") é"
    got = fill(pieces, {"value": value, "percentile": pct}, n)
    assert got.dtype == object and got.tolist() == expected.tolist()
    assert fill(pieces, {"value": value[:0], "percentile": pct[:0]}, 0).shape == (0,)

    n_rows = 200
    count = rng.integers(0, 4, n_rows)  # 0 to 3 sentences per row
    rows = np.repeat(np.arange(n_rows), count)
    slots = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    shuffle = rng.permutation(len(rows))  # entries in any order
    rows, slots, sentences = rows[shuffle], slots[shuffle], expected[: len(rows)][shuffle]
    reference = np.full(n_rows, "", dtype=object)
    for slot in range(3):
        at = slots == slot
        sep = "" if slot == 0 else "; "
        reference[rows[at]] = reference[rows[at]] + sep + sentences[at]
    joined = join_slots(n_rows, rows, slots, sentences, "; ")
    assert joined.tolist() == reference.tolist()
    assert join_slots(3, rows[:0], slots[:0], sentences[:0], "; ").tolist() == ["", "", ""]


def test_mid_rank_equals_two_searches() -> None:
    """Percentile ranks with one binary search (two only for values on a quantile)."""
    from detector.explain import eligibility

    rng = np.random.default_rng(4)
    q = np.sort(np.round(rng.lognormal(0, 1, 1001), 1))  # runs of equal quantiles
    v = np.concatenate([q, np.round(rng.lognormal(0, 1.5, 5000), 2), [-1.0, 1e9, np.inf]])
    left = np.searchsorted(q, v, side="left")
    right = np.searchsorted(q, v, side="right")
    expected = (left + right) * (50.0 / len(q))
    assert np.array_equal(eligibility._mid_rank(q, v), expected)
    assert eligibility._mid_rank(q, v[:0]).shape == (0,)


def test_bucket_search_equals_searchsorted() -> None:
    rng = np.random.default_rng(11)
    for q in (
        np.sort(rng.standard_normal(513)),
        np.sort(np.round(rng.standard_normal(300), 1)),  # runs of equal values
        np.sort(np.concatenate([np.zeros(256), rng.lognormal(0.0, 0.5, 257)])),  # a mass at 0
        np.array([0.0, 1.0]),
    ):
        search = BucketSearch.of(q)
        assert search is not None
        v = np.concatenate(
            [
                rng.standard_normal(20_000) * 3.0,
                q,  # values on the array's own elements
                np.nextafter(q, np.inf),
                np.nextafter(q, -np.inf),
                [np.inf, -np.inf, -0.0, 0.0, 1e308, -1e308],
            ]
        )
        expected = np.searchsorted(q, v, side="left")
        small = v[np.abs(v) < 1e30]  # within float32's range
        assert np.array_equal(search_left(q, v, search), expected)
        assert np.array_equal(
            search_left(q, small.astype(np.float32), search),
            np.searchsorted(q, small.astype(np.float32), side="left"),
        )
        with_nan = np.append(v, np.nan)
        assert np.array_equal(
            search_left(q, with_nan, search), np.searchsorted(q, with_nan, side="left")
        )
    assert BucketSearch.of(np.array([1.0, 1.0])) is None  # one distinct value: nothing to bucket
    assert BucketSearch.of(np.array([0.0, np.inf])) is None
