#!/usr/bin/env bash
# The main job on embedded defaults: the llmcompiler_example DAG as a real Airflow run
# (local model, in-process Dask cluster, SQLite metrics store in the project's Airflow home).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
question=${1:-"Which is taller, the Eiffel Tower or the Statue of Liberty?"}
conf=$(python3 -c 'import json,sys; print(json.dumps({"question": sys.argv[1]}))' "$question")
airflow dags reserialize >/dev/null 2>&1 || true
airflow dags test llmcompiler_example --conf "$conf" 2>&1 | tee "$AIRFLOW_HOME/last_main_job.log" | grep -E "LLMCompiler|Answer|answer|run_id|ERROR|Traceback|state=" || true
echo
echo "== the run, as the metrics store recorded it"
llmcompiler runs list --limit 1
run_id=$(llmcompiler runs list --limit 1 --json | python3 -c 'import json,sys; runs=json.load(sys.stdin); print(runs[0]["run_id"] if isinstance(runs, list) and runs else (runs.get("runs") or [{}])[0].get("run_id",""))')
llmcompiler runs show "$run_id"
echo
echo "Full Airflow log: $AIRFLOW_HOME/last_main_job.log"
echo "See it in the Airflow UI (paste this; it starts Airflow with this project's DAGs, store and plugin):"
echo "  (cd $PWD && . scripts/env.sh && exec airflow standalone)"
echo "then open http://localhost:8080/llmcompiler/runs/$run_id (the admin password is printed by airflow standalone)"
