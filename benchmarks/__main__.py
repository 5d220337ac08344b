"""``python -m benchmarks ARGS`` at the repository's root: what ``llmcompiler bench ARGS`` runs."""

import sys

from benchmarks.cli import main

sys.exit(main())
