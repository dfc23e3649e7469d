"""An in-order, bounded map over a thread pool: the streaming stages' one pattern.

The pipeline annotates chunks and computes buckets on worker threads while its own
thread reads the next item (the heavy work is NumPy, pandas and Arrow kernels, which
mostly release the GIL). Results come back in the items' order, so the output never
depends on thread timing, and at most ``depth`` items are submitted and not yet
consumed, so memory holds a bounded number of them, however long the input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["in_order"]


def in_order(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], depth: int
) -> Iterator[R]:
    """``fn(item)`` for each of ``items``, run on ``pool``, yielded in the items' order.

    The next item is read (on the caller's thread) while up to ``depth`` earlier ones
    run; an exception raised by ``fn`` is raised here, at that item's turn.
    """
    depth = max(1, depth)
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        while len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
