# Source me: the environment the project's commands run in (project-local Airflow home and store).
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_here/airflow_home}"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$_here/dags"
export LLMCOMPILER_HOME="${LLMCOMPILER_HOME:-$AIRFLOW_HOME}"
export PATH="$_here/.venv/bin:$PATH"
unset _here
