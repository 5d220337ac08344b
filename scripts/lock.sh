#!/usr/bin/env bash
# Refreshes the locks from setup.cfg's ranges (on purpose, never as part of set-up):
#   requirements/lock.txt    the newest versions within the ranges, every extra: what set-up and CI install
#   requirements/lowest.txt  every direct dependency at the lowest version its range allows (without dask-cuda,
#                            which pins the newest Dask): what the lowest-versions tier tests
# Run the whole suite on both after a refresh (`make test`, `bash scripts/test-lowest.sh`), then commit.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
[ -x "$UV" ] || UV=uv
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_28)
"$UV" pip compile setup.cfg --all-extras "${target[@]}" --upgrade -o requirements/lock.txt
"$UV" pip compile setup.cfg --extra local --extra server --extra postgres --extra sqlite --extra parquet --extra bench --extra dev --resolution lowest-direct \
  "${target[@]}" --upgrade -o requirements/lowest.txt
