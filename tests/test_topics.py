"""The topic model: topics are a function of the sample, and steady from sample to sample.

Topic entropy and coverage (and the harvest share weighted by coverage) are read from
the run's topic model, fitted on a sample of the log's first chunk. If the topics
depended on which prompts the sample held, or on how many threads the fit had, a
retrain on the next night's log would move honest customers across the threshold. The
corpus here is what made the first model unsteady: short prompts drawn from subjects
with large vocabularies, so two prompts on one subject rarely share a word and only
the words' co-occurrence says they belong together.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pyarrow as pa
from sklearn.metrics import adjusted_rand_score

from detector.config import Config
from detector.topics import fit_topic_model

SUBJECTS = 6
WORDS_PER_SUBJECT = 150
PROMPT_WORDS = 6


def _corpus(n: int, seed: int) -> tuple[pa.Array, np.ndarray]:
    """``n`` prompts of ``PROMPT_WORDS`` words, each drawn from one subject's vocabulary
    (random seven-letter words), and each prompt's subject."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = [
        ["".join(rng.choice(letters, 7)) for _ in range(WORDS_PER_SUBJECT)] for _ in range(SUBJECTS)
    ]
    subject = rng.integers(0, SUBJECTS, n)
    texts = [
        "please explain " + " ".join(rng.choice(vocab[s], PROMPT_WORDS, replace=False))
        for s in subject
    ]
    return pa.array(texts, pa.string()), subject


def _vocab_seeded_corpus(n: int, sample_seed: int) -> tuple[pa.Array, np.ndarray]:
    """Prompts over one fixed set of subject vocabularies (seed 0), drawn with
    ``sample_seed``: different samples of one population."""
    texts, subject = _corpus(n + 20_000, 0)
    rng = np.random.default_rng(sample_seed)
    take = rng.choice(len(texts), n, replace=False)
    return texts.take(pa.array(take)), subject[take]


CFG = Config(topic_clusters=SUBJECTS, topic_components=20)


def test_topics_are_steady_from_one_sample_to_another() -> None:
    """Fitted on two different samples of one population, the models agree on a third
    set of prompts, find its subjects, and hold no catch-all topic."""
    held_out, subject = _vocab_seeded_corpus(3_000, 99)
    labels = [
        fit_topic_model(_vocab_seeded_corpus(4_000, s)[0], CFG).assign(held_out) for s in (1, 2)
    ]
    assert adjusted_rand_score(labels[0], labels[1]) >= 0.9
    for topic in labels:
        assert adjusted_rand_score(subject, topic) >= 0.9
        assert np.bincount(topic).max() / len(topic) <= 2 / SUBJECTS


def test_topics_are_a_function_of_the_sample_alone() -> None:
    """The same sample gives the same topics whatever runs beside the fit: fitted on
    threads of their own while another thread multiplies matrices (as the workers do
    while the run's topic model is fitted), every model assigns every prompt alike."""
    sample, _ = _vocab_seeded_corpus(4_000, 1)
    held_out, _ = _vocab_seeded_corpus(2_000, 3)
    reference = fit_topic_model(sample, CFG).assign(held_out)
    results: list[np.ndarray] = []
    stop = threading.Event()

    def busy() -> None:
        a = np.random.default_rng(0).random((400, 400))
        while not stop.is_set():
            a = np.tanh(a @ a)

    def fit() -> None:
        results.append(fit_topic_model(sample, CFG).assign(held_out))

    noise = threading.Thread(target=busy)
    noise.start()
    fits = [threading.Thread(target=fit) for _ in range(3)]
    for t in fits:
        t.start()
    for t in fits:
        t.join()
    stop.set()
    noise.join()
    assert len(results) == 3
    for r in results:
        np.testing.assert_array_equal(r, reference)


def test_a_tiny_sample_still_fits() -> None:
    """A log of one or two prompts (a smoke test, a new deployment) still gets a model:
    no latent projection larger than the sample, no warning turned into an error."""
    for texts in (["just one prompt here"], ["first prompt words", "second other words"]):
        model = fit_topic_model(pa.array(texts, pa.string()), CFG)
        topics = model.assign(pa.array([*texts, "", "unseen words entirely"], pa.string()))
        assert topics.dtype == np.int16
        assert topics[len(texts)] == -1  # no words, no topic
        assert (topics[: len(texts)] >= 0).all()


def test_a_sample_of_few_distinct_prompts_gets_that_many_topics_and_no_warning() -> None:
    """A templated or tiny log repeats a handful of prompts: k-means on fewer distinct
    points than topics left empty clusters and printed sklearn's ConvergenceWarning on
    the user's stderr. The model takes as many topics as there are distinct prompts."""
    texts = ["classify this ticket please", "summarise the meeting notes", "grade the essay"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fit_topic_model(pa.array(texts * 40, pa.string()), CFG)
    assert model.n_topics_ == 3
    topics = model.assign(pa.array(texts, pa.string()))
    assert sorted(topics.tolist()) == [0, 1, 2]
