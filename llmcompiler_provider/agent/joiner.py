"""The joiner: answer from the observations, or ask for another plan."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from llmcompiler_provider.agent.planner import llm_call_record
from llmcompiler_provider.agent.prompts import joiner_messages
from llmcompiler_provider.llm import ChatModel, LLMError, joiner_grammar
from llmcompiler_provider.results import LLMCall

#: where the joiner's action starts: ``Action: Finish(`` / ``Action: Replan(`` anywhere, or
#: ``Finish(`` / ``Replan(`` starting a line (the reference's form without ``Action:``)
_ACTION_START = re.compile(r"(?:Action:[ \t]*|^[ \t]*)(Finish|Replan)[ \t]*\(", re.MULTILINE)
_THOUGHT = re.compile(r"Thought:\s*(.*?)(?:\s*Action:|\n|$)")
#: what the reference's joiner prompts ask the model to end its reply with
END_OF_RESPONSE = "<END_OF_RESPONSE>"


@dataclass(frozen=True)
class JoinDecision:
    answer: str | None
    replan: bool
    thought: str | None = None
    reason: str | None = None  # what the next plan should find out


def parse_decision(text: str, *, can_replan: bool) -> JoinDecision:
    """Read the joiner's reply: ``Thought: ...`` then ``Action: Finish(answer)`` or ``Action:
    Replan(reason)``, ``Action:`` optional (then the action starts its line), maybe followed by
    ``<END_OF_RESPONSE>``. The action's body runs to the reply's last ``)``, after which only blanks may
    follow; a reply without such an action is free text, which counts as the answer."""
    thought_match = _THOUGHT.search(text)
    thought = thought_match.group(1).strip() if thought_match else None
    action = _action(text.strip().removesuffix(END_OF_RESPONSE).rstrip())
    if action is None:
        answer = text.split("Action:", 1)[0].strip()
        answer = re.sub(r"^Thought:\s*", "", answer).strip()
        return JoinDecision(answer=answer or text.strip(), replan=False, thought=thought)
    kind, body = action
    if kind == "Replan" and can_replan:
        return JoinDecision(answer=None, replan=True, thought=thought, reason=body)
    return JoinDecision(answer=body or thought or "", replan=False, thought=thought)


def _action(text: str) -> tuple[str, str] | None:
    """The last action of ``text`` when the text ends with its ``)``: (``Finish`` or ``Replan``, its body)."""
    starts = list(_ACTION_START.finditer(text))
    if not starts or not text.endswith(")"):
        return None
    return starts[-1].group(1), text[starts[-1].end() : -1].strip()


def join(
    llm: ChatModel,
    question: str,
    plan_text: str,
    observations: str,
    *,
    can_replan: bool,
    calls: list[LLMCall],
    max_tokens: int = 192,
) -> JoinDecision:
    messages = joiner_messages(question, plan_text, observations, can_replan=can_replan)
    started = time.time()
    llm_error: str | None = None  # the LLM call's failure, recorded with the call
    stream = llm.stream(messages, max_tokens=max_tokens, grammar=joiner_grammar())
    try:
        text = "".join(stream)
    except LLMError as exc:
        llm_error = str(exc)
        raise
    finally:
        calls.append(llm_call_record("joiner", llm, stream, started, llm_error))
    return parse_decision(text, can_replan=can_replan)
