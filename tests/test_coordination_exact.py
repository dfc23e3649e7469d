"""Speed-ups of the linking that must not change a single value: the token table built on
integer account codes equals the one built on the ids themselves, and naming only the
clusters gives every account the cluster id that naming every component gave."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from detector import schema as S
from detector.coordination import cluster_id_for, evidence_tokens
from detector.coordination import tokens as tokens_module
from detector.coordination.codes import AccountCodes
from detector.coordination.linking import cluster_names

WINDOW_START = int(pd.Timestamp("2026-11-01", tz="UTC").timestamp())


class _IdsAsThemselves:
    """The previous definition: every merge and count on the account ids themselves."""

    def __init__(self, population: pd.Index) -> None:
        pass

    def codes(self, ids: Any) -> np.ndarray:
        return np.asarray(ids, dtype=object)

    def ids(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=object)


def _population(seed: int, n: int = 3000) -> dict[str, Any]:
    """Accounts sharing templates, networks and client configurations with bursts of
    creation and activation, so most paired kinds link some; ids in no sorted order,
    evidence rows repeated, and some evidence of accounts outside the population."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"acct_{v:06x}" for v in rng.choice(16**6, n, replace=False)], dtype=object)
    outside = np.array([f"gone_{i}" for i in range(40)], dtype=object)
    burst = rng.random(n) < 0.3  # created and started in a few bins: pairs far beyond chance
    who = np.concatenate([rng.choice(ids, 3 * n), rng.choice(outside, 80)])
    kind = rng.choice(["template", "network", "client"], len(who))
    key = rng.zipf(1.7, len(who)).astype(np.uint64) + np.uint64(10**9)
    evidence = pd.DataFrame({S.ACCOUNT_ID: who, "kind": kind, "key": key})
    # a campaign's own configuration, network or template, on the accounts created in a burst
    half = rng.random(n) < 0.5
    campaign = pd.concat(
        [
            pd.DataFrame({S.ACCOUNT_ID: ids[burst], "kind": "client", "key": np.uint64(7)}),
            pd.DataFrame({S.ACCOUNT_ID: ids[burst & half], "kind": "network", "key": np.uint64(8)}),
            pd.DataFrame(
                {S.ACCOUNT_ID: ids[burst & ~half], "kind": "template", "key": np.uint64(9)}
            ),
        ]
    )
    repeated = evidence.sample(200, random_state=seed)
    evidence = pd.concat([evidence, campaign, repeated], ignore_index=True)
    evidence["rows"] = 5.0
    evidence["share"] = 0.5
    created = np.where(
        burst,
        WINDOW_START - 86_400 * 3 + rng.integers(0, 4, n) * 3600,
        WINDOW_START - rng.integers(1, 700, n) * 86_400,
    )
    first = np.where(burst, WINDOW_START + 86_400 + rng.integers(0, 3, n) * 1800, WINDOW_START + 60)
    accounts = pd.DataFrame(
        {
            S.CREATED_AT: pd.to_datetime(created, unit="s", utc=True),
            S.PAYMENT_FINGERPRINT: np.where(rng.random(n) < 0.1, "pf_shared", ""),
            S.ORG_ID: np.where(rng.random(n) < 0.05, rng.choice(["o1", "o2"], n), ""),
        },
        index=pd.Index(ids, name=S.ACCOUNT_ID),
    )
    first_ts = pd.Series(first.astype(np.int64), index=accounts.index)
    switched = pd.Series(
        (WINDOW_START + 2 * 86_400 + rng.integers(0, 2, n // 10) * 3600).astype(np.float64),
        index=rng.choice(ids[burst], n // 10, replace=False),
    )
    return {"evidence": evidence, "accounts": accounts, "first_ts": first_ts, "switched": switched}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tokens_on_account_codes_equal_tokens_on_account_ids(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    p = _population(seed)
    args = (p["evidence"], p["accounts"], p["first_ts"], WINDOW_START, p["switched"])
    fast = evidence_tokens(*args)
    monkeypatch.setattr(tokens_module, "AccountCodes", _IdsAsThemselves)
    slow = evidence_tokens(*args)
    assert set(slow["kind"]) >= {
        "payment",
        "org",
        "client+created",
        "template+created",
        "template+activation",
    }
    pd.testing.assert_frame_equal(fast, slow)
    assert fast.index.equals(slow.index)


def test_account_codes_round_trip_ids_inside_and_outside_the_population() -> None:
    code = AccountCodes(pd.Index(["b", "a", "c"]))
    first = code.codes(np.array(["a", "x", "c", "y", "x"], dtype=object))
    again = code.codes(pd.Index(["y", "b", "x"]))
    assert first.tolist() == [1, 3, 2, 4, 3]
    assert again.tolist() == [4, 0, 3]
    assert code.ids(np.concatenate([first, again])).tolist() == list("axcyxybx")


def _names_of_every_component(index: pd.Index, label: np.ndarray, clustered: np.ndarray):
    """The previous definition: every component named, unlinked ones thrown away."""
    order = np.lexsort((index.to_numpy(dtype=str), label))
    first_of = pd.Series(index.to_numpy()[order]).groupby(label[order]).first()
    names = np.array([cluster_id_for(str(v)) for v in first_of.to_numpy()], dtype=object)
    return np.where(clustered, names[label], "")


@pytest.mark.parametrize("linked_share", [0.0, 0.3, 1.0])
def test_naming_only_the_clusters_gives_every_account_the_same_cluster_id(
    linked_share: float,
) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    index = pd.Index(rng.permutation([f"acct_{i:05d}" for i in range(n)]), name=S.ACCOUNT_ID)
    linked = rng.random(n) < linked_share
    label = np.where(linked, rng.integers(0, 60, n), 60 + np.arange(n))
    _, label = np.unique(label, return_inverse=True)
    label = label.astype(np.int32)
    n_comp = int(label.max()) + 1
    clustered = np.bincount(label, minlength=n_comp)[label] >= 2
    got = cluster_names(index, label, n_comp, clustered)
    want = _names_of_every_component(index, label, clustered)
    assert got.dtype == want.dtype
    assert got.tolist() == want.tolist()
