"""The history tables: players, sessions, intervals, reps, chat messages (SQLAlchemy 2.x declarative).

Times of day are stored as naive UTC and returned as aware UTC datetimes. Rep times
(``t_start``/``t_end``) are in the referee's clock (frame timestamps, seconds); a session keeps
``t0``, the referee time at which it started, so ``t_end - t0`` is seconds into the session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SESSION_STATUSES = ("open", "done", "recovered", "aborted")
#: where a session was refereed: in front of the camera, or from a recorded video (sent from a
#: phone, or `hiitpi analyze --save`).
SESSION_SOURCES = ("live", "video")
UPLOAD_STATUSES = ("queued", "analysing", "done", "failed", "cancelled")
#: the counting conventions a session can be counted by (see `hiitpi.referee.machine.COUNTING`)
COUNTINGS = ("judge", "attempts")
SESSION_NAME_MAX = 60
SUMMARY_KINDS = ("model", "template")
CHAT_ROLES = ("user", "coach")
#: what a coach's chat answer is: the model's (checked), a plain one built from the facts, a
#: polite refusal (not about training), "see a professional" (medical), or "busy" (not stored).
CHAT_KINDS = ("model", "plain", "refusal", "medical", "busy")
PLAYER_NAME_MAX = 40


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, naive UTC in the file, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Player(Base):
    __tablename__ = "players"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(PLAYER_NAME_MAX), nullable=False)
    #: casefolded name: two players cannot differ only by case.
    name_key: Mapped[str] = mapped_column(String(PLAYER_NAME_MAX), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    sessions: Mapped[list[WorkoutSession]] = relationship(back_populates="player")


class WorkoutSession(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(f"status IN {SESSION_STATUSES!r}", name="ck_sessions_status"),
        CheckConstraint(
            f"summary_kind IS NULL OR summary_kind IN {SUMMARY_KINDS!r}", name="ck_sessions_summary_kind"
        ),
        Index("ix_sessions_started_at", "started_at"),
        Index("ix_sessions_player_started", "player_id", "started_at"),
        Index("ix_sessions_workout_started", "workout", "started_at"),
        Index("ix_sessions_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    #: the workout started (a program's first workout for a program session).
    workout: Mapped[str] = mapped_column(String(64), nullable=False)
    program: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: last time a batch of this session reached the disk (what recovery uses as its end).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    t0: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    duration_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    reps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    no_reps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    faults: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hold_s: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str | None] = mapped_column(Text)
    summary_kind: Mapped[str | None] = mapped_column(String(16))
    summary_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="live", server_default="live")
    #: the name of the video file a "video" session was refereed from.
    video_name: Mapped[str | None] = mapped_column(String(200))
    #: the annotated video kept with it (a file name in the upload folder's videos/), and its size.
    video_file: Mapped[str | None] = mapped_column(String(200))
    video_bytes: Mapped[int | None] = mapped_column(Integer)
    #: the name a person gave the session (None: its workout's or program's title)
    name: Mapped[str | None] = mapped_column(String(SESSION_NAME_MAX))
    #: "judge" (the count is the full reps) or "attempts" (every attempt counts); None: judge
    counting: Mapped[str | None] = mapped_column(String(16))
    #: every attempted rep, counted or not (reps and no-reps)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    #: reps that reached the full range and passed every check (the judge's count)
    full_reps: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    player: Mapped[Player] = relationship(back_populates="sessions")
    intervals: Mapped[list[Interval]] = relationship(
        back_populates="session", order_by="Interval.index", cascade="all, delete-orphan"
    )


class Interval(Base):
    __tablename__ = "intervals"
    __table_args__ = (
        Index("ux_intervals_session_index", "session_id", "index", unique=True),
        Index("ix_intervals_workout_session", "workout", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    index: Mapped[int] = mapped_column(Integer, nullable=False)
    workout: Mapped[str] = mapped_column(String(64), nullable=False)
    round: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    reps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    no_reps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    faults: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hold_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    #: seconds of work before the interval's rest began (None: no rest, the whole interval was work)
    work_s: Mapped[float | None] = mapped_column(Float)

    session: Mapped[WorkoutSession] = relationship(back_populates="intervals")


class Rep(Base):
    """A counted rep (``valid``) or a no-rep (``valid`` false, with its ``reason``). ``full``: the
    rep reached the full range and passed every check (false for a no-rep, and for a short attempt
    counted when the session counts attempts). With a reference recorded for its workout, its
    ``similarity`` score and ``deviation``."""

    __tablename__ = "reps"
    __table_args__ = (
        Index("ux_reps_session_index", "session_id", "index", unique=True),
        Index("ix_reps_interval", "interval_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    interval_id: Mapped[int] = mapped_column(ForeignKey("intervals.id", ondelete="CASCADE"), nullable=False)
    #: 1-based, in order of happening, over the whole session (reps and no-reps).
    index: Mapped[int] = mapped_column(Integer, nullable=False)
    t_start: Mapped[float] = mapped_column(Float, nullable=False)
    t_end: Mapped[float] = mapped_column(Float, nullable=False)
    eccentric_s: Mapped[float | None] = mapped_column(Float)
    concentric_s: Mapped[float | None] = mapped_column(Float)
    rom: Mapped[float | None] = mapped_column(Float)
    side: Mapped[str | None] = mapped_column(String(16))
    valid: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    full: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=false())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: 0..100: how close the rep came to the workout's reference (None: no reference recorded).
    similarity: Mapped[float | None] = mapped_column(Float)
    #: the body part that deviated most from the reference ("knees").
    deviation: Mapped[str | None] = mapped_column(String(32))


class ChatMessage(Base):
    """One line of a conversation with the coach: about one session (``session_id``) or about a
    player's history (``player_id``), never both. ``facts`` is the JSON list of the fact keys an
    answer was grounded in."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint(
            "(session_id IS NULL) <> (player_id IS NULL)", name="ck_chat_messages_one_conversation"
        ),
        CheckConstraint(f"role IN {CHAT_ROLES!r}", name="ck_chat_messages_role"),
        CheckConstraint(f"kind IS NULL OR kind IN {CHAT_KINDS!r}", name="ck_chat_messages_kind"),
        Index("ix_chat_messages_session", "session_id", "id"),
        Index("ix_chat_messages_player", "player_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    player_id: Mapped[int | None] = mapped_column(ForeignKey("players.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Upload(Base):
    """A video sent from a phone, waiting for its analysis or analysed: the queue survives a restart.
    ``token`` names it in URLs (not guessable); ``stored_file`` is its file in the upload folder
    (deleted after the analysis); ``session_id`` the session it became."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint(f"status IN {UPLOAD_STATUSES!r}", name="ck_uploads_status"),
        Index("ix_uploads_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    player: Mapped[str] = mapped_column(String(PLAYER_NAME_MAX), nullable=False)
    workout: Mapped[str] = mapped_column(String(64), nullable=False)
    file_name: Mapped[str] = mapped_column(String(200), nullable=False)
    stored_file: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_s: Mapped[float | None] = mapped_column(Float)
    keep_video: Mapped[bool] = mapped_column(Boolean, nullable=False)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    #: JSON list of what the analysis noticed about the video (rotated, variable frame rate...).
    notes: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
