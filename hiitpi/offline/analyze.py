"""`hiitpi analyze`: a video file through the live pipeline, as fast as the machine allows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hiitpi.capture.base import EndOfStream
from hiitpi.capture.video import VideoFileSource
from hiitpi.engine.pipeline import PoseStage
from hiitpi.errors import HiitpiError, InputError
from hiitpi.offline.poses import progress_bar
from hiitpi.pose.types import Pose
from hiitpi.recognition import is_auto
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.similarity import attach_scorer

log = logging.getLogger(__name__)

#: A video with at least this share of its frames too dark for the pose model's exposure
#: (`hiitpi.pose.exposure`) is noted as filmed in the dark.
DARK_SHARE = 0.1


@dataclass
class AnalysisResult:
    video: str
    workout: str
    model: str
    frames: int
    fps: float
    duration_s: float
    reps: int
    no_reps: int
    attempts: int
    counting: str
    hold_s: float
    events: list[RefEvent]
    timings: dict
    wall_s: float
    person_frames: int = 0  # frames in which the pose model found a person
    kind: str = "reps"  # the rule's kind: "reps" or "hold" (auto mode: "reps")
    intervals: list | None = None  # auto mode: the recognised intervals (`hiitpi.recognition.auto.Interval`)
    turn: int = 0  # where the body's up pointed in the picture (a camera on its side), read from the body
    dark_frames: int = 0  # frames darker than the pose model's exposure can make up for

    def notes(self) -> list[str]:
        """What the user should know about how the video was filmed, read from the analysis."""
        out = []
        if self.frames and self.dark_frames >= DARK_SHARE * self.frames:
            out.append(
                f"filmed too dark to count reliably: {self.dark_frames} of its {self.frames} frames "
                f"({100 * self.dark_frames / self.frames:.0f} %) were darker than the pose model can brighten, "
                "and reps there may be missed (film with a light on)"
            )
        return out

    def to_dict(self) -> dict:
        reps = [e for e in self.events if e.kind == "rep"]
        return {
            "video": self.video,
            "workout": self.workout,
            "model": self.model,
            "frames": self.frames,
            "fps": round(self.fps, 3),
            "duration_s": round(self.duration_s, 3),
            "reps": self.reps,
            "no_reps": self.no_reps,
            "attempts": self.attempts,
            "counting": self.counting,
            "hold_s": round(self.hold_s, 3),
            "rep_events": [_rep_dict(e) for e in reps],
            "no_rep_events": [_rep_dict(e) for e in self.events if e.kind == "no_rep"],
            "faults": [_rep_dict(e) for e in self.events if e.kind == "fault"],
            "timings_ms": self.timings,
            "person_frames": self.person_frames,
            "dark_frames": self.dark_frames,
            "wall_s": round(self.wall_s, 3),
            "frames_per_second": round(self.frames / self.wall_s, 2) if self.wall_s > 0 else None,
            "picture_turn": self.turn,
            **({"intervals": [iv.to_dict() for iv in self.intervals]} if self.intervals is not None else {}),
        }


def _rep_dict(e: RefEvent) -> dict:
    d = {
        "count": e.count,
        "start": round(e.t_start, 3),
        "end": round(e.t_end, 3),
        "duration_s": round(e.duration_s, 3),
    }
    for key in ("eccentric_s", "concentric_s", "rom", "reason", "side", "similarity", "deviation"):
        v = getattr(e, key)
        if v is not None:
            d[key] = round(v, 3) if isinstance(v, float) else v
    return d


class AnalysisCancelled(HiitpiError):
    """The analysis was stopped before the end of the video (the appliance stops, a user cancels)."""


#: ``on_frame(done, total)``: called after every frame; it may block (to pause the analysis) or
#: raise (`AnalysisCancelled`) to stop it.
FrameHook = Callable[[int, int], None]


def analyze_video(
    path: str | Path,
    settings: Any,
    workout: str,
    *,
    out: str | Path | None = None,
    progress: bool = True,
    estimator: Any = None,
    clock: str = "index",
    out_max_side: int | None = None,
    encoder: Any = None,
    on_frame: FrameHook | None = None,
    turn: int = 0,
) -> AnalysisResult:
    """Run the real pipeline over a video file; optionally write an annotated copy to ``out``
    (H.264 MP4 with faststart, `hiitpi.offline.h264`, its longer side at most ``out_max_side``).

    ``workout`` "auto" recognises the workout as it goes (auto mode): the result has every
    recognised interval, and its reps are theirs.

    ``clock="pts"`` times every frame by its own timestamp (a variable frame-rate video). The
    annotated file is complete when this returns and absent when it raises.

    ``turn``: the picture is turned so (a camera on its side; where the body's up points): the pose
    model sees it upright. A video the referee reads as turned is analysed again that way (as
    `hiitpi eval clips` does; live, the pose model sees it upright from the moment it is read)."""
    from hiitpi.pose.smoothing import PoseSmoother
    from hiitpi.referee.catalog import load_catalog

    catalog = load_catalog(settings.referee.rules_dir)
    auto = timeline = rule = None
    if is_auto(workout):
        from hiitpi.recognition.auto import AutoMode, Timeline

        auto = AutoMode(catalog.workouts, pace_window_s=settings.referee.pace_window_s)
        timeline = Timeline()
        referee = None
    else:  # UnknownNameError names the known ones
        rule = catalog.workout(workout)
        referee = Referee(rule, settings.referee.pace_window_s, counting=settings.referee.counting)
        attach_scorer(referee)  # with a recorded reference, every rep gets a similarity score
    own = estimator is None
    if own:
        from hiitpi.pose.registry import get_backend

        get_backend(settings.pose.model)  # an unknown model is one line, before anything loads
    if out is not None and encoder is None:
        from hiitpi.offline.h264 import find_encoder

        encoder = find_encoder()  # no H.264 encoder: one line, before anything is decoded
    source = VideoFileSource(path, paced=False, clock=clock)
    source.open()  # a missing or undecodable file is reported before the model loads
    if own:
        from hiitpi.pose.registry import create_estimator

        try:
            estimator = create_estimator(settings)
        except BaseException:
            source.close()
            raise
    info = source.info
    stage = PoseStage(estimator, PoseSmoother.from_settings(settings.pose.smoothing), keep_times=True)
    stage.turn = turn
    writer = None
    size = (info.width, info.height)
    if out is not None:
        from hiitpi.offline.h264 import even_size, open_h264

        size = even_size(info.width, info.height, out_max_side)
        try:
            writer = open_h264(out, info.fps, size, encoder=encoder)
        except (OSError, ValueError) as exc:
            source.close()
            if own:
                estimator.close()
            raise InputError(
                f"cannot write a video at {out}: {exc}", "use a .mp4 name in a writable folder"
            ) from exc
    events: list[RefEvent] = []
    frames = person_frames = dark_frames = 0
    last_t = 0.0
    t_wall = time.perf_counter()
    ok = False
    try:
        estimator.reset()
        with progress_bar(info.frames, Path(path).name, progress) as bar:
            while True:
                try:
                    frame = source.read()
                except EndOfStream:
                    break
                pose = stage.process(frame.image, frame.timestamp)
                evs = stage.referee((auto or referee,), pose, frame.timestamp)
                stage.follow(auto.referee if auto else referee)  # a camera on its side: see it upright
                events.extend(evs)
                if timeline is not None:
                    timeline.add(auto.last_change, evs, frame.timestamp)
                frames += 1
                person_frames += pose is not None
                dark_frames += bool(getattr(estimator, "too_dark", False))
                last_t = frame.timestamp
                if writer is not None:
                    image = frame.image
                    if (image.shape[1], image.shape[0]) != size:
                        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                    writer.write(
                        annotate(image, pose, auto.referee if auto else referee, evs), frame.timestamp
                    )
                bar.update(1)
                if on_frame is not None:
                    on_frame(frames, info.frames)
        if auto is not None:
            last = auto.finish()  # the clip is over, as in eval (judging: a rep on its way back counts)
            events.extend(last)
            timeline.add(None, last, last_t)
        else:
            events.extend(referee.finish())  # as in eval (judging: a rep on its way back counts)
        ok = True
    finally:
        source.close()
        if writer is not None:
            if ok:
                writer.close()
            else:
                writer.abort()
        if own:
            estimator.close()
    if referee is not None and turn == 0 and referee.turn_read and referee.turn:
        log.info(
            "%s: the picture reads as turned %d° (from the body): analysing it again seen upright",
            Path(path).name,
            referee.turn,
        )
        return analyze_video(
            path,
            settings,
            workout,
            out=out,
            progress=progress,
            estimator=None if own else estimator,
            clock=clock,
            out_max_side=out_max_side,
            encoder=encoder,
            on_frame=on_frame,
            turn=referee.turn,
        )
    wall = time.perf_counter() - t_wall
    duration = (last_t + 1 / info.fps) if frames else 0.0
    ivs = timeline.intervals if timeline is not None else None
    return AnalysisResult(
        video=str(path),
        workout="auto" if ivs is not None else referee.name,
        model=getattr(estimator, "name", settings.pose.model),
        frames=frames,
        fps=info.fps,
        duration_s=duration,
        reps=sum(iv.reps for iv in ivs) if ivs is not None else referee.count,
        no_reps=sum(iv.no_reps for iv in ivs) if ivs is not None else referee.no_reps,
        attempts=sum(iv.reps + iv.no_reps for iv in ivs) if ivs is not None else referee.attempts,
        counting=referee.counting if referee is not None else "judge",
        hold_s=sum(iv.hold_s for iv in ivs) if ivs is not None else referee.hold_s,
        events=events,
        timings=stage.times.summary(),
        wall_s=wall,
        person_frames=person_frames,
        kind=rule.kind if rule is not None else "reps",
        intervals=ivs,
        turn=stage.turn,
        dark_frames=dark_frames,
    )


def annotate(
    frame: np.ndarray, pose: Pose | None, referee: Referee | None, events: list[RefEvent]
) -> np.ndarray:
    """The frame with the skeleton, the referee's state, count and last call drawn on it
    (auto mode before anything is recognised: ``referee`` None)."""
    from hiitpi.pose.draw import draw_pose

    img = draw_pose(frame, pose, copy=True)
    h, w = img.shape[:2]
    scale = max(0.5, min(w, h) / 480)
    if referee is None:
        lines = ["auto: start moving"]
    elif referee.rule.kind == "hold":
        lines = [f"{referee.rule.title}: {referee.hold_s:.1f}s", f"state: {referee.phase}"]
    else:
        lines = [
            f"{referee.rule.title}: {referee.count}",
            f"state: {referee.phase}  no-reps: {referee.no_reps}  pace: {referee.pace:.0f}/min",
        ]
    for e in events:
        if e.kind in ("no_rep", "fault") and e.reason:
            lines.append(f"{e.kind.replace('_', '-')}: {e.reason}")
    font, fs, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, max(1, int(2 * scale))
    line_h = int(34 * scale)
    width = max(cv2.getTextSize(line, font, fs, thick)[0][0] for line in lines) + int(20 * scale)
    box = img[0 : line_h * len(lines) + int(12 * scale), 0 : min(w, width)]
    box[:] = (box * 0.35).astype(img.dtype)  # darken behind the text so it reads on any video
    y = int(28 * scale)
    for line in lines:
        cv2.putText(img, line, (int(10 * scale), y), font, fs, (255, 255, 255), thick, cv2.LINE_AA)
        y += line_h
    return img
