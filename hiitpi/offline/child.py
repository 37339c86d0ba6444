"""`analyze_video` in a process of its own at ``[upload] nice``: how the upload worker referees a
sent video beside a live session.

A thread's niceness does not decide who holds Python's lock: an analysis thread in the
appliance's process, descheduled while it holds the lock, stalls the live engine (measured in the
README, "Send a workout from the phone"). A child process has a lock of its own and its whole
priority lowered. It reports every frame and waits for the answer, so the caller's frame hook
works as it does in-process: while the hook waits (a live session, ``during_session = "pause"``)
the child waits too, using no CPU; when the hook raises (a stop) the child is told to stop, and
`analyze_video` removes its unfinished annotated file as it does on any failure. The child is a
fresh interpreter (spawn): nothing of the appliance's threads, locks or sockets is copied into it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

from hiitpi.errors import HiitpiError, InputError
from hiitpi.offline.analyze import AnalysisCancelled, AnalysisResult, FrameHook

log = logging.getLogger(__name__)

_CTX = mp.get_context("spawn")
GO, STOP = "go", "stop"
#: How often the parent looks whether a silent child is still alive (seconds).
ALIVE_POLL_S = 0.5


class ChildDied(HiitpiError):
    """The analysis process ended without an answer (killed, or a crash in native code)."""


def analyze_in_child(
    path: str | Path,
    settings: Any,
    workout: str,
    *,
    nice: int,
    on_frame: FrameHook | None = None,
    on_start: Any = None,
    **kwargs: Any,
) -> AnalysisResult:
    """`analyze_video(path, settings, workout, **kwargs)` in a child process at niceness ``nice``.

    ``on_frame(done, total)`` runs here, in the caller's thread, after each frame; the child
    goes on when it returns. ``on_start(pid)`` is told the child's process id. Raises what the
    analysis raised (as `HiitpiError` / `InputError` with its message and hint),
    `AnalysisCancelled` when ``on_frame`` raised it, `ChildDied` when the child vanished."""
    kwargs["progress"] = False
    conn, child_end = _CTX.Pipe()
    level = logging.getLogger().getEffectiveLevel()
    proc = _CTX.Process(
        target=_child_main,
        args=(child_end, str(path), settings, workout, nice, level, kwargs),
        name="hiitpi-upload-analysis",
        daemon=True,
    )
    proc.start()
    child_end.close()
    if on_start is not None:
        on_start(proc.pid)
    out = kwargs.get("out")
    try:
        while True:
            msg = _receive(conn, proc)
            if msg[0] == "frame":
                try:
                    if on_frame is not None:
                        on_frame(msg[1], msg[2])
                except BaseException:
                    _stop_child(conn, proc)
                    raise
                try:
                    conn.send(GO)
                except OSError:
                    pass  # the child is gone: the next receive says so
            elif msg[0] == "done":
                return msg[1]
            elif msg[0] == "error":
                _, input_error, message, hint = msg
                raise (InputError if input_error else HiitpiError)(message, hint)
            else:  # "cancelled": only after a STOP, which re-raised above
                raise AnalysisCancelled("the analysis was stopped")
    except ChildDied:
        if out is not None:  # what the child was writing when it vanished
            from hiitpi.offline.h264 import unfinished_name

            unfinished_name(Path(out)).unlink(missing_ok=True)
        raise
    finally:
        conn.close()
        proc.join(10)
        if proc.is_alive():
            log.error("the analysis process %s did not end: killed", proc.pid)
            proc.kill()
            proc.join(5)


def _receive(conn, proc) -> tuple:
    while not conn.poll(ALIVE_POLL_S):
        if not proc.is_alive():
            break
    try:
        return conn.recv()
    except (EOFError, OSError):
        proc.join(5)
        raise ChildDied(
            f"the analysis process ended without an answer (exit code {proc.exitcode})",
            "see the log; send the video again",
        ) from None


def _stop_child(conn, proc) -> None:
    """Tell the waiting child to stop, and wait for it to clean up (its annotated file)."""
    try:
        conn.send(STOP)
        while True:
            if _receive(conn, proc)[0] != "frame":
                return
            conn.send(STOP)
    except (ChildDied, OSError):
        return


def _child_main(conn, path: str, settings: Any, workout: str, nice: int, level: int, kwargs: dict) -> None:
    from hiitpi.logs import setup_logging
    from hiitpi.offline.analyze import analyze_video

    setup_logging(logging.getLevelName(level))
    try:
        os.nice(max(0, nice - os.nice(0)))  # the whole process, and every thread it starts
    except OSError as exc:
        log.warning("could not lower the analysis' priority: %s", exc)

    def hook(done: int, total: int) -> None:
        conn.send(("frame", done, total))
        try:
            answer = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            answer = STOP
        if answer == STOP:
            raise AnalysisCancelled("the analysis was stopped")

    try:
        result = analyze_video(path, settings, workout, on_frame=hook, **kwargs)
        reply: tuple = ("done", result)
    except AnalysisCancelled:
        reply = ("cancelled",)
    except HiitpiError as exc:
        reply = ("error", isinstance(exc, InputError), exc.message, exc.hint)
    except Exception as exc:
        log.exception("the analysis of %s failed", path)
        reply = ("error", False, f"the analysis failed ({type(exc).__name__}: {exc})", "see the log")
    try:
        conn.send(reply)
    except (OSError, ValueError):
        pass
    finally:
        conn.close()
