"""Where labels come from, the feedback evaluation protocol, and "more like this"."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import schema as S
from detector.errors import UserError
from detector.feedback import FLAGGED_BENIGN, feedback_evaluation, summarise_draws
from detector.model import AnomalyModel
from detector.similar import DISTANCE, nearest, with_context
from detector.store import Store
from detector.verdict_draws import draw_verdicts, queue_verdicts, time_split
from detector.verdicts import DECIDED_AT, labels_from_store, provenance
from tests.synthetic_features import SPECS, population
from tests.test_learned import kind


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return pd.concat([population(600, seed=4), kind("loud", 5), kind("quiet", 6)])


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> AnomalyModel:
    return AnomalyModel(n_estimators=40, family_estimators=0, specs=SPECS).fit(features)


@pytest.fixture(scope="module")
def truth(features: pd.DataFrame) -> pd.DataFrame:
    ids = features.index.astype(str)
    bad = ids.str.startswith(("loud", "quiet"))
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: ids,
            S.LABEL: np.where(bad, S.LABEL_EXTRACTION, S.LABEL_BENIGN),
            S.SCENARIO: ids.str.split("-").str[0],
        }
    )


# --- labels from the store ------------------------------------------------------------


def at(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)


def test_store_verdicts_latest_per_account_and_expired_left_out(tmp_path: Path) -> None:
    for when, account, verdict in (
        ("2026-01-05T10:00:00", "old", "extraction"),  # expired on 2026-11-01 (200 days)
        ("2026-06-01T10:00:00", "flip", "extraction"),
        ("2026-10-01T10:00:00", "flip", "benign"),  # the latest wins
        ("2026-10-02T10:00:00", "x'); DROP TABLE verdicts;--", "extraction"),
    ):
        with Store.open(tmp_path, create=True, now=lambda w=when: at(w)) as store:
            store.add_verdict(account, verdict)
    got = labels_from_store(tmp_path, on=dt.date(2026, 11, 1), max_age_days=200)
    assert dict(zip(got[S.ACCOUNT_ID], got[S.LABEL], strict=True)) == {
        "flip": S.LABEL_BENIGN,
        "x'); DROP TABLE verdicts;--": S.LABEL_EXTRACTION,
    }
    assert got[DECIDED_AT].str.startswith("2026-10-0").all()
    everything = labels_from_store(tmp_path, max_age_days=None)
    assert set(everything[S.ACCOUNT_ID]) == {"old", "flip", "x'); DROP TABLE verdicts;--"}


def test_a_missing_store_is_a_user_error_not_a_new_store(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no detector state here"):
        labels_from_store(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_provenance_counts_dates_and_digest() -> None:
    table = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["b", "a", "c"],
            S.LABEL: ["benign", "extraction", "benign"],
            DECIDED_AT: ["2026-10-02T00:00:00Z", "", "2026-09-01T00:00:00Z"],
        }
    )
    got = provenance(table, "state:/x")
    expected = hashlib.sha256(b"a\textraction\nb\tbenign\nc\tbenign").hexdigest()
    assert got == {
        "source": "state:/x",
        "n_labels": 3,
        "n_extraction": 1,
        "n_benign": 2,
        "decided_from": "2026-09-01T00:00:00Z",
        "decided_to": "2026-10-02T00:00:00Z",
        "pairs_sha256": expected,
    }
    assert provenance(table.iloc[::-1], "state:/x")["pairs_sha256"] == expected


# --- the feedback protocol --------------------------------------------------------------


def test_verdicts_are_a_seeded_stratified_share(truth: pd.DataFrame) -> None:
    drawn = draw_verdicts(truth, 0.1, seed=3)
    assert (drawn[S.LABEL] == S.LABEL_EXTRACTION).sum() == 4  # round(0.1 * 40)
    assert (drawn[S.LABEL] == S.LABEL_BENIGN).sum() == 60
    again = draw_verdicts(truth.sample(frac=1.0, random_state=9), 0.1, seed=3)
    assert drawn[S.ACCOUNT_ID].tolist() == again[S.ACCOUNT_ID].tolist()
    assert draw_verdicts(truth, 0.1, seed=4)[S.ACCOUNT_ID].tolist() != drawn[S.ACCOUNT_ID].tolist()
    assert draw_verdicts(truth, 0.0, seed=3).empty


def test_feedback_measures_only_accounts_that_gave_no_verdict(
    features: pd.DataFrame, model: AnomalyModel, truth: pd.DataFrame
) -> None:
    got = feedback_evaluation(model, features, truth, share=0.1, seed=1)
    assert got["learned_layer"] == "fitted"
    assert got["evaluated_accounts"] == len(truth) - got["verdicts"]["n"]
    for side in ("unsupervised", "learned"):
        assert got[side]["n_labelled"] == got["evaluated_accounts"]
        assert got[side]["n_extraction"] == 40 - got["verdicts"]["n_extraction"]
    assert got["delta"]["pr_auc"] == pytest.approx(
        got["learned"]["pr_auc"] - got["unsupervised"]["pr_auc"]
    )
    assert got["learned"]["pr_auc"] >= got["unsupervised"]["pr_auc"] - 0.02


def test_a_queue_of_verdicts_is_the_top_of_the_ranking(truth: pd.DataFrame) -> None:
    ids = truth[S.ACCOUNT_ID].to_numpy(dtype=object)
    table = pd.DataFrame({S.ACCOUNT_ID: ids[::-1], S.RANK: np.arange(1, len(ids) + 1)})
    top = queue_verdicts(truth, table, 5)
    assert set(top[S.ACCOUNT_ID]) == set(ids[::-1][:5])  # ranks 1-5
    assert top[S.ACCOUNT_ID].is_monotonic_increasing
    unranked = truth.assign(**{S.ACCOUNT_ID: "nobody"}).head(1)
    assert queue_verdicts(pd.concat([unranked, truth]), table, 1)[S.ACCOUNT_ID].iloc[0] != "nobody"
    assert queue_verdicts(truth, table, 0).empty
    with pytest.raises(ValueError):
        queue_verdicts(truth, table, -1)


def test_the_queue_protocol_learns_from_the_top_and_measures_the_rest(
    features: pd.DataFrame, model: AnomalyModel, truth: pd.DataFrame
) -> None:
    got = feedback_evaluation(model, features, truth, share=0.1, queue=30)
    assert got["protocol"] == "queue" and got["queue"] == 30
    with pytest.raises(ValueError, match="separate protocols"):
        first = pd.Series(dt.date(2026, 11, 1), index=features.index.astype(str))
        feedback_evaluation(model, features, truth, share=0.1, queue=30, first_seen=first)
    assert got["verdicts"]["n"] == 30
    assert got["evaluated_accounts"] == len(truth) - 30
    scores = pd.Series(model.score(features), index=features.index.astype(str))
    top = set(scores.sort_values(ascending=False, kind="stable").index[:30])
    # the queue holds what the score ranks first: 23 extraction accounts and the 7
    # ordinary ones that outrank the rest of the quiet kind
    assert (
        got["verdicts"]["n_extraction"]
        == (truth.set_index(S.ACCOUNT_ID).loc[list(top), S.LABEL] == S.LABEL_EXTRACTION).sum()
    )
    assert got["unsupervised"]["n_labelled"] == got["learned"]["n_labelled"] == len(truth) - 30
    # what is left is the hard part of the quiet kind: the confirmed cases lift it
    # (PR-AUC 0.39 -> 0.43 measured)
    assert got["learned"]["pr_auc"] > got["unsupervised"]["pr_auc"]


def test_without_verdicts_the_scores_are_exactly_unsupervised(
    features: pd.DataFrame, model: AnomalyModel, truth: pd.DataFrame
) -> None:
    got = feedback_evaluation(model, features, truth, share=0.0, seed=1)
    assert got["verdicts"]["n"] == 0
    assert "fewer than 6" in got["learned_layer"]
    assert got["learned"] == got["unsupervised"]


def test_the_time_split_draws_early_and_measures_late(
    features: pd.DataFrame, model: AnomalyModel, truth: pd.DataFrame
) -> None:
    days = pd.Series(
        [dt.date(2026, 11, 1) + dt.timedelta(days=i % 4) for i in range(len(features))],
        index=features.index.astype(str),
    )
    cut, early, late = time_split(days, truth)  # type: ignore[misc]
    assert cut == dt.date(2026, 11, 3)  # half the labelled accounts are seen by then
    assert early.isdisjoint(late) and len(early) + len(late) == len(truth)
    got = feedback_evaluation(model, features, truth, share=0.1, seed=1, first_seen=days)
    assert got["protocol"] == "time" and got["cut_day"] == "2026-11-03"
    assert got["evaluated_accounts"] == len(late)
    one_day = pd.Series(dt.date(2026, 11, 1), index=days.index)
    assert "one day" in str(time_split(one_day, truth))
    assert (
        feedback_evaluation(model, features, truth, share=0.1, first_seen=one_day)["available"]
        is False
    )


def test_several_draws_are_summarised_draw_by_draw(
    features: pd.DataFrame, model: AnomalyModel, truth: pd.DataFrame
) -> None:
    runs = [feedback_evaluation(model, features, truth, share=0.1, seed=s) for s in (1, 2, 3)]
    got = summarise_draws(runs)
    assert got["draws"] == 3 and got["seeds"] == [1, 2, 3]
    pr = [r["delta"]["pr_auc"] for r in runs]
    assert got["delta"]["pr_auc"]["values"] == pytest.approx(pr)
    assert got["delta"]["pr_auc"]["mean"] == pytest.approx(np.mean(pr))
    assert (got["delta"]["pr_auc"]["min"], got["delta"]["pr_auc"]["max"]) == (min(pr), max(pr))
    assert got["learned_weights"] == [r["learned_weight"] for r in runs]
    more = [
        r["learned"]["flagged"]["n_flagged_benign"]
        - r["unsupervised"]["flagged"]["n_flagged_benign"]
        for r in runs
    ]
    assert got["delta"][FLAGGED_BENIGN]["values"] == more
    for name, row in got["per_scenario"].items():
        key = row["share"]
        assert key == ("share_in_top_k" if row["label"] == S.LABEL_EXTRACTION else "share_flagged")
        u = [r["unsupervised"]["per_scenario"][name][key] for r in runs]
        lr = [r["learned"]["per_scenario"][name][key] for r in runs]
        assert row["unsupervised"] == pytest.approx(np.mean(u))
        assert row["learned"] == pytest.approx(np.mean(lr))
        change = np.subtract(lr, u)
        worst = change.min() if row["label"] == S.LABEL_EXTRACTION else change.max()
        assert row["worst_change"] == pytest.approx(worst)


def test_a_summary_of_draws_says_when_none_was_usable() -> None:
    assert summarise_draws([{"available": False, "note": "one day"}])["draws"] == 0


def test_the_worst_draw_is_the_one_most_against_the_layer() -> None:
    def run(seed: int, ext: tuple[float, float], ben: tuple[float, float]) -> dict:
        def side(i: int) -> dict:
            return {
                "per_scenario": {
                    "distill": {"label": S.LABEL_EXTRACTION, "share_in_top_k": ext[i]},
                    "chat": {"label": S.LABEL_BENIGN, "share_flagged": ben[i]},
                }
            }

        return {"seed": seed, "delta": {"pr_auc": ext[1] - ext[0]}, "learned_weight": 1.0,
                "unsupervised": side(0), "learned": side(1)}  # fmt: skip

    got = summarise_draws([run(0, (0.8, 0.9), (0.02, 0.0)), run(1, (0.8, 0.4), (0.0, 0.05))])
    assert got["per_scenario"]["distill"]["worst_change"] == pytest.approx(-0.4)
    assert got["per_scenario"]["chat"]["worst_change"] == pytest.approx(0.05)
    assert got["per_scenario"]["distill"]["learned"] == pytest.approx(0.65)
    assert got["delta"]["pr_auc"]["min"] == pytest.approx(-0.4)
    assert "roc_auc" not in got["delta"]  # no draw reported it


# --- more like this --------------------------------------------------------------------


def test_nearest_accounts_and_cases(features: pd.DataFrame, model: AnomalyModel) -> None:
    space = model.transform(features)
    ids = features.index.to_numpy(dtype=object)
    found = nearest(space, ids, "loud-00", k=5)
    assert found.kind == "account" and found.members == ("loud-00",)
    assert len(found.table) == 5 and "loud-00" not in set(found.table[S.ACCOUNT_ID])
    assert found.table[S.ACCOUNT_ID].str.startswith("loud").all()
    assert found.table[DISTANCE].is_monotonic_increasing
    cases = pd.Series("", index=ids, dtype=object)
    cases[[f"quiet-{i:02d}" for i in range(5)]] = "c-7"
    case = nearest(space, ids, "c-7", cases=cases, k=8)
    assert case.kind == "case" and len(case.members) == 5
    assert not set(case.table[S.ACCOUNT_ID]) & set(case.members)
    assert case.table[S.ACCOUNT_ID].str.startswith("quiet").all()
    with pytest.raises(KeyError):
        nearest(space, ids, "nobody", cases=cases)
    with pytest.raises(KeyError):
        nearest(space, ids, "", cases=cases)  # an empty case id is "no case", not a case


def test_neighbours_come_with_scores_and_verdicts(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    ids = features.index.to_numpy(dtype=object)
    found = nearest(model.transform(features), ids, "loud-00", k=3)
    scores = pd.DataFrame(
        {
            S.ACCOUNT_ID: ids,
            S.SCORE: np.arange(len(ids), dtype=float),
            S.RANK: np.arange(1, len(ids) + 1),
            S.FLAGGED: False,
            S.CLUSTER_ID: "",
        }
    )
    first = found.table[S.ACCOUNT_ID].iloc[0]
    table = with_context(found, scores, pd.Series({first: S.LABEL_EXTRACTION}))
    assert table["verdict"].tolist() == [S.LABEL_EXTRACTION, "", ""]
    assert table[S.SCORE].notna().all()
