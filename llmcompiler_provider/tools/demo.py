"""The built-in ``demo`` toolset: works offline, on the bundled knowledge base and local model.

* ``search(query)``: BM25-ranked full-text search (SQLite FTS5) over a bundled
  knowledge base of short encyclopedic passages.
* ``math(question, context=[])``: safe arithmetic over the numbers found in the
  context, or over an arithmetic expression in the question (never ``eval``).
* ``llm(prompt, context=None)``: text generation with the local model; needs one GPU slot.
"""

from __future__ import annotations

from typing import Any

from llmcompiler_provider.tools.knowledge import KnowledgeBase
from llmcompiler_provider.tools.registry import Toolset
from llmcompiler_provider.tools.safe_math import solve

EXAMPLES = """\
Question: Which is longer, the Nile or the Amazon River?
Thought: look both lengths up at once, then compare them.
1. search("Nile length")
2. search("Amazon River length")
3. math("which is larger", [$1, $2])
4. join()
<END_OF_PLAN>

Question: What is the combined population of France and Germany?
1. search("population of France")
2. search("population of Germany")
3. math("sum", [$1, $2])
4. join()
<END_OF_PLAN>

Question: Who painted the Mona Lisa?
1. search("Mona Lisa painter")
2. join()
<END_OF_PLAN>
"""

demo = Toolset(
    "demo",
    description="Offline demo tools: encyclopedic search, arithmetic, and a small local LLM.",
    examples=EXAMPLES,
)


@demo.tool(cost=0.01)
def search(query: str) -> str:
    """Search a small encyclopedia and return the best matching passages as text."""
    hits = KnowledgeBase.bundled().search(query, limit=2)
    if not hits:
        return f"No results for {query!r}."
    return "\n".join(f"{title}: {text}" for title, text in hits)


@demo.batch("search")
def search_batch(calls: list[dict[str, Any]]) -> list[str]:
    """Answer many searches with one open index (the batched form of ``search``)."""
    return [search(**call) for call in calls]


@demo.tool(cost=0.001)
def math(question: str, context: list = []) -> str:  # noqa: B006 (shown to the planner as the default)
    """Answer an arithmetic question ("sum", "difference", "which is larger", "2 * (3 + 4)", ...)
    over the numbers found in the context (a list of earlier results)."""
    return solve(question, context)


@demo.tool(cost=2.0, resources={"GPU": 1}, timeout=300)
def llm(prompt: str, context: Any = None) -> str:
    """Generate text with the local language model (uses one GPU slot)."""
    from llmcompiler_provider.llm import get_local_model

    model = get_local_model()
    content = prompt if context is None else f"{prompt}\n\nContext:\n{context}"
    text, _usage = model.complete([{"role": "user", "content": content}], max_tokens=96)
    return text.strip()
