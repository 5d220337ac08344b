"""A real OpenAI-compatible HTTP server that plans and answers each batch prompt by its question.

The planner's request ends with ``Question: <q>``; the server looks ``q`` up in its plans
(a question without one gets a one-search plan) and streams it. The joiner's request holds
``Observations:``; the server answers ``Finish(answer to <q>)``. It counts planner requests
per question, so a test can tell which prompts were planned (and how often); ``broken_first``
makes the first planner requests for a question answer a plan that does not compile.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter

from tests.agent.scripted_llm import ScriptedModelServer

_QUESTION = re.compile(r"Question: (.*?)(?:\n|$)")


class PlanningServer(ScriptedModelServer):
    def __init__(self, plans: dict[str, str] | None = None) -> None:
        super().__init__({})
        self.plans = plans or {}
        #: question -> planner requests answered with a plan that does not compile before the real one
        self.broken_first: dict[str, int] = {}
        #: seconds each answer takes before it streams; the most requests it held at once
        self.delay_s = 0.0
        self.most_at_once = 0
        self._in_flight = 0
        self.planned: Counter[str] = Counter()
        self.joined: Counter[str] = Counter()
        self._lock = threading.Lock()

    def respond(self, handler, name, n, body) -> None:
        with self._lock:
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
        try:
            time.sleep(self.delay_s)
            self._answer(handler, json.loads(body)["messages"])
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, handler, messages) -> None:
        last = messages[-1]["content"]
        question = _QUESTION.search(last).group(1).strip()
        if "Observations:" in last:
            with self._lock:
                self.joined[question] += 1
            self.stream_text(handler, f"Thought: done.\nAction: Finish(answer to {question})")
            return
        with self._lock:
            self.planned[question] += 1
            broken = self.planned[question] <= self.broken_first.get(question, 0)
        plan = self.plans.get(question, f'1. search("{question}")\n2. join()\n<END_OF_PLAN>')
        if broken:
            plan = '1. serch("x")\n2. join()\n<END_OF_PLAN>'  # an unknown tool
        self.stream_text(handler, plan)

    def settings(self):
        from llmcompiler_provider.llm.settings import OPENAI, LLMSettings

        return LLMSettings(kind=OPENAI, base_url=self.url("planner"), model="scripted", api_key="not-needed")
