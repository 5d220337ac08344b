"""Chat backends behind one small protocol: stream text pieces, stop sequences, token usage.

>>> from llmcompiler_provider.llm import make_chat_model
>>> model = make_chat_model("local")                       # doctest: +SKIP
>>> text, usage = model.complete([{"role": "user", "content": "Hi"}], max_tokens=8)  # doctest: +SKIP
"""

from llmcompiler_provider.llm.admission import AdmissionControl, AdmissionLimits, admission_for
from llmcompiler_provider.llm.base import ChatMessage, ChatModel, ChatStream, StreamingChatModel, Usage
from llmcompiler_provider.llm.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMPromptTooLong,
    LLMRateLimited,
    LLMStreamCut,
    LLMTimeout,
    LLMUnavailable,
)
from llmcompiler_provider.llm.factory import KINDS, make_chat_model
from llmcompiler_provider.llm.grammar import END_OF_PLAN, joiner_grammar, plan_grammar
from llmcompiler_provider.llm.local import LocalChatModel, get_local_model, load_count, local_model_path
from llmcompiler_provider.llm.openai_compat import OpenAIChatModel

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatStream",
    "StreamingChatModel",
    "Usage",
    "LLMError",
    "LLMUnavailable",
    "LLMAuthError",
    "LLMTimeout",
    "LLMRateLimited",
    "LLMBadResponse",
    "LLMPromptTooLong",
    "LLMStreamCut",
    "AdmissionControl",
    "AdmissionLimits",
    "admission_for",
    "KINDS",
    "make_chat_model",
    "END_OF_PLAN",
    "plan_grammar",
    "joiner_grammar",
    "LocalChatModel",
    "get_local_model",
    "load_count",
    "local_model_path",
    "OpenAIChatModel",
]
