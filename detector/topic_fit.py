"""The run's topic model: fitted on a sample of the log's first rows.

Every engine fits the topic model by one rule, so topic ids agree between them: of
the first ``Config.topic_fit_rows`` clean rows that have a prompt column (``n`` of
them: fewer in a shorter log), in log order, the prompt windows of every ``step``-th,
``step = max(1, n // topic_sample_rows)``, whatever the size of the chunks they arrive
in. The sample does not depend on ``Config.chunk_rows``, so the chunk size stays a
memory knob and never changes a feature.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import annotate as A
from detector import schema as S
from detector.config import Config
from detector.topics import TopicModel, fit_topic_model

__all__ = ["TopicModelFit", "TopicSample", "first_topic_model"]


class TopicSample:
    """The fit sample, collected chunk by chunk from clean chunks in log order."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.wanted = max(1, config.topic_fit_rows)
        self.seen = 0
        self._parts: list[pa.Array] = []

    @property
    def complete(self) -> bool:
        """Whether the first ``topic_fit_rows`` rows have been seen."""
        return self.seen >= self.wanted

    def add(self, chunk: pd.DataFrame) -> None:
        """Take the chunk's rows up to ``topic_fit_rows`` (none without prompts)."""
        if self.complete or S.PROMPT not in chunk.columns or not len(chunk):
            return
        take = min(len(chunk), self.wanted - self.seen)
        prompts = A.as_arrow(chunk[S.PROMPT].iloc[:take])
        # the short topic text of every row (<= 100k rows of <= 240 characters): the
        # stride is known only once the sample is complete or the log ends
        self._parts.append(A.topic_text(A.prompt_window(prompts, self.config)))
        self.seen += take

    def texts(self) -> pa.Array:
        """The sample of the rows taken so far: every ``step``-th."""
        if not self._parts:
            return pa.array([], pa.string())
        rows = pa.concat_arrays([p.cast(pa.string()) for p in self._parts])
        step = max(1, self.seen // max(self.config.topic_sample_rows, 1))
        return rows.take(pa.array(np.arange(0, len(rows), step)))

    def fit(self) -> TopicModel | None:
        """The topic model of the sample; ``None`` when no row had a prompt column."""
        texts = self.texts()
        return fit_topic_model(texts, self.config) if len(texts) else None


class TopicModelFit:
    """A topic model being fitted on a thread of its own while the workers annotate.

    Annotating a chunk needs the topic model at its last step only (topic assignment),
    so the workers start on the first chunks at once and wait for the fit, if at all,
    there: the fit (seconds, a fixed cost) overlaps their flags, hashes and templates
    instead of holding them up. It is the model :func:`first_topic_model` fits (the
    same sample, the same seed), so every topic is the same.
    """

    def __init__(self, pool: ThreadPoolExecutor, sample: TopicSample) -> None:
        self._future = pool.submit(fit_topic_model, sample.texts(), sample.config)

    def assign(self, texts: pa.Array) -> np.ndarray:
        """:meth:`TopicModel.assign` of the fitted model (waits for the fit)."""
        return self.result().assign(texts)

    def result(self) -> TopicModel:
        """The fitted model (waits for the fit; raises what the fit raised)."""
        return self._future.result()


def first_topic_model(chunks: Iterable[pd.DataFrame], config: Config) -> TopicModel | None:
    """The topic model of the first rows of ``chunks`` (clean chunks in log order): the
    model :func:`detector.pipeline.build_features` fits while it streams the log, for
    an engine that reads the log otherwise. Reads no chunk past the sample."""
    sample = TopicSample(config)
    for chunk in chunks:
        sample.add(chunk)
        if sample.complete:
            break
    return sample.fit()
