"""SessionRecorder: the live engine's writer. `record(event)` never blocks; a thread batches to disk.

The analysis thread calls `start_session`, `start_interval`, `record` and `end_session`. Every call
becomes an operation on one queue, applied in order by a writer thread that commits a batch every
``flush_interval_s`` (default 0.5 s) or every ``flush_max_events`` events, whichever comes first,
so a rep is on disk within about a second of happening. Session and interval totals are rewritten
with each batch, so a crash leaves a session whose totals match its reps up to the last batch.

`commit(timeout)` is the durable path: it asks the writer to commit everything queued so far now
and waits for it, so the engine's store sink can commit a frame's rep before the live sink shows
it (`hiitpi.engine.sinks.RecorderSink`). It never waits on a database that cannot be written:
when the last write failed, or a previous `commit` is still waiting (a hung disk), it returns
False at once; a write attempt that fails answers the waiting `commit` with False at once.

Only `start_session` waits for the disk (the session's id is the answer), and it too gives up at
the first failed attempt; `end_session(wait=False)` queues the close and returns, and
``on_saved`` is called from the writer once it is committed. The log says a session was saved
only after its commit.

When the database cannot be written (disk full, read-only) the batch is rolled back, kept in
memory and retried every ``retry_s``; `healthy` turns False and `last_error` says why. Nothing is
dropped unless more than ``max_pending`` operations pile up (then the oldest events are dropped
and counted in `dropped`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from hiitpi.referee.events import RefEvent
from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, StoreError
from hiitpi.store.models import Interval, Player, Rep, WorkoutSession, utcnow

log = logging.getLogger(__name__)

END_STATUSES = ("done", "aborted")
WORKOUT_NAME_MAX = 64


@dataclass(slots=True)
class _StartSession:
    player_id: int | None  # None: a new player, created by the writer (``player_name``)
    player_name: str | None
    workout: str
    program: str | None
    round: int | None
    started_at: datetime
    t0: float
    counting: str | None = None
    done: Future = field(default_factory=Future)


@dataclass(slots=True)
class _StartInterval:
    workout: str
    round: int | None
    at: datetime


@dataclass(slots=True)
class _StartRest:
    at: datetime


@dataclass(slots=True)
class _RelabelInterval:
    workout: str
    events: list[RefEvent]
    at: datetime


@dataclass(slots=True)
class _Event:
    event: RefEvent
    at: datetime


@dataclass(slots=True)
class _EndSession:
    status: str
    at: datetime
    done: Future = field(default_factory=Future)
    on_saved: Callable[[int], None] | None = None


@dataclass(slots=True)
class _Flush:
    done: Future = field(default_factory=Future)


@dataclass(slots=True)
class _Barrier:
    """`commit`'s marker: True once everything before it is committed, False at a failed attempt."""

    done: Future = field(default_factory=Future)


_STOP = object()


@dataclass(slots=True)
class _State:
    """What the writer has committed about the current session (None when none is open)."""

    session_id: int | None = None
    session_started: datetime | None = None
    interval_id: int | None = None
    interval_index: int = 0
    interval_started: datetime | None = None
    rest_started: datetime | None = None  # the current interval's rest began (its work is over)
    interval_first_rep: int = 1  # the index the current interval's first rep has (or will have)
    next_rep: int = 1
    s_reps: int = 0
    s_no_reps: int = 0
    s_faults: int = 0
    s_attempts: int = 0
    s_full: int = 0
    s_hold_closed: float = 0.0  # hold seconds of closed intervals
    s_has_hold: bool = False
    i_reps: int = 0
    i_no_reps: int = 0
    i_faults: int = 0
    i_attempts: int = 0
    i_full: int = 0
    i_hold: float | None = None


@dataclass(frozen=True, slots=True)
class _Closed:
    """A session closed in a batch: logged (and its ``on_saved`` called) once the batch commits."""

    id: int
    status: str
    reps: int
    no_reps: int
    duration_s: float


def _check_workout(name: object, what: str = "workout") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} name is empty: pick a workout from the rules list")
    name = name.strip()
    if len(name) > WORKOUT_NAME_MAX:
        raise InvalidInput(f"{what} name is {len(name)} characters long; at most {WORKOUT_NAME_MAX}")
    return name


class SessionRecorder:
    """Writes one session at a time from the live engine; see the module docstring.

    One recorder per appliance: when it starts (``recover=True``) it closes every session a crash
    or power loss left open, as 'recovered', keeping their reps.
    """

    def __init__(
        self,
        store: Store,
        *,
        flush_interval_s: float = 0.5,
        flush_max_events: int = 64,
        retry_s: float = 1.0,
        max_pending: int = 200_000,
        recover: bool = True,
    ):
        self.store = store
        #: sessions a crash had left open, closed as 'recovered' when this recorder started.
        self.recovered: list[int] = []
        if recover:
            from hiitpi.store.recovery import recover_open_sessions

            try:
                self.recovered = recover_open_sessions(store)
            except StoreError as exc:  # noted in store.healthy; the recorder still starts
                log.error("could not recover open sessions: %s", exc)
        self.flush_interval_s = flush_interval_s
        self.flush_max_events = flush_max_events
        self.retry_s = retry_s
        self.max_pending = max_pending
        #: at close, how long to keep retrying a database that refuses writes before giving up.
        self.give_up_after_s = 3.0
        self.dropped = 0
        self.written_events = 0
        #: write attempts that failed so far (a caller waiting for the disk gives up at the next one)
        self.failed_attempts = 0
        #: how long each successful `commit` waited, in ms (the cost of a durable rep)
        self.commit_ms: deque[float] = deque(maxlen=10_000)
        #: commits that did not finish within their time-out (a slow or hung disk)
        self.slow_commits = 0
        self._barrier: _Barrier | None = None  # the last `commit`'s marker
        self._notes: list[tuple[str, tuple]] = []  # a batch's log lines, said once it is committed
        self.last_write_at: datetime | None = None
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._state = _State()
        self._pending_count = 0
        self._lock = threading.Lock()
        self._open = False  # the caller's view: a session was started and not ended
        self._ignored = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="hiitpi-store-writer", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, store: Store, settings) -> SessionRecorder:
        s = settings.store
        return cls(store, flush_interval_s=s.flush_interval_s, flush_max_events=s.flush_max_events)

    # --- the caller's side (analysis thread) -------------------------------------------------

    @property
    def healthy(self) -> bool:
        return self.store.healthy

    @property
    def last_error(self) -> str | None:
        return self.store.last_error

    @property
    def pending(self) -> int:
        """Operations queued or retried but not yet on disk."""
        return self._pending_count

    @property
    def session_id(self) -> int | None:
        """The session being written (committed to disk), or None."""
        return self._state.session_id

    @property
    def active(self) -> bool:
        return self._open

    def status(self) -> dict:
        """For /healthz and the dashboard banner: is the history being written, and if not why."""
        return {
            "ok": self.healthy,
            "database": str(self.store.path),
            "last_error": self.last_error,
            "session_id": self.session_id,
            "pending": self.pending,
            "dropped": self.dropped,
            "written_events": self.written_events,
            "slow_commits": self.slow_commits,
            "last_write_at": self.last_write_at.isoformat() if self.last_write_at else None,
        }

    def start_session(
        self,
        player: str | int,
        workout: str,
        *,
        program: str | None = None,
        round: int | None = None,
        t0: float = 0.0,
        counting: str | None = None,
        started_at: datetime | None = None,
        timeout: float = 10.0,
    ) -> int:
        """Open a session (ending an open one as 'done') with its first interval; returns its id.

        ``player`` is a player id or a name (created if new). ``t0`` is the referee clock at the
        start, so rep times can be told relative to the session. ``counting`` is the session's
        counting convention ("judge" or "attempts"). Blocks until it is on disk, but
        not on a database that cannot be written: when the last write failed, or this one's first
        attempt fails, it raises `StoreError` at once. The session is then still queued (its
        events too) and written when the database can be written again.
        """
        from hiitpi.store.models import COUNTINGS
        from hiitpi.store.players import clean_player_name, find_player, get_player

        if counting is not None and counting not in COUNTINGS:
            raise InvalidInput(f"counting must be one of {', '.join(COUNTINGS)}, not {counting!r}")
        workout = _check_workout(workout)
        program = _check_workout(program, "program") if program is not None else None
        name = None
        if isinstance(player, int):
            player_id = get_player(self.store, player).id
        else:  # a new player is created in the writer's transaction: a full disk queues it too
            name = clean_player_name(player)
            found = find_player(self.store, name)
            player_id = found.id if found is not None else None
        op = _StartSession(
            player_id, name, workout, program, round, started_at or utcnow(), float(t0), counting
        )
        attempts = self.failed_attempts
        self._put(op)
        self._open = True
        if not self.healthy:
            raise StoreError(f"the session is not saved yet: {self.last_error}")
        sid = self._wait(op.done, timeout, "save the new session", failed_since=attempts)
        log.info("session %s started: player %s, %s", sid, player_id or name, program or workout)
        return sid

    def start_interval(self, workout: str, *, round: int | None = None, at: datetime | None = None) -> None:
        """Close the current interval (keeping its reps) and open the next one. Does not block."""
        workout = _check_workout(workout)
        if not self._open:
            raise InvalidInput("no session is running: start one before switching workout")
        self._put(_StartInterval(workout, round, at or utcnow()))

    def start_rest(self, *, at: datetime | None = None) -> None:
        """The current interval's work is over and its rest begins (a program). Does not block."""
        if not self._open or self._closed:
            return
        self._put(_StartRest(at or utcnow()))

    def relabel_interval(self, workout: str, events: list[RefEvent], *, at: datetime | None = None) -> None:
        """The current interval was another workout (a wrong guess corrected): rename it and replace
        its reps, no-reps and faults with ``events`` (the corrected workout's count of it). Does not
        block. The first interval's workout is the session's too."""
        workout = _check_workout(workout)
        if not self._open:
            raise InvalidInput("no session is running: there is no interval to correct")
        self._put(_RelabelInterval(workout, list(events), at or utcnow()))

    def record(self, event: RefEvent, *, at: datetime | None = None) -> None:
        """Queue a referee event for writing. Never blocks, never raises for database trouble."""
        if not self._open or self._closed:
            self._ignored += 1
            if self._ignored == 1:
                log.debug("event %s ignored: no session is being recorded", event.kind)
            return
        self._put(_Event(event, at or utcnow()))

    def end_session(
        self,
        status: str = "done",
        *,
        ended_at: datetime | None = None,
        timeout: float = 10.0,
        wait: bool = True,
        on_saved: Callable[[int], None] | None = None,
    ) -> int | None:
        """Close the current session ('done' or 'aborted'), keeping every rep; returns its id.

        With ``wait`` (the default) it blocks until the close is on disk (`StoreError` after
        ``timeout``). With ``wait=False`` it only queues the close and returns the session's id
        as far as it is on disk (None when even its start is not): the live engine's way, so a
        full disk never stalls the analysis. ``on_saved(session_id)`` is called from the writer
        thread once the close is committed. Raises `InvalidInput` when no session is running.
        """
        if status not in END_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(END_STATUSES)}, not {status!r}")
        if not self._open:
            raise InvalidInput("no session is running: there is nothing to stop")
        op = _EndSession(status, ended_at or utcnow(), on_saved=on_saved)
        self._put(op)
        self._open = False
        if not wait:
            return self._state.session_id
        return self._wait(op.done, timeout, "close the session")

    def commit(self, timeout: float = 1.0) -> bool:
        """Commit everything queued so far now and wait for it: the durable path for a rep.

        True once it is on disk. False at once, without waiting, when the database cannot be
        written now (the last write failed: disk full, read-only) or the previous `commit` is
        still waiting (a hung disk); False too when this write attempt fails or after
        ``timeout``. Nothing is lost either way: what was queued stays queued and is written when
        the database can be written again.
        """
        if self._closed or not self.healthy:
            return False
        prev = self._barrier
        if prev is not None and not prev.done.done():
            return False
        op = self._barrier = _Barrier()
        t0 = time.perf_counter()
        self._put(op)
        try:
            ok = bool(op.done.result(timeout))
        except FutureTimeout:
            self.slow_commits += 1
            if self.slow_commits == 1 or self.slow_commits % 100 == 0:
                log.warning(
                    "store writer: a commit took longer than %.1f s (%d times so far): the disk is slow; "
                    "reps are shown before they are on disk until it catches up",
                    timeout,
                    self.slow_commits,
                )
            return False
        except Exception:  # the writer gave up on it (closing) or hit a bug: not on disk
            return False
        if ok:
            self.commit_ms.append((time.perf_counter() - t0) * 1000)
        return ok

    def flush(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is on disk (`StoreError` if it cannot be)."""
        op = _Flush()
        self._put(op)
        self._wait(op.done, timeout, "write the queued reps")

    def close(self, timeout: float = 10.0) -> None:
        """End an open session as 'done', write everything, and stop the writer thread."""
        if self._closed:
            return
        if self._open:
            try:
                self.end_session("done", timeout=timeout)
            except StoreError as exc:
                log.error("could not close the session at shutdown: %s", exc)
        self._closed = True
        self._q.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "store writer did not stop within %.1f s; %d operations unwritten", timeout, self.pending
            )

    # --- the writer thread as a supervised part ------------------------------------------------

    def writer_alive(self) -> bool:
        """True while the writer thread runs (or the recorder was closed on purpose)."""
        return self._closed or self._thread.is_alive()

    def start_writer(self) -> None:
        """Start the writer thread again after it died; queued operations are written from here on."""
        if self._closed or self._thread.is_alive():
            return
        log.warning("store writer: starting a new writer thread (%d operations queued)", self.pending)
        self._thread = threading.Thread(target=self._run, name="hiitpi-store-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, op) -> None:
        if self._closed:
            raise StoreError("the session recorder is closed")
        with self._lock:
            self._pending_count += 1
        self._q.put(op)

    def _wait(self, fut: Future, timeout: float, what: str, *, failed_since: int | None = None):
        """``fut``'s result; `StoreError` after ``timeout``, or as soon as a write attempt fails
        after ``failed_since`` (a count of `failed_attempts`) when that is given."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                return fut.result(max(0.0, min(0.05 if failed_since is not None else left, left)))
            except FutureTimeout:
                pass
            if failed_since is not None and self.failed_attempts > failed_since:
                raise StoreError(f"could not {what}: {self.last_error}")
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"could not {what} within {timeout:.0f} s: {self.last_error or 'the writer is busy'}"
                ) from None

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        pending: list = []
        n_events = n_urgent = 0  # kept as counts: pending can be long while the disk is full
        deadline: float | None = None
        retry_at = 0.0
        stopping = False
        stop_deadline = 0.0
        while True:
            timeout = None
            if pending:
                timeout = max(0.0, max(deadline or 0.0, retry_at) - time.monotonic())
            try:
                op = self._q.get(timeout=timeout)
            except queue.Empty:
                op = None
            ops = [] if op is None else [op]
            while True:
                try:
                    ops.append(self._q.get_nowait())
                except queue.Empty:
                    break
            for op in ops:
                if op is _STOP:
                    stopping = True
                    stop_deadline = time.monotonic() + self.give_up_after_s
                    continue
                if isinstance(op, _Event):
                    if len(pending) >= self.max_pending:
                        self._drop(op)
                        continue
                    n_events += 1
                elif not isinstance(op, _StartInterval | _StartRest | _RelabelInterval):
                    n_urgent += 1
                if not pending:
                    deadline = time.monotonic() + self.flush_interval_s
                pending.append(op)
            now = time.monotonic()
            urgent = stopping or n_urgent > 0 or n_events >= self.flush_max_events
            if pending and now >= retry_at and (urgent or now >= (deadline or 0.0)):
                if self._flush(pending):
                    with self._lock:
                        self._pending_count -= len(pending)
                    pending, deadline, retry_at = [], None, 0.0
                    n_events = n_urgent = 0
                else:
                    self.failed_attempts += 1
                    pending = self._fail_barriers(pending)
                    n_urgent = sum(1 for op in pending if not isinstance(op, _Event | _StartInterval))
                    retry_at = time.monotonic() + self.retry_s
                    if stopping and time.monotonic() >= stop_deadline:
                        self._give_up(pending)
                        pending = []
            if stopping and not pending:
                return

    def _fail_barriers(self, pending: list) -> list:
        """After a failed attempt: every waiting `commit` is answered False and forgotten."""
        kept = []
        for op in pending:
            if isinstance(op, _Barrier):
                op.done.set_result(False)
            else:
                kept.append(op)
        if len(kept) != len(pending):
            with self._lock:
                self._pending_count -= len(pending) - len(kept)
        return kept

    def _drop(self, op: _Event) -> None:
        self.dropped += 1
        with self._lock:
            self._pending_count -= 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            log.error(
                "store writer: %d events dropped so far (database unwritable, %d pending): %s",
                self.dropped,
                self.max_pending,
                self.last_error,
            )

    def _give_up(self, pending: list) -> None:
        log.error("store writer stopping with %d operations unwritten: %s", len(pending), self.last_error)
        err = StoreError(self.last_error or "database unwritable")
        for op in pending:
            if isinstance(op, _Barrier):
                op.done.set_result(False)
            elif hasattr(op, "done") and not op.done.done():
                op.done.set_exception(err)
        with self._lock:
            self._pending_count -= len(pending)

    def _flush(self, ops: list) -> bool:
        """Apply ``ops`` in one transaction; on success adopt the new state and resolve futures."""
        st = replace(self._state)
        results: list[tuple[Future, object]] = []
        closed: list[tuple[_Closed, Callable[[int], None] | None]] = []  # said once committed
        self._notes: list[tuple[str, tuple]] = []  # likewise
        rows: list[dict] = []
        n_events = 0
        now = utcnow()
        try:
            with self.store.writing() as s:
                for op in ops:
                    if isinstance(op, _Event):
                        n_events += 1
                        self._apply_event(st, op, rows)
                    elif isinstance(op, _StartSession):
                        self._write_rows(s, rows)
                        if st.session_id is not None:
                            closed.append((self._close_session(s, st, "done", op.started_at), None))
                        self._open_session(s, st, op)
                        results.append((op.done, st.session_id))
                    elif isinstance(op, _StartInterval):
                        self._write_rows(s, rows)
                        if st.session_id is None:
                            log.warning("interval %s ignored: no session is open", op.workout)
                            continue
                        self._close_interval(s, st, op.at)
                        self._open_interval(s, st, op.workout, op.round, op.at)
                    elif isinstance(op, _StartRest):
                        if st.session_id is not None and st.rest_started is None:
                            st.rest_started = op.at
                    elif isinstance(op, _RelabelInterval):
                        self._write_rows(s, rows)
                        if st.session_id is not None:
                            self._relabel_interval(s, st, op, rows)
                    elif isinstance(op, _EndSession):
                        self._write_rows(s, rows)
                        sid = st.session_id
                        if sid is not None:
                            closed.append((self._close_session(s, st, op.status, op.at), op.on_saved))
                        results.append((op.done, sid))
                    elif isinstance(op, _Flush):
                        results.append((op.done, None))
                    elif isinstance(op, _Barrier):
                        results.append((op.done, True))
                self._write_rows(s, rows)
                if st.session_id is not None:
                    self._write_totals(s, st, now)
        except StoreError:
            return False  # logged and noted by store.writing; the ops stay pending
        except Exception as exc:  # a bug: do not spin on it, but say loudly what was lost
            log.exception("store writer: batch of %d operations failed and was dropped", len(ops))
            self.store.note_failure(f"store writer error: {exc}")
            for op in ops:
                if hasattr(op, "done") and not op.done.done():
                    op.done.set_exception(exc)
            return True
        self._state = st
        self.written_events += n_events
        self.last_write_at = now
        for fmt, args in self._notes:
            log.info(fmt, *args)
        for c, _ in closed:
            log.info(
                "session %s saved (%s): %d reps, %d no-reps, %.0f s",
                c.id,
                c.status,
                c.reps,
                c.no_reps,
                c.duration_s,
            )
        for fut, value in results:
            if not fut.done():
                fut.set_result(value)
        for c, on_saved in closed:
            if on_saved is not None:
                try:
                    on_saved(c.id)
                except Exception:
                    log.exception("after saving session %s", c.id)
        return True

    # --- steps inside a batch (``st`` is the batch's working copy of the state) -----------------

    def _apply_event(self, st: _State, op: _Event, rows: list[dict]) -> None:
        ev = op.event
        if st.session_id is None:
            return
        if ev.kind in ("rep", "no_rep"):
            valid = ev.kind == "rep"
            full = valid and ev.extra.get("full", True) is not False
            rows.append(
                {
                    "session_id": st.session_id,
                    "interval_id": st.interval_id,
                    "index": st.next_rep,
                    "t_start": float(ev.t_start),
                    "t_end": float(ev.t_end),
                    "eccentric_s": ev.eccentric_s,
                    "concentric_s": ev.concentric_s,
                    "rom": ev.rom,
                    "side": ev.side,
                    "valid": valid,
                    "reason": ev.reason,
                    "full": full,
                    "recorded_at": op.at,
                    "similarity": ev.similarity,
                    "deviation": ev.deviation,
                }
            )
            st.next_rep += 1
            st.s_attempts += 1
            st.i_attempts += 1
            st.s_full += full
            st.i_full += full
            if valid:
                st.s_reps += 1
                st.i_reps += 1
            else:
                st.s_no_reps += 1
                st.i_no_reps += 1
        elif ev.kind == "fault":
            st.s_faults += 1
            st.i_faults += 1
        elif ev.kind == "hold_tick" and ev.hold_s is not None:
            st.i_hold = float(ev.hold_s)
            st.s_has_hold = True

    @staticmethod
    def _write_rows(s, rows: list[dict]) -> None:
        if rows:
            s.execute(insert(Rep), rows)
            rows.clear()

    def _open_session(self, s, st: _State, op: _StartSession) -> None:
        player_id = op.player_id
        if player_id is None:
            from hiitpi.store.players import name_key

            key = name_key(op.player_name)
            player_id = s.scalar(select(Player.id).where(Player.name_key == key))
            if player_id is None:
                player_id = s.execute(
                    insert(Player).values(name=op.player_name, name_key=key).returning(Player.id)
                ).scalar_one()
                self._notes.append(("player %s created (id %s)", (op.player_name, player_id)))
        sid = s.execute(
            insert(WorkoutSession)
            .values(
                player_id=player_id,
                workout=op.workout,
                program=op.program,
                started_at=op.started_at,
                updated_at=op.started_at,
                t0=op.t0,
                counting=op.counting,
                status="open",
                duration_s=0.0,
                reps=0,
                no_reps=0,
                faults=0,
            )
            .returning(WorkoutSession.id)
        ).scalar_one()
        st.__init__()  # reset
        st.session_id = sid
        st.session_started = op.started_at
        self._open_interval(s, st, op.workout, op.round, op.started_at)

    def _open_interval(self, s, st: _State, workout: str, round_: int | None, at: datetime) -> None:
        st.interval_index += 1
        st.interval_id = s.execute(
            insert(Interval)
            .values(
                session_id=st.session_id,
                index=st.interval_index,
                workout=workout,
                round=round_,
                started_at=at,
                duration_s=0.0,
                reps=0,
                no_reps=0,
                faults=0,
            )
            .returning(Interval.id)
        ).scalar_one()
        st.interval_started = at
        st.rest_started = None
        st.interval_first_rep = st.next_rep
        st.i_reps = st.i_no_reps = st.i_faults = st.i_attempts = st.i_full = 0
        st.i_hold = None

    def _relabel_interval(self, s, st: _State, op: _RelabelInterval, rows: list[dict]) -> None:
        s.execute(delete(Rep).where(Rep.interval_id == st.interval_id))
        values = {"workout": op.workout}
        s.execute(update(Interval).where(Interval.id == st.interval_id).values(**values))
        if st.interval_index == 1:
            s.execute(update(WorkoutSession).where(WorkoutSession.id == st.session_id).values(**values))
        st.s_reps -= st.i_reps
        st.s_no_reps -= st.i_no_reps
        st.s_faults -= st.i_faults
        st.s_attempts -= st.i_attempts
        st.s_full -= st.i_full
        st.i_reps = st.i_no_reps = st.i_faults = st.i_attempts = st.i_full = 0
        st.i_hold = None
        st.rest_started = None  # the corrected interval is counted again: its work goes on
        st.next_rep = st.interval_first_rep
        for ev in op.events:
            self._apply_event(st, _Event(ev, op.at), rows)
        self._write_rows(s, rows)

    def _close_interval(self, s, st: _State, at: datetime) -> None:
        s.execute(
            update(Interval)
            .where(Interval.id == st.interval_id)
            .values(ended_at=at, **self._interval_totals(st, at))
        )
        st.s_hold_closed += st.i_hold or 0.0
        st.i_hold = None

    def _close_session(self, s, st: _State, status: str, at: datetime) -> _Closed:
        self._close_interval(s, st, at)
        totals = self._session_totals(st, at)
        s.execute(
            update(WorkoutSession)
            .where(WorkoutSession.id == st.session_id)
            .values(status=status, ended_at=at, updated_at=at, **totals)
        )
        closed = _Closed(st.session_id, status, st.s_reps, st.s_no_reps, totals["duration_s"])
        st.__init__()
        return closed

    def _write_totals(self, s, st: _State, now: datetime) -> None:
        s.execute(
            update(Interval).where(Interval.id == st.interval_id).values(**self._interval_totals(st, now))
        )
        s.execute(
            update(WorkoutSession)
            .where(WorkoutSession.id == st.session_id)
            .values(updated_at=now, **self._session_totals(st, now))
        )

    @staticmethod
    def _interval_totals(st: _State, at: datetime) -> dict:
        rest = st.rest_started
        return {
            "duration_s": max(0.0, (at - st.interval_started).total_seconds()),
            "work_s": None if rest is None else max(0.0, (rest - st.interval_started).total_seconds()),
            "reps": st.i_reps,
            "no_reps": st.i_no_reps,
            "faults": st.i_faults,
            "attempts": st.i_attempts,
            "hold_s": st.i_hold,
        }

    @staticmethod
    def _session_totals(st: _State, at: datetime) -> dict:
        return {
            "duration_s": max(0.0, (at - st.session_started).total_seconds()),
            "reps": st.s_reps,
            "no_reps": st.s_no_reps,
            "faults": st.s_faults,
            "attempts": st.s_attempts,
            "full_reps": st.s_full,
            "hold_s": (st.s_hold_closed + (st.i_hold or 0.0)) if st.s_has_hold else None,
        }
