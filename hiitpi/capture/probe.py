"""What a video file is before it is analysed: `probe_video` reads its container with PyAV (packets
only, nothing decoded, well under a second for a phone's 100 MB clip) and says what it holds.

- not a video at all (text, a picture, random bytes), or an MP4/MOV cut off before its index
  (a phone writes the index last): `VideoProbeError` with a message fit for the page;
- the frame timing: frames per second, and whether the rate varies (phone videos often do: the
  analysis then times every frame by its own timestamp, `VideoProbe.variable_rate`);
- a file whose frames stop before the duration its header promises (`truncated`: the upload or
  the recording was interrupted);
- how it is shown: the rotation a phone stores beside sideways pixels (OpenCV applies it when it
  decodes, so the frames come upright) and the size after it;
- when it was filmed: the container's ``creation_time`` (UTC), when the camera wrote one.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hiitpi.errors import InputError

log = logging.getLogger(__name__)

#: A recording shorter than this is not a workout (and a picture opened as a 1-frame "video").
MIN_DURATION_S = 1.0
#: Frame intervals that differ by more than this fraction from the median make a variable rate.
VFR_TOLERANCE = 0.25
#: Frames found short of the header's count (or seconds short of its duration) for "cut off".
TRUNCATED_FRACTION = 0.97
TRUNCATED_SLACK_S = 0.5
#: Container formats that are pictures, not videos, whatever the file is called.
IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")


class VideoProbeError(InputError):
    """The file is not a video HIIT PI can analyse; ``message`` says why in a user's words."""


@dataclass(frozen=True)
class VideoProbe:
    path: Path
    size_bytes: int
    container: str
    codec: str
    width: int  # as shown (after the rotation)
    height: int
    rotation: int  # degrees (clockwise) a player turns the stored pixels: 0, 90, 180, 270
    fps: float  # average frames per second
    fps_min: float
    fps_max: float
    variable_rate: bool
    frames: int  # video packets found
    duration_s: float  # first to last frame, plus one frame
    header_duration_s: float | None
    header_frames: int | None
    truncated: bool
    creation_time: datetime | None
    notes: list[str] = field(default_factory=list)

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def to_dict(self) -> dict:
        return {
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "fps": round(self.fps, 3),
            "fps_min": round(self.fps_min, 3),
            "fps_max": round(self.fps_max, 3),
            "variable_rate": self.variable_rate,
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
            "truncated": self.truncated,
            "creation_time": self.creation_time.isoformat() if self.creation_time else None,
            "size_bytes": self.size_bytes,
        }


def _looks_like_mp4(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")


def parse_creation_time(text: object) -> datetime | None:
    """An MP4/MOV ``creation_time`` tag as an aware UTC datetime; None when absent or meaningless
    (some cameras write 1904-01-01 or 1970-01-01, the epochs of an unset clock)."""
    if not isinstance(text, str) or not text.strip():
        return None
    s = text.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if dt.year < 1980:
        return None
    return dt


def _rotation(stream) -> int:
    """Degrees a player turns the stored frames: the display matrix, else the old ``rotate`` tag."""
    rotate = stream.metadata.get("rotate")
    if rotate is not None:
        try:
            return int(float(rotate)) % 360
        except ValueError:
            pass
    try:
        for sd in stream.side_data or ():  # PyAV >= 14 exposes the stream's display matrix
            if "DISPLAYMATRIX" in str(getattr(sd, "type", "")):
                return round(-float(sd.rotation)) % 360 if hasattr(sd, "rotation") else 0
    except Exception:  # older PyAV: no stream side data; the first frame tells below
        pass
    return 0


def _first_frame_rotation(container, stream) -> int:
    try:
        container.seek(0)
        for frame in container.decode(stream):
            return round(-float(getattr(frame, "rotation", 0) or 0)) % 360
    except Exception as exc:
        log.debug("no rotation from the first frame: %s", exc)
    return 0


def probe_video(path: str | Path) -> VideoProbe:
    """What the file at ``path`` holds (see the module docstring); `VideoProbeError` when it is
    not a video that can be analysed."""
    import av

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise VideoProbeError(f"the video file cannot be read ({exc.strerror})") from exc
    if size == 0:
        raise VideoProbeError("the file is empty: nothing was sent", "pick the video again and send it")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        log.info("probe %s: cannot open: %s", path, exc)
        if _looks_like_mp4(path):
            raise VideoProbeError(
                "this video is incomplete: the file was cut off before its end (a phone writes a "
                "video's index last), so it cannot be played",
                "send the whole file again; if the recording stopped abruptly, film it again",
            ) from None
        raise VideoProbeError(
            "this file is not a video HIIT PI can read",
            "send a video from the phone's camera (MP4 or MOV)",
        ) from None
    with container:
        fmt = container.format.name or ""
        streams = [s for s in container.streams if s.type == "video"]
        if not streams or any(fmt.endswith(tag) or fmt == tag for tag in IMAGE_FORMATS):
            what = "a picture" if streams else "sound only" if container.streams.audio else "no video"
            raise VideoProbeError(
                f"this file is not a video ({what}, {fmt or 'unknown format'})",
                "send a video of the workout (MP4 or MOV from the phone's camera)",
            )
        stream = streams[0]
        codec = stream.codec_context.name if stream.codec_context else "?"
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        header_frames = int(stream.frames) or None
        header_duration = None
        if stream.duration is not None and stream.time_base is not None:
            header_duration = float(stream.duration * stream.time_base)
        elif container.duration:
            header_duration = container.duration / 1_000_000
        tags = {**container.metadata, **stream.metadata}
        created = parse_creation_time(tags.get("creation_time"))
        pts: list[float] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    pts.append(float(packet.pts * packet.time_base))
        except av.FFmpegError as exc:  # a damaged middle: what was read so far is what there is
            log.info("probe %s: demux stopped: %s", path, exc)
        rotation = _rotation(stream)
        if rotation == 0 and pts:
            rotation = _first_frame_rotation(container, stream)
    if len(pts) < 2 or width <= 0 or height <= 0:
        raise VideoProbeError(
            "this file holds no playable video frames" if not pts else "this file holds a single picture",
            "send a video of the workout (MP4 or MOV from the phone's camera)",
        )
    pts.sort()
    deltas = [b - a for a, b in itertools.pairwise(pts) if b > a]
    step = statistics.median(deltas) if deltas else 1 / 30
    fps = (len(pts) - 1) / (pts[-1] - pts[0]) if pts[-1] > pts[0] else 1 / step
    lo = min(deltas) if deltas else step
    hi = max(deltas) if deltas else step
    irregular = sum(1 for d in deltas if abs(d - step) > VFR_TOLERANCE * step)
    variable = irregular > max(2, 0.02 * len(deltas))
    duration = pts[-1] - pts[0] + step
    truncated = False
    if header_frames and len(pts) < TRUNCATED_FRACTION * header_frames:
        truncated = True
    if header_duration and duration < TRUNCATED_FRACTION * header_duration - TRUNCATED_SLACK_S:
        truncated = True
    if rotation in (90, 270):
        width, height = height, width
    probe = VideoProbe(
        path=path,
        size_bytes=size,
        container=fmt,
        codec=codec,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        fps_min=1 / hi if hi > 0 else fps,
        fps_max=1 / lo if lo > 0 else fps,
        variable_rate=variable,
        frames=len(pts),
        duration_s=duration,
        header_duration_s=header_duration,
        header_frames=header_frames,
        truncated=truncated,
        creation_time=created,
    )
    if probe.duration_s < MIN_DURATION_S:
        raise VideoProbeError(
            f"this video is only {probe.duration_s:.1f} s long: too short for a workout",
            "film at least a few reps",
        )
    log.info(
        "probe %s: %s %dx%d%s, %.2f fps%s, %d frames, %.1f s%s%s",
        path.name,
        codec,
        width,
        height,
        f" rotated {rotation}°" if rotation else "",
        fps,
        f" (variable {probe.fps_min:.1f}-{probe.fps_max:.1f})" if variable else "",
        probe.frames,
        probe.duration_s,
        ", cut off" if truncated else "",
        f", filmed {created.isoformat()}" if created else "",
    )
    return probe
