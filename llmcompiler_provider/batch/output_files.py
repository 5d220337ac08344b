"""The batch's output: one row per prompt (``BatchItem``), as JSONL or Parquet, at any path.

Rows are written as prompts finish (a Parquet file in row groups), so memory stays bounded
however long the batch; the file is complete once the writer is closed.
"""

from __future__ import annotations

import json
from typing import Any

from llmcompiler_provider.batch.prompt_files import BatchInputError, ReadablePath, pyarrow_parquet, file_format
from llmcompiler_provider.batch_results import BatchItem

PARQUET_GROUP_ROWS = 1_000


class OutputWriter:
    """Writes ``BatchItem`` rows to ``path`` (``.jsonl`` or ``.parquet``); close it to finish the file."""

    def __init__(self, path: ReadablePath) -> None:
        self.path = path
        self.kind = file_format(path)
        if self.kind == "csv":
            raise BatchInputError(f"{path}: the output is written as .jsonl or .parquet")
        self.rows = 0
        self._pending: list[dict[str, Any]] = []
        self._parquet: Any = None
        if getattr(path, "protocol", "file") in ("file", "local"):  # object stores have no folders to make
            path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("wb" if self.kind == "parquet" else "w")

    def write(self, item: BatchItem) -> None:
        row = item.model_dump(mode="json")
        self.rows += 1
        if self.kind == "jsonl":
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        self._pending.append(row)
        if len(self._pending) >= PARQUET_GROUP_ROWS:
            self._flush_parquet()

    def _flush_parquet(self) -> None:
        import pyarrow

        if not self._pending:
            return
        table = pyarrow.Table.from_pylist(self._pending, schema=_parquet_schema())
        if self._parquet is None:
            self._parquet = pyarrow_parquet(self.path).ParquetWriter(self._handle, table.schema)
        self._parquet.write_table(table)
        self._pending = []

    def close(self) -> None:
        if self.kind == "parquet":
            self._flush_parquet()
            if self._parquet is None:  # no rows: still a valid, empty table
                self._parquet = pyarrow_parquet(self.path).ParquetWriter(self._handle, _parquet_schema())
            self._parquet.close()
        self._handle.close()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _parquet_schema() -> Any:
    import pyarrow

    types = {"id": pyarrow.string(), "status": pyarrow.string(), "answer": pyarrow.string(),
             "run_id": pyarrow.string(), "error": pyarrow.string(), "prompt_tokens": pyarrow.int64(),
             "completion_tokens": pyarrow.int64(), "cost": pyarrow.float64(), "wall_s": pyarrow.float64(),
             "resumed": pyarrow.bool_()}
    missing = set(BatchItem.model_fields) - set(types)
    assert not missing, f"BatchItem fields without a Parquet type: {missing}"
    return pyarrow.schema([(name, types[name]) for name in BatchItem.model_fields])
