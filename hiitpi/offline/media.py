"""Where sent videos and annotated videos live, the disk space they need, and how long they stay.

The upload folder (``[upload] dir``, default ``<data_dir>/uploads``) holds three folders:

- ``incoming/``: a video while it streams in (``<token>.part``); deleted if the upload is cut off;
- ``queue/``: complete videos waiting for (or under) analysis; each is deleted when its analysis
  ends, whatever the outcome;
- ``videos/``: the annotated videos people chose to keep, named by the session they belong to,
  kept ``[upload] retention_days`` and within ``videos_max_mb`` (oldest deleted first: `prune`).

`tidy` (at the worker's start) removes what a crash may have left: partial uploads, queue files no
upload needs, half-written or unclaimed annotated videos.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

MB = 1024 * 1024
#: Upper estimate of an annotated video's size (H.264 at 1280 px, CRF 23): 2 Mbit/s.
ANNOTATED_BYTES_PER_S = 250_000


class NoSpace(HiitpiError):
    """Not enough free disk space for a video; the message says how much is needed and free."""

    exit_code = 1


@dataclass(frozen=True)
class MediaDirs:
    root: Path

    @classmethod
    def from_settings(cls, settings) -> MediaDirs:
        return cls(Path(settings.upload_dir))

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    def ensure(self) -> MediaDirs:
        for d in (self.incoming, self.queue, self.videos):
            d.mkdir(parents=True, exist_ok=True)
        return self


def free_bytes(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_space(folder: Path, need_bytes: int, keep_free_mb: int, what: str) -> None:
    """`NoSpace` unless ``need_bytes`` fit in ``folder`` with ``keep_free_mb`` left over."""
    free = free_bytes(folder)
    reserve = keep_free_mb * MB
    if free - need_bytes < reserve:
        raise NoSpace(
            f"not enough free disk space for {what}: it needs {need_bytes / MB:.0f} MB and "
            f"{free / MB:.0f} MB are free, of which {keep_free_mb} MB are kept free",
            "delete old annotated videos (or sessions), or lower [upload] min_free_mb",
        )


def annotated_estimate(duration_s: float) -> int:
    return int(max(1.0, duration_s) * ANNOTATED_BYTES_PER_S)


def prune(store, settings, *, now: float | None = None) -> list[int]:
    """Delete kept annotated videos past ``[upload] retention_days`` (by when each was written) and,
    oldest first, past ``videos_max_mb`` in total; returns the sessions that lost their video.
    A session whose file has gone already is told so too."""
    from hiitpi.store.videosessions import forget_video, kept_videos

    dirs = MediaDirs.from_settings(settings)
    now = time.time() if now is None else now
    up = settings.upload
    entries = []
    gone: list[int] = []
    for kv in kept_videos(store):
        path = dirs.videos / kv.video_file
        try:
            st = path.stat()
        except OSError:
            gone.append(kv.session_id)
            continue
        entries.append((st.st_mtime, kv.session_id, path, st.st_size))
    entries.sort()
    total = sum(e[3] for e in entries)
    for mtime, sid, path, size in entries:
        too_old = up.retention_days > 0 and now - mtime > up.retention_days * 86400
        too_much = total > up.videos_max_mb * MB
        if not (too_old or too_much):
            continue
        path.unlink(missing_ok=True)
        total -= size
        gone.append(sid)
        log.info(
            "annotated video of session %s deleted (%s)",
            sid,
            "older than [upload] retention_days" if too_old else "over [upload] videos_max_mb",
        )
    for sid in gone:
        forget_video(store, sid)
    return gone


def tidy(store, settings) -> int:
    """Remove files a crash or a cut-off upload left; returns how many."""
    from hiitpi.store.uploads import files_in_use
    from hiitpi.store.videosessions import kept_videos

    dirs = MediaDirs.from_settings(settings).ensure()
    needed = files_in_use(store)
    kept = {kv.video_file for kv in kept_videos(store)}
    removed = 0
    for path in list(dirs.incoming.iterdir()):
        path.unlink(missing_ok=True)
        removed += 1
    for path in list(dirs.queue.iterdir()):
        if path.name not in needed:
            path.unlink(missing_ok=True)
            removed += 1
    for path in list(dirs.videos.iterdir()):
        if path.name not in kept:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info(
            "upload folder %s: %d file(s) left by an interrupted upload or analysis removed",
            dirs.root,
            removed,
        )
    return removed
