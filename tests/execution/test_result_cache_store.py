"""The tool result cache in the real metrics store (SQLite): a run's ``cache_ttl`` results answer a
later run, even one in another process with a Toolset of its own, until they expire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from exec_tools import tools

from llmcompiler_provider.agent.result_cache import StoreResultCache, result_cache_for
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.store import get_run
from llmcompiler_provider.store.location import NO_STORE
from llmcompiler_provider.tools import Toolset

REPO = Path(__file__).resolve().parents[2]

#: a later day: another process, with the toolset defined anew (same names, same tool), loaded as a
#: user's module is (``load_toolset``: shipped to the workers by value)
LATER_TOOLS = textwrap.dedent('''
    from llmcompiler_provider.tools import Toolset

    tools = Toolset("exec-tests")

    @tools.tool(cache_ttl=3600)
    def cached_count(path: str, tag: str = "") -> str:
        with open(path, "a") as handle:
            handle.write("x\\n")
        return f"cached {tag}".strip()

    @tools.tool
    def echo(text: str) -> str:
        return text
''')

LATER_RUN = textwrap.dedent('''
    import json, sys
    from distributed import Client
    from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig

    address, store, plan = sys.argv[1:4]
    with Client(address) as client:
        config = RunConfig(toolset="later_tools:tools", store_url=store, max_replans=0)
        result = LLMCompilerRun(plan=plan, config=config, client=client).execute()
    print(json.dumps({"status": result.status, "error": result.error, "run_id": result.run_id,
                      "cache_hits": result.counts.cache_hits,
                      "tasks": {t.id: [t.source, t.result] for t in result.plans[0].tasks}}))
''')


def executions(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def run(client, plan: str, store: str):
    config = RunConfig(toolset=tools, store_url=store, max_replans=0)
    return LLMCompilerRun(plan=plan, config=config, client=client).execute()


def test_a_later_process_with_a_new_toolset_reads_the_result_from_the_store(process_client, sqlite_url, tmp_path):
    counter = tmp_path / "n"
    plan = f'1. cached_count("{counter}", "x")\n2. echo("read $1")\n3. join()'
    first = run(process_client, plan, sqlite_url)
    assert first.status == "success" and first.counts.cache_hits == 0 and executions(counter) == 1
    (tmp_path / "later_tools.py").write_text(LATER_TOOLS)
    later = subprocess.run(
        [sys.executable, "-c", LATER_RUN, process_client.scheduler.address, sqlite_url, plan],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])},
    )
    assert later.returncode == 0, later.stderr[-3000:]
    second = json.loads(later.stdout.strip().splitlines()[-1])
    assert second["status"] == "success", second["error"]
    assert second["cache_hits"] == 1 and second["tasks"]["1"] == ["cache", "cached x"]
    assert second["tasks"]["2"] == [None, "read cached x"]
    assert executions(counter) == 1  # the later process did not run it
    assert get_run(second["run_id"], sqlite_url).counts.cache_hits == 1


def test_an_expired_result_is_not_used(threaded_client, sqlite_url, tmp_path):
    counter = tmp_path / "brief"
    plan = f'1. briefly_cached("{counter}")\n2. join()'
    assert run(threaded_client, plan, sqlite_url).counts.cache_hits == 0
    time.sleep(3.5)  # its cache_ttl is 3 s
    again = run(threaded_client, plan, sqlite_url)
    assert again.status == "success" and again.counts.cache_hits == 0 and executions(counter) == 2


def test_a_store_that_cannot_be_read_is_a_miss_and_the_call_runs(threaded_client, tmp_path):
    unreadable = tmp_path / "not-a-database"
    unreadable.write_text("this is not SQLite")
    counter = tmp_path / "u"
    result = run(threaded_client, f'1. cached_count("{counter}")\n2. join()', f"sqlite:///{unreadable}")
    assert result.plans[0].tasks[0].status == "success" and executions(counter) == 1


def test_the_store_cache_is_used_only_with_a_cache_ttl_tool_and_a_store(sqlite_url):
    plain = Toolset("plain")
    plain.add(lambda x: x, name="f")
    assert result_cache_for(plain, None, sqlite_url) is None
    assert isinstance(result_cache_for(tools, None, sqlite_url), StoreResultCache)
    assert isinstance(result_cache_for(tools, None, None), StoreResultCache)  # the default store
    assert result_cache_for(tools, None, NO_STORE) is None
    given = StoreResultCache("sqlite:///elsewhere.db")
    assert result_cache_for(plain, given, NO_STORE) is given
