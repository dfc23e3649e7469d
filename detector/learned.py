"""Learning from verdicts: a supervised layer over the isolation forest's score.

The isolation forest finds the *unusual*; analysts' verdicts say which unusual is
*extraction*. :class:`LearnedLayer` adds what the verdicts teach without giving up
what the forest finds:

* **the learned evidence** — a gradient-boosted classifier over the model's
  preprocessed matrix (:meth:`AnomalyModel.transform`) separates the confirmed
  extraction accounts from the benign verdicts, with every unlabelled account as a
  *weakly* benign background example (PU learning: ``learned_background_weight``
  against a verdict's 1). Its log-odds, centred on the training population's median,
  clipped to ``±learned_clip`` and with its first ``±learned_dead_zone`` ignored, is the
  evidence ``e``: positive for accounts that behave like confirmed extraction, 0 where
  no verdict says anything clearly. The dead zone matters: weak likeness to a confirmed
  case otherwise lifted benign accounts over unconfirmed kinds of extraction (a
  time-split evaluation lost 0.10 PR-AUC without it, 0.01 with it);
* **the classifier's input** is the preprocessed matrix on a signed-log grid
  (:func:`grid`): boosted trees only use the order of values, and the grid makes
  scikit-learn bin by distinct values instead of weighted percentiles (10× faster);
* **the blend** — ``z + w · e``, with ``z`` the unsupervised raw score
  normalised by the model's own calibration anchors (0 at the training median, 1 at
  its 99th percentile). The unsupervised score stays the backbone, so a kind of
  extraction no analyst has confirmed yet ranks where the forest put it; the evidence
  only moves accounts the verdicts speak about. The weight ``w`` (at most
  ``learned_weight``) is chosen on the verdicts' own out-of-fold evidence
  (:func:`detector.learned_fit.verdict_weight`), 0 when every weight ranks them worse
  than the unsupervised score alone: the layer must not hurt the ranking it sits on.
  The classifier does *not* take the forest's score as an input: it would learn the
  forest's ranking back and count it twice (measured: no better, and it lifted benign
  look-alikes of high scorers);
* **re-calibration** — the blend is mapped so that its training median and 99th
  percentile land on the model's raw anchors, then through the model's own
  :meth:`~AnomalyModel.calibrate`: scores keep their meaning (median 15, 99th
  percentile 75); the alert threshold flags as many training cases as the model's own
  does (or spends the same explicit alert budget): verdicts re-rank, they do not add
  alerts;
* **no label leaks into its own account's score** — the classifier is *cross-fitted*:
  ``learned_folds`` classifiers, each trained without one fold of accounts, and every
  account is scored by the one that never saw it (labelled accounts by a stratified
  fold stored with the layer, the others by a hash of their id). So a verdict never
  raises its own account's score, in evaluation or in production;
* **calming** — a benign verdict on an account the forest ranked near the alert queue
  lowers its look-alikes by up to ``calm_`` units (:meth:`calm_factor`; ``learned_calm``,
  not chosen per fit: see :func:`detector.learned_fit.fit_learned`). The evidence cannot:
  ordinary accounts' log-odds sit at the classifier's floor, inside the dead zone;
* **explanations** — reasons still cite the features (forest attribution); an account
  the layer lifted also gets "behaves like confirmed extraction account X", X being
  the nearest confirmed case in the preprocessed space, and one it calmed "resembles
  cleared account Y".

With too few labels (:func:`~detector.learned_fit.why_not_learn`) there is no layer
and the scores are exactly the unsupervised ones. Measured on simulated populations
(10 % of the labelled accounts as verdicts, metrics on the others): see
``docs/operations.md``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from detector import schema as S
from detector.config import DEFAULT
from detector.model import AnomalyModel
from detector.proximity import grid, likeness, nearest_names
from detector.ranking import SCORE_DECIMALS, check_alert_rule, score_table

__all__ = [
    "LIFT_POINTS",
    "LearnedLayer",
    "LearnedScores",
    "account_ids",
    "hash_folds",
]

LIFT_POINTS: Final = 10.0
"""An account the layer raised (lowered) by at least this many score points gets the
"behaves like confirmed extraction account X" ("resembles cleared account Y") reason."""
_P_FLOOR: Final = 1e-6
_EPS: Final = 1e-12

_PREDICT_ROWS: Final = 65_536
"""Rows per prediction job of :meth:`LearnedLayer.log_odds`."""


def hash_folds(ids: np.ndarray, k: int) -> np.ndarray:
    """A fold per account from a stable hash of its id (same id, same fold, any run)."""
    return (pd.util.hash_array(np.asarray(ids, dtype=object)) % np.uint64(k)).astype(np.int64)


@dataclass(frozen=True)
class LearnedScores:
    """One scoring by the layer, rows in the feature table's order.

    ``matrix`` is the model's preprocessed matrix; ``unsupervised`` and ``score`` are
    0–100 (unrounded); ``evidence`` is the clipped, dead-zoned log-odds; ``calm`` the
    likeness to a cleared account, 0–1 (:meth:`LearnedLayer.calm_factor`).
    """

    ids: np.ndarray
    matrix: np.ndarray
    unsupervised: np.ndarray
    evidence: np.ndarray
    calm: np.ndarray
    score: np.ndarray


class LearnedLayer:
    """A fitted learned layer; build it with :func:`~detector.learned_fit.fit_learned`.

    Plain data once fitted (arrays, scikit-learn classifiers, a dict), so a bundle can
    hold it and rebuild it without running code.

    Attributes
    ----------
    features_ : list of str
        The model features it was fitted over (checked against the model at scoring).
    classifiers_ : list of HistGradientBoostingClassifier
        One per fold; classifier ``k`` never saw the accounts of fold ``k``.
    labelled_ids_, labelled_folds_, labelled_y_ : ndarray
        The labelled accounts (sorted), their folds and whether each is extraction.
    case_ids_, case_matrix_ : ndarray
        The confirmed extraction accounts and their preprocessed rows at training.
    case_radius_ : ndarray
        Per confirmed case, the distance to its ``learned_case_neighbours``-th nearest
        unlabelled account: the scale over which its lift fades (:meth:`near_a_case`).
    case_spacing_ : float
        The median radius (bundles fitted before per-case radii hold one spacing for
        every case, and it is used as such).
    cleared_ids_, cleared_matrix_, cleared_radius_ : ndarray
        The benign verdicts that calm their look-alikes (accounts the forest ranked near
        the alert queue), their preprocessed rows and neighbourhood radii, as for cases.
    calm_ : float
        Units a cleared account's closest look-alike loses (0, and no cleared accounts,
        in bundles fitted before calming).
    logit_center_ : float
        Median log-odds over the training population (evidence 0).
    anchors_ : dict
        ``z_min``/``z_median``/``z_upper``: the model's raw minimum, median and 99th
        percentile; ``min``/``median``/``upper``: the blend's, on the training population.
    threshold_ : float
        Alert threshold of the learned score: it flags as many training cases as the
        model's threshold (or spends the model's explicit alert budget).
    weight_, clip_, dead_zone_ : float
        ``learned_weight``, ``learned_clip`` and ``learned_dead_zone`` at fit.
    provenance_ : dict
        The labels' provenance (:func:`detector.verdicts.provenance`).
    """

    features_: list[str]
    classifiers_: list[HistGradientBoostingClassifier]
    labelled_ids_: np.ndarray
    labelled_folds_: np.ndarray
    labelled_y_: np.ndarray
    case_ids_: np.ndarray
    case_matrix_: np.ndarray
    case_spacing_: float
    case_radius_: np.ndarray = np.empty(0)  # a bundle fitted before radii has none
    cleared_ids_: np.ndarray = np.empty(0, dtype=str)
    cleared_matrix_: np.ndarray = np.empty((0, 0))
    cleared_radius_: np.ndarray = np.empty(0)
    calm_: float = 0.0
    logit_center_: float
    anchors_: dict[str, float]
    threshold_: float
    weight_: float
    clip_: float
    dead_zone_: float
    provenance_: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """What a bundle's manifest says about the layer (plain JSON data)."""
        return {
            "threshold": round(float(self.threshold_), SCORE_DECIMALS),
            "folds": len(self.classifiers_),
            "weight": self.weight_,
            "clip": self.clip_,
            "dead_zone": self.dead_zone_,
            "confirmed_cases": len(self.case_ids_),
            "calm": self.calm_,
            "calming_accounts": len(self.cleared_ids_),
        }

    # -- scoring -------------------------------------------------------------------------

    def folds(self, ids: np.ndarray) -> np.ndarray:
        """The fold (= the classifier) that scores each account."""
        folds = hash_folds(ids, len(self.classifiers_))
        at = pd.Index(self.labelled_ids_).get_indexer(np.asarray(ids, dtype=object))
        known = at >= 0
        folds[known] = self.labelled_folds_[at[known]]
        return folds

    def log_odds(self, matrix: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Log-odds of extraction, each account by the classifier of its own fold."""
        folds = self.folds(ids)
        p = np.empty(len(ids), dtype=np.float64)
        # rows are predicted independently, so chunks on DEFAULT.workers Python threads
        # (each with one OpenMP thread) give the same probabilities on both cores
        jobs = []
        for k in range(len(self.classifiers_)):
            rows = np.flatnonzero(folds == k)
            jobs += [(k, rows[s : s + _PREDICT_ROWS]) for s in range(0, len(rows), _PREDICT_ROWS)]

        def predict(job: tuple[int, np.ndarray]) -> None:
            k, rows = job
            p[rows] = self.classifiers_[k].predict_proba(grid(matrix[rows]))[:, 1]

        with (
            threadpool_limits(limits=1, user_api="openmp"),
            ThreadPoolExecutor(max_workers=DEFAULT.workers) as pool,
        ):
            list(pool.map(predict, jobs))
        p = np.clip(p, _P_FLOOR, 1.0 - _P_FLOOR)
        return np.log(p) - np.log1p(-p)

    def centred(self, log_odds: np.ndarray) -> np.ndarray:
        """The evidence: log-odds minus the training median, clipped to ``±clip_``, with
        the first ``dead_zone_`` of either side ignored (weak similarity moves nobody)."""
        e = np.clip(log_odds - self.logit_center_, -self.clip_, self.clip_)
        return np.sign(e) * np.maximum(np.abs(e) - self.dead_zone_, 0.0)

    def z(self, raw: np.ndarray) -> np.ndarray:
        """The raw score in units of the model's anchors (0 at the median, 1 at the 99th)."""
        a = self.anchors_
        return (raw - a["z_median"]) / max(a["z_upper"] - a["z_median"], _EPS)

    def mixed(
        self, raw: np.ndarray, evidence: np.ndarray, calm: np.ndarray | None = None
    ) -> np.ndarray:
        """``z + weight · evidence``, less :meth:`calming` by ``calm``, the likeness to a
        cleared account (:meth:`calm_factor`)."""
        out = self.z(raw) + self.weight_ * evidence
        return out if calm is None else out - self.calming(raw, calm)

    def calming(self, raw: np.ndarray, calm: np.ndarray) -> np.ndarray:
        """Units ``calm_`` takes off an account of likeness ``calm``, never past the
        training median: calming makes a look-alike ordinary, not less."""
        return np.minimum(self.calm_ * calm, np.maximum(self.z(raw), 0.0))

    def to_raw(self, mixed: np.ndarray) -> np.ndarray:
        """The blend back on the model's raw scale, piecewise linear: the blend's training
        minimum, median and 99th percentile land on the model's, so
        :meth:`AnomalyModel.calibrate` maps them to 0, 15 and 75 as it does raw scores."""
        a = self.anchors_
        up = (mixed - a["median"]) / max(a["upper"] - a["median"], _EPS)
        down = (mixed - a["median"]) / max(a["median"] - a["min"], _EPS)
        return a["z_median"] + np.where(
            mixed > a["median"],
            up * (a["z_upper"] - a["z_median"]),
            down * (a["z_median"] - a["z_min"]),
        )

    def _check(self, model: AnomalyModel) -> None:
        if [str(f) for f in model.feature_names_in_] != self.features_:
            raise ValueError(
                "the learned layer was fitted over other features than this model's; "
                "retrain the bundle"
            )

    def score_parts(self, model: AnomalyModel, features: pd.DataFrame) -> LearnedScores:
        """Everything :meth:`score_frame` is made of, rows in ``features``' order."""
        self._check(model)
        ids = account_ids(features)
        matrix = model.transform(features)
        raw = model.raw_scores_from_matrix(matrix)  # the same matrix: preprocessed once
        evidence = self.near_a_case(matrix, ids, self.centred(self.log_odds(matrix, ids)))
        calm = self.calm_factor(matrix, ids, evidence, raw)
        learned = model.calibrate(self.to_raw(self.mixed(raw, evidence, calm)))
        return LearnedScores(ids, matrix, model.calibrate(raw), evidence, calm, learned)

    def score(self, model: AnomalyModel, features: pd.DataFrame) -> np.ndarray:
        """Learned score in [0, 100] (unrounded), in ``features``' row order."""
        return self.score_parts(model, features).score

    def nearest_cases(self, matrix: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's nearest confirmed extraction account other than itself, and the
        Euclidean distance to it in the preprocessed space (``""`` and ``inf`` if none)."""
        return nearest_names(matrix, ids, self.case_matrix_, self.case_ids_)

    def near_a_case(self, matrix: np.ndarray, ids: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        """Positive evidence, faded by the distance to the nearest confirmed case.

        A lift is only as strong as the likeness it cites: the evidence of an account
        ``d`` away from its nearest confirmed case ``c`` is scaled by
        ``exp(-½ (d / r_c)²)``, ``r_c`` the distance from ``c`` to its
        ``learned_case_neighbours``-th nearest unlabelled account (:attr:`case_radius_`):
        a box of the trees around a case also holds ordinary accounts far from it, and
        a case among hobbyists (low-and-slow) must not lift the crowd. Scaled by each
        case's crowd, PR-AUC on held-out accounts rose 0.02–0.04 (docs/operations.md).
        """
        out = np.array(evidence, dtype=np.float64, copy=True)
        rows = np.flatnonzero(out > 0)
        if len(rows) == 0 or len(self.case_ids_) == 0:
            return out
        radius = self.case_radius_
        if not len(radius):  # a bundle fitted before radii: one spacing for every case
            radius = np.full(len(self.case_ids_), self.case_spacing_)
        out[rows] *= likeness(matrix[rows], ids[rows], self.case_matrix_, self.case_ids_, radius)
        return out

    def calm_factor(
        self, matrix: np.ndarray, ids: np.ndarray, evidence: np.ndarray, raw: np.ndarray
    ) -> np.ndarray:
        """How much each account looks like a cleared account, 0–1: its likeness
        (:func:`~detector.proximity.likeness`) to the nearest cleared account other than
        itself, over that account's neighbourhood radius, as a lift fades. Measured for
        accounts the forest scores over its training median (``raw``: the others have
        nothing to calm) that no confirmed case lifts (``evidence`` > 0: a benign
        neighbour does not clear likeness to extraction); 0 elsewhere.
        """
        out = np.zeros(len(ids), dtype=np.float64)
        if len(self.cleared_ids_) and self.calm_:
            rows = np.flatnonzero((np.asarray(evidence) <= 0) & (self.z(raw) > 0))
            cleared = (self.cleared_matrix_, self.cleared_ids_, self.cleared_radius_)
            out[rows] = likeness(matrix[rows], ids[rows], *cleared)
        return out

    def nearest_cleared(self, matrix: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Each row's nearest cleared (calming) account other than itself (``""`` if none)."""
        return nearest_names(matrix, ids, self.cleared_matrix_, self.cleared_ids_)[0]

    def score_frame(
        self,
        model: AnomalyModel,
        features: pd.DataFrame,
        *,
        threshold: float | None = None,
        budget: str | int | None = None,
        explain_top: int | None = None,
        n_reasons: int = DEFAULT.n_reasons,
    ) -> pd.DataFrame:
        """The score table with the learned score; as :func:`detector.scored.score_frame`.

        Same columns, plus ``unsupervised_score`` (the forest's score of the account).
        Flags use ``threshold``, else ``budget``, else :attr:`threshold_`. Accounts the
        layer lifted by :data:`LIFT_POINTS` or more lead their reasons with the nearest
        confirmed extraction account.
        """
        from detector import explain
        from detector.scored import alert_rows

        check_alert_rule(threshold, budget)
        parts = self.score_parts(model, features)
        ids, matrix = parts.ids, parts.matrix
        scores = np.round(parts.score, SCORE_DECIMALS)
        unsup = np.round(parts.unsupervised, SCORE_DECIMALS)
        ranks, flagged, attributed = alert_rows(
            scores,
            ids,
            threshold=threshold,
            budget=budget,
            default=self.threshold_,
            explain_top=explain_top,
        )
        reasons = explain.reasons_strings(
            model, features, forest_accounts=ids[attributed], n_reasons=n_reasons
        ).to_numpy(dtype=object)
        moved = scores - unsup
        lifted = np.flatnonzero(attributed & (parts.evidence > 0) & (moved >= LIFT_POINTS))
        _lead_with(
            reasons,
            lifted,
            self.nearest_cases(matrix[lifted], ids[lifted])[0],
            "behaves like confirmed extraction account {} "
            "(verdicts lifted the score {:.0f} points)",
            moved[lifted],
        )
        calmed = np.flatnonzero(attributed & (parts.calm > 0) & (-moved >= LIFT_POINTS))
        _lead_with(
            reasons,
            calmed,
            self.nearest_cleared(matrix[calmed], ids[calmed]),
            "resembles cleared account {} (benign verdicts lowered the score {:.0f} points)",
            -moved[calmed],
        )
        return score_table(ids, scores, ranks, flagged, reasons, **{S.UNSUPERVISED_SCORE: unsup})


def _lead_with(
    reasons: np.ndarray, rows: np.ndarray, names: np.ndarray, text: str, points: np.ndarray
) -> None:
    """Put ``text`` (formatted with the name and the points moved) first in the reasons
    of ``rows``, in place; rows without a name (``""``) keep theirs."""
    has = np.asarray(names) != ""
    lead = [text.format(n, g) for n, g in zip(names[has], points[has], strict=True)]
    at = rows[has]
    reasons[at] = np.asarray(lead, dtype=object) + S.REASONS_SEPARATOR + reasons[at]


def account_ids(features: pd.DataFrame) -> np.ndarray:
    """The feature table's account ids as strings (index or ``account_id`` column)."""
    frame = features.set_index(S.ACCOUNT_ID) if S.ACCOUNT_ID in features.columns else features
    return frame.index.astype(str).to_numpy(dtype=object)
