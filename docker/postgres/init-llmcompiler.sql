-- Runs once, when the PostgreSQL volume is first created: the metrics store's own database,
-- next to Airflow's metadata database (POSTGRES_DB). LLMCOMPILER_STORE_URL points at it.
CREATE DATABASE llmcompiler OWNER airflow;
