"""Who is looking, and which runs they may read.

The app asks a *viewer dependency* (a FastAPI dependency returning a
:class:`Viewer`) on every request. Standalone, :func:`everyone` lets anyone read
every run; inside Airflow, ``ui.airflow_access.airflow_viewer`` asks Airflow's
auth manager, so a person sees only the runs of the DAGs they may read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

ViewerDependency = Callable[..., "Viewer | Awaitable[Viewer]"]


@dataclass(frozen=True)
class Viewer:
    """What the person asking may read."""

    readable_dag_ids: frozenset[str] | None = None  # None: every DAG
    reads_runs_outside_airflow: bool = True  # runs started by the CLI or the library, with no DAG

    def can_read_dag(self, dag_id: str | None) -> bool:
        if dag_id is None:
            return self.reads_runs_outside_airflow
        return self.readable_dag_ids is None or dag_id in self.readable_dag_ids



EVERYONE = Viewer()


def everyone() -> Viewer:
    """The viewer dependency of a standalone app: no login, every run readable."""
    return EVERYONE
