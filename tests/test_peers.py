"""Peer tiers: a heavy product is compared with heavy products, not with hobbyists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_features import spec

from detector import schema
from detector.model import AnomalyModel
from detector.peers import PEER_FEATURE, fit_peer_tiers
from detector.scored import score_frame

SPECS = {
    "requests_per_day": spec(
        "requests_per_day", "per_day", "log", "high", "{value} requests per active day"
    ),
    "hour_entropy": spec("hour_entropy", "bits", "linear", "high", "hour entropy {value}"),
    "reasoning_share": spec(
        "reasoning_share", "share", "share", "high", "{value} of prompts ask for reasoning"
    ),
}
FAST = {"n_estimators": 100, "family_estimators": 0, "max_samples": 256}
PEERS = {"peer_families": ("test",)}  # the synthetic specs' family


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    """1,000 accounts whose behaviour drifts with size, as on a real gateway.

    Request rates are log-normal over four orders of magnitude, and the bigger an
    account the more of the day it covers (products serve users around the clock), so
    the biggest accounts are extreme in *both* volume and coverage, while nothing about
    them is unusual for their size. One heavy account also asks for reasoning.
    """
    rng = np.random.default_rng(3)
    n = 1000
    rate = rng.lognormal(2.0, 1.6, n)
    frame = pd.DataFrame(
        {
            "requests_per_day": rate,
            "hour_entropy": np.clip(1.2 + 0.45 * np.log(rate) + rng.normal(0, 0.25, n), 0, 4.58),
            "reasoning_share": rng.beta(1, 30, n),
        },
        index=pd.Index([f"acct-{i:04d}" for i in range(n)], name=schema.ACCOUNT_ID),
    )
    frame = frame.sort_values("requests_per_day")
    frame.index = pd.Index([f"acct-{i:04d}" for i in range(n)], name=schema.ACCOUNT_ID)
    frame.loc["acct-0990", "reasoning_share"] = 0.9
    return frame


def test_tiers_cut_at_population_quantiles(world: pd.DataFrame) -> None:
    values = world.to_numpy(dtype=float)
    tiers = fit_peer_tiers(values, list(world.columns), (0.5, 0.8, 0.95))
    assigned = tiers.assign(values)
    share = np.bincount(assigned, minlength=tiers.n_tiers) / len(values)
    np.testing.assert_allclose(share, [0.5, 0.3, 0.15, 0.05], atol=0.03)
    assert tiers.label(0).startswith("accounts under ")
    assert tiers.label(tiers.n_tiers - 1).endswith("+ requests/day")
    assert fit_peer_tiers(values, ["a", "b", "c"], (0.5,)).n_tiers == 1
    assert PEER_FEATURE == "requests_per_day"


def test_being_big_is_measured_against_peers(world: pd.DataFrame) -> None:
    """The biggest accounts' size and coverage are ordinary for their tier."""
    with_peers = AnomalyModel(specs=SPECS, **FAST, **PEERS).fit(world)
    without = AnomalyModel(specs=SPECS, peer_quantiles=(), **FAST).fit(world)
    biggest = world["requests_per_day"] >= world["requests_per_day"].quantile(0.95)
    z_peer = pd.DataFrame(with_peers.transform(world), index=world.index, columns=world.columns)
    z_flat = pd.DataFrame(without.transform(world), index=world.index, columns=world.columns)
    for feature in ("requests_per_day", "hour_entropy"):
        assert z_peer.loc[biggest, feature].median() < z_flat.loc[biggest, feature].median() / 3
    # the heavy account that extracts reasoning is the top outlier either way
    assert pd.Series(with_peers.score(world), index=world.index).idxmax() == "acct-0990"
    assert pd.Series(without.score(world), index=world.index).idxmax() == "acct-0990"


def test_reasons_name_the_peers(world: pd.DataFrame) -> None:
    model = AnomalyModel(specs=SPECS, **FAST, **PEERS).fit(world)
    frame = score_frame(model, world).set_index(schema.ACCOUNT_ID)
    reason = frame.loc["acct-0990", schema.REASONS]
    tier = model.peer_tiers(world.loc[["acct-0990"]].to_numpy(dtype=float))[0]
    assert f"percentile among {model.peer_label(tier)})" in reason
    assert "reasoning" in reason.split(";")[0]
