"""The anomaly model: per-feature preprocessing, an isolation forest, a 0–100 score.

High scores are anomalies. :class:`AnomalyModel` follows scikit-learn's conventions
(keyword-only parameters that ``__init__`` only stores, learned state ending in ``_``,
:func:`~sklearn.utils.validation.check_is_fitted`, feature names checked at scoring)
and adds what a detector needs around the forest, each part in its own module:
preprocessing read from the feature catalogue, scaled against the account's peers and
clipped one-sidedly by each feature's suspicious direction (:mod:`detector.preprocess`);
a subspace blend of the full-space forest with one forest per feature family
(:mod:`detector.forest_blend`); a 0–100 score calibrated on the training population
(:mod:`detector.calibration`); alert thresholds, rank and band
(:mod:`detector.ranking`); the feature table checked (:mod:`detector.feature_table`).

The score table with its reasons is composed above this module and the explainer, in
:func:`detector.scored.score_frame`: the model never imports :mod:`detector.explain`.

This module holds the estimator and its fitted state. The class stays here: bundles
name it ``detector.model.AnomalyModel`` (:data:`detector.artifacts.TRUSTED_TYPES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted

from detector import calibration, forest_blend, schema
from detector.behaviour import behaviour_median, behaviour_scores, keep_median
from detector.config import DEFAULT
from detector.feature_table import (
    fitted_values,
    population_fingerprint,
    training_frame,
    training_values,
)
from detector.features.registry import FeatureSpec
from detector.peers import fit_peer_tiers
from detector.preprocess import (
    fit_scaling,
    preprocess_matrix,
    resolve_specs,
    scale_transform,
    spec_masks,
)
from detector.ranking import SCORE_DECIMALS, default_threshold, depth_spreads

__all__ = ["AnomalyModel"]


class AnomalyModel(BaseEstimator):
    """Isolation forest over catalogue-preprocessed features, scored 0–100.

    Parameters
    ----------
    n_estimators : int
        Trees in the forest.
    max_samples : int, float or "auto"
        Accounts drawn to grow each tree of the full-space forest (capped at the
        population size).
    family_max_samples, family_sample_share : int, float
        The same for each family forest: more, so that its trees order a family's top
        half-percent, but at most this share of the population, so that a campaign's
        alike accounts are a handful per tree (:func:`detector.forest_blend.family_sample_size`).
    random_state : int
        Seed of the forest: the same seed and population give the same model.
    alert_budget : str, int or None
        Budget used to derive the default alert threshold ``threshold_`` from the
        training population; None: the bulk-spread rule
        (:func:`detector.ranking.default_threshold`) at ``alert_spreads_``.
    alert_spreads, alert_spreads_per_doubling : float, float
        The rule's spreads for family trees as deep as the full forest's, and what each
        doubling of their sample adds (:func:`detector.ranking.depth_spreads`).
    specs : mapping of feature name to FeatureSpec, optional
        Metadata of every feature the model is fitted on. ``None`` uses the feature
        registry (``detector.features.registry.SPECS``) at fit time.
    family_estimators : int
        Trees of each per-family subspace forest; 0 fits the full-space forest only.
    peer_quantiles : sequence of float
        Population quantiles of ``requests_per_day`` that cut the peer tiers; ``()``
        compares every account with the whole population.
    peer_prior : float
        Shrinkage of each tier's statistics towards the population's (in accounts).
    peer_families : sequence of str
        Feature families compared with peers (those that drift with size: volume,
        timing, infrastructure); the others are compared with the whole population.
    tail_weight : float
        Weight of the tail-probability score (:mod:`detector.tails`) in the raw score;
        the forests share the rest.
    family_weights : mapping or pairs of (family, weight)
        Relative weight of each family's subspace forest (unnamed families: 1), see
        :func:`detector.forest_blend.family_shares`.
    full_forest_weight, family_floor : float, float or None
        The full forest's weight beside the family forests, and the floor of each
        family's normalised score (see :mod:`detector.forest_blend`).
    peer_spread_floor : float
        A tier's spread is at least this share of the population's, so a tight tier
        (a few near-identical heavy products) does not turn small noise into outliers.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Features seen at fit, in the model's column order.
    n_features_in_ : int
    specs_ : dict[str, FeatureSpec]
        The specs of the fitted features (a copy).
    peers_ : PeerTiers
        The fitted peer tiers (edges on ``requests_per_day``).
    peer_relative_ : ndarray of bool
        Which features are compared with peers (``peer_families``).
    center_, spread_ : ndarray of shape (n_tiers, n_features_in_)
        Robust centre (median) and spread (IQR, floored) of each feature after its
        ``scale`` transform, per peer tier (shrunk towards the population's); scoring
        computes ``(t(x) - center_[tier]) / spread_[tier]``.
    forest_ : IsolationForest
        The forest over all features.
    family_forests_ : list of (family, column indices, IsolationForest)
        One smaller forest per feature family (volume, timing, content, …).
    blend_ : dict
        Per-forest normalisation (training median and 99th percentile of its raw score)
        and the weights that blend them into the raw score.
    calibration_ : dict[str, float]
        Raw-score anchors of the 0–100 map (see :meth:`calibrate`).
    threshold_ : float
        Default alert threshold on the 0–100 score.
    family_samples_, alert_spreads_ : int, float
        Accounts each family tree was grown on; the bulk spreads the default rule uses.
    quantiles_ : ndarray of shape (N_QUANTILES, n_features_in_)
        Training quantiles of each feature's *raw* value, for percentiles.
    peer_quantiles_ : ndarray of shape (n_tiers, N_QUANTILES, n_features_in_)
        The same per peer tier (shrunk), for percentiles among peers.
    fingerprint_ : dict
        :func:`population_fingerprint` of the training population.

    Notes
    -----
    Preprocessing (scaling against peers, one-sided clipping): :mod:`detector.preprocess`;
    the blend: :mod:`detector.forest_blend`; the 0–100 scale: :mod:`detector.calibration`. Fitting
    sorts the population by ``account_id`` first, so the model does not depend on the
    order in which accounts arrive.
    """

    def __init__(
        self,
        *,
        n_estimators: int = DEFAULT.n_estimators,
        max_samples: int | float | str = DEFAULT.max_samples,
        random_state: int | None = DEFAULT.random_state,
        alert_budget: str | int | None = DEFAULT.alert_budget,
        specs: Mapping[str, FeatureSpec] | None = None,
        family_estimators: int = DEFAULT.family_estimators,
        family_max_samples: int = DEFAULT.family_max_samples,
        family_sample_share: float = DEFAULT.family_sample_share,
        alert_spreads: float = DEFAULT.alert_spreads,
        alert_spreads_per_doubling: float = DEFAULT.alert_spreads_per_doubling,
        peer_quantiles: Sequence[float] = DEFAULT.peer_quantiles,
        peer_prior: float = DEFAULT.peer_prior,
        peer_spread_floor: float = DEFAULT.peer_spread_floor,
        peer_families: Sequence[str] = DEFAULT.peer_families,
        tail_weight: float = DEFAULT.tail_weight,
        family_weights: Mapping[str, float] | Sequence[tuple[str, float]] = (
            DEFAULT.family_weights
        ),
        full_forest_weight: float = DEFAULT.full_forest_weight,
        family_floor: float | None = DEFAULT.family_floor,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.alert_budget = alert_budget
        self.specs = specs
        self.family_estimators = family_estimators
        self.family_max_samples = family_max_samples
        self.family_sample_share = family_sample_share
        self.alert_spreads = alert_spreads
        self.alert_spreads_per_doubling = alert_spreads_per_doubling
        self.peer_quantiles = peer_quantiles
        self.peer_prior = peer_prior
        self.peer_spread_floor = peer_spread_floor
        self.peer_families = peer_families
        self.tail_weight = tail_weight
        self.family_weights = family_weights
        self.full_forest_weight = full_forest_weight
        self.family_floor = family_floor

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any = None) -> Self:
        """Fit the preprocessing, the forests and the score calibration on ``X``, a
        feature table (index or column ``account_id``, one float column per feature, no
        missing values); ``y`` is ignored (scikit-learn compatibility)."""
        frame, names = training_frame(X)
        specs = resolve_specs(self.specs, names)
        ids, values = training_values(frame, names)

        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.specs_ = specs
        self._log_mask, self._share_mask, self._high_mask, self._low_mask = spec_masks(names, specs)

        transformed = scale_transform(values, self._log_mask, self._share_mask)
        self.peers_ = fit_peer_tiers(values, names, self.peer_quantiles)
        (
            self.peer_relative_,
            self.center_,
            self.spread_,
            self.quantiles_,
            self.peer_quantiles_,
        ) = fit_scaling(
            values,
            transformed,
            names,
            specs,
            self.peers_,
            peer_prior=self.peer_prior,
            peer_families=self.peer_families,
            peer_spread_floor=self.peer_spread_floor,
        )

        max_samples = self.max_samples
        whole = isinstance(max_samples, (int, np.integer)) and not isinstance(max_samples, bool)
        base = int(max_samples) if whole else DEFAULT.max_samples  # a full-forest tree's
        self.family_samples_ = forest_blend.family_sample_size(
            len(ids), floor=base, cap=self.family_max_samples, share=self.family_sample_share
        )
        deepest = self.family_samples_ if self.family_estimators > 0 else base
        self.alert_spreads_ = depth_spreads(
            self.alert_spreads, self.alert_spreads_per_doubling, deepest, base
        )
        matrix = self.preprocess_values(values)
        (
            self.forest_,
            self.family_forests_,
            self.blend_,
            self.tail_,
            raw,
            family_raws,
        ) = forest_blend.fit_forests(
            matrix,
            names,
            specs,
            n_estimators=self.n_estimators,
            family_estimators=self.family_estimators,
            max_samples=min(int(max_samples), len(ids)) if whole else max_samples,
            family_max_samples=self.family_samples_,
            random_state=self.random_state,
            tail_weight=self.tail_weight,
            family_weights=dict(self.family_weights),
            full_weight=self.full_forest_weight,
            family_floor=self.family_floor,
        )
        keep_median(self.blend_, self.family_forests_, family_raws)
        self.calibration_ = calibration.calibration_anchors(raw)
        train_scores = np.round(self.calibrate(raw), SCORE_DECIMALS)
        self.threshold_ = default_threshold(
            train_scores,
            budget=self.alert_budget,
            spreads=self.alert_spreads_,
            ceiling=DEFAULT.alert_ceiling,
        )
        self.fingerprint_ = population_fingerprint(
            pd.DataFrame(values, index=pd.Index(ids, name=schema.ACCOUNT_ID), columns=names)
        )
        return self

    def peer_tiers(self, values: np.ndarray) -> np.ndarray:
        """Peer tier of each row of a raw feature matrix (model column order)."""
        check_is_fitted(self, "peers_")
        return self.peers_.assign(values)

    def peer_label(self, tier: int) -> str:
        """Who an account of ``tier`` is compared with, for reasons."""
        check_is_fitted(self, "peers_")
        return self.peers_.label(tier)

    # -- preprocessing -------------------------------------------------------------------

    def preprocess_values(self, values: np.ndarray) -> np.ndarray:
        """Scale, centre and clip one-sidedly with the fitted statistics
        (:func:`detector.preprocess.preprocess_matrix`); the matrix the forest sees.

        ``values`` is a raw feature matrix in the model's column order (as
        :meth:`feature_values` returns it); attribution walks the trees on this matrix.
        """
        masks = (self._log_mask, self._share_mask, self._high_mask, self._low_mask)
        return preprocess_matrix(values, self.peers_, self.center_, self.spread_, masks)

    def feature_values(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Check a feature table against the fitted features; ids and raw values.

        Columns may come in any order (they are matched by name); missing or extra
        features are an error that names them. The values come back in the model's
        column order, ready for :meth:`raw_scores_from_values` and the reasons, so a
        caller that scores in pieces (the Spark engine) checks the table once.
        """
        check_is_fitted(self, "forest_")
        return fitted_values(X, [str(n) for n in self.feature_names_in_])

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The preprocessed matrix the forest scores (see :mod:`detector.preprocess`).

        Parameters
        ----------
        X : DataFrame with the fitted features (any column order).

        Returns
        -------
        float32 array of shape (n_accounts, n_features_in_), rows in ``X``'s order.
        """
        _, values = self.feature_values(X)
        return self.preprocess_values(values)

    # -- scoring -------------------------------------------------------------------------

    def raw_scores(self, X: pd.DataFrame) -> np.ndarray:
        """The blended raw anomaly score of each row of ``X`` (higher = more anomalous;
        see :mod:`detector.forest_blend`); :meth:`calibrate` maps it to 0–100."""
        _, values = self.feature_values(X)
        return self.raw_scores_from_values(values)

    def raw_scores_from_values(self, values: np.ndarray) -> np.ndarray:
        """:meth:`raw_scores` of a raw matrix in the model's column order (no checks).

        For callers that already hold :meth:`feature_values`' matrix, or a slice of it.
        """
        if len(values) == 0:
            return np.empty(0, dtype=np.float64)
        return self._blend(self.preprocess_values(values))

    def raw_scores_from_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Raw scores of :meth:`transform`'s matrix, for callers that already hold it."""
        if len(matrix) == 0:
            return np.empty(0, dtype=np.float64)
        return self._blend(matrix)

    def forest_weights(self) -> list[tuple[IsolationForest, np.ndarray, float]]:
        """Each forest with its feature columns and its weight, for attribution.

        Without family forests the weight is 1, so attributions are in path-length
        units and sum to ``c(ψ) − E[h(x)]``; with them, each forest's credits are
        scaled by its weight in the blended raw score (per unit of its own raw score).
        """
        return forest_blend.forest_weights(
            self.forest_,
            self.family_forests_,
            self.blend_,
            self.tail_weight,
            self.n_features_in_,
        )

    def behaviour(self, X: pd.DataFrame) -> np.ndarray:
        """How unusual each row's behaviour is, links left out (0 typical, 1 at the
        training 99th percentile in every behaviour family; see :mod:`detector.behaviour`)."""
        check_is_fitted(self, "forest_")
        if len(X) == 0:
            return np.empty(0, dtype=np.float64)
        return behaviour_scores(self.transform(X), self.family_forests_, self.blend_)

    def behaviour_median(self) -> float | None:
        """The training population's median :meth:`behaviour` (None: an older bundle)."""
        check_is_fitted(self, "forest_")
        return behaviour_median(self.blend_) if self.family_forests_ else None

    def active_families(self, matrix: np.ndarray) -> np.ndarray | None:
        """Which family forests count for each row of :meth:`transform`'s matrix, or None
        when all do (:func:`detector.forest_blend.active_families`), for attribution."""
        return forest_blend.active_families(matrix, self.family_forests_, self.blend_)

    def _blend(self, matrix: np.ndarray) -> np.ndarray:
        """The blended raw score (:func:`detector.forest_blend.blend`)."""
        return forest_blend.blend(
            matrix,
            self.forest_,
            self.family_forests_,
            self.blend_,
            getattr(self, "tail_", None),
            self.tail_weight,
        )

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw scores (:meth:`raw_scores`) to 0–100 with the training anchors: the
        median training account scores 15, the 99th percentile 75, the most isolated
        approach 100 (a continuous increasing map fixed at fit:
        :func:`detector.calibration.calibrate`)."""
        check_is_fitted(self, "calibration_")
        return calibration.calibrate(raw, self.calibration_)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated anomaly score in [0, 100] (unrounded) of each row of ``X`` (a
        frame with the fitted features), in ``X``'s row order."""
        return self.calibrate(self.raw_scores(X))
