"""Where the metrics store lives: the project's home folder and the store's URL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

STORE_URL_ENV = "LLMCOMPILER_STORE_URL"
HOME_ENV = "LLMCOMPILER_HOME"
DEFAULT_DB_NAME = "llmcompiler.db"


def home_dir() -> Path:
    """``$LLMCOMPILER_HOME``, else ``$AIRFLOW_HOME``, else ``~/.llmcompiler`` (created if missing)."""
    chosen = os.environ.get(HOME_ENV) or os.environ.get("AIRFLOW_HOME") or "~/.llmcompiler"
    home = Path(chosen).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def resolve_store_url(url: str | None = None) -> str:
    """The explicit ``url``, else ``$LLMCOMPILER_STORE_URL``, else a SQLite file in :func:`home_dir`."""
    if url:
        return url
    from_env = os.environ.get(STORE_URL_ENV)
    if from_env:
        return from_env
    return f"sqlite:///{home_dir() / DEFAULT_DB_NAME}"


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given; it holds no usable password
        return url
