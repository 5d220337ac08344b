"""The folder this project keeps its files in (the default store, unsaved runs, model prompt states)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "LLMCOMPILER_HOME"


def home_dir() -> Path:
    """``$LLMCOMPILER_HOME``, else ``$AIRFLOW_HOME``, else ``~/.llmcompiler`` (created if missing)."""
    chosen = os.environ.get(HOME_ENV) or os.environ.get("AIRFLOW_HOME") or "~/.llmcompiler"
    home = Path(chosen).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
