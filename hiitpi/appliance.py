"""The appliance: a flat list of start-up steps, undone in reverse order on stop.

`hiitpi serve` runs this in one process: the live bus (Redis), the history store, the coach,
the analysis engine with its video encoder, and the dashboard. SIGTERM or SIGINT stops it cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from hiitpi.config import Settings

log = logging.getLogger(__name__)


class Appliance:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self.store = None
        self.coach = None
        self.recorder: SummarizingRecorder | None = None
        self.engine = None
        self.video = None
        self.teach = None
        self.health = None
        self.coach_jobs: dict[int, object] = {}
        self._liveness: Callable[[], str | None] = lambda: None

    def step(self, name: str, start: Callable[[], Callable[[], None] | None]) -> None:
        """Run one start-up step; remember how to undo it."""
        log.info("starting %s", name)
        undo = start()
        if undo is not None:
            self._undo.append((name, undo))

    def init_redis(self) -> Callable[[], None] | None:
        from hiitpi.redis_local import ensure_redis

        local = ensure_redis(self.settings.redis.url, self.settings.general.data_dir / "redis")
        return local.stop if local else None

    def init_store(self) -> Callable[[], None]:
        """Open the history database (migrations applied) and close sessions a crash left open."""
        from hiitpi.store.db import Store
        from hiitpi.store.recovery import recover_open_sessions

        self.store = Store.from_settings(self.settings)
        recovered = recover_open_sessions(self.store)
        if recovered:
            log.warning("recovered %d session(s) left open by a crash: %s", len(recovered), recovered)
        return self.store.close

    def init_coach(self) -> Callable[[], None] | None:
        if not self.settings.coach.enabled:
            return None
        from hiitpi.coach.job import CoachWorker

        # one worker, one model: the summaries and the chat queue on it
        self.coach = CoachWorker.from_settings(self.settings, session_running=self.session_running).start()
        return self.coach.stop

    def init_recorder(self) -> Callable[[], None]:
        from hiitpi.store.recorder import SessionRecorder

        self.recorder = SummarizingRecorder(SessionRecorder.from_settings(self.store, self.settings), self)
        return self.recorder.close

    def init_video(self) -> Callable[[], None]:
        """The MJPEG encoder every viewer shares; the engine hands it frames as one of its sinks."""
        from hiitpi.web.mjpeg import MjpegBroadcaster

        self.video = MjpegBroadcaster.from_settings(self.settings)
        self.video.start()
        return self.video.stop

    def init_engine(self) -> Callable[[], None]:
        from hiitpi.engine import Engine
        from hiitpi.teach.live import PoseTap

        self.teach = PoseTap()  # the pose stream, for teaching a new exercise from the camera
        self.engine = Engine(self.settings, recorder=self.recorder, sinks=(self.video, self.teach))
        self.engine.start()
        return self.engine.stop

    def init_health(self) -> None:
        from hiitpi.web.health import attach_engine, default_monitor, engine_liveness, recorder_probe

        self.health = default_monitor(self.settings)
        self.health.register("recorder", recorder_probe(self.recorder.inner, self.settings.database_path))
        attach_engine(self.health, self.engine)
        self._liveness = engine_liveness(self.engine)

    def start_web(self) -> Callable[[], None]:
        from hiitpi.web.app import create_app, serve_web

        app = create_app(
            self.settings,
            store=self.store,
            broadcaster=lambda: self.video,
            coach_snapshot=self.coach_snapshot,
            coach=self.coach,
            health=self.health,
            teach_source=self.teach,
        )
        web_stop = threading.Event()
        thread = threading.Thread(
            target=serve_web, args=(self.settings, web_stop), kwargs={"app": app}, name="web", daemon=True
        )
        thread.start()

        def undo() -> None:
            web_stop.set()
            thread.join(timeout=5)

        return undo

    def start(self) -> None:
        self.settings.general.data_dir.mkdir(parents=True, exist_ok=True)
        self.step("live bus (Redis)", self.init_redis)
        self.step("history store", self.init_store)
        self.step("coach", self.init_coach)
        self.step("session recorder", self.init_recorder)
        self.step("video encoder", self.init_video)
        self.step("engine", self.init_engine)
        self.step("health monitor", self.init_health)
        self.step("dashboard", self.start_web)

    # -- the coach after each session ------------------------------------------------------------

    def session_ended(self, session_id: int) -> None:
        """Queue the summary of a finished session; never blocks the caller for long."""
        if self.coach is None or session_id is None:
            return
        from hiitpi.store.coaching import session_facts, set_summary

        try:
            facts = session_facts(self.store, session_id)
        except Exception:
            log.exception("no summary for session %s: its facts could not be read", session_id)
            return

        def save(summary) -> None:
            try:
                set_summary(self.store, session_id, summary.text, summary.kind, summary.reason)
            except Exception:
                log.exception("could not save the summary of session %s", session_id)

        self.coach_jobs[session_id] = self.coach.submit(facts, on_done=save)
        while len(self.coach_jobs) > 16:
            self.coach_jobs.pop(next(iter(self.coach_jobs)))

    def session_running(self) -> bool:
        """Whether someone is training right now (the chat waits on a small device)."""
        return self.engine is not None and self.engine.live_state().running

    def coach_snapshot(self, session_id: int) -> dict | None:
        job = self.coach_jobs.get(session_id)
        return job.snapshot().to_dict() if job is not None else None

    def stop(self) -> None:
        while self._undo:
            name, undo = self._undo.pop()
            log.info("stopping %s", name)
            try:
                undo()
            except Exception:
                log.exception("error while stopping %s", name)

    def run(self) -> int:
        def on_signal(signum, _frame):
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        from hiitpi.sdnotify import Watchdog

        watchdog = Watchdog(self.liveness)
        try:
            self.start()
            log.info("HIIT PI is running; Ctrl-C or SIGTERM stops it")
            if self.wait_until_serving():
                watchdog.ready()
            while not self.stop_event.wait(watchdog.period):
                watchdog.tick()
        finally:
            watchdog.stopping()
            self.stop()
        return 0

    # -- systemd watchdog (issue 8) ------------------------------------------------------------

    def wait_until_serving(self, timeout_s: float = 60.0) -> bool:
        """True once the dashboard accepts connections (the web thread binds after `start()`
        returns), so READY=1 means "open it now". False (and no READY: systemd's start timeout
        then restarts the service) if it never does, or a stop was asked for meanwhile."""
        import socket
        import time

        host = self.settings.web.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
        deadline = time.monotonic() + timeout_s
        while not self.stop_event.is_set():
            try:
                with socket.create_connection((host, self.settings.web.port), timeout=1.0):
                    return True
            except OSError:
                if time.monotonic() > deadline:
                    log.error(
                        "the dashboard is not listening on %s:%s after %.0f s; not telling systemd we are ready",
                        host,
                        self.settings.web.port,
                        timeout_s,
                    )
                    return False
                self.stop_event.wait(0.1)
        return False

    def liveness(self) -> str | None:
        """None while the appliance makes progress, else why not (then systemd's watchdog is not
        pinged and, after WatchdogSec, restarts the service)."""
        return self._liveness()


class SummarizingRecorder:
    """The store's session recorder, plus: when a session ends, the coach is asked for its summary."""

    def __init__(self, inner, appliance: Appliance):
        self.inner = inner
        self.appliance = appliance

    def start_session(self, *args, **kwargs):
        return self.inner.start_session(*args, **kwargs)

    def start_interval(self, *args, **kwargs) -> None:
        self.inner.start_interval(*args, **kwargs)

    def record(self, event) -> None:
        self.inner.record(event)

    def end_session(self, status: str = "done", **kwargs):
        session_id = self.inner.end_session(status, **kwargs)
        self.appliance.session_ended(session_id)
        return session_id

    def close(self) -> None:
        self.inner.close()


def run_appliance(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; a part that cannot start is one log line saying what to do."""
    from hiitpi.errors import HiitpiError

    try:
        return Appliance(settings).run()
    except HiitpiError as exc:
        log.error("cannot start: %s", exc)
        return exc.exit_code
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
