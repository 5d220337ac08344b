"""How a batch runs: how many runs at once, the endpoint's limits, budgets and the failure verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llmcompiler_provider.llm.prices import Prices

#: the LLM backend's options that limit requests to its endpoint (llm/admission.py)
REQUEST_LIMITS = ("max_concurrent_requests", "requests_per_minute", "tokens_per_minute")


@dataclass(frozen=True)
class BatchOptions:
    """A batch's settings.

    :param max_active_runs: runs in flight at once (they share one Dask client and one LLM).
    :param max_concurrent_requests: LLM requests in flight at once, across the batch's runs.
    :param requests_per_minute: LLM requests started per minute.
    :param tokens_per_minute: LLM tokens (prompt and completion) per minute.
    :param max_total_tokens: once the batch's runs used this many tokens, no new prompt is
        started; the rest are recorded as skipped, with the reason.
    :param max_cost: the same, for the cost ``prices`` give the tokens.
    :param prices: the model's prices, for the batch's and each run's cost.
    :param max_failed_fraction: the share of prompts that may fail (0 to 1) before the batch
        is failed; the default 0 fails it on any failed prompt (after every prompt ran).
    :param rerun_failed: when a batch is resumed, run its failed prompts again (its succeeded
        prompts are never run twice).
    :param share_tool_calls: identical pure tool calls of the batch's runs execute once.
    :param progress_every_s: seconds between progress reports (log line, store checkpoint).
    """

    max_active_runs: int = 8
    max_concurrent_requests: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_total_tokens: int | None = None
    max_cost: float | None = None
    prices: Prices | None = None
    max_failed_fraction: float = 0.0
    rerun_failed: bool = True
    share_tool_calls: bool = True
    progress_every_s: float = 5.0
    _checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_active_runs < 1:
            raise ValueError(f"max_active_runs must be at least 1, not {self.max_active_runs}")
        for name in (*REQUEST_LIMITS, "max_total_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit), not {value}")
        if self.max_cost is not None and self.max_cost <= 0:
            raise ValueError(f"max_cost must be positive (or None for no limit), not {self.max_cost}")
        if self.max_cost is not None and self.prices is None:
            raise ValueError("max_cost needs the model's prices (prices=Prices(...), or 'prices' in the "
                             "LLM connection's extra)")
        if not 0.0 <= self.max_failed_fraction <= 1.0:
            raise ValueError(f"max_failed_fraction must be between 0 and 1, not {self.max_failed_fraction}")
        if self.progress_every_s <= 0:
            raise ValueError(f"progress_every_s must be positive, not {self.progress_every_s}")

    def request_limits(self) -> dict[str, int]:
        """The limits the LLM backend enforces for the batch's requests (those set)."""
        return {name: getattr(self, name) for name in REQUEST_LIMITS if getattr(self, name) is not None}

    def describe(self) -> dict[str, Any]:
        """The options as the batch's record keeps them."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_") and v is not None}
