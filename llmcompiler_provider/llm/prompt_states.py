"""The local model's state after a prompt's fixed opening, kept on disk so a new process starts at once.

Every planner call of a toolset opens with the same system message (the tools and
the examples: about 500 tokens for ``demo``), and evaluating it takes the local
model about 3 s on one core. Its state after that opening (the KV cache: 12 MB for
SmolLM2-135M) is saved once per machine under ``<home>/model-states/`` and loaded
by later processes in about 40 ms, so an Airflow task's planner writes its first
token a tenth of a second after it is asked. Within one process, llama.cpp already
reuses an evaluated prefix from one call to the next.

A file is named by a hash of all its state depends on (llama-cpp-python's version,
the model file's path, size and modification time, the context size, the tokens),
written to a temporary name and renamed (processes starting together never read a
half-written file), and holds no pickle: a JSON header and the raw llama.cpp state.
The least recently used files beyond ``MAX_FILES`` are removed.
``LLMCOMPILER_MODEL_STATES`` names another folder, or ``off``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATES_ENV = "LLMCOMPILER_MODEL_STATES"
FOLDER_NAME = "model-states"
MAX_FILES = 16
#: shorter openings are evaluated faster than a file is read
MIN_PREFIX_TOKENS = 64
MAGIC = b"llmcompiler-model-state 1\n"


def states_dir() -> Path | None:
    """Where states are kept, or None when switched off."""
    chosen = os.environ.get(STATES_ENV, "")
    if chosen.lower() in ("off", "none", "0", "false"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    from llmcompiler_provider.home import home_dir

    return home_dir() / FOLDER_NAME


def _state_name(llama: Any, model_path: str, prefix: list[int]) -> str:
    import llama_cpp

    stat = os.stat(model_path)
    identity = [llama_cpp.__version__, os.path.realpath(model_path), stat.st_size, stat.st_mtime_ns,
                int(llama.n_ctx()), prefix]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32] + ".state"


def common_prefix(a: Any, b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def restore_prefix(llama: Any, model_path: str, prefix: list[int]) -> str:
    """Leave ``llama`` holding its state after ``prefix`` (the opening of the next prompt), the
    cheapest way there is: already in memory, loaded from disk, or evaluated (and then saved).
    Returns which (``memory``, ``loaded``, ``evaluated``, ``skipped``)."""
    folder = states_dir()
    if folder is None or len(prefix) < MIN_PREFIX_TOKENS:
        return "skipped"
    if common_prefix(llama.input_ids[: llama.n_tokens], prefix) == len(prefix):
        return "memory"
    path = folder / _state_name(llama, model_path, prefix)
    try:
        _load(llama, path, prefix)
    except FileNotFoundError:
        pass
    except Exception as exc:  # a damaged or foreign file: evaluate instead, and replace it
        log.warning("could not load the model state %s (%s): evaluating the prompt instead", path, exc)
    else:
        try:
            os.utime(path)  # recently used: kept when old files are removed
        except OSError:
            pass  # removed meanwhile by another process: it is loaded all the same
        return "loaded"
    llama.reset()
    llama.eval(prefix)
    try:
        _save(llama, path, prefix)
        _remove_old(folder)
    except OSError as exc:  # a read-only or full disk costs the next process time, not this run
        log.warning("could not save the model state to %s: %s", path, exc)
    return "evaluated"


def _save(llama: Any, path: Path, prefix: list[int]) -> None:
    import ctypes

    import llama_cpp

    ctx = llama._ctx.ctx
    size = llama_cpp.llama_state_get_size(ctx)
    buffer = (ctypes.c_uint8 * int(size))()
    written = int(llama_cpp.llama_state_get_data(ctx, buffer, size))
    header = json.dumps({"tokens": prefix, "seed": llama._seed}).encode() + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(MAGIC + header)
            out.write(memoryview(buffer)[:written])
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _load(llama: Any, path: Path, prefix: list[int]) -> None:
    """What ``Llama.load_state`` does, less its rewrite of the whole logits array (0.14 s of the
    0.18 s it takes): those rows are recomputed before they are read."""
    import ctypes

    import llama_cpp

    with open(path, "rb") as source:
        if source.readline() != MAGIC:
            raise ValueError("not a model state file")
        header = json.loads(source.readline())
        data = source.read()
    if header["tokens"] != prefix:
        raise ValueError("the file holds another prompt's state")
    buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(data)) != len(data):
        raise ValueError("llama.cpp did not take the state")
    llama.input_ids[: len(prefix)] = prefix
    llama.n_tokens = len(prefix)
    llama._requires_eval = True  # as load_state leaves it: the rest of the prompt is evaluated next
    llama._seed = header["seed"]


def _remove_old(folder: Path) -> None:
    states = sorted(folder.glob("*.state"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in states[MAX_FILES:]:
        old.unlink(missing_ok=True)
