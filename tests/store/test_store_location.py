"""Where the store lives: explicit URL, then $LLMCOMPILER_STORE_URL, then a SQLite file in the home."""

from __future__ import annotations

from pathlib import Path

from llmcompiler_provider.store import display_url, home_dir, resolve_store_url


def test_an_explicit_url_wins(monkeypatch):
    monkeypatch.setenv("LLMCOMPILER_STORE_URL", "sqlite:///from-env.db")
    assert resolve_store_url("postgresql://db/x") == "postgresql://db/x"


def test_the_environment_url_comes_next(monkeypatch):
    monkeypatch.setenv("LLMCOMPILER_STORE_URL", "sqlite:///from-env.db")
    assert resolve_store_url() == "sqlite:///from-env.db"


def test_the_default_is_a_sqlite_file_in_llmcompiler_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMCOMPILER_HOME", str(tmp_path / "lh"))
    assert resolve_store_url() == f"sqlite:///{tmp_path / 'lh' / 'llmcompiler.db'}"
    assert (tmp_path / "lh").is_dir()


def test_airflow_home_is_used_when_llmcompiler_home_is_not_set(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMCOMPILER_HOME")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert home_dir() == tmp_path / "airflow"


def test_the_home_falls_back_to_a_folder_in_the_user_home(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMCOMPILER_HOME")
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert home_dir() == Path(tmp_path) / ".llmcompiler"


def test_passwords_are_hidden_in_messages():
    assert display_url("postgresql://me:hunter2@db:5432/m") == "postgresql://me:***@db:5432/m"
