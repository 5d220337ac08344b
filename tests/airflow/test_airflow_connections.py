"""Connections from ``AIRFLOW_CONN_*`` (JSON form) for the LLM, Dask and store hooks, and the
connection forms Airflow builds from the provider info."""

from __future__ import annotations

import pytest

from airflow_test_support import set_connection
from llmcompiler_provider.hooks.dask import DaskHook
from llmcompiler_provider.hooks.llm import LLMCompilerLLMHook
from llmcompiler_provider.llm.settings import LLMSettings
from llmcompiler_provider.hooks.store import MetricsStoreHook
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store import get_run, resolve_store_url, save_run


def test_an_llm_connection_names_an_openai_compatible_endpoint(monkeypatch):
    set_connection(monkeypatch, "llm_endpoint", conn_type="llmcompiler_llm", host="http://10.1.2.3:8000/v1",
                   password="sk-test-key-123", extra={"model": "qwen2.5-7b", "timeout": 12,
                                                      "extra_headers": {"X-Team": "data"}})
    settings = LLMCompilerLLMHook("llm_endpoint").get_settings()
    assert settings == LLMSettings(kind="openai", model="qwen2.5-7b", base_url="http://10.1.2.3:8000/v1",
                                   api_key="sk-test-key-123",
                                   options={"timeout": 12.0, "extra_headers": {"X-Team": "data"}})
    assert "sk-test-key-123" not in repr(settings)
    model = settings.make()
    assert isinstance(model, OpenAIChatModel)
    assert model.base_url == "http://10.1.2.3:8000/v1"
    assert (model.model_name, model.timeout) == ("qwen2.5-7b", 12.0)


def test_the_operator_model_overrides_the_connections(monkeypatch):
    set_connection(monkeypatch, "llm_endpoint", conn_type="llmcompiler_llm", host="http://h:1/v1",
                   extra={"model": "small"})
    assert LLMCompilerLLMHook("llm_endpoint", model="large").get_settings().model == "large"


def test_no_connection_or_an_empty_one_is_the_local_model(monkeypatch):
    set_connection(monkeypatch, "llm_empty", conn_type="llmcompiler_llm")
    assert LLMCompilerLLMHook(None).get_settings() == LLMSettings(kind="local")
    assert LLMCompilerLLMHook("llm_empty").get_settings() == LLMSettings(kind="local")


def test_an_endpoint_without_a_model_is_refused_with_a_clear_message(monkeypatch):
    set_connection(monkeypatch, "llm_no_model", conn_type="llmcompiler_llm", host="http://h:1/v1")
    with pytest.raises(ValueError, match="names an endpoint but no model"):
        LLMCompilerLLMHook("llm_no_model").get_settings()


def test_common_ai_pydanticai_connections_are_read_too(monkeypatch):
    set_connection(monkeypatch, "pydantic_openai", conn_type="pydanticai", password="sk-abc-123",
                   extra={"model": "openai:gpt-4o-mini"})
    set_connection(monkeypatch, "pydantic_ollama", conn_type="pydanticai", host="http://127.0.0.1:11434/v1",
                   extra={"model": "ollama:llama3.2:3b"})
    set_connection(monkeypatch, "pydantic_anthropic", conn_type="pydanticai", password="sk-ant-123",
                   extra={"model": "anthropic:claude-sonnet-4"})

    openai = LLMCompilerLLMHook("pydantic_openai").get_settings()
    assert (openai.kind, openai.model, openai.base_url) == ("openai", "gpt-4o-mini", None)
    assert openai.api_key == "sk-abc-123"
    ollama = LLMCompilerLLMHook("pydantic_ollama").get_settings()
    assert (ollama.model, ollama.base_url) == ("llama3.2:3b", "http://127.0.0.1:11434/v1")
    with pytest.raises(ValueError, match="is not OpenAI-compatible"):
        LLMCompilerLLMHook("pydantic_anthropic").get_settings()


def test_a_dask_connection_gives_the_scheduler_address_tls_and_cuda_options(monkeypatch, tmp_path):
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("not read until the client connects")
    set_connection(monkeypatch, "dask_tls", conn_type="llmcompiler_dask", host="dask-scheduler.internal",
                   port=8786, extra={"tls_ca_file": str(files["ca"]), "tls_client_cert": str(files["cert"]),
                          "tls_client_key": str(files["key"]), "require_encryption": True,
                          "rmm_pool_size": "20GB", "device_memory_limit": "0.8"})
    set_connection(monkeypatch, "dask_plain", conn_type="llmcompiler_dask", host="tcp://10.0.0.5", port=9000)

    options = DaskHook("dask_tls").get_cluster_options(gpu_fallback="fail")
    assert options.address == "tls://dask-scheduler.internal:8786"
    assert options.security.require_encryption is True
    assert options.security.tls_ca_file == str(files["ca"])
    assert options.security.tls_client_cert == str(files["cert"])
    assert options.security.tls_client_key == str(files["key"])
    assert (options.rmm_pool_size, options.device_memory_limit) == ("20GB", "0.8")
    assert options.gpu_fallback == "fail"

    plain = DaskHook("dask_plain").get_cluster_options()
    assert (plain.address, plain.security) == ("tcp://10.0.0.5:9000", None)


def test_a_dask_connection_without_a_host_is_refused(monkeypatch):
    set_connection(monkeypatch, "dask_nohost", conn_type="llmcompiler_dask")
    with pytest.raises(ValueError, match="has no host"):
        DaskHook("dask_nohost").get_address()


def test_the_store_is_a_literal_url_an_airflow_connection_or_the_default(monkeypatch, tmp_path, airflow_db):
    db = tmp_path / "runs.db"
    set_connection(monkeypatch, "store_sqlite", conn_type="sqlite", host=str(db))
    assert MetricsStoreHook("store_sqlite").get_url() == f"sqlite:///{db}"
    assert MetricsStoreHook(f"sqlite:///{db}").get_url() == f"sqlite:///{db}"
    default = f"sqlite:///{airflow_db / 'llmcompiler.db'}"
    assert MetricsStoreHook(None).get_url() == resolve_store_url(None) == default


@pytest.mark.postgres
def test_a_postgres_connection_becomes_a_working_store_url(monkeypatch, postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    set_connection(monkeypatch, "store_postgres", conn_type="postgres", host=url.host, port=url.port,
                   login=url.username, schema=url.database, extra={"options": url.query["options"]})
    resolved = MetricsStoreHook("store_postgres").get_url()
    assert resolved.startswith(f"postgresql+psycopg2://{url.username}@{url.host}:{url.port}/{url.database}?")

    run = RunResult(prompt="stored through an Airflow connection", status="success")
    save_run(run, resolved)
    assert get_run(run.run_id, resolved).prompt == "stored through an Airflow connection"


def test_airflow_builds_the_connection_forms_from_the_provider_info(airflow_db):
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    hooks = ProvidersManagerTaskRuntime().hooks
    assert hooks["llmcompiler_llm"].hook_class_name == "llmcompiler_provider.hooks.llm.LLMCompilerLLMHook"
    assert hooks["llmcompiler_dask"].hook_class_name == "llmcompiler_provider.hooks.dask.DaskHook"
    behaviours = manager.field_behaviours
    assert behaviours["llmcompiler_llm"]["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert "password" in behaviours["llmcompiler_dask"]["hidden_fields"]
    widgets = manager.connection_form_widgets
    assert {
        "extra__llmcompiler_llm__model",
        "extra__llmcompiler_llm__timeout",
        "extra__llmcompiler_dask__tls_ca_file",
        "extra__llmcompiler_dask__require_encryption",
    } <= set(widgets)
