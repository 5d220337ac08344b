"""The benchmark suite behind ``llmcompiler bench``: workloads, the executors compared, the runner.

Everything here measures; nothing here is used by a run. See ``docs/benchmarks.md``.
"""
