"""The plan grammar is generated per tool from its typed signature: a constrained plan cannot hold a
wrongly typed literal. Checked on the grammar's text, on random sentences of it, with llama.cpp's own
grammar engine (the real local model's vocabulary), and with the real model writing under it."""

from __future__ import annotations

import ctypes
import math as pymath
import random
import re
from dataclasses import replace
import pytest
from gbnf_sampler import GrammarSampler
from typed_tools import typed_toolset

from llmcompiler_provider.agent.prompts import planner_messages
from llmcompiler_provider.llm import END_OF_PLAN, plan_grammar
from llmcompiler_provider.plan import PlanError, compile_plan
from llmcompiler_provider.plan.types import ANY
from llmcompiler_provider.tools.demo import demo

#: what a reference's type error says: the one error a grammar sentence may still have (see plan_grammar)
REFERENCE_TYPE_ERROR = re.compile(r"found \$\d+, the .* that \w+\(\) returns")


def untyped(catalogue):
    """The catalogue with every type erased: the grammar before typed parameters."""
    return {name: replace(sig, params=tuple(replace(p, type=ANY) for p in sig.params), returns=ANY)
            for name, sig in catalogue.items()}


# the grammar's text ------------------------------------------------------------------------
def test_each_parameter_takes_values_of_its_type():
    grammar = plan_grammar(demo.signatures(), max_tasks=2)
    assert 'tool1-1 ::= "math(" ty0-1 (sep ty1-1)? ")"' in grammar
    assert "ty0-1 ::= str1\n" in grammar  # question: str, and no task before line 1
    assert "ty0-2 ::= ref2 | str2\n" in grammar  # every demo tool returns a str
    assert "ty1-2 ::= list2\n" in grammar  # context: list, and no tool returns one: no bare $N
    assert 'tool0-1 ::= "llm(" ty0-1 (sep arg1)? ")"' in grammar  # context: Any


def rules_for(tool: str, max_tasks: int = 2) -> dict[str, str]:
    """The rules of the grammar of ``tool`` alone (of the typed toolset)."""
    grammar = plan_grammar({tool: typed_toolset().signatures()[tool]}, max_tasks=max_tasks)
    return dict(line.split(" ::= ", 1) for line in grammar.splitlines())


@pytest.mark.parametrize(
    ("tool", "value_rules"),
    [
        ("count", {"ty0-2": "ref2 | int"}),  # count returns an int: a bare $N may be one
        ("scale", {"ty0-2": "ref2 | number", "ty1-2": 'ref2 | number | "None"'}),
        ("flag", {"ty0-2": "ref2 | bool", "ty1-2": "str2"}),  # flag returns a bool, not a str
        ("either", {"ty0-2": 'ref2 | str2 | int | "None"'}),
        ("mode", {"ty0-2": 'ref2 | "\\"fast\\"" | "\\"slow\\"" | "3" | "true"'}),
        ("names", {
            "ty0-2": 'ref2 | "[" ws (ty1-2 (sep ty1-2)*)? ws "]"', "ty1-2": "str2",
            "ty2-2": '"{" ws (ty3-2 ws ":" ws ty4-2 (sep ty3-2 ws ":" ws ty4-2)*)? ws "}"',
            "ty3-2": "key", "ty4-2": "int",
        }),
        ("grid", {  # grid returns Any: a bare $N anywhere
            "ty0-2": 'ref2 | "[" ws (ty1-2 (sep ty1-2)*)? ws "]"',
            "ty1-2": 'ref2 | "[" ws (ty2-2 (sep ty2-2)*)? ws "]"', "ty2-2": "ref2 | number",
        }),
        ("total", {"ty0-2": "str2", "ty1-2": "ref2 | int"}),
    ],
)
def test_types_become_rules_of_their_values(tool, value_rules):
    rules = rules_for(tool)
    assert {name: body for name, body in rules.items() if name.startswith("ty") and name.endswith("-2")} == value_rules
    assert not any("ref" in body for name, body in rules.items() if name.endswith("-1"))  # line 1: no $N


def test_call_rules_give_each_parameter_its_type_and_keyword_only_ones_by_name():
    assert rules_for("scale")["tool0-2"] == '"scale(" ty0-2 (sep ty1-2)? ")"'
    assert rules_for("total")["tool0-2"] == '"total(" ty0-2 (sep ty1-2)* sep "unit=" ty0-2 ")"'
    assert rules_for("count")["int"] == '"-"? [0-9]+' and rules_for("flag")["bool"] == '"true" | "false"'
    assert rules_for("names")["key"] == '"\\"" strchar* "\\""'


def test_an_untyped_catalogue_gives_the_untyped_grammar():
    grammar = plan_grammar(untyped(demo.signatures()), max_tasks=3)
    assert "ty" not in re.sub(r"Thought|thought|type", "", grammar)
    assert 'tool1-3 ::= "math(" arg3 (sep arg3)? ")"' in grammar


@pytest.mark.parametrize(
    ("catalogue", "least_compiled"),
    [(demo.signatures(), 300), (typed_toolset().signatures(), 100)],  # every demo tool returns a str
    ids=["demo", "typed"],
)
def test_no_sentence_of_the_grammar_holds_a_wrongly_typed_literal(catalogue, least_compiled):
    grammar = plan_grammar(catalogue, max_tasks=6)
    compiled = 0
    for seed in range(300):
        plan = GrammarSampler(grammar, random.Random(seed)).sentence()
        try:
            compile_plan(plan, catalogue, optimize=False, require_join=True)
            compiled += 1
        except PlanError as error:  # only a $N whose own tool returns another type: the grammar cannot know
            assert all(REFERENCE_TYPE_ERROR.search(d.message) for d in error.diagnostics), (plan, str(error))
    assert compiled >= least_compiled


def test_the_old_untyped_grammar_let_wrongly_typed_literals_through():
    """The failure the typed grammar fixes: sentences of the untyped grammar that the analyzer rejects."""
    catalogue = typed_toolset().signatures()
    grammar = plan_grammar(untyped(catalogue), max_tasks=6)
    literal_errors = 0
    for seed in range(100):
        try:
            compile_plan(GrammarSampler(grammar, random.Random(seed)).sentence(), catalogue, optimize=False)
        except PlanError as error:
            literal_errors += any(not REFERENCE_TYPE_ERROR.search(d.message) for d in error.diagnostics)
    assert literal_errors > 50


# llama.cpp's grammar engine ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def grammar_matches(local_model):
    """``matches(grammar, text)``: does llama.cpp's grammar sampler let the model write exactly ``text``?

    Each token of ``text`` is offered alone to the grammar sampler (a rejected one gets logit -inf),
    then accepted; at the end, the end-of-generation token must be allowed."""
    import llama_cpp

    loaded = local_model.loaded
    vocab = loaded.llama._model.vocab
    eos = llama_cpp.llama_vocab_eos(vocab)

    def allowed(sampler, token: int) -> bool:
        candidates = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        array = llama_cpp.llama_token_data_array(candidates, 1, -1, False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return not pymath.isinf(candidates[0].logit)

    def matches(grammar: str, text: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        assert sampler, "llama.cpp rejects the grammar"
        try:
            for token in loaded.llama.tokenize(text.encode(), add_bos=False, special=False):
                if not allowed(sampler, token):
                    return False
                llama_cpp.llama_sampler_accept(sampler, token)
            return allowed(sampler, eos)
        finally:
            llama_cpp.llama_sampler_free(sampler)

    return matches


@pytest.mark.slow
def test_llama_cpp_parses_the_typed_grammars(local_model):
    import llama_cpp

    for catalogue in (demo.signatures(), typed_toolset().signatures()):
        assert llama_cpp.LlamaGrammar.from_string(plan_grammar(catalogue), verbose=False) is not None


DEMO_PLANS = [
    ('1. search("Nile")\n2. math("sum", [$1, 3])\n3. join()', True),
    ('1. math("2 * (3 + 4)")\n2. llm("say ${1}", $1)\n3. join()', True),
    ('1. search("Nile")\n2. search($1)\n3. join()', True),
    ("1. math(4)\n2. join()", False),  # the reported plans
    ('1. math(3, 5)\n2. join()', False),
    ('1. math("x", 5)\n2. join()', False),
    ('1. search("Nile")\n2. math("sum", $1)\n3. join()', False),  # no tool returns a list
    ('1. search(["Nile"])\n2. join()', False),
]
TYPED_PLANS = [  # (plan, admitted by the grammar, compiles)
    ('1. count(3)\n2. scale(-2.5, 1)\n3. flag(true, "x")\n4. join()', True, True),
    ('1. names(["a", "b"], {"k": 1})\n2. names($1)\n3. join()', True, True),
    ('1. either(None)\n2. mode("slow")\n3. total("t", 1, 2, unit="m")\n4. grid([[1, 2.5], []])\n5. join()', True, True),
    ('1. count("3")\n2. join()', False, True),  # the analyzer reads a plain-number string, with a warning
    ("1. count(2.5)\n2. join()", False, False),
    ('1. flag("true")\n2. join()', False, False),
    ('1. names(["a", 2])\n2. join()', False, False),
    ('1. names([], {"k": "v"})\n2. join()', False, False),
    ('1. mode("medium")\n2. join()', False, False),
    ('1. total("t", 1, "x", unit="m")\n2. join()', False, False),
    ('1. total("t", 1)\n2. join()', False, False),  # unit is required
    ('1. grid([["a"]])\n2. join()', False, False),
]


@pytest.mark.slow
@pytest.mark.parametrize(("plan", "well_typed"), DEMO_PLANS)
def test_llama_cpp_admits_well_typed_demo_plans_only(grammar_matches, plan, well_typed):
    text = plan + "\n" + END_OF_PLAN
    assert grammar_matches(plan_grammar(demo.signatures()), text) is well_typed
    assert grammar_matches(plan_grammar(untyped(demo.signatures())), text)  # the old grammar admitted all


@pytest.mark.slow
@pytest.mark.parametrize(("plan", "admitted", "compiles"), TYPED_PLANS)
def test_llama_cpp_admits_well_typed_plans_of_every_kind_only(grammar_matches, plan, admitted, compiles):
    catalogue = typed_toolset().signatures()
    assert grammar_matches(plan_grammar(catalogue), plan + "\n" + END_OF_PLAN) is admitted
    if compiles:
        compile_plan(plan, catalogue, require_join=True)
    else:
        with pytest.raises(PlanError):
            compile_plan(plan, catalogue, require_join=True)


# the real model writing under it ----------------------------------------------------------------
#: questions that led the local model to write ``math(10)``, ``math("...", 1234)`` or
#: ``math("...", 3.28)`` under the untyped grammar
TEMPTING = [
    "Which is bigger, 2 to the 10th or 10 cubed?",
    "How much is 1234 minus 567?",
    "How tall is the Eiffel Tower in feet if one metre is 3.28 feet?",
]


@pytest.mark.slow
def test_the_local_model_writes_well_typed_plans_under_the_typed_grammar(local_model):
    catalogue = demo.signatures()
    grammar = plan_grammar(catalogue, max_tasks=4)
    for question in TEMPTING:
        text, _ = local_model.complete(planner_messages(question, demo), grammar=grammar, max_tokens=160)
        compile_plan(text, catalogue, require_join=True)  # raises on a type error
