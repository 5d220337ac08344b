"""The metrics store: every run, plan, task and LLM call, in any SQLAlchemy database.

SQLite under the project's home by default (see ``resolve_store_url``),
PostgreSQL in production. The schema is created and upgraded by the Alembic
migrations in ``store/migrations``, on first use in each process or with
``llmcompiler db upgrade``. Besides runs it keeps batches (``save_batch``, the resume
checkpoint ``batch_prompt_states``) and the tool result cache (``put_cached_result``).
"""

from llmcompiler_provider.store.batches import (
    batch_outcomes,
    batch_prompt_states,
    batch_runs,
    find_batch_ids,
    get_batch,
    list_batches,
    save_batch,
)
from llmcompiler_provider.store.engine import dispose_engines, get_engine, upgrade
from llmcompiler_provider.store.errors import StoreError
from llmcompiler_provider.store.location import display_url, home_dir, resolve_store_url
from llmcompiler_provider.store.repository import (
    find_run_ids,
    get_run,
    list_runs,
    run_status,
    save_run,
    tool_durations,
    trend,
)
from llmcompiler_provider.store.tool_cache import get_cached_result, put_cached_result
from llmcompiler_provider.store.unsaved import FlushReport, flush_unsaved, save_run_safely, unsaved_dir

__all__ = [
    "FlushReport",
    "StoreError",
    "batch_outcomes",
    "batch_prompt_states",
    "batch_runs",
    "display_url",
    "dispose_engines",
    "find_batch_ids",
    "find_run_ids",
    "flush_unsaved",
    "get_batch",
    "get_cached_result",
    "get_engine",
    "get_run",
    "home_dir",
    "list_batches",
    "list_runs",
    "put_cached_result",
    "resolve_store_url",
    "run_status",
    "save_batch",
    "save_run",
    "save_run_safely",
    "tool_durations",
    "trend",
    "unsaved_dir",
    "upgrade",
]
