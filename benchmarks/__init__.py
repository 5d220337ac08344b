"""The benchmark suite behind ``llmcompiler bench`` and ``python -m benchmarks``: workloads, the executors
compared, the runner. It lives in the repository, not in the installed package (setup.cfg leaves it out).

Everything here measures; nothing here is used by a run. See ``docs/benchmarks.md`` and ``README.md`` here.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the repository's root: what a child Python process needs on its path to import this package
ROOT = Path(__file__).resolve().parent.parent


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``, for a child Python process that imports ``benchmarks``
    (which no installation puts on the path)."""
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return {**os.environ, **extra, "PYTHONPATH": path}
