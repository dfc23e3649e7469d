"""The run's topic model: fitted on the log's first chunk of ``Config.topic_fit_rows`` rows.

Every engine fits the topic model by one rule, so topic ids agree between them: an
evenly strided sample (``Config.topic_sample_rows``) of the prompts of the first clean
chunk that has prompts, read in chunks of ``Config.topic_fit_rows`` rows. That chunk
size is the sample's own, not ``Config.chunk_rows``: the stream's chunk size bounds
memory and never changes a feature. The sample is read on its own, beside the stream:
at most ``topic_fit_rows`` rows (a fraction of a second) when the log's first rows have
a prompt column; a log with no prompts at all is read to its end to find that out, as
the Spark engine's driver always did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import annotate as A
from detector import schema as S
from detector.config import Config
from detector.ingest import iter_clean
from detector.topics import TopicModel, fit_topic_model

__all__ = ["TopicModelFit", "first_topic_model", "fit_log_topics", "topic_chunks", "topic_model_of"]


def topic_sample(frame: pd.DataFrame, config: Config) -> pa.Array:
    """A deterministic, evenly strided sample of prompt windows to fit topics on."""
    prompts = frame[S.PROMPT]
    step = max(1, len(prompts) // max(config.topic_sample_rows, 1))
    return A.topic_text(A.prompt_window(A.as_arrow(prompts.iloc[::step]), config))


def topic_model_of(chunk: pd.DataFrame, config: Config) -> TopicModel | None:
    """The topic model fitted on a clean chunk's prompt sample, ``None`` when it has no
    prompts."""
    if S.PROMPT not in chunk.columns:
        return None
    sample = topic_sample(chunk, config)
    return fit_topic_model(sample, config) if len(sample) else None


def first_topic_model(chunks: Iterable[pd.DataFrame], config: Config) -> TopicModel | None:
    """The topic model of the first of ``chunks`` (clean chunks in log order) that has
    prompts; no later chunk is read."""
    for chunk in chunks:
        model = topic_model_of(chunk, config)
        if model is not None:
            return model
    return None


def topic_chunks(
    log: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config,
) -> Iterator[pd.DataFrame]:
    """The log's clean chunks as the topic sample reads them: ``topic_fit_rows`` rows each
    (the reader's own chunking; no quarantine file, its own counts)."""
    sized = dataclasses.replace(config, chunk_rows=config.topic_fit_rows)
    return iter_clean(log, start=start, end=end, config=sized)


def fit_log_topics(
    log: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config,
) -> TopicModel | None:
    """The run's topic model: :func:`first_topic_model` of :func:`topic_chunks`."""
    return first_topic_model(topic_chunks(log, start=start, end=end, config=config), config)


class TopicModelFit:
    """The run's topic model being read and fitted on a thread of its own while the
    workers annotate.

    Annotating a chunk needs the topic model at its last step only (topic assignment),
    so the workers start on the first chunks at once and wait for the fit, if at all,
    there: the fit (seconds, a fixed cost) overlaps their flags, hashes and templates
    instead of holding them up. It is :func:`fit_log_topics`' model (the same sample,
    the same seed), so every topic is the same.
    """

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        log: Path | Sequence[Path],
        *,
        start: dt.date | None,
        end: dt.date | None,
        config: Config,
    ) -> None:
        self._future = pool.submit(fit_log_topics, log, start=start, end=end, config=config)

    def assign(self, texts: pa.Array) -> np.ndarray:
        """:meth:`TopicModel.assign` of the fitted model (waits for the fit); ``-1``
        everywhere when the log has no prompts, as without a topic model."""
        model = self.result()
        if model is None:
            return np.full(len(texts), -1, dtype=np.int16)
        return model.assign(texts)

    def result(self) -> TopicModel | None:
        """The fitted model, ``None`` without prompts (waits for the fit; raises what
        the fit raised)."""
        return self._future.result()
