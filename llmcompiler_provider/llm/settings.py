"""Which chat model a run uses, as data that can travel to a Dask worker (no Airflow imports).

The LLM hook reads an Airflow connection into ``LLMSettings``; ``make()`` builds the
chat model wherever the run happens (the task process, or the Dask worker that
drives a deferred run). The API key never shows in a repr.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

LOCAL, OPENAI = "local", "openai"


@dataclass(frozen=True)
class LLMSettings:
    kind: str = LOCAL  # "local" (the embedded model) or "openai" (any OpenAI-compatible endpoint)
    model: str | None = None  # endpoint model name; for the local model, a GGUF path (None: the packaged one)
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def make(self) -> Any:
        """The chat model these settings describe."""
        from llmcompiler_provider.llm import make_chat_model

        if self.kind == LOCAL:
            return make_chat_model(LOCAL, model=self.model)
        return make_chat_model(
            OPENAI, base_url=self.base_url, api_key=self.api_key, model=self.model, **self.options
        )

    def describe(self) -> str:
        """Where the model is, for logs (never the key)."""
        if self.kind == LOCAL:
            return f"the local model{f' {self.model}' if self.model else ''}"
        return f"{self.model} at {self.base_url or 'the OpenAI API'}"


#: keyword options of the backend that are objects, never values in a connection's extra
OBJECT_OPTIONS = frozenset({"admission"})


def openai_option_names() -> frozenset[str]:
    """Keyword options the OpenAI-compatible backend accepts (read from its constructor), among them
    the admission limits ``max_concurrent_requests``, ``requests_per_minute``, ``tokens_per_minute``."""
    from llmcompiler_provider.llm.openai_compat import OpenAIChatModel

    parameters = inspect.signature(OpenAIChatModel.__init__).parameters.values()
    return frozenset(
        p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in OBJECT_OPTIONS
    )
