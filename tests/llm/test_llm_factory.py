"""``make_chat_model``: choosing a backend, and refusing what cannot work with a clear sentence."""

from __future__ import annotations

import pytest

from llmcompiler_provider.llm import KINDS, LLMUnavailable, OpenAIChatModel, make_chat_model


def test_kinds_are_local_and_openai():
    assert KINDS == ("local", "openai")


def test_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown LLM kind 'gpt': use one of local, openai"):
        make_chat_model("gpt")


def test_local_takes_no_endpoint():
    with pytest.raises(ValueError, match="the local model takes no base URL or API key"):
        make_chat_model("local", base_url="http://127.0.0.1:1/v1")


def test_openai_needs_a_model_name():
    with pytest.raises(ValueError, match=r"needs a model name \(--model\)"):
        make_chat_model("openai", base_url="http://127.0.0.1:1/v1")


def test_openai_options_reach_the_backend():
    model = make_chat_model(
        "openai", base_url="http://127.0.0.1:1/v1/", model="m", timeout=3, max_retries=1, supports_grammar=True
    )
    assert isinstance(model, OpenAIChatModel)
    assert (model.base_url, model.model_name, model.timeout, model.max_retries, model.supports_grammar) == (
        "http://127.0.0.1:1/v1",
        "m",
        3.0,
        1,
        True,
    )


def test_credentials_in_the_base_url_never_reach_a_message():
    model = OpenAIChatModel("http://user:hunter2@127.0.0.1:1/v1", None, "m", timeout=2, max_retries=0)
    assert model.where == "http://127.0.0.1:1/v1 (model m)"
    with pytest.raises(LLMUnavailable) as caught:
        model.complete([{"role": "user", "content": "hi"}], max_tokens=1)
    assert "hunter2" not in str(caught.value)


def test_a_local_model_file_that_is_missing_is_a_clear_error(tmp_path):
    with pytest.raises(LLMUnavailable, match=r"local model file .*nothing\.gguf does not exist"):
        make_chat_model("local", model=str(tmp_path / "nothing.gguf"))


def test_without_llama_cpp_the_cli_says_what_to_install():
    """A process where llama-cpp-python cannot be imported (Python's own way to make a module
    unavailable: ``sys.modules[name] = None``), as when the ``[local]`` extra was not installed."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['llama_cpp'] = None\n"
        "from llmcompiler_provider.cli import main\n"
        "sys.exit(main(['run', 'How long is the Nile?', '--store', 'none']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "llmcompiler run: error: llama-cpp-python is not installed, so the local model cannot run: " in done.stderr
    assert "pip install 'llmcompiler-provider[local]'" in done.stderr


def test_the_admission_limits_are_options_of_an_llm_connection():
    from llmcompiler_provider.llm.settings import openai_option_names

    names = openai_option_names()
    assert {"max_concurrent_requests", "requests_per_minute", "tokens_per_minute", "queue_timeout",
            "adaptive_concurrency", "share_limits"} <= names
    assert "admission" not in names  # an object, not a value an extra can hold
