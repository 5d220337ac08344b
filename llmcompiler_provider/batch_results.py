"""One batch, one shape: the prompts going in, a row per prompt coming out, and the batch's summary.

:class:`BatchPrompt` is a prompt with its stable id; :class:`BatchItem` is the output row
written per prompt (JSONL/Parquet); :class:`BatchSummary` is what the store keeps about a
batch, what ``llmcompiler batch --json`` prints, the UI's batch pages show and
``LLMCompilerBatchOperator`` returns. The runs of a batch are ordinary ``RunResult``\\ s
tagged with ``batch_id`` and ``prompt_id``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from llmcompiler_provider.results import AirflowIdentity, Tokens

#: characters of a prompt's text hashed into its derived id
PROMPT_ID_CHARS = 16


def prompt_id_for(prompt: str) -> str:
    """The id a prompt without one gets: derived from its text, so a rerun finds it again."""
    return "p-" + hashlib.sha256(prompt.encode()).hexdigest()[:PROMPT_ID_CHARS]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BatchPrompt(_Record):
    """One prompt of a batch; ``id`` is given, or derived from the prompt's text. ``plan``, when
    given, is run instead of asking the planner (the joiner still answers the prompt)."""

    id: str = ""
    prompt: str
    plan: str | None = None

    @model_validator(mode="after")
    def _derive_id(self) -> BatchPrompt:
        if not self.id:
            self.id = prompt_id_for(self.prompt)
        return self


class BatchItem(_Record):
    """The output row of one prompt."""

    id: str
    status: str  # success | failed | skipped | cancelled
    answer: str | None = None
    run_id: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    wall_s: float | None = None
    resumed: bool = Field(False, description="finished by an earlier attempt of the batch (not run again)")


class BatchSummary(_Record):
    """A batch as the store keeps it and every face of the product shows it."""

    batch_id: str
    status: str = "running"  # running | success | failed | cancelled
    error: str | None = None
    name: str | None = Field(None, description="what started it: a CLI input path, or dag_id.task_id")
    airflow: AirflowIdentity | None = None
    started: float = Field(default_factory=time.time)
    finished: float | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = Field(0, description="not run: a budget (max_total_tokens, max_cost) was reached")
    resumed: int = Field(0, description="of the succeeded: answered by an earlier attempt with this batch id, "
                                        "not run again")
    in_flight: int = 0
    wall_s: float = 0.0
    tokens: Tokens = Field(default_factory=Tokens)
    cost: float | None = Field(None, description="from the per-model prices of the LLM connection, when given")
    llm_requests: int = 0
    rate_limited: int = Field(0, description="requests the endpoint answered with HTTP 429 or 503 (retried)")
    tool_calls: int = 0
    tool_calls_deduplicated: int = Field(0, description="tool calls answered by an identical call of another "
                                                        "run of the batch or by the tool result cache")
    failed_ids: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="the batch's limits and settings")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def runs_per_minute(self) -> float:
        """Runs this attempt finished per minute of its wall time."""
        ran = self.succeeded - self.resumed + self.failed
        return round(ran * 60.0 / self.wall_s, 3) if self.wall_s > 0 else 0.0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.skipped

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", fallback=repr)
