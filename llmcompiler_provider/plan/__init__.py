"""The plan compiler: LLMCompiler plan text -> typed ``TaskGraph`` (no Dask, no LLM, no Airflow).

``compile_plan`` compiles a whole plan; ``PlanStream`` compiles one as it
streams in; ``optimize`` runs the optimizer ``PASSES`` on a graph. Problems are
reported as ``PlanError`` holding one ``Diagnostic`` per problem.
"""

from llmcompiler_provider.plan.compiler import compile_plan
from llmcompiler_provider.plan.errors import MAX_ERRORS, Diagnostic, PlanError
from llmcompiler_provider.plan.ir import Interp, Ref, Span, Task, TaskGraph
from llmcompiler_provider.plan.parser import END_OF_PLAN, MAX_NESTING
from llmcompiler_provider.plan.passes import PASSES, optimize
from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.plan.stream import PlanStream

__all__ = [
    "END_OF_PLAN",
    "MAX_ERRORS",
    "MAX_NESTING",
    "PASSES",
    "Diagnostic",
    "Interp",
    "Param",
    "PlanError",
    "PlanStream",
    "Ref",
    "Span",
    "Task",
    "TaskGraph",
    "ToolSignature",
    "compile_plan",
    "optimize",
]
