"""A simulated GPU slot, on the CPU (there is no GPU on the benchmark machine).

A call needs ``seconds`` of exclusive slot time. Calls that run on the same slot
at once share it and thrash: with ``k > 1`` calls resident, each progresses at
``1 / (k * (1 + THRASH))`` of full speed (model weights and activations no longer
fit together, so the slot spends a third of its time swapping), so two calls at
once take three times as long as one. The slot is identified by process id and
slot index; a process has ``slots_per_process()`` slots, chosen round-robin
(an executor that knows nothing of slots spreads calls over devices that way).
Each call reports its slot and the most calls it ever shared the slot with.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from dataclasses import dataclass

THRASH = 0.5
QUANTUM_S = 0.005  # how often a call looks at who else is on its slot
_SLOTS_ENV = "LLMCOMPILER_BENCH_GPU_SLOTS"

_lock = threading.Lock()
_resident: dict[int, int] = {}
_round_robin = itertools.count()


@dataclass(frozen=True)
class SlotUse:
    slot: str
    peak_sharing: int  # most calls resident on the slot at once during this call (1 = alone)

    def __str__(self) -> str:
        return f"slot={self.slot} peak={self.peak_sharing}"


def slots_per_process() -> int:
    return max(1, int(os.environ.get(_SLOTS_ENV, "1")))


def set_slots_per_process(slots: int) -> None:
    """How many simulated GPUs this process has (a Dask worker with ``GPU=1`` has one)."""
    os.environ[_SLOTS_ENV] = str(slots)


async def run_on_slot(seconds: float) -> SlotUse:
    """Occupy a slot for ``seconds`` of exclusive work, slower while it is shared."""
    slot = next(_round_robin) % slots_per_process()
    with _lock:
        _resident[slot] = _resident.get(slot, 0) + 1
    peak, done, last = 1, 0.0, time.perf_counter()
    try:
        while done < seconds:
            with _lock:
                sharing = _resident[slot]
            peak = max(peak, sharing)
            speed = 1.0 if sharing == 1 else 1.0 / (sharing * (1 + THRASH))
            left = (seconds - done) / speed
            await asyncio.sleep(min(QUANTUM_S, left))
            now = time.perf_counter()
            done += (now - last) * speed
            last = now
    finally:
        with _lock:
            _resident[slot] -= 1
    return SlotUse(f"{os.getpid()}:{slot}", peak)
