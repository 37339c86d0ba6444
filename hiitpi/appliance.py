"""The appliance: a flat list of start-up steps, undone in reverse order on stop.

`hiitpi serve` runs this in one process: the dashboard's port (bound first), the live bus (Redis),
the history store, the coach, the analysis engine with its video encoder, the analysis of videos
sent from phones, and the dashboard. Every
long-running part is handed to the `hiitpi.supervisor.Supervisor`, which restarts one that dies;
the main loop ticks it and feeds systemd's watchdog while every required part is alive. READY=1
goes out once the dashboard serves on its socket. SIGTERM or SIGINT stops it cleanly, in reverse:
the dashboard, the engine (the session is saved and its last state published), the store, Redis
last.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from hiitpi.config import Settings
from hiitpi.runfile import Running, clear_running, write_running
from hiitpi.supervisor import FuncPart, Supervisor

log = logging.getLogger(__name__)


class Appliance:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self.supervisor = Supervisor()
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self.web_socket = None
        self.local_redis = None
        self.store = None
        self.coach = None
        self.recorder: SummarizingRecorder | None = None
        self.engine = None
        self.video = None
        self.teach = None
        self.health = None
        self.web = None
        self.uploads = None
        self.summaries = None  # `hiitpi.coach.summaries.Summaries` when the coach is on
        self._stuck: Callable[[], str | None] = lambda: None

    def step(self, name: str, start: Callable[[], Callable[[], None] | None]) -> None:
        """Run one start-up step; remember how to undo it."""
        log.info("starting %s", name)
        undo = start()
        if undo is not None:
            self._undo.append((name, undo))

    def reserve_port(self) -> Callable[[], None]:
        """The dashboard's port, bound first: taken by another program, nothing else starts (no
        session recorded, no pairing code shown) and the one line says what to do."""
        from hiitpi.web.server import bind_socket

        self.web_socket = bind_socket(self.settings.web.host, self.settings.web.port)
        return self.web_socket.close

    def init_redis(self) -> Callable[[], None] | None:
        """The live bus: the configured Redis, or a private one that wants a password (so no other
        user of this machine can drive the appliance through it). Every part after this one gets
        the URL with the password in ``self.settings``."""
        from hiitpi.redis_local import ensure_redis, with_password

        r = self.settings.redis
        self.local_redis = ensure_redis(
            r.url, self.settings.general.data_dir / "redis", password=r.password or None, private=True
        )
        url = self.local_redis.url if self.local_redis is not None else with_password(r.url, r.password)
        if url != r.url:
            self.settings = self.settings.model_copy(deep=True)
            self.settings.redis.url = url
        if self.local_redis is None:
            return None
        self.supervisor.watch(self.local_redis, required=False)  # counting goes on without it
        return self.local_redis.stop

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
        from hiitpi.coach.summaries import Summaries
        from hiitpi.referee.catalog import CatalogLoader

        self.coach = CoachWorker.from_settings(self.settings, session_running=self.session_running).start()
        titles = CatalogLoader(self.settings.referee.rules_dir)
        self.summaries = Summaries(self.store, self.coach, titles=lambda name: titles.get().title(name))
        self.supervisor.watch(self.coach, required=False)
        return self.coach.stop

    def init_recorder(self) -> Callable[[], None]:
        from hiitpi.store.recorder import SessionRecorder
        from hiitpi.web.health import recorder_probe

        inner = SessionRecorder.from_settings(self.store, self.settings)
        self.recorder = SummarizingRecorder(inner, self)
        self.supervisor.watch(
            FuncPart(
                "recorder",
                start=inner.start_writer,
                stop=lambda: None,
                alive=inner.writer_alive,
                health=recorder_probe(inner, self.settings.database_path),
            )
        )
        return self.recorder.close

    def init_video(self) -> Callable[[], None]:
        """The MJPEG encoder every viewer shares; the engine hands it frames as one of its sinks."""
        from hiitpi.web.mjpeg import MjpegBroadcaster

        self.video = MjpegBroadcaster.from_settings(self.settings)
        self.video.start()
        self.supervisor.watch(self.video, required=False)
        return self.video.stop

    def init_engine(self) -> Callable[[], None]:
        from hiitpi.engine import Engine
        from hiitpi.teach.live import PoseTap
        from hiitpi.web.health import capture_probe, engine_probe

        self.teach = PoseTap()  # the pose stream, for teaching a new exercise from the camera
        # the video encoder is a sink, and the viewers' side of a camera that can encode itself
        engine = self.engine = Engine(
            self.settings,
            recorder=self.recorder,
            sinks=(self.video, self.teach),
            video=self.video,
            autostart=self.settings.referee.autostart,  # nothing starts by itself unless asked
        )
        engine.start()
        self.supervisor.watch(
            FuncPart(
                "camera",
                start=engine.restart_capture,
                stop=lambda: None,
                alive=lambda: engine.capture_alive,
                health=capture_probe(lambda: engine.capture),
            )
        )
        self.supervisor.watch(
            FuncPart(
                "engine",
                start=engine.restart_analysis,
                stop=lambda: None,
                alive=lambda: engine.analysing or engine.finished.is_set() or engine.stop_event.is_set(),
                health=engine_probe(engine),
            )
        )
        return engine.stop

    def init_uploads(self) -> Callable[[], None] | None:
        """The analysis of videos sent from phones: a niced background part that waits while a
        live session runs; each stored session is summarised by the coach like a live one."""
        if not self.settings.upload.enabled:
            return None
        from hiitpi.offline.worker import UploadWorker

        self.uploads = UploadWorker(
            self.settings, self.store, session_running=self.session_running, on_stored=self.session_ended
        ).start()
        self.supervisor.watch(self.uploads, required=False)  # live counting goes on without it
        return self.uploads.stop

    def init_health(self) -> None:
        from hiitpi.web.health import attach_engine, default_monitor, engine_liveness

        self.health = default_monitor(self.settings)
        attach_engine(self.health, self.engine)
        self._stuck = engine_liveness(self.engine)

    def start_web(self) -> Callable[[], None]:
        from hiitpi.web.app import create_app
        from hiitpi.web.server import WebServer

        app = create_app(
            self.settings,
            store=self.store,
            broadcaster=lambda: self.video,
            coach_snapshot=self.coach_snapshot,
            coach=self.coach,
            summaries=self.summaries,
            health=self.health,
            uploads=self.uploads,
            teach_source=self.teach,
        )
        self.web = WebServer(self.settings, app, sock=self.web_socket)
        self.web_socket = None  # the server owns it now: its stop closes it, not the reserving step
        self._undo = [(name, undo) for name, undo in self._undo if name != "dashboard port"]
        self.web.start()  # serving on the bound socket when it returns; the pairing code shown then
        self.supervisor.watch(self.web)
        self.supervisor.register_health(self.health)
        return self.web.stop

    def start(self) -> None:
        private_files(self.settings.general.data_dir)
        self.step("dashboard port", self.reserve_port)
        self.step("live bus (Redis)", self.init_redis)
        self.step("history store", self.init_store)
        self.step("coach", self.init_coach)
        self.step("session recorder", self.init_recorder)
        self.step("video encoder", self.init_video)
        self.step("engine", self.init_engine)
        self.step("upload analysis", self.init_uploads)
        self.step("health monitor", self.init_health)
        self.step("dashboard", self.start_web)

    # -- the coach after each session ------------------------------------------------------------

    def session_ended(self, session_id: int) -> None:
        """Queue the summary of a finished session; never blocks the caller for long."""
        if self.summaries is None or session_id is None:
            return
        try:
            self.summaries.request(session_id)
        except Exception:
            log.exception("no summary for session %s: its facts could not be read", session_id)

    def session_running(self) -> bool:
        """Whether someone is training right now (the chat waits on a small device)."""
        return self.engine is not None and self.engine.live_state().running

    def coach_snapshot(self, session_id: int) -> dict | None:
        return self.summaries.snapshot(session_id) if self.summaries is not None else None

    def stop(self) -> None:
        """Every step undone in reverse: the dashboard first, the session saved, Redis last."""
        self.supervisor.close()
        clear_running(self.settings.general.data_dir)
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
            write_running(
                self.settings.general.data_dir, Running(os.getpid(), self.settings.web.host, self.web.port)
            )
            watchdog.ready()  # the dashboard is bound and serving: start() returned
            while not self.stop_event.wait(watchdog.period):
                self.tick(watchdog)
        finally:
            watchdog.stopping()
            self.stop()
        return 0

    def tick(self, watchdog=None) -> None:
        """One turn of the main loop: restart what died, then feed the watchdog if all is alive."""
        self.supervisor.tick()
        if watchdog is not None:
            watchdog.tick()

    def liveness(self) -> str | None:
        """None while every required part is alive and the analysis makes progress, else why not
        (then systemd's watchdog is not pinged and, after WatchdogSec, restarts the service)."""
        return self.supervisor.liveness() or self._stuck()


def private_files(data_dir) -> None:
    """Whoever starts the appliance (systemd's UMask=0077, or a shell's 022), what it writes is
    its own: the data folder 0700, and every file made from here on 0600 (database, its WAL,
    secrets, Redis's folder). The database's existing files are made 0600 when it opens
    (`hiitpi.store.db.Store.open`)."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if data_dir.stat().st_uid == os.geteuid() and data_dir.stat().st_mode & 0o077:
            os.chmod(data_dir, 0o700)
            log.info("data folder %s made private (mode 0700)", data_dir)
    except OSError as exc:
        log.warning("could not make %s private: %s", data_dir, exc)


class SummarizingRecorder:
    """The store's session recorder, plus: when a session ends, the coach is asked for its summary."""

    def __init__(self, inner, appliance: Appliance):
        self.inner = inner
        self.appliance = appliance

    def start_session(self, *args, **kwargs):
        return self.inner.start_session(*args, **kwargs)

    def start_interval(self, *args, **kwargs) -> None:
        self.inner.start_interval(*args, **kwargs)

    def start_rest(self, **kwargs) -> None:
        self.inner.start_rest(**kwargs)

    def relabel_interval(self, *args, **kwargs) -> None:
        self.inner.relabel_interval(*args, **kwargs)

    def record(self, event) -> None:
        self.inner.record(event)

    def commit(self, timeout: float = 1.0) -> bool:
        return self.inner.commit(timeout)

    def end_session(self, status: str = "done", **kwargs):
        """The coach is asked once the close is committed (its facts are read from the store)."""
        return self.inner.end_session(status, on_saved=self.appliance.session_ended, **kwargs)

    @property
    def healthy(self) -> bool:
        return self.inner.healthy

    @property
    def last_error(self) -> str | None:
        return self.inner.last_error

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
