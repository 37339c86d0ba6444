"""A recorded workout into the history: the one path a sent video (the upload worker) and
`hiitpi analyze VIDEO --save` both take.

`check_video` probes the file and says what is wrong with it in a user's words (not a video, cut
off, too long: `VideoRejected`) or what was noticed (turned, portrait, 4K, 60 fps, a variable
frame rate: notes shown with the session). `ingest_video` then runs `analyze_video` (the live
engine's pose stage and referee), refuses a video in which nobody was seen, and writes the
session whole in one transaction (`hiitpi.store.videosessions`), dated from when the video was
filmed when the file says so. The annotated video, when kept, is finished before the session is
written and deleted if the session cannot be: nothing is ever half there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hiitpi.capture.probe import VideoProbe, probe_video
from hiitpi.errors import InputError
from hiitpi.offline.analyze import AnalysisResult, FrameHook, analyze_video
from hiitpi.offline.media import MediaDirs, NoSpace, annotated_estimate, check_space, prune

log = logging.getLogger(__name__)

#: A video in which a person was found in fewer frames than this share (or than one second's
#: worth) holds nobody to referee.
MIN_PERSON_SHARE = 0.1
#: Larger than this (longer side, pixels) is noted as "4K": analysed at full size, drawn smaller.
LARGE_SIDE = 2560
HIGH_FPS = 40.0


class VideoRejected(InputError):
    """A video that cannot become a session; the message says why and what to do."""


@dataclass
class IngestResult:
    session_id: int
    result: AnalysisResult
    probe: VideoProbe
    notes: list[str] = field(default_factory=list)
    video_file: Path | None = None
    started_at: datetime | None = None


def check_video(path: Path, settings: Any) -> tuple[VideoProbe, list[str]]:
    """Probe ``path``; `VideoRejected` when it cannot be analysed, else (probe, notes for the page)."""
    from hiitpi.capture.probe import VideoProbeError

    try:
        probe = probe_video(path)
    except VideoProbeError as exc:
        raise VideoRejected(exc.message, exc.hint) from None
    up = settings.upload
    if probe.truncated:
        raise VideoRejected(
            f"this video is cut off: its pictures stop at {probe.duration_s:.1f} s of the "
            f"{probe.header_duration_s or 0:.1f} s it should last (the file was not sent or saved whole)",
            "send the whole file again",
        )
    if probe.duration_s > up.max_minutes * 60:
        raise VideoRejected(
            f"this video lasts {probe.duration_s / 60:.1f} minutes; at most {up.max_minutes:g} are analysed",
            "trim it on the phone, or raise [upload] max_minutes",
        )
    notes: list[str] = []
    if probe.rotation:
        notes.append("filmed with the phone turned: its pictures were turned upright")
    if probe.portrait:
        notes.append(f"portrait video ({probe.width}×{probe.height})")
    if max(probe.width, probe.height) > LARGE_SIDE:
        notes.append(
            f"{probe.width}×{probe.height} video: analysed at full size, the annotated video drawn at "
            f"{up.video_max_side} px"
        )
    if probe.fps > HIGH_FPS:
        notes.append(f"{probe.fps:.0f} fps video: every frame analysed")
    if probe.variable_rate:
        notes.append(
            f"variable frame rate ({probe.fps_min:.0f}–{probe.fps_max:.0f} fps): every frame timed by its own "
            "timestamp"
        )
    return probe, notes


def _no_person(result: AnalysisResult) -> bool:
    need = max(result.fps * 1.0, MIN_PERSON_SHARE * result.frames)
    return result.person_frames < need


def ingest_video(
    path: str | Path,
    settings: Any,
    store: Any,
    *,
    player: str,
    workout: str,
    file_name: str | None = None,
    keep_video: bool = True,
    received_at: datetime | None = None,
    token: str | None = None,
    on_frame: FrameHook | None = None,
    on_note: Callable[[str], None] | None = None,
    progress: bool = False,
    estimator: Any = None,
    checked: tuple[VideoProbe, list[str]] | None = None,
    analyze: Callable[..., AnalysisResult] = analyze_video,
) -> IngestResult:
    """Analyse the video at ``path`` and store it as a session of ``player`` (created if new).

    Raises `VideoRejected` (and writes nothing) for a file that is not a usable video or that
    shows nobody; `NoH264Encoder` / `NoSpace` before any work when the annotated video cannot be
    written. ``received_at`` dates the session when the file has no creation time (default: the
    file's modification time). ``analyze`` runs the analysis (`analyze_video`, or the upload
    worker's `hiitpi.offline.child.analyze_in_child` with the same arguments)."""
    from hiitpi.store.players import clean_player_name
    from hiitpi.store.videosessions import VideoSession, save_video_session

    path = Path(path)
    clean_player_name(player)  # a bad name is refused before the analysis, not after
    probe, notes = checked or check_video(path, settings)
    up = settings.upload
    dirs = MediaDirs.from_settings(settings).ensure()
    out: Path | None = None
    encoder = None
    if keep_video:
        from hiitpi.offline.h264 import find_encoder

        encoder = find_encoder(up.encoder)
        try:
            check_space(
                dirs.videos, annotated_estimate(probe.duration_s), up.min_free_mb, "the annotated video"
            )
        except NoSpace as exc:
            keep_video = False
            notes.append(f"annotated video not kept: {exc.message}")
            log.warning("%s", exc.message)
        else:
            out = dirs.videos / f"{token or uuid.uuid4().hex}.mp4"
    for note in notes:
        if on_note is not None:
            on_note(note)
    result = analyze(
        path,
        settings,
        workout,
        out=out,
        progress=progress,
        estimator=estimator,
        clock="pts" if probe.variable_rate else "index",
        out_max_side=up.video_max_side,
        encoder=encoder,
        on_frame=on_frame,
    )
    try:
        if _no_person(result):
            raise VideoRejected(
                f"nobody was seen in this video (a person was found in {result.person_frames} of its "
                f"{result.frames} frames)",
                "film the whole body, in good light, with the phone standing still",
            )
        if result.frames < 2:
            raise VideoRejected("no frame of this video could be decoded", "send it again, or another video")
        if result.intervals is not None and not result.intervals:
            raise VideoRejected(
                "no workout was recognised in this video (auto mode)",
                "pick the workout it shows and send it again",
            )
        notes.extend(result.notes())
        if result.intervals:
            notes.append(
                "auto mode recognised "
                + ", ".join(f"{iv.workout} ({iv.start:.0f}–{iv.end:.0f} s)" for iv in result.intervals)
            )
        started = probe.creation_time or received_at
        if started is None:
            started = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if probe.creation_time is None:
            notes.append("the video holds no filming date: dated when it was received")
        sid = save_video_session(
            store,
            VideoSession(
                player=player,
                workout=result.workout,
                started_at=started,
                duration_s=result.duration_s,
                events=result.events,
                hold_s=result.hold_s if result.kind == "hold" else None,
                intervals=None
                if result.intervals is None
                else [(iv.workout, iv.start, iv.end, iv.hold_s or None) for iv in result.intervals],
                video_name=file_name or path.name,
                video_file=out.name if out is not None else None,
                video_bytes=out.stat().st_size if out is not None else None,
                counting=result.counting,
            ),
        )
    except BaseException:
        if out is not None:
            out.unlink(missing_ok=True)
        raise
    if out is not None:
        try:
            prune(store, settings)
        except Exception:  # the session is stored; a pruning problem is for the log only
            log.exception("could not prune the kept annotated videos")
    return IngestResult(sid, result, probe, notes, out, started)
