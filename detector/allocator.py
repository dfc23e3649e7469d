"""Arrow's allocator gives freed memory back within 50 ms in a ``detector`` process.

pyarrow allocates through mimalloc, which keeps freed pages for a *purge delay*
before giving them back, in case they are wanted again. ``detector features`` streams
the log in chunks and frees a chunk's columns and text forms about twice a second, so
pages it no longer uses pile up on top of the chunks in flight. Measured with
``detector features --accounts`` on the bench logs, whole processes on a quiet machine
(docs/performance.md, "Tenth round"):

=============  =================================  =================================
purge delay    1M requests (mean of 4, A/B)       10M requests (one run each)
=============  =================================  =================================
default (1 s)  9.54 s wall, 1,198 MB peak         75.3 s wall, 1,987 MiB peak
250 ms                                            79.4 s, 1,731 MiB
**50 ms**      9.68 s, 1,041 MB                   74.8 s, 1,612 MiB
0              10.5–10.7 s, 0.98 GB (2 runs)      85.6 s, 1,556 MiB
=============  =================================  =================================

A delay of 0 gives every page back the moment it is freed and pays for it in page
faults (+12% wall at 10M); 50 ms takes 13–19% off the peak for at most a few percent
of wall time. The peak matters more than the seconds to a nightly job: a run killed for
its memory loses the night.

mimalloc reads its options from the environment once, when pyarrow's library loads, so
:func:`release_freed_memory_promptly` must run before anything imports pyarrow: the
``detector`` command calls it first (:mod:`detector.cli`). A value the operator set
(``MIMALLOC_PURGE_DELAY=0``, say, to save more memory) is kept. A program that imports
the package as a library decides for itself: importing :mod:`detector` changes no
setting.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = ["PURGE_DELAY_ENV", "PURGE_DELAY_MS", "release_freed_memory_promptly"]

PURGE_DELAY_ENV: Final = "MIMALLOC_PURGE_DELAY"
"""The environment variable mimalloc reads its purge delay (milliseconds) from."""
PURGE_DELAY_MS: Final = 50
"""Give freed pages back after 50 ms: most of the peak saved, little of the time lost."""


def release_freed_memory_promptly() -> None:
    """Set mimalloc's purge delay to :data:`PURGE_DELAY_MS` unless the environment sets one.

    Has an effect only when called before pyarrow is first imported in this process; a
    child process inherits the setting.
    """
    os.environ.setdefault(PURGE_DELAY_ENV, str(PURGE_DELAY_MS))
