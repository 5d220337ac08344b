"""What a tool call costs, for the simulator (``simulate``): declared by tools
(``ToolSignature.cost``, seconds; all of it computing for a ``cpu_bound`` tool), given in a JSON file
(``{"tool": seconds}`` or ``{"tool": {"seconds": s, "cpu": c}}``) or learned from the
metrics store (the median recorded duration of each tool's successful calls).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping

from llmcompiler_provider.plan.signature import ToolSignature


@dataclass(frozen=True)
class ToolCost:
    seconds: float
    cpu: float = 0.0  # share of the call spent computing in Python (holding the interpreter lock)



def declared_costs(catalogue: Mapping[str, ToolSignature]) -> dict[str, ToolCost]:
    """Each tool's declared cost; a ``cpu_bound`` tool computes all of it (it holds its process's lock)."""
    return {name: ToolCost(max(0.0, float(sig.cost)), 1.0 if sig.cpu_bound else 0.0) for name, sig in catalogue.items()}


def load_costs(path: str) -> dict[str, ToolCost]:
    """Costs from a JSON file: ``{"tool": seconds}`` or ``{"tool": {"seconds": s, "cpu": c}}``."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read the costs file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the costs file {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the costs file {path} must hold an object mapping tool names to costs")
    return {str(tool): _cost_entry(path, str(tool), value) for tool, value in data.items()}


def _cost_entry(path: str, tool: str, value: Any) -> ToolCost:
    if isinstance(value, dict):
        seconds, cpu = value.get("seconds"), value.get("cpu", 0.0)
    else:
        seconds, cpu = value, 0.0
    if not _is_number(seconds) or seconds < 0 or not _is_number(cpu) or not 0 <= cpu <= 1:
        raise ValueError(f"the costs file {path}: {tool!r} needs seconds >= 0 and a cpu share between 0 and 1")
    return ToolCost(float(seconds), float(cpu))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def learned_costs(store_url: str | None = None, *, recent: int = 5000) -> dict[str, ToolCost]:
    """The median duration of each tool's recent successful calls in the metrics store."""
    from llmcompiler_provider.store import tool_durations

    durations = tool_durations(store_url, recent=recent)
    return {tool: ToolCost(statistics.median(values)) for tool, values in durations.items()}
