"""PlanStream: tasks come out exactly when their line is complete, wherever chunks split."""

from __future__ import annotations

import random

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import PASSES, Interp, PlanError, PlanStream, Ref, compile_plan
from llmcompiler_provider.plan.passes import cse

PLAN = (
    "Thought: look both up at once\n"
    '1. search("Eiffel Tower height")\n'
    "# a comment\n"
    '2. search(query="Statue of Liberty height")\n'
    '3. math("compare $1 and ${2}", [$1, $2, {"k": [1.5e3, null]}])\n'
    "4. llm(prompt='summarize', context=$3)\n"
    "5. join()\n"
    "<END_OF_PLAN>\n"
)


def ids(tasks) -> list[int]:
    return [t.id for t in tasks]


def test_each_task_is_returned_by_the_chunk_that_ends_its_line():
    stream = PlanStream(CATALOGUE)
    assert stream.feed('Thought: go\n1. search("a")') == []
    assert ids(stream.feed("\n2. sear")) == [1]
    assert stream.feed('ch("b")') == []
    assert ids(stream.feed('\n3. math($1, [$2])\n4. join()\n')) == [2, 3]
    assert stream.done
    graph = stream.close(require_join=True)
    assert list(graph.tasks) == [1, 2, 3]


def test_feeding_character_by_character_returns_each_task_at_its_newline():
    stream = PlanStream(CATALOGUE)
    completed_at: dict[int, int] = {}
    for position, char in enumerate(PLAN):
        for task in stream.feed(char):
            completed_at[task.id] = position
    newline_after = {n: PLAN.index("\n", PLAN.index(f"\n{n}. ") + 1) for n in (1, 2, 3, 4)}
    assert completed_at == newline_after
    assert stream.done


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_gives_the_same_graph_as_compiling_the_whole_text(seed):
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(PLAN)), rng.randint(1, 30)))
    chunks = [PLAN[a:b] for a, b in zip([0, *cuts], [*cuts, len(PLAN)])]
    stream = PlanStream(CATALOGUE, optimize=False)
    returned = [task for chunk in chunks for task in stream.feed(chunk)]
    graph = stream.close(require_join=True)
    whole = compile_plan(PLAN, CATALOGUE, optimize=False)
    assert returned == list(whole.tasks.values()) == list(graph.tasks.values())


def test_streamed_tasks_are_analyzed_and_ready_to_dispatch():
    stream = PlanStream(CATALOGUE)
    (task,) = stream.feed('1. llm("hi", context=[1])\n')
    assert task.kwargs == {"prompt": "hi", "context": [1]}
    assert task.resources == {"GPU": 1} and task.retries == 2 and task.timeout == 30.0 and task.cost == 2.0


def test_a_bad_line_raises_as_soon_as_it_is_complete():
    stream = PlanStream(CATALOGUE, source="llm")
    stream.feed('1. search("a")\n2. serch("b")')  # line 2 is not complete yet
    with pytest.raises(PlanError) as caught:
        stream.feed("\n")
    assert str(caught.value) == "llm:2:4: error: unknown tool 'serch' (did you mean 'search'?)"


def test_tasks_completed_with_a_bad_line_are_kept_in_the_error_and_the_graph():
    stream = PlanStream(CATALOGUE)
    with pytest.raises(PlanError) as caught:
        stream.feed('1. search("a")\n2. math(1 + 1)\n3. search("c")\n')
    assert ids(caught.value.tasks) == [1, 3]
    assert list(stream.graph.tasks) == [1, 3]
    assert ids(stream.feed('4. math($3)\n')) == [4]  # feeding goes on


def test_flush_completes_a_last_line_without_newline():
    stream = PlanStream(CATALOGUE)
    assert stream.feed('1. search("a")\n2. math($1)') == [stream.graph.tasks[1]]
    assert ids(stream.flush()) == [2]
    assert stream.flush() == []
    assert list(stream.close().tasks) == [1, 2]


def test_close_flushes_and_checks_join_when_asked():
    stream = PlanStream(CATALOGUE)
    stream.feed('1. search("a")\n2. join()')
    assert not stream.done
    graph = stream.close(require_join=True)
    assert graph.has_join and list(graph.tasks) == [1]
    unfinished = PlanStream(CATALOGUE, source="s")
    unfinished.feed('1. search("a")\n')
    with pytest.raises(PlanError, match=r"^s:1:1: error: the plan does not end with join\(\)$"):
        unfinished.close(require_join=True)


def test_nothing_may_be_fed_after_close():
    stream = PlanStream(CATALOGUE)
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        stream.feed("1. search('a')\n")


def test_a_bad_last_line_raises_on_close():
    stream = PlanStream(CATALOGUE)
    stream.feed('1. search("a")\n2. math(')
    with pytest.raises(PlanError, match="2:9: error: unexpected end of line"):
        stream.close()


def test_done_once_join_is_read_and_text_after_it_is_an_error():
    stream = PlanStream(CATALOGUE)
    stream.feed("1. search('a')\njoin()\n")
    assert stream.done
    stream.feed("<END_OF_PLAN>\n")
    with pytest.raises(PlanError, match="text after <END_OF_PLAN>"):
        stream.feed("2. search('b')\n")


def test_identical_pure_calls_are_aliased_not_returned_and_references_rewritten():
    stream = PlanStream(CATALOGUE)
    assert ids(stream.feed('1. search("a")\n2. search(query="a")\n')) == [1]
    assert stream.graph.aliases == {2: 1}
    (task,) = stream.feed('3. math("$2", [$2])\n')
    assert task.kwargs == {"question": Interp((Ref(1),)), "context": [Ref(1)]}
    assert task.deps == {1}
    assert ids(stream.feed('4. notify("x")\n5. notify("x")\n')) == [4, 5]  # side effects run twice
    assert ids(PlanStream(CATALOGUE, optimize=False).feed('1. search("a")\n2. search("a")\n')) == [1, 2]


def test_the_partial_line_is_visible():
    stream = PlanStream(CATALOGUE)
    stream.feed("1. sea")
    stream.feed("rch(")
    assert stream.text == "1. search("


@pytest.mark.parametrize("cut", ["<", "<END_", "<END_OF_PLAN"])
def test_an_end_marker_cut_short_at_the_end_of_the_text_is_no_error(cut):
    text = f'1. search("a")\njoin()\n{cut}'
    assert list(compile_plan(text, CATALOGUE).tasks) == [1]
    stream = PlanStream(CATALOGUE)
    stream.feed(text)
    assert list(stream.close(require_join=True).tasks) == [1]


def test_a_cut_marker_is_an_error_before_join_or_when_its_line_is_complete():
    with pytest.raises(PlanError, match="2:1: error: expected a numbered action"):
        compile_plan('1. search("a")\n<END_', CATALOGUE)
    with pytest.raises(PlanError, match="3:1: error: text after join()"):
        compile_plan('1. search("a")\njoin()\n<END_\n', CATALOGUE)


# common-subexpression elimination: one implementation (the cse pass's Merger) for both ways in ----------
DUPLICATES = (
    '1. search("a")\n'
    "2. search(query='a')\n"  # the same call as 1, by keyword
    '3. math("x $2", [$2, {"k": $1}])\n'
    '4. math("x $1", [$1, {"k": $1}])\n'  # the same as 3 once $2 is $1
    '5. notify("sent $4")\n'
    '6. notify("sent $3")\n'  # the same call as 5, but with side effects: runs twice
    "7. math(1)\n"
    "8. math(1.0)\n"  # another type: another call
    "9. llm($4, [$8])\n"
    "10. join()\n"
)
OTHER_PASSES = [name for name in PASSES if name != "cse"]


def streamed(text: str, chunk_sizes: list[int], **switches) -> tuple[list, PlanStream]:
    """The tasks a stream returned (what would be dispatched) and the stream, ``text`` fed in pieces."""
    stream, returned, position = PlanStream(CATALOGUE, **switches), [], 0
    for size in [*chunk_sizes, len(text)]:
        returned += stream.feed(text[position : position + size])
        position += size
    stream.close(require_join=True)
    return returned, stream


@pytest.mark.parametrize("seed", range(10))
def test_a_stream_merges_duplicates_as_compiling_the_whole_text_with_the_cse_pass(seed):
    sizes = [random.Random(seed).randint(1, 30) for _ in range(40)]
    returned, stream = streamed(DUPLICATES, sizes)
    whole = compile_plan(DUPLICATES, CATALOGUE, disabled_passes=OTHER_PASSES)
    assert list(whole.tasks) == [1, 3, 5, 6, 7, 8, 9]
    assert whole.aliases == {2: 1, 4: 3}
    assert whole.tasks[9].kwargs == {"prompt": Ref(3), "context": [Ref(8)]}
    # a duplicate is never returned (dispatched); the stream's graph is the whole text's
    assert returned == list(stream.graph.tasks.values()) == list(whole.tasks.values())
    assert stream.graph.aliases == whole.aliases
    # and the same as the cse pass run on the unoptimized graph
    alone = cse.cse(compile_plan(DUPLICATES, CATALOGUE, optimize=False), CATALOGUE)
    assert list(alone.tasks.values()) == list(whole.tasks.values()) and alone.aliases == whole.aliases


@pytest.mark.parametrize(
    "switches", [{"optimize": False}, {"disabled_passes": ["cse"]}], ids=["no-optimize", "disable-cse"]
)
def test_switching_cse_off_keeps_every_call_streamed_and_whole(switches):
    returned, stream = streamed(DUPLICATES, [7] * 40, **switches)
    assert ids(returned) == list(stream.graph.tasks) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert stream.graph.aliases == {}
    assert returned[2].kwargs == {"question": Interp(("x ", Ref(2))), "context": [Ref(2), {"k": Ref(1)}]}
    whole = compile_plan(DUPLICATES, CATALOGUE, **switches)
    assert {3, 4} <= whole.tasks.keys() and 4 not in whole.aliases  # math is not batchable: only cse merges
    assert whole.tasks[9].kwargs == {"prompt": Ref(4), "context": [Ref(8)]}
