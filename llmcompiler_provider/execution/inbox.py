"""Unit results that come with the completion message instead of after it.

Dask tells a client that a task finished (worker -> scheduler -> client) and the
client then fetches the result: an RPC to the scheduler for where it is and one to
the worker for the data, two more round trips on the critical path of every plan
iteration. A unit small enough (``PUSH_LIMIT`` once pickled) instead sends its
results ahead as a Dask event on the client's own topic, on the same streams as
the completion message and just before it, so the client has them when it learns
that the unit finished.

This is a shortcut, never the only path: a unit whose results are larger, do not
pickle, or whose event did not arrive (a reconnected client) is fetched with
``client.gather`` as before, and the Dask result stays the authority for what a
unit returned. The scheduler keeps each topic's last ``distributed.admin.
low-level-log-length`` events (1,000 by default): at most that many results of at
most ``PUSH_LIMIT`` each, per client.
"""

from __future__ import annotations

import pickle
import threading
import weakref
from typing import Any

#: largest pickled unit result sent ahead (bytes); larger ones are fetched by the client
PUSH_LIMIT = 32 * 1024

TOPIC_PREFIX = "llmcompiler-results-"


def send_ahead(address: tuple[str, str] | None, results: Any) -> None:
    """On a worker: send ``results`` to the client's topic ahead of the unit's completion message.

    ``address`` is (topic, unit key), or None when nobody listens (a plain Dask graph)."""
    if address is None:
        return
    try:
        from distributed import get_worker

        worker = get_worker()
        blob = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not on a worker, or a value that does not pickle: the client fetches it
        return
    if len(blob) <= PUSH_LIMIT:
        topic, key = address
        worker.log_event(topic, {"key": key, "results": blob})


class Inbox:
    """On the client: results sent ahead, for the unit keys a dispatcher expects."""

    def __init__(self, client: Any) -> None:
        self.topic = TOPIC_PREFIX + client.id
        self._expected: set[str] = set()
        self._arrived: dict[str, bytes] = {}
        self._lock = threading.Lock()
        client.subscribe_topic(self.topic, self._receive)

    def _receive(self, event: tuple[float, dict[str, Any]]) -> None:  # on the client's event loop
        _, message = event
        key = message.get("key")
        with self._lock:
            if key in self._expected:
                self._arrived[key] = message["results"]

    def expect(self, keys: list[str]) -> None:
        with self._lock:
            self._expected.update(keys)

    def take(self, key: str) -> Any | None:
        """The results sent ahead for ``key`` (once), or None if none arrived."""
        with self._lock:
            self._expected.discard(key)
            blob = self._arrived.pop(key, None)
        return None if blob is None else pickle.loads(blob)

    def forget(self, keys: list[str]) -> None:
        """Stop expecting ``keys`` (cancelled or collected units) and drop what came for them."""
        with self._lock:
            for key in keys:
                self._expected.discard(key)
                self._arrived.pop(key, None)


_inboxes: "weakref.WeakKeyDictionary[Any, Inbox]" = weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


def inbox_for(client: Any) -> Inbox:
    """The one inbox of ``client`` (subscribed to its topic on first use)."""
    with _inboxes_lock:
        inbox = _inboxes.get(client)
        if inbox is None:
            inbox = _inboxes[client] = Inbox(client)
        return inbox
