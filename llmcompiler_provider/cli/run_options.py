"""The options ``llmcompiler run`` and ``llmcompiler batch`` share: toolset, LLM, cluster, optimizer."""

from __future__ import annotations

import argparse
import os
from typing import Any

from llmcompiler_provider.cli.db_cmd import add_store_argument

if False:  # typing only (keeps this module's import cheap)
    from llmcompiler_provider.agent.run import RunConfig
    from llmcompiler_provider.llm.settings import LLMSettings


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--toolset", default="demo", help="'demo' or module:attribute naming a Toolset")
    parser.add_argument("--llm", choices=("local", "openai"), default="local", help="the planner/joiner backend")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (with --llm openai)")
    parser.add_argument("--model", help="model name (with --llm openai)")
    parser.add_argument(
        "--grammar",
        action="store_true",
        help="the endpoint takes GBNF grammars (llama.cpp's server): constrain plans and answers to their formats",
    )
    parser.add_argument("--api-key-env", metavar="VAR", default="OPENAI_API_KEY", help="env var holding the API key")
    parser.add_argument("--max-replans", type=int, default=1, metavar="N")
    parser.add_argument("--scheduler", metavar="ADDR", help="an existing Dask scheduler (default: embedded cluster)")
    parser.add_argument(
        "--processes", action="store_true",
        help="embedded cluster: worker processes instead of threads of this process (for CPU-bound Python tools)",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="embedded cluster: workers (default 2)")
    parser.add_argument("--threads", type=int, metavar="N", help="embedded cluster: threads per worker (default 32)")
    parser.add_argument("--no-stream", action="store_true", help="compile the whole plan before dispatching")
    parser.add_argument("--no-optimize", action="store_true", help="switch the optimizer off")
    parser.add_argument("--disable", action="append", default=[], metavar="PASS", help="switch one optimizer pass off")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a plan's tasks may take (default 900)")
    add_store_argument(parser)


def check_llm_arguments(args: argparse.Namespace) -> str | None:
    """What is wrong with the LLM options, or None."""
    if args.grammar and args.llm != "openai":
        return "--grammar is for --llm openai (the local model always uses it)"
    return None


def llm_settings(args: argparse.Namespace) -> LLMSettings:
    from llmcompiler_provider.llm.settings import LOCAL, OPENAI, LLMSettings

    if args.llm == "openai":
        return LLMSettings(kind=OPENAI, model=args.model, base_url=args.base_url,
                           api_key=os.environ.get(args.api_key_env),
                           options={"supports_grammar": True} if args.grammar else {})
    return LLMSettings(kind=LOCAL)


def run_config(args: argparse.Namespace, **extra: Any) -> RunConfig:
    from llmcompiler_provider.agent.run import RunConfig
    from llmcompiler_provider.execution.cluster import DEFAULT_THREADS, ClusterOptions

    return RunConfig(
        toolset=args.toolset,
        max_replans=max(0, args.max_replans),
        optimize=not args.no_optimize,
        disabled_passes=tuple(args.disable),
        streaming=not args.no_stream,
        run_timeout=args.timeout,
        store_url=args.store,
        cluster=ClusterOptions(
            address=args.scheduler, processes=args.processes, n_workers=args.workers,
            threads_per_worker=args.threads or DEFAULT_THREADS,
        ),
        **extra,
    )
