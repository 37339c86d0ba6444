"""The coach's model in a process of its own, so llama.cpp can never take the appliance down.

llama.cpp is C++: a bad model file, an out-of-memory or a bug in it ends the process it runs in
with a signal, not an exception. In the engine's process that would stop a session being counted.
`ProcessRunner` has `LlamaRunner`'s interface (``loaded``, ``load()``, ``generate()``, ``close()``)
and runs a `LlamaRunner` in a child (``python -m hiitpi.coach.isolated``). They talk in JSON lines
over the child's stdin and a dedicated pipe: commands one way; tokens, results and errors the
other (the child's own stdout goes to its stderr, so nothing llama.cpp prints can mix in).

A child that dies is a `CoachProcessDied` (a `CoachModelError`) saying how (``SIGSEGV``...): the job falls back to the
template summary as for any model failure, and the next job starts a fresh child. Time limits and
cancelling work as in-process: the child's runner stops at its deadline, a cancel is sent on; a
child that stops answering is killed a few seconds past its deadline.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hiitpi.coach.llm import (
    CoachModelError,
    CoachProcessDied,
    Generation,
    GenerationCancelled,
    GenerationStats,
    GenerationTimeout,
    check_gguf_file,
)

log = logging.getLogger(__name__)

#: how long past its deadline (or, loading, at all) a silent child is waited for before it is killed
GRACE_S = 10.0
#: a model load that takes longer than this is taken for a hung child
LOAD_TIMEOUT_S = 300.0


def _to_wire(sampling: dict | None) -> dict:
    """llama.cpp sampling options as JSON: a grammar by its text, a logit bias by token number."""
    out = {}
    for key, value in (sampling or {}).items():
        if type(value).__name__ == "LlamaGrammar":
            out[key] = {"llama_grammar": value._grammar}
        else:
            out[key] = value
    return out


def _from_wire(sampling: dict) -> dict:
    out = dict(sampling)
    for key, value in sampling.items():
        if isinstance(value, dict) and set(value) == {"llama_grammar"}:
            from llama_cpp import LlamaGrammar

            out[key] = LlamaGrammar.from_string(value["llama_grammar"], verbose=False)
        elif key == "logit_bias":
            out[key] = {int(k): v for k, v in value.items()}  # JSON keys are strings
    return out


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class ProcessRunner:
    """`LlamaRunner` in a child process (see the module doc). Not thread-safe: one job at a time,
    as `hiitpi.coach.model.SharedModel` lends it."""

    def __init__(self, model_path: str | Path, *, nice: int = 0, **options: int):
        """``options`` are the child's `LlamaRunner`'s (``n_threads``, ``n_ctx``, ``n_batch``);
        ``nice`` lowers the whole child's priority (every llama.cpp thread)."""
        self.model_path = Path(model_path)
        self.nice = nice
        self.options = options
        self.load_s: float | None = None
        self._proc: subprocess.Popen | None = None
        self._out = None  # the child's answers (a pipe's read end)
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded and self._proc is not None and self._proc.poll() is None

    # --- the child -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        read_fd, write_fd = os.pipe()
        args = {
            "model_path": str(self.model_path),
            "options": self.options,
            "nice": self.nice,
            "fd": write_fd,
        }
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "hiitpi.coach.isolated", json.dumps(args)],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                text=True,
                bufsize=1,
            )
        finally:
            os.close(write_fd)
        self._out = os.fdopen(read_fd, "r", encoding="utf-8")
        self._answers: queue.Queue = queue.Queue()
        threading.Thread(
            target=self._read, args=(self._out, self._answers), daemon=True, name="coach-child"
        ).start()

    @staticmethod
    def _read(out, answers: queue.Queue) -> None:
        for line in out:
            try:
                answers.put(json.loads(line))
            except json.JSONDecodeError:
                log.warning("the coach's model process wrote a line that is not JSON: %.80r", line)
        answers.put(None)  # the child closed its end: it has ended

    def _send(self, msg: dict) -> None:
        self._send_to(self._proc, msg)

    def _died(self) -> CoachProcessDied:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        self._stop()
        how = _how_it_ended(code)
        log.error("the coach's model process %s (%s)", how, self.model_path.name)
        return CoachProcessDied(f"the coach's model process {how} while using {self.model_path.name}")

    def _answer(self, until: float | None, block_s: float | None = None) -> dict | None:
        """The child's next message (None when nothing came within ``block_s``); `CoachModelError`
        if it has died or is silent past ``until``."""
        waited = time.monotonic()
        while True:
            wait = 0.1 if until is None else max(0.0, min(0.1, until - time.monotonic()))
            try:
                msg = self._answers.get(timeout=wait)
            except queue.Empty:
                if until is not None and time.monotonic() >= until:
                    self._proc.kill()
                    raise self._died() from None
                if block_s is not None and time.monotonic() - waited >= block_s:
                    return None
                continue
            if msg is None:
                raise self._died()
            return msg

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        self._loaded = False
        if proc is not None:
            if proc.poll() is None:
                self._send_to(proc, {"op": "close"})
                try:
                    proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        if self._out is not None:
            self._out.close()
            self._out = None

    @staticmethod
    def _send_to(proc: subprocess.Popen, msg: dict) -> None:
        try:
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child has gone; the answer loop says how

    # --- LlamaRunner's interface ---------------------------------------------------------

    def load(self) -> float:
        """Start the child and load the model in it (once); the load time. Raises `CoachModelError`."""
        if self.loaded:
            return self.load_s or 0.0
        check_gguf_file(self.model_path)  # said here, without starting a process for it
        self._start()
        self._send({"op": "load"})
        msg = self._answer(time.monotonic() + LOAD_TIMEOUT_S)
        if msg.get("kind") == "error":
            self._stop()
            raise CoachModelError(msg.get("message", "the model could not be loaded"))
        self.load_s = float(msg.get("load_s", 0.0))
        self._loaded = True
        return self.load_s

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        on_token: Callable[[str], None] | None = None,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        sampling: dict | None = None,
        **options: float,
    ) -> Generation:
        """As `LlamaRunner.generate` (``options``: its ``max_tokens``, ``temperature``, ``seed``);
        a child that dies is a `CoachProcessDied`."""
        if deadline is not None and time.monotonic() >= deadline:
            raise GenerationTimeout("no time left before generation started")
        self.load()
        timeout_s = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._send(
            {
                "op": "generate",
                "messages": messages,
                "options": options,
                "sampling": _to_wire(sampling),
                "timeout_s": timeout_s,
            }
        )
        until = None if deadline is None else deadline + GRACE_S
        cancel_sent = False
        while True:
            if cancel is not None and cancel.is_set() and not cancel_sent:
                self._send({"op": "cancel"})
                cancel_sent = True
            msg = self._answer(until, block_s=0.1)
            if msg is None:
                continue
            kind = msg.get("kind")
            if kind == "token":
                if on_token is not None:
                    on_token(msg["text"])
            elif kind == "done":
                return Generation(text=msg["text"], stats=GenerationStats(**msg["stats"]))
            elif kind == "timeout":
                raise GenerationTimeout(msg["message"], msg.get("partial", ""))
            elif kind == "cancelled":
                raise GenerationCancelled("generation cancelled")
            elif kind == "error":
                raise (CoachModelError if msg.get("model") else RuntimeError)(msg["message"])

    def close(self) -> None:
        """Stop the child (the model's memory goes with it)."""
        if self._proc is not None:
            self._stop()
            log.info("released %s (its process stopped)", self.model_path.name)

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:  # interpreter shutdown: nothing left to tidy
            pass


# --- in the child ----------------------------------------------------------------------------


def _serve(args: dict) -> int:
    """The child's loop: commands from stdin, answers to the pipe ``args['fd']``."""
    from hiitpi.coach.llm import LlamaRunner

    out = os.fdopen(args["fd"], "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever the C libraries print goes to stderr, not into the answers
    if args.get("nice", 0) > 0:
        try:
            os.nice(args["nice"])
        except OSError:
            pass
    lock = threading.Lock()

    def send(**msg) -> None:
        with lock:
            out.write(json.dumps(msg) + "\n")

    commands: queue.Queue = queue.Queue()
    cancel = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            if msg.get("op") == "cancel":
                cancel.set()
            else:
                commands.put(msg)
        commands.put({"op": "close"})  # the parent has gone

    threading.Thread(target=read, daemon=True).start()
    runner = LlamaRunner(args["model_path"], **args["options"])
    while True:
        msg = commands.get()
        op = msg.get("op")
        if op == "close":
            runner.close()
            return 0
        if op == "load":
            try:
                send(kind="loaded", load_s=runner.load())
            except CoachModelError as exc:
                send(kind="error", model=True, message=str(exc))
        elif op == "generate":
            cancel.clear()
            timeout = msg.get("timeout_s")
            try:
                gen = runner.generate(
                    msg["messages"],
                    on_token=lambda piece: send(kind="token", text=piece),
                    deadline=None if timeout is None else time.monotonic() + timeout,
                    cancel=cancel,
                    sampling=_from_wire(msg.get("sampling") or {}) or None,
                    **msg["options"],
                )
                send(kind="done", text=gen.text, stats=gen.stats.to_dict())
            except GenerationTimeout as exc:
                send(kind="timeout", message=str(exc), partial=exc.partial)
            except GenerationCancelled:
                send(kind="cancelled")
            except CoachModelError as exc:
                send(kind="error", model=True, message=str(exc))
            except (ValueError, RuntimeError) as exc:
                send(kind="error", model=False, message=str(exc))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="coach model process: %(message)s")
    sys.exit(_serve(json.loads(sys.argv[1])))
