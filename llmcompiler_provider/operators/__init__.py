"""operators: ``from llmcompiler_provider.operators import LLMCompilerOperator``."""

from llmcompiler_provider.operators.batch import LLMCompilerBatchOperator
from llmcompiler_provider.operators.batch_summary import LLMCompilerBatchSummaryOperator
from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

__all__ = ["LLMCompilerBatchOperator", "LLMCompilerBatchSummaryOperator", "LLMCompilerOperator"]
