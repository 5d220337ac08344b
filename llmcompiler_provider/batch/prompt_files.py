"""A batch's prompts, from a list or a file of them (JSONL, CSV or Parquet) at any path.

A path is anything with ``open(mode)`` and a ``name``: a ``pathlib.Path``, or Airflow's
``ObjectStoragePath`` for s3://, gs://, file:// and the rest (the CLI and the operator build
one; this module reads it without knowing which). Every line or row needs a ``prompt``;
``plan`` (a plan to run instead of asking the planner) and ``id`` are optional (a prompt without one gets an id derived from its text, so a rerun finds
it again). A malformed line, a missing field or an id given twice is an error that names the
file and the line before anything runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from llmcompiler_provider.batch_results import BatchPrompt

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
PARQUET_BATCH_ROWS = 2_000


class BatchInputError(ValueError):
    """The batch's input cannot be read: the message names the file (or item) and the line."""


class ReadablePath(Protocol):
    name: str

    def open(self, mode: str = ...) -> Any: ...


def file_format(path: ReadablePath) -> str:
    """``jsonl``, ``csv`` or ``parquet``, from the path's suffix (``.gz`` and the like are not read)."""
    name = str(getattr(path, "name", path)).lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise BatchInputError(f"{path}: unknown file type: name it .jsonl, .csv or .parquet")


def read_prompts(source: ReadablePath | Iterable[Any]) -> list[BatchPrompt]:
    """The prompts of ``source`` in order, their ids checked unique.

    ``source`` is a path (see the module's docstring) or a list whose items are prompt
    strings, ``{"id", "prompt"}`` mappings or ``BatchPrompt``\\ s.
    """
    if hasattr(source, "open") and not isinstance(source, (str, bytes)):
        where = str(source)
        kind = file_format(source)  # type: ignore[arg-type]
        rows = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[kind](source)  # type: ignore[arg-type]
        label = "line" if kind in ("jsonl", "csv") else "row"
    elif isinstance(source, (str, bytes)):
        raise BatchInputError("the batch's prompts must be a list of prompts or a file of them, not one string")
    else:
        where, label = "prompts", "item"
        rows = enumerate(source, start=1)  # type: ignore[assignment]
    return _checked(((n, _prompt(row, where, label, n)) for n, row in rows), where, label)


def _prompt(row: Any, where: str, label: str, number: int) -> BatchPrompt:
    if isinstance(row, BatchPrompt):
        return row
    if isinstance(row, str):
        row = {"prompt": row}
    if not isinstance(row, Mapping):
        raise BatchInputError(f"{where}:{label} {number}: expected a prompt or an object with 'prompt', "
                              f"not {type(row).__name__}")
    prompt = row.get("prompt")
    if not isinstance(prompt, str):
        raise BatchInputError(f"{where}:{label} {number}: no 'prompt' text" if prompt is None
                              else f"{where}:{label} {number}: 'prompt' must be text, not {type(prompt).__name__}")
    raw_id = row.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)):
        raise BatchInputError(f"{where}:{label} {number}: 'id' must be text or a number, not {type(raw_id).__name__}")
    plan = row.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise BatchInputError(f"{where}:{label} {number}: 'plan' must be text, not {type(plan).__name__}")
    return BatchPrompt(id="" if raw_id is None else str(raw_id).strip(), prompt=prompt, plan=plan or None)


def _checked(numbered: Iterator[tuple[int, BatchPrompt]], where: str, label: str) -> list[BatchPrompt]:
    seen: dict[str, int] = {}
    prompts = []
    for number, prompt in numbered:
        if prompt.id in seen:
            raise BatchInputError(f"{where}:{label} {number}: the id {prompt.id!r} was already given at "
                                  f"{label} {seen[prompt.id]} (ids must be unique; a prompt without an id "
                                  "gets one from its text, so the same prompt twice needs ids)")
        seen[prompt.id] = number
        prompts.append(prompt)
    return prompts


def _jsonl_rows(path: ReadablePath) -> Iterator[tuple[int, Any]]:
    with path.open("r") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise BatchInputError(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})") from None


def _csv_rows(path: ReadablePath) -> Iterator[tuple[int, Any]]:
    with path.open("r") as handle:
        reader = csv.DictReader(io.StringIO(handle.read()) if "b" in getattr(handle, "mode", "") else handle)
        if reader.fieldnames is None or "prompt" not in reader.fieldnames:
            raise BatchInputError(f"{path}:1: the header needs a 'prompt' column (and optionally 'id'), "
                                  f"found {reader.fieldnames or 'none'}")
        for row in reader:
            yield reader.line_num, {"id": row.get("id") or None, "prompt": row["prompt"], "plan": row.get("plan")}


def _parquet_rows(path: ReadablePath) -> Iterator[tuple[int, Any]]:
    parquet = pyarrow_parquet(path)
    with path.open("rb") as handle:
        table = parquet.ParquetFile(handle)
        names = table.schema_arrow.names
        if "prompt" not in names:
            raise BatchInputError(f"{path}: the table needs a 'prompt' column (and optionally 'id'), found {names}")
        columns = [c for c in ("id", "prompt", "plan") if c in names]
        number = 0
        for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
            for row in batch.to_pylist():
                number += 1
                yield number, row


def pyarrow_parquet(path: object) -> Any:
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise BatchInputError(f"{path}: Parquet files need pyarrow: pip install 'llmcompiler-provider[parquet]'") from None
    return parquet
