"""The fitted, versioned text model that assigns prompts to topics.

HashingVectorizer (stateless, no vocabulary to store) + TF-IDF weights + MiniBatchKMeans
fitted on a sample of the training population's prompts. It is saved inside the model
bundle so scoring assigns the same topics the model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from detector.config import DEFAULT, Config

TOPIC_MODEL_VERSION = "hash-tfidf-kmeans/1"


class TopicModel:
    """Prompt → topic id, fitted once on a sample.

    Parameters
    ----------
    n_topics : number of k-means clusters.
    n_features : hashing space of the vectoriser.
    random_state : seed of k-means.
    """

    version = TOPIC_MODEL_VERSION

    def __init__(
        self,
        *,
        n_topics: int = DEFAULT.topic_clusters,
        n_features: int = DEFAULT.topic_hash_features,
        random_state: int = 0,
    ) -> None:
        self.n_topics = n_topics
        self.n_features = n_features
        self.random_state = random_state

    def _vectoriser(self) -> HashingVectorizer:
        return HashingVectorizer(
            n_features=self.n_features,
            alternate_sign=False,
            norm=None,
            lowercase=True,
            stop_words="english",
            token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str]) -> TopicModel:
        """Fit TF-IDF weights and k-means on ``texts`` (a sample of prompts)."""
        texts = [t for t in texts if t]
        k = max(1, min(self.n_topics, len(texts)))
        self.weights_ = make_pipeline(TfidfTransformer(sublinear_tf=True), Normalizer())
        x = self.weights_.fit_transform(self._vectoriser().transform(texts or [""]))
        self.kmeans_ = MiniBatchKMeans(
            n_clusters=k, random_state=self.random_state, n_init=3, batch_size=4096
        ).fit(x)
        self.n_topics_ = k
        return self

    def assign(self, texts: Sequence[str]) -> np.ndarray:
        """Topic id of each text (int16); empty text gets -1."""
        if not len(texts):
            return np.empty(0, dtype=np.int16)
        x = self.weights_.transform(self._vectoriser().transform(texts))
        topics = self.kmeans_.predict(x).astype(np.int16)
        empty = np.asarray(x.getnnz(axis=1) == 0)
        topics[empty] = -1
        return topics


def fit_topic_model(texts: Sequence[str], config: Config = DEFAULT) -> TopicModel:
    """Fit the topic model with the configured size."""
    return TopicModel(
        n_topics=config.topic_clusters,
        n_features=config.topic_hash_features,
        random_state=config.random_state,
    ).fit(texts)
