"""Units without coroutine calls run their dataflow on the shared thread pool, with no event loop:
each call starts when its inputs inside the unit are done, siblings overlap, a failure skips only its
dependents, and an error that is not a tool's ends the unit instead of hanging it."""

from __future__ import annotations

import threading
import time

import pytest

from llmcompiler_provider.execution.dataflow import run_unit
from llmcompiler_provider.execution.tool_calls import Call
from llmcompiler_provider.plan.ir import Ref

pytestmark = pytest.mark.timeout(60)  # a dataflow that loses a completion waits forever: fail instead
WAIT_S = 30.0


def slow(label: str, after: object = None) -> str:
    time.sleep(0.05)
    return f"{label}<{after}>" if after is not None else label


def broken(label: str) -> str:
    raise ValueError(f"{label} is broken")


class NotAToolFailure(BaseException):
    pass


def escapes(label: str) -> str:
    raise NotAToolFailure(label)


def call(task_id: int, fn, *args, deps=()) -> Call:
    return Call(task_id, fn.__name__, fn, args, {}, frozenset(deps))


def test_siblings_overlap_and_a_consumer_starts_after_its_inputs():
    started = {label: threading.Event() for label in "abcd"}

    def meets(label: str, waits_for: str | None = None, after: object = None) -> str:
        """Marks its start, then returns only once ``waits_for`` has started too: both ran at once."""
        started[label].set()
        if waits_for is not None and not started[waits_for].wait(WAIT_S):
            raise TimeoutError(f"{label} never saw {waits_for} start")
        return f"{label}<{after}>" if after is not None else label

    calls = [call(1, meets, "a", "b"), call(2, meets, "b", "c"), call(3, meets, "c", None, Ref(1), deps={1}),
             call(4, meets, "d", None, Ref(3), deps={3})]
    results = run_unit(calls)

    # 1 ended only after its sibling 2 started; 2 ended only after 3 (waiting for 1, not for 2) started
    assert [results[i].value for i in (1, 2, 3, 4)] == ["a", "b", "c<a>", "d<c<a>>"]
    assert results[3].start >= results[1].stop and results[4].start >= results[3].stop
    assert len({results[i].thread for i in (1, 2)}) == 2


def test_a_failure_skips_its_dependents_and_spares_the_rest():
    calls = [call(1, broken, "x"), call(2, slow, "after", Ref(1), deps={1}), call(3, slow, "free")]
    results = run_unit(calls)

    assert results[1].status == "failed" and results[1].error == "ValueError: x is broken"
    assert results[2].status == "skipped" and "$1 failed" in results[2].error
    assert results[3].status == "success" and results[3].value == "free"


def test_an_error_that_is_not_a_tool_failure_ends_the_unit():
    calls = [call(1, escapes, "out"), call(2, slow, "waits", Ref(1), deps={1})]
    with pytest.raises(NotAToolFailure, match="out"):
        run_unit(calls)
