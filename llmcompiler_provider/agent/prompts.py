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
Finish(answer) gives the final answer in words.
Example:
Thought: The observations say the Nile is 6650 kilometres long and the Amazon 6400 kilometres.
Action: Finish(The Nile is longer: 6650 km against 6400 km.)
Only when the observations cannot answer the question and another plan could, ask for one instead:
Thought: The population of Spain was not looked up.
Action: Replan(look up the population of Spain)"""


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
    rules = JOINER_RULES if can_replan else JOINER_RULES.split("\nOnly when")[0] + "\nNo more plans can run: answer with Finish now."
    user = f"Question: {question}\n\nPlan:\n{plan_text.strip()}\n\nObservations:\n{observations.strip()}"
    return [{"role": "system", "content": rules}, {"role": "user", "content": user}]
