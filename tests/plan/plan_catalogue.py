"""The tool signatures the compiler tests check plans against (the compiler sees only signatures)."""

from __future__ import annotations

from llmcompiler_provider.plan.signature import Param, ToolSignature

CATALOGUE = {
    "search": ToolSignature("search", (Param("query", annotation="str"),), batchable=True, cost=0.5),
    "math": ToolSignature("math", (Param("question"), Param("context", required=False)), cost=0.01),
    "llm": ToolSignature(
        "llm",
        (Param("prompt"), Param("context", required=False)),
        resources={"GPU": 1},
        cost=2.0,
        retries=2,
        timeout=30.0,
    ),
    "notify": ToolSignature("notify", (Param("message"),), pure=False, cost=0.1),
    # pure-Python scoring: holds the interpreter lock, so fusion keeps its calls apart
    "rank": ToolSignature("rank", (Param("text"), Param("context", required=False)), cost=0.01, cpu_bound=True),
    # def concat(sep, *parts, upper=False)
    "concat": ToolSignature(
        "concat",
        (Param("sep"), Param("parts", required=False, variadic=True), Param("upper", required=False)),
    ),
}

