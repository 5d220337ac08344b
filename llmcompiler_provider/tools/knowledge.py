"""A small full-text knowledge base (SQLite FTS5 with BM25 ranking)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from importlib import resources
from pathlib import Path

_WORD = re.compile(r"[A-Za-z0-9]+")
# words too common to help ranking; FTS5 has no stop list of its own
_STOP = frozenset(
    "a an and are as at be by for from how in is it its of on or than that the this to was what when "
    "where which who whom why with does did do many much tall height long".split()
)


class KnowledgeBase:
    """Passages indexed in an in-memory FTS5 table; one per process, safe across threads."""

    _bundled: "KnowledgeBase | None" = None
    _bundled_lock = threading.Lock()

    def __init__(self, passages: list[tuple[str, str]]) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE VIRTUAL TABLE passages USING fts5(title, text, tokenize='porter')")
        self._db.executemany("INSERT INTO passages(title, text) VALUES (?, ?)", passages)
        self._db.commit()

    @classmethod
    def from_jsonl(cls, path: Path) -> "KnowledgeBase":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return cls([(row["title"], row["text"]) for row in rows])

    @classmethod
    def bundled(cls) -> "KnowledgeBase":
        with cls._bundled_lock:
            if cls._bundled is None:
                path = resources.files("llmcompiler_provider.tools") / "data" / "knowledge.jsonl"
                cls._bundled = cls.from_jsonl(Path(str(path)))
            return cls._bundled

    def search(self, query: str, limit: int = 3) -> list[tuple[str, str]]:
        """Best passages for ``query`` (any of its words; title matches weigh more)."""
        words = [w for w in _WORD.findall(query.lower()) if w not in _STOP] or _WORD.findall(query.lower())
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words[:32])
        with self._lock:
            rows = self._db.execute(
                "SELECT title, text FROM passages WHERE passages MATCH ? "
                "ORDER BY bm25(passages, 4.0, 1.0) LIMIT ?",
                (match, limit),
            ).fetchall()
        return [(title, text) for title, text in rows]
