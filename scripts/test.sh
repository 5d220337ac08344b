#!/usr/bin/env bash
# Runs the whole test suite in the project's venv (what `make test` and CI run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export AIRFLOW_HOME="$PWD/test-artifacts/airflow_home"   # tests never touch the main job's Airflow home
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
