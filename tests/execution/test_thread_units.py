"""Units without coroutine calls run their dataflow on the shared thread pool, with no event loop:
each call starts when its inputs inside the unit are done, siblings overlap, a failure skips only its
dependents, and an error that is not a tool's ends the unit instead of hanging it."""

from __future__ import annotations

import time

import pytest

from llmcompiler_provider.execution.units import Call, run_unit
from llmcompiler_provider.plan.ir import Ref

pytestmark = pytest.mark.timeout(60)  # a dataflow that loses a completion waits forever: fail instead


def slow(label: str, after: object = None) -> str:
    time.sleep(0.05)
    return f"{label}<{after}>" if after is not None else label


def slower(label: str) -> str:
    time.sleep(0.5)
    return label


def broken(label: str) -> str:
    raise ValueError(f"{label} is broken")


class NotAToolFailure(BaseException):
    pass


def escapes(label: str) -> str:
    raise NotAToolFailure(label)


def call(task_id: int, fn, *args, deps=()) -> Call:
    return Call(task_id, fn.__name__, fn, args, {}, frozenset(deps))


def test_siblings_overlap_and_a_consumer_starts_after_its_inputs():
    calls = [call(1, slow, "a"), call(2, slower, "b"), call(3, slow, "c", Ref(1), deps={1}),
             call(4, slow, "d", Ref(3), deps={3})]
    results = run_unit(calls)

    assert [results[i].value for i in (1, 2, 3, 4)] == ["a", "b", "c<a>", "d<c<a>>"]
    assert max(results[1].start, results[2].start) < min(results[1].stop, results[2].stop)  # overlapped
    assert results[3].start >= results[1].stop and results[4].start >= results[3].stop
    assert results[3].start < results[2].stop  # waited for its own input only, not for the slower sibling
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
