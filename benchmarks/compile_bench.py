"""Compile time and peak memory of generated plans (lex + parse + analyze + optimize).

    .venv/bin/python -m benchmarks.compile_bench [--sizes 1000 10000 100000] [--repeat 3]

The same measurement the suite (``llmcompiler bench``) reports as ``compile``;
see ``benchmarks/compile_growth.py`` for what the plans contain.
"""

from __future__ import annotations

import argparse

from benchmarks.compile_growth import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'tasks':>8} {'plan KiB':>9} {'compile s':>10} {'µs/task':>8} {'no-opt s':>9} {'stream s':>9} {'peak MiB':>9}")
    for size in options.sizes:
        f = measure(size, options.repeat)
        print(
            f"{f.tasks:>8} {f.plan_kib:>9.0f} {f.seconds:>10.3f} {f.us_per_task:>8.1f} "
            f"{f.seconds_unoptimized or 0:>9.3f} {f.seconds_streamed or 0:>9.3f} {f.peak_mb:>9.1f}"
        )


if __name__ == "__main__":
    main()
