"""Saving a run without ever losing it.

``save_run_safely`` tries the store a few times (transient connection errors
only), and when that fails keeps the run as a JSON file in ``<home>/unsaved/``
and returns the reason, so the run can finish and say "metrics were not saved:
<reason>". ``flush_unsaved`` (also ``llmcompiler db flush``) saves those files once
the store is back and removes each one it saved.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store.errors import StoreError, describe_error
from llmcompiler_provider.store.location import display_url, home_dir, resolve_store_url
from llmcompiler_provider.store.repository import save_run

SAVE_TRIES = 3
RETRY_DELAYS_S = (0.5, 1.5)  # waits between the tries
TRANSIENT_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
UNSAVED_DIR_NAME = "unsaved"


def unsaved_dir() -> Path:
    return home_dir() / UNSAVED_DIR_NAME


def keep_unsaved(result: RunResult, directory: Path | None = None) -> Path:
    """Write ``result`` to ``<home>/unsaved/<run_id>.json`` (atomically) and return the path."""
    folder = directory or unsaved_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.run_id or 'run-' + str(time.time_ns())}.json"
    partial = path.with_suffix(f".json.{os.getpid()}.tmp")
    partial.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    partial.replace(path)
    return path


def _save_with_retries(result: RunResult, url: str) -> None:
    for attempt in range(SAVE_TRIES):
        try:
            save_run(result, url)
            return
        except TRANSIENT_ERRORS:
            if attempt == SAVE_TRIES - 1:
                raise
            time.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])


def save_run_safely(
    result: RunResult, url: str | None = None, *, strict: bool = False
) -> tuple[bool, str | None]:
    """Save ``result``; return ``(True, None)``, or ``(False, reason)`` with the run kept on disk.

    With ``strict=True`` a failure raises ``StoreError`` (after keeping the run on disk).
    """
    resolved = url or "the default store"
    try:
        resolved = resolve_store_url(url)
        _save_with_retries(result, resolved)
        return True, None
    except Exception as exc:  # any failure: the run must still finish and say why
        reason = f"could not write to the metrics store at {display_url(resolved)} ({describe_error(exc)})"
        try:
            kept = keep_unsaved(result)
            reason += f"; the run was kept in {kept} (run `llmcompiler db flush` to save it later)"
        except Exception as keep_exc:
            reason += f"; keeping it on disk failed too ({describe_error(keep_exc)})"
        if strict:
            raise StoreError(f"metrics were not saved: {reason}") from exc
        return False, reason


@dataclass
class FlushReport:
    saved: list[str] = field(default_factory=list)  # run ids now in the store
    failed: dict[str, str] = field(default_factory=dict)  # file name -> reason, the file is kept


def flush_unsaved(url: str | None = None, directory: Path | None = None) -> FlushReport:
    """Save every run kept in ``<home>/unsaved/`` to the store and delete each file saved.

    Stops at the first transient (connection) error, since the rest would fail alike.
    """
    report = FlushReport()
    folder = directory or unsaved_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            result = RunResult.model_validate_json(path.read_text(encoding="utf-8"))
            report.saved.append(save_run(result, url))
            path.unlink()
        except TRANSIENT_ERRORS as exc:
            report.failed[path.name] = describe_error(exc)
            break
        except Exception as exc:  # a broken file must not stop the others
            report.failed[path.name] = describe_error(exc)
    return report
