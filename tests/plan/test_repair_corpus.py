"""The corpus of plans written as planners write them (tests/plan/corpus): each compiles exactly,
is repaired, or is rejected, as its file says, whole or streamed."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from llmcompiler_provider.plan import PlanError, PlanStream, compile_plan
from llmcompiler_provider.tools import load_toolset

CORPUS = Path(__file__).with_name("corpus")
PLANS = sorted(CORPUS.glob("*.txt"))
CATALOGUE = load_toolset("demo").signatures()
KINDS = ("exact", "repaired", "rejected")


def expected(path: Path) -> tuple[str, list[str], list[str]]:
    """What the file's ``#:`` lines say: its kind, its warnings and its errors (``LINE:COL: MESSAGE``)."""
    header = [line[3:] for line in path.read_text().splitlines() if line.startswith("#: ")]
    said = {"warning": [], "error": []}
    kind = None
    for line in header:
        key, _, value = line.partition(": ")
        if key == "expect":
            kind = value
        elif key in said:
            said[key].append(value)
    assert kind in KINDS, path.name
    return kind, said["warning"], said["error"]


def at(diagnostics) -> list[str]:
    return [f"{d.line}:{d.col}: {d.message}" for d in diagnostics]


def outcome(path: Path) -> tuple[str, list[str], list[str]]:
    """Compile the file as the planner's output is compiled; with what kind of result."""
    text = path.read_text()
    warnings: list = []
    try:
        compile_plan(text, CATALOGUE, source=path.name, require_join=True, repair=True, warnings=warnings)
        errors = []
    except PlanError as error:
        errors = at(error.diagnostics)
    try:
        compile_plan(text, CATALOGUE, source=path.name, require_join=True)
        kind = "exact"
    except PlanError:
        kind = "rejected" if errors else "repaired"
    return kind, at(warnings), errors


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.stem)
def test_each_corpus_plan_compiles_as_its_file_says(path):
    assert outcome(path) == expected(path)
    assert path.stem.startswith(expected(path)[0])
    if expected(path)[0] == "exact":
        assert expected(path)[1] == []


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.stem)
def test_each_corpus_plan_streamed_as_the_planner_streams_it_gives_the_same_result(path):
    text = path.read_text()
    stream = PlanStream(CATALOGUE, source=path.name, repair=True)
    errors = []
    for start in range(0, len(text), 7):  # the scripted model's chunks; the planner stops at join()
        try:
            stream.feed(text[start : start + 7])
        except PlanError as error:
            errors += at(error.diagnostics)
    try:
        stream.close(require_join=True)
    except PlanError as error:
        errors += at(error.diagnostics)
    _, warnings, expected_errors = expected(path)
    assert (at(stream.warnings), without_line(errors)) == (warnings, without_line(expected_errors))


def without_line(errors: list[str]) -> list[str]:
    """``errors`` with the line of a missing join() left out: a stream says the last line with text,
    the whole text the line after its last newline (as before repair existed)."""
    return [re.sub(r"^\d+:(\d+: the plan does not end with join\(\))$", r"?:\1", e) for e in errors]


def test_the_corpus_counts_are_the_ones_its_readme_gives():
    kinds = Counter(expected(path)[0] for path in PLANS)
    readme = (CORPUS / "README.md").read_text()
    line = (f"{len(PLANS)} plans: {kinds['exact']} compile exactly, {kinds['repaired']} are repaired, "
            f"{kinds['rejected']} are rejected.")
    assert line in readme
    saved = re.search(r"repair saves (\d+) re-asks", readme)
    assert saved is not None and int(saved.group(1)) == kinds["repaired"]
