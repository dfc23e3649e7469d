"""detector.ordered.in_order: results in the items' order, a bounded number in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from detector.ordered import in_order


def test_results_come_in_the_items_order_whatever_finishes_first() -> None:
    def slow_first(i: int) -> int:
        time.sleep(0.02 if i % 3 == 0 else 0.0)
        return i * i

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(in_order(pool, slow_first, range(20), 3)) == [i * i for i in range(20)]


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_at_most_depth_items_are_read_and_not_yet_consumed(depth: int) -> None:
    read, consumed = 0, 0
    lock = threading.Lock()
    most = 0

    def items() -> Iterator[int]:
        nonlocal read, most
        for i in range(12):
            with lock:
                read += 1
                most = max(most, read - consumed)
            yield i

    with ThreadPoolExecutor(max_workers=depth) as pool:
        for _ in in_order(pool, lambda i: i, items(), depth):
            consumed += 1
    assert consumed == 12
    assert most == depth  # the item being read plus those submitted before it


def test_an_exception_is_raised_at_its_items_turn() -> None:
    def fail_at_five(i: int) -> int:
        if i == 5:
            raise ValueError("five")
        return i

    got: list[int] = []
    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(ValueError, match="five"):
        for r in in_order(pool, fail_at_five, range(10), 2):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]
