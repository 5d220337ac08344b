"""Batches: thousands of prompts in one task, on one Dask client and one LLM, checkpointed per prompt.

No Airflow imports: the ``llmcompiler batch`` command and ``LLMCompilerBatchOperator`` both use it.
"""

from llmcompiler_provider.batch.options import BatchOptions, Prices
from llmcompiler_provider.batch.output_files import OutputWriter
from llmcompiler_provider.batch.progress import progress_line
from llmcompiler_provider.batch.prompt_files import BatchInputError, read_prompts
from llmcompiler_provider.batch.runner import BatchRunner, run_batch

__all__ = ["BatchInputError", "BatchOptions", "BatchRunner", "OutputWriter", "Prices", "progress_line",
           "read_prompts", "run_batch"]
