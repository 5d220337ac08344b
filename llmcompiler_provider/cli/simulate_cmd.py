"""``llmcompiler simulate PLAN``: predict how a plan (or a batch of plans) runs on a cluster shape.

Prints the predicted wall time, the critical path, per-resource utilization and
the bottleneck (see ``llmcompiler_provider/simulate.py`` for the model). Exit
status 0; 2 with ``FILE:LINE:COL: error: ...`` lines for a plan that does not
compile, or one line for a bad option, costs file or store.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmcompiler_provider.cli.compile_cmd import read_plan
from llmcompiler_provider.cli.db_cmd import add_store_argument
from llmcompiler_provider.plan import PASSES, PlanError, compile_plan
from llmcompiler_provider.simulate import DEFAULT_UNIT_OVERHEAD_S

EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="predict a plan's wall time and bottleneck on a cluster shape",
        description="Simulate PLAN (several: a batch submitted together) on a cluster of the given shape, "
        "with the dispatcher's units and priorities and the tools' cost estimates.",
    )
    parser.add_argument("plans", nargs="+", metavar="PLAN", help="plan file(s); '-' reads standard input")
    parser.add_argument("--toolset", default="demo", help="'demo' or module:attribute naming a Toolset (default: demo)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=32, metavar="T", help="threads per worker (default 32)")
    parser.add_argument("--gpus", type=int, default=None, metavar="G", help="GPU slots in all (default: one per worker)")
    parser.add_argument("--cores", type=int, default=None, metavar="C", help="CPU cores the workers share (default: this machine's)")
    parser.add_argument("--costs", metavar="FILE", help='JSON {"tool": seconds} or {"tool": {"seconds": s, "cpu": 0..1}}')
    parser.add_argument("--learned", action="store_true", help="tool costs from the metrics store's recorded runs")
    add_store_argument(parser)
    parser.add_argument("--copies", type=int, default=1, metavar="K", help="run K copies of each plan at once (default 1)")
    parser.add_argument("--overhead-ms", type=float, default=DEFAULT_UNIT_OVERHEAD_S * 1000,
                        help=f"scheduling cost per Dask task (default {DEFAULT_UNIT_OVERHEAD_S * 1000:g} ms)")
    parser.add_argument("--client-ms-per-call", type=float, default=0.0,
                        help="the client's own work per call: compiling, submitting, collecting (default 0)")
    parser.add_argument("--no-optimize", action="store_true", help="switch every optimizer pass off")
    parser.add_argument("--disable", action="append", default=[], choices=list(PASSES), metavar="PASS",
                        help=f"switch one optimizer pass off (repeatable): {', '.join(PASSES)}")
    parser.add_argument("--json", action="store_true", help="print the prediction as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llmcompiler_provider.simulate import ClusterShape, simulate
    from llmcompiler_provider.tool_costs import declared_costs, learned_costs, load_costs
    from llmcompiler_provider.tools import load_toolset

    if args.copies < 1 or args.overhead_ms < 0 or args.client_ms_per_call < 0:
        return _fail("llmcompiler simulate: --copies must be at least 1, --overhead-ms and --client-ms-per-call not negative")
    try:
        shape = ClusterShape(args.workers, args.threads, gpus=args.gpus, cores=args.cores)
        toolset = load_toolset(args.toolset)
    except (ValueError, LookupError) as error:
        return _fail(f"llmcompiler simulate: {error}")
    catalogue = toolset.signatures()
    graphs = []
    for path in args.plans:
        source = "<stdin>" if path == "-" else path
        try:
            graph = compile_plan(read_plan(path, source), catalogue, source=source,
                                 optimize=not args.no_optimize, disabled_passes=args.disable)
        except PlanError as error:
            return _fail(str(error))
        graphs.extend([graph] * args.copies)
    costs = declared_costs(catalogue)
    try:
        if args.learned:
            costs.update(learned_costs(args.store))
        if args.costs:
            costs.update(load_costs(args.costs))
        prediction = simulate(graphs, shape, costs, unit_overhead_s=args.overhead_ms / 1000,
                              client_per_call_s=args.client_ms_per_call / 1000)
    except ValueError as error:
        return _fail(f"llmcompiler simulate: {error}")
    except Exception as error:  # the store could not be read
        return _fail(f"llmcompiler simulate: cannot learn costs from the store: {type(error).__name__}: {error}")
    if args.json:
        print(json.dumps({**prediction.to_dict(), "plans": len(graphs), "shape": vars(shape)}, indent=2))
    else:
        print(f"{len(graphs)} plan(s), {sum(len(g) for g in graphs)} calls, on {shape.workers} worker(s) x "
              f"{shape.threads} thread(s), {sum(shape.gpu_slots(w) for w in range(shape.workers))} GPU slot(s), "
              f"{shape.core_count} core(s)")
        print(prediction.summary())
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT
