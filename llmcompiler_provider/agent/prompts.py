"""Planner and joiner prompts in the LLMCompiler format."""

from __future__ import annotations

from llmcompiler_provider.tools.registry import Toolset


PLANNER_RULES = """\
Guidelines:
 - Each action has input and output types and a description; follow them strictly.
 - Each action in the plan must be one of the actions above, written as a Python call: N. tool(arguments)
 - Each action MUST have a unique ID, which is strictly increasing (1, 2, 3, ...).
 - Inputs of an action are constants or the outputs of earlier actions: write $ID for the output of action ID.
 - Always call join() as the last action, then write <END_OF_PLAN>.
 - Make the plan as parallel as possible: actions that do not need each other's output must not reference each other.
 - Only use the actions above. If the question cannot be answered with them, call join() right away.
 - Never explain the plan with comments."""

REPLAN_RULES = """\
 - You are replanning: the previous plan and its observations are below. Number the new plan from 1
   again, write what you need from the observations as constants, and do not repeat what is already known."""

JOINER_RULES = """\
Answer the question from the observations of the plan that was run: one line of thought, then an action.
Finish(answer) gives the final answer in words."""
JOINER_REPLAN_RULE = """
Only when the observations cannot answer the question and another plan could, write \
Replan(what the next plan must find out) instead of Finish."""
JOINER_LAST_RULE = "\nNo more plans can run: answer with Finish now."

#: the joiner's worked examples, as chat turns (the question, plan and observations; the reply), in
#: placeholders (X, Y, N): a small model copies an example's words into unrelated answers, so an example says
#: nothing a question could take as its answer (a concrete one came back word for word; bare placeholders
#: like <answer> came back too). The Replan one is shown only while another plan can run, and first.
JOINER_REPLAN_EXAMPLE = (
    ("How long are X and Y together?", '1. search("X length")\n2. join()',
     "$1 = search('X length')\nObservation: X: X is N km long."),
    "Thought: The observations say how long X is, but not Y.\nAction: Replan(look up the length of Y)",
)
JOINER_FINISH_EXAMPLE = (
    ("How long is X?", '1. search("X length")\n2. join()', "$1 = search('X length')\nObservation: X: X is N km long."),
    "Thought: The observation says X is N km long.\nAction: Finish(X is N km long.)",
)


def planner_messages(
    question: str,
    toolset: Toolset,
    *,
    previous: list[tuple[str, str]] | None = None,
    compile_errors: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages asking the planner for a plan.

    ``previous`` holds (plan text, observations text) of earlier iterations, for replans;
    ``compile_errors`` the errors of the planner's last attempt, so it can correct them.
    """
    system = (
        "Given a question, create a plan to answer it with the utmost parallelism. "
        f"Each plan consists of actions of the following {len(toolset) + 1} types:\n"
        f"{toolset.describe()}\n\n{PLANNER_RULES}"
    )
    if previous:
        system += "\n" + REPLAN_RULES
    if toolset.examples:
        system += "\n\nExamples:\n" + toolset.examples.strip()
    user = f"Question: {question}"
    for i, (plan_text, observations) in enumerate(previous or [], 1):
        user += f"\n\nPrevious plan {i}:\n{plan_text.strip()}\nObservations:\n{observations.strip()}"
    if compile_errors:
        user += f"\n\nYour last plan did not compile:\n{compile_errors.strip()}\nWrite a corrected plan."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def joiner_messages(question: str, plan_text: str, observations: str, *, can_replan: bool) -> list[dict[str, str]]:
    """The chat messages asking the joiner to answer (or, ``can_replan``, to ask for another plan)."""
    rules = JOINER_RULES + (JOINER_REPLAN_RULE if can_replan else JOINER_LAST_RULE)
    messages = [{"role": "system", "content": rules}]
    for example, reply in (JOINER_REPLAN_EXAMPLE, JOINER_FINISH_EXAMPLE) if can_replan else (JOINER_FINISH_EXAMPLE,):
        messages += [{"role": "user", "content": _joiner_input(*example)}, {"role": "assistant", "content": reply}]
    return messages + [{"role": "user", "content": _joiner_input(question, plan_text, observations)}]


def _joiner_input(question: str, plan_text: str, observations: str) -> str:
    return f"Question: {question}\n\nPlan:\n{plan_text.strip()}\n\nObservations:\n{observations.strip()}"
