"""The suite's progress on stderr: one updating line on a terminal, one line per step otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.live = enabled and self.stream.isatty()
        self.started = time.time()
        self.total = self.done_steps = 0
        self.current = ""
        self.repeats = 0

    def _elapsed(self) -> str:
        seconds = int(time.time() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def _write(self, text: str, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def stage(self, text: str) -> None:
        self._write(f"[bench {self._elapsed()}] {text}", final=True)

    def start(self, total: int) -> None:
        self.total = total
        self.stage(f"{total} workload/executor pairs to measure")

    def begin(self, workload: str, executor: str, repeats: int) -> None:
        self.current, self.repeats = f"{workload} on {executor}", repeats

    def repeat(self, index: int) -> None:
        self._write(f"[bench {self._elapsed()}] {self.done_steps + 1}/{self.total} {self.current}: run {index}/{self.repeats}")

    def end(self) -> None:
        self.done_steps += 1
        self._write(f"[bench {self._elapsed()}] {self.done_steps}/{self.total} {self.current}: done", final=not self.live)

    def done(self) -> None:
        self._write(f"[bench {self._elapsed()}] finished", final=True)
