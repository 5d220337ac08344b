"""Where the metrics store lives: the project's home folder and the store's URL."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

from llmcompiler_provider.home import home_dir

STORE_URL_ENV = "LLMCOMPILER_STORE_URL"
DEFAULT_DB_NAME = "llmcompiler.db"
#: the store URL that records nothing (``--store none``, ``RunConfig(store_url="none")``)
NO_STORE = "none"


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
