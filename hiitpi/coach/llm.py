"""The LLM runner: one GGUF chat model through llama-cpp-python, loaded for one job, then released.

- Loaded lazily (``load()`` or the first ``generate()``), memory-mapped, and freed by ``close()``:
  on a 2 GB Pi 4 the weights live only while a summary is written.
- Chat formatting is llama.cpp's, from the template stored in the GGUF (``tokenizer.chat_template``).
- Tokens stream to a callback as they are sampled.
- A hard time limit: a watchdog timer raises a flag that llama.cpp polls between graph nodes (its
  abort callback), so even a long prompt evaluation stops at the limit. The poll is libc's
  ``strlen`` on a one-byte buffer — no Python, no GIL, in llama.cpp's inner loop.
- The calling thread (and the compute threads it starts) can be re-niced so the engine keeps the CPU.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
#: TinyLlama's training context; its KV cache is ~46 MB in f16 (22 layers x 2 x 2048 x 256 x 2 B).
DEFAULT_CTX = 2048
DEFAULT_BATCH = 64


#: Why the coach writes only template summaries when llama-cpp-python is not importable.
LLAMA_CPP_MISSING = (
    "llama-cpp-python is not installed (scripts/install-pi.sh --no-coach leaves it out): run "
    "install-pi.sh again without --no-coach, or `pip install 'hiitpi[coach]'`"
)


def llama_cpp_missing() -> str | None:
    """`LLAMA_CPP_MISSING` when llama-cpp-python cannot be found, else None (it is not imported)."""
    import importlib.util

    return LLAMA_CPP_MISSING if importlib.util.find_spec("llama_cpp") is None else None


class CoachModelError(HiitpiError, RuntimeError):
    """The model file is missing, not a GGUF, or llama.cpp could not load it."""


class CoachProcessDied(CoachModelError):
    """The process llama.cpp ran in ended (a signal, an exit) in the middle of a job."""


class GenerationTimeout(TimeoutError):
    """Generation ran past its deadline; ``partial`` holds the text produced so far."""

    def __init__(self, message: str, partial: str = ""):
        super().__init__(message)
        self.partial = partial


class GenerationCancelled(RuntimeError):
    """Generation was cancelled by the caller."""


@dataclass(slots=True)
class GenerationStats:
    load_s: float
    ttft_s: float | None
    total_s: float
    prompt_tokens: int
    completion_tokens: int
    prompt_tps: float | None
    gen_tps: float | None
    finish_reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Generation:
    text: str
    stats: GenerationStats


def check_gguf_file(path: Path) -> None:
    """Raise `CoachModelError` saying what is wrong with ``path`` (missing, empty, not a GGUF)."""
    if not path.is_file():
        raise CoachModelError(
            f"model file {path} not found: run `hiitpi models fetch tinyllama` on a machine with "
            "internet, or set [coach] model_path / pass --model"
        )
    with open(path, "rb") as f:
        head = f.read(4)
    if head != GGUF_MAGIC:
        raise CoachModelError(
            f"{path} is not a GGUF file (starts with {head!r}); fetch it again with "
            "`hiitpi models fetch tinyllama --force`"
        )


class _AbortFlag:
    """A one-byte C buffer llama.cpp polls through libc ``strlen`` (non-zero length = abort)."""

    def __init__(self) -> None:
        self._buf = ctypes.create_string_buffer(2)
        libc_name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(libc_name) if libc_name else None
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._buf[0] = b"x"

    def clear(self) -> None:
        self._buf[0] = b"\0"
        self.reason = None

    @property
    def is_set(self) -> bool:
        return self._buf[0] != b"\0"

    def install(self, llama_cpp, ctx) -> object:
        """Register with the context; returns the object to keep alive while it is installed."""
        if self._libc is not None:
            # bool (*)(void *) called as size_t strlen(const char *): 0 or 1, read as a bool
            cb = ctypes.cast(self._libc.strlen, llama_cpp.ggml_abort_callback)
            llama_cpp.llama_set_abort_callback(ctx, cb, ctypes.cast(self._buf, ctypes.c_void_p))
            return cb
        cb = llama_cpp.ggml_abort_callback(lambda _data: self.is_set)  # no libc: poll from Python
        llama_cpp.llama_set_abort_callback(ctx, cb, None)
        return cb


class LlamaRunner:
    """A GGUF chat model, loaded on first use and released with ``close()`` (or ``with``)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_threads: int = 2,
        n_ctx: int = DEFAULT_CTX,
        n_batch: int = DEFAULT_BATCH,
        nice: int = 0,
    ):
        self.model_path = Path(model_path)
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.nice = nice
        self.load_s: float | None = None
        self._llm = None
        self._abort = _AbortFlag()
        self._abort_cb: object | None = None

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self) -> float:
        """Load the model (once); returns the load time in seconds. Raises `CoachModelError`."""
        if self._llm is not None:
            return self.load_s or 0.0
        check_gguf_file(self.model_path)
        self._renice()
        try:
            import llama_cpp
        except ImportError as exc:
            raise CoachModelError(LLAMA_CPP_MISSING) from exc
        t0 = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_batch=self.n_batch,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                use_mmap=True,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise CoachModelError(f"llama.cpp could not load {self.model_path}: {exc}") from exc
        self.load_s = time.perf_counter() - t0
        self._abort_cb = self._abort.install(llama_cpp, self._llm._ctx.ctx)
        log.info(
            "loaded %s in %.2f s (chat format %s)", self.model_path.name, self.load_s, self._llm.chat_format
        )
        return self.load_s

    def _renice(self) -> None:
        if self.nice <= 0:
            return
        try:  # per-thread on Linux; threads llama.cpp starts from here inherit it
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), self.nice))
        except (OSError, AttributeError) as exc:
            log.debug("could not lower the coach thread's priority: %s", exc)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt length in tokens once the chat template is applied."""
        self.load()
        text = self._render(messages)
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _render(self, messages: list[dict[str, str]]) -> str:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise CoachModelError(f"{self.model_path} has no chat template in its metadata")
        # the same token texts llama-cpp-python gives the template for chat completion
        eos = self._llm._model.token_get_text(self._llm.token_eos())
        bos = self._llm._model.token_get_text(self._llm.token_bos())
        fmt = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        return fmt(messages=messages).prompt

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 220,
        temperature: float = 0.4,
        seed: int = 0,
        on_token: Callable[[str], None] | None = None,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        sampling: dict | None = None,
    ) -> Generation:
        """Stream one chat completion. ``deadline`` is a `time.monotonic()` instant; ``sampling``
        passes further llama.cpp sampling options (top_k, top_p, repeat_penalty, logit_bias...).

        Raises `GenerationTimeout` past the deadline (with the partial text), `GenerationCancelled`
        when ``cancel`` is set, `CoachModelError` when the model cannot be loaded.
        """
        t_start = time.monotonic()
        if deadline is not None and t_start >= deadline:
            raise GenerationTimeout("no time left before generation started")
        load_s = self.load()
        import llama_cpp

        self._abort.clear()
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._abort.set, args=("timeout",))
            timer.daemon = True
            timer.start()
        watcher = None
        done = threading.Event()
        if cancel is not None:
            watcher = threading.Thread(
                target=_watch_cancel, args=(cancel, done, self._abort), daemon=True, name="coach-cancel"
            )
            watcher.start()
        ctx = self._llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        pieces: list[str] = []
        ttft = None
        finish = "length"
        t0 = time.perf_counter()
        try:
            stream = self._llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stream=True,
                **(sampling or {}),
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        if ttft is None:
                            ttft = time.perf_counter() - t0
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if self._abort.is_set:
                        break
            finally:
                stream.close()
        except RuntimeError as exc:
            if not self._abort.is_set:
                raise
            log.debug("llama.cpp stopped by the abort flag: %s", exc)
        finally:
            if timer is not None:
                timer.cancel()
            done.set()
            if watcher is not None:
                watcher.join(1.0)
        total = time.perf_counter() - t0
        text = "".join(pieces)
        reason = self._abort.reason
        if reason == "timeout":
            raise GenerationTimeout(f"generation passed its time limit after {total:.1f} s", text)
        if reason == "cancelled":
            raise GenerationCancelled("generation cancelled")
        perf = llama_cpp.llama_perf_context(ctx)
        n_p, n_g = int(perf.n_p_eval), int(perf.n_eval)
        stats = GenerationStats(
            load_s=load_s,
            ttft_s=ttft,
            total_s=total,
            prompt_tokens=n_p,
            completion_tokens=n_g,
            prompt_tps=n_p / (perf.t_p_eval_ms / 1000.0) if perf.t_p_eval_ms > 0 and n_p else None,
            gen_tps=n_g / (perf.t_eval_ms / 1000.0) if perf.t_eval_ms > 0 and n_g else None,
            finish_reason=finish,
        )
        return Generation(text=text, stats=stats)

    def close(self) -> None:
        """Free the model and its context (the memory goes back to the engine)."""
        if self._llm is not None:
            import llama_cpp

            try:
                llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, llama_cpp.ggml_abort_callback(0), None)
            except Exception:  # a context already torn down has no callback to clear
                pass
            self._llm.close()
            self._llm = None
            self._abort_cb = None
            log.info("released %s", self.model_path.name)

    def __enter__(self) -> LlamaRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _watch_cancel(cancel: threading.Event, done: threading.Event, flag: _AbortFlag) -> None:
    while not done.is_set():
        if cancel.wait(0.1):
            flag.set("cancelled")
            return
