"""The operator's extra link: this task's run on the LLMCompiler page of the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

RUN_ID_XCOM_KEY = "run_id"
URL_PREFIX = "/llmcompiler"  # where the UI plugin's app is mounted under the API server


def run_page_path(run_id: str, base_url: str = "") -> str:
    """The run page's URL: ``<base_url>/llmcompiler/runs/<run_id>``."""
    return f"{base_url.rstrip('/')}{URL_PREFIX}/runs/{run_id}"


def api_base_url() -> str:
    """``[api] base_url`` when set (Airflow served under a path or another host), else ''."""
    from airflow.sdk import conf

    return conf.get("api", "base_url", fallback="") or ""


class LLMCompilerRunLink(BaseOperatorLink):
    """Opens the run recorded by this task instance (from its ``run_id`` XCom)."""

    name = "LLMCompiler run"

    def get_link(self, operator: "BaseOperator", *, ti_key: "TaskInstanceKey") -> str:
        from airflow.sdk.execution_time.xcom import XCom

        run_id = XCom.get_value(ti_key=ti_key, key=RUN_ID_XCOM_KEY)
        if not run_id:
            return ""
        return run_page_path(str(run_id), api_base_url())
