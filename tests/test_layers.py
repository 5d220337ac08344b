"""Dependencies point one way (DESIGN.md): the core runs without Airflow, the compiler knows nothing of
Dask or an LLM, and the Airflow face (hooks, operators, triggers, links, ui) is thin. Read from the source,
imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "llmcompiler_provider"
CORE = ("plan", "tools", "llm", "agent", "execution", "store", "results.py", "figures.py", "run_text.py",
        "run_metrics.py", "tool_costs.py", "home.py", "simulate.py", "tracing.py", "batch",
        "batch_results.py")
AIRFLOW_FACE = ("hooks", "operators", "triggers", "ui", "links.py", "airflow_tools.py")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(*parts: str) -> list[Path]:
    found = []
    for part in parts:
        target = PACKAGE / part
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return found


def _ours(name: str, *packages: str) -> bool:
    return any(name == f"llmcompiler_provider.{p}" or name.startswith(f"llmcompiler_provider.{p}.") for p in packages)


@pytest.mark.parametrize("path", modules(*CORE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_neither_airflow_nor_the_airflow_face(path):
    wrong = sorted(n for n in imported(path)
                   if n == "airflow" or n.startswith("airflow.")
                   or _ours(n, *(part.removesuffix(".py") for part in AIRFLOW_FACE)))
    assert wrong == []


@pytest.mark.parametrize("path", modules("plan"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_compiler_imports_only_itself(path):
    wrong = sorted(n for n in imported(path)
                   if n.split(".")[0] in ("dask", "distributed", "llama_cpp", "openai", "sqlalchemy")
                   or (n.startswith("llmcompiler_provider.") and not _ours(n, "plan")))
    assert wrong == []


@pytest.mark.parametrize("path", modules("triggers", "hooks"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_triggers_and_hooks_do_not_import_operators(path):
    assert sorted(n for n in imported(path) if _ours(n, "operators")) == []


EXECUTION_CLIENT_SIDE = ("dispatch", "dask_graph", "unit_plan", "records", "cluster", "dask_internals",
                         "latency")
EXECUTION_WORKER_SIDE = modules("execution/dataflow.py", "execution/tool_calls.py", "execution/inbox.py")


@pytest.mark.parametrize("path", EXECUTION_WORKER_SIDE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_what_runs_on_workers_does_not_import_the_client_side(path):
    wrong = sorted(n for n in imported(path) if _ours(n, *(f"execution.{m}" for m in EXECUTION_CLIENT_SIDE)))
    assert wrong == []


def test_the_data_units_carry_imports_nothing_of_the_package():
    """Unpickling a unit's calls or its observations loads no other module of ours."""
    imports = imported(PACKAGE / "execution" / "tool_calls.py")
    assert sorted(n for n in imports if n.split(".")[0] == "llmcompiler_provider") == []


@pytest.mark.parametrize("path", modules("execution/unit_plan.py", "execution/records.py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_planning_units_and_building_records_need_no_client(path):
    wrong = sorted(n for n in imported(path) if n.split(".")[0] in ("dask", "distributed")
                   or _ours(n, "execution.dispatch", "execution.cluster"))
    assert wrong == []


@pytest.mark.parametrize("path", modules("."), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_package_does_not_import_the_benchmark_suite(path):
    """The suite lives in the repository, not in the wheel: only ``llmcompiler bench`` loads it, by name."""
    assert sorted(n for n in imported(path) if n == "benchmarks" or n.startswith("benchmarks.")) == []
