"""``spark-submit`` entry point: the ``detector`` command as a Spark driver program.

``spark-submit`` needs a Python file; this is it. Print its path with
``python -m detector.engines.submit --path`` and pass the usual ``detector`` arguments
after it::

    spark-submit --master yarn [spark options] "$(python -m detector.engines.submit --path)" \\
        score LOG --model M --out scores.csv --engine spark

Under ``spark-submit`` its ``--master`` and ``--conf`` settings win over
``--spark-master`` (see :func:`detector.engines.spark.get_spark`).
"""

from __future__ import annotations

import sys


def run() -> None:
    """Print this file's path for ``--path``; otherwise run the ``detector`` CLI."""
    if sys.argv[1:] == ["--path"]:
        print(__file__)
        return
    from detector.cli import main

    sys.argv[0] = "detector"
    main()


if __name__ == "__main__":
    run()
