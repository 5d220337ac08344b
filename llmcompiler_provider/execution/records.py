"""The per-task records of a run's result and of the metrics store, built from observations.

Needs no Dask client: what a dispatcher knows (which unit produced each task, when it was
queued, how often Dask rescheduled a unit) comes in as plain mappings.
"""

from __future__ import annotations

from typing import Mapping

from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.plan.ir import Task, TaskGraph, to_jsonable
from llmcompiler_provider.results import TaskRecord, preview


def task_records(
    observations: Mapping[int, Observation],
    graph: TaskGraph,
    *,
    producer: Mapping[int, str],
    queued: Mapping[int, float],
    sources: Mapping[int, str] | None = None,
) -> list[TaskRecord]:
    """Per-task records in plan order. ``producer``: task id -> key of the unit that computed it
    (a task with none was never dispatched); ``queued``: task id -> when it was submitted;
    ``sources``: task id -> ``"batch"`` or ``"cache"`` for the tasks this run did not run
    (``TaskRecord.source``; see ``answered_elsewhere`` for their times).

    ``attempts`` counts the tool's own tries; ``count_reschedules`` adds the times the Dask worker
    running it died (the lost try, rescheduled by Dask)."""
    sources = sources or {}
    out = []
    batch_of = {member: t for t in graph.tasks.values() for member in t.batch_of}
    for task_id in sorted(set(graph.tasks) | set(graph.aliases)):
        source = task_id if task_id in observations else graph.resolve(task_id)
        task = batch_of.get(source) or graph.tasks.get(source)
        obs = observations.get(source)
        args, kwargs = _call_arguments(task, task_id)
        record = TaskRecord(
            id=task_id,
            tool=task.tool if task else "?",
            args=to_jsonable(args),
            kwargs=to_jsonable(kwargs),
            deps=sorted(task.deps) if task else [],
            resources=dict(task.resources) if task else {},
            priority=task.priority if task else 0,
            queued=queued.get(task_id, queued.get(source)),
            unit=producer.get(task_id, producer.get(source)),
        )
        if obs is None:
            record.status = "cancelled" if producer.get(source) else "pending"
        else:
            record.status, record.error = obs.status, obs.error
            record.start, record.stop = obs.start, obs.stop
            record.worker, record.thread = obs.worker, obs.thread
            record.attempts = obs.attempts
            record.result = preview(obs.value) if obs.ok else None
        if task_id in sources:
            answered_elsewhere(record, sources[task_id])
        if source != task_id and record.status == "success":
            record.result = f"(same as ${source}) " + (record.result or "")
        out.append(record)
    return out


def answered_elsewhere(record: TaskRecord, source: str) -> None:
    """Mark ``record`` as answered by ``source`` (``"batch"``: another run's identical call;
    ``"cache"``: the tool result cache), with what it cost this run.

    Such a call costs this run only its wait: its interval runs from when this run asked for it
    (``queued``) to when the result existed, and is empty when it existed already (always, for a
    cache hit). So the run's sum of task times and critical path count the wait, not another
    run's work. ``worker`` and ``thread`` still say where it ran; ``attempts`` is 0 (this run
    made none)."""
    record.source = source
    record.attempts = 0
    asked = record.queued
    if asked is None or record.start is None or record.stop is None:
        return
    record.start = max(record.start, asked)
    record.stop = max(record.stop, record.start)


def count_reschedules(records: list[TaskRecord], reschedules: Mapping[str, int]) -> None:
    """Count Dask's reschedules (unit key -> times a worker died running it) into the attempts of
    ``records`` (all but those left pending, and those another run or the cache answered)."""
    for record in records:
        if record.unit in reschedules and record.status != "pending" and record.source is None:
            record.attempts += reschedules[record.unit]


def _call_arguments(task: Task | None, task_id: int) -> tuple[tuple, dict]:
    """The arguments of call ``task_id``: its own, or its share of a batched call."""
    if task is None:
        return (), {}
    if task.batch_of and task_id in task.batch_of:
        return (), task.kwargs["calls"][task.batch_of.index(task_id)]
    return task.args, task.kwargs
