"""``llmcompiler batch``: run a file of prompts as one batch, resumable by its batch id."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmcompiler_provider.cli.run_options import add_run_arguments, check_llm_arguments, llm_settings, run_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="run a file of prompts as one batch",
        description="Run every prompt of INPUT (JSONL or CSV with 'id' and 'prompt', or Parquet) on one Dask "
                    "cluster and one LLM, writing one row per prompt to OUTPUT (JSONL or Parquet). INPUT and "
                    "OUTPUT are paths or URLs (s3://, gs://, ... through Airflow's object storage). Each run is "
                    "recorded in the metrics store with the batch id: running the same --batch-id again skips "
                    "the prompts that succeeded and runs the rest.",
    )
    parser.add_argument("input", metavar="INPUT", help="the prompts: .jsonl, .csv or .parquet")
    parser.add_argument("--output", metavar="OUTPUT", help="where to write one row per prompt: .jsonl or .parquet")
    parser.add_argument("--batch-id", metavar="ID", help="resume this batch (default: a new id)")
    add_run_arguments(parser)
    limits = parser.add_argument_group("limits and budgets")
    limits.add_argument("--max-active-runs", type=int, default=8, metavar="N", help="runs in flight at once (default 8)")
    limits.add_argument("--max-concurrent-requests", type=int, metavar="N", help="LLM requests in flight at once")
    limits.add_argument("--requests-per-minute", type=int, metavar="N", help="LLM requests started per minute")
    limits.add_argument("--tokens-per-minute", type=int, metavar="N", help="LLM tokens per minute")
    limits.add_argument("--max-total-tokens", type=int, metavar="N",
                        help="start no new prompt once the batch used this many tokens (the rest are skipped)")
    limits.add_argument("--prices", metavar="IN,OUT", help="the model's prices per million prompt and completion tokens")
    limits.add_argument("--max-cost", type=float, metavar="C", help="start no new prompt once the batch cost this much")
    limits.add_argument("--max-failed-fraction", type=float, default=0.0, metavar="F",
                        help="share of prompts that may fail before the batch fails (default 0)")
    limits.add_argument("--no-share-tool-calls", action="store_true",
                        help="run identical tool calls of different prompts separately")
    parser.add_argument("--progress-every", type=float, default=5.0, metavar="S",
                        help="seconds between progress lines on stderr (default 5)")
    parser.add_argument("--json", action="store_true", help="print the batch's summary as one JSON object")
    parser.set_defaults(func=run)


def storage_path(text: str) -> Any:
    """A local path, or Airflow's ``ObjectStoragePath`` for a URL (s3://, gs://, file://, ...)."""
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(text)
    from pathlib import Path

    return Path(text)


def batch_options(args: argparse.Namespace) -> Any:
    from llmcompiler_provider.batch import BatchOptions, Prices

    prices = None
    if args.prices:
        try:
            prompt_price, completion_price = (float(p) for p in args.prices.split(","))
        except ValueError:
            raise ValueError(f"--prices takes two numbers, IN,OUT (per million tokens), not {args.prices!r}") from None
        prices = Prices(prompt_price, completion_price)
    return BatchOptions(
        max_active_runs=args.max_active_runs,
        max_concurrent_requests=args.max_concurrent_requests,
        requests_per_minute=args.requests_per_minute,
        tokens_per_minute=args.tokens_per_minute,
        max_total_tokens=args.max_total_tokens,
        max_cost=args.max_cost,
        prices=prices,
        max_failed_fraction=args.max_failed_fraction,
        share_tool_calls=not args.no_share_tool_calls,
        progress_every_s=args.progress_every,
    )


class ProgressLines:
    """The batch's progress on stderr: one line redrawn on a terminal, a line per report otherwise."""

    def __init__(self) -> None:
        self.terminal = sys.stderr.isatty()

    def __call__(self, summary: Any) -> None:
        from llmcompiler_provider.batch import progress_line

        line = f"[llmcompiler] {progress_line(summary)}"
        if self.terminal:
            end = "\n" if summary.status != "running" else ""
            sys.stderr.write(f"\r\033[K{line}{end}")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from llmcompiler_provider.batch import BatchRunner, read_prompts

    wrong = check_llm_arguments(args)
    if wrong:
        return _usage_error(wrong)
    try:
        options = batch_options(args)
        prompts = read_prompts(storage_path(args.input))
        output = storage_path(args.output) if args.output else None
    except (ValueError, OSError) as exc:  # a bad option, a malformed or missing file: say what and where
        return _usage_error(str(exc))
    runner = BatchRunner(prompts, llm=llm_settings(args), config=run_config(args), options=options, output=output,
                         batch_id=args.batch_id, name=args.input, on_progress=ProgressLines())
    try:
        summary = runner.execute()
    except Exception as exc:  # recorded with the batch; one clear line here
        print(f"llmcompiler batch: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print(f"batch {summary.batch_id}: {summary.status}" + (f": {summary.error}" if summary.error else ""))
        if output is not None:
            print(f"rows: {output}")
    return 0 if summary.status == "success" else 1


def _usage_error(message: str) -> int:
    print(f"llmcompiler batch: error: {message}", file=sys.stderr)
    return 2
