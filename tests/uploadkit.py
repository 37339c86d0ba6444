"""Shared by the upload tests: odd videos made from the real clips (ffmpeg into tmp_path), a real
dashboard with the real upload worker, and small HTTP helpers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import IN_CI, free_port

SQUAT = "squat/calimiro_squat_19.mp4"  # 5.7 s, 1280x720, 25 fps, 2 reps, filmed 2023-02-24T10:23:35Z
SQUAT_REPS = 2
SQUAT_FILMED = "2023-02-24T10:23:35+00:00"


def ffmpeg(*args: str) -> None:
    if not shutil.which("ffmpeg"):
        msg = "ffmpeg not installed (scripts/setup.sh --dev installs it)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=300)


def ffprobe(path: Path, entries: str = "stream=codec_name,width,height") -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            entries,
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def x264(*filters: str) -> list[str]:
    vf = ["-vf", ",".join(filters)] if filters else []
    return [*vf, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-an"]


def make_video(kind: str, clip: Path, out: Path) -> Path:
    """An odd video made from a real clip: see the branches for what each is."""
    if kind == "no_person":  # the clip's timing and size, every picture painted grey
        ffmpeg("-i", str(clip), *x264("drawbox=x=0:y=0:w=iw:h=ih:color=gray:t=fill"), str(out))
    elif kind == "4k":  # scaled up to 3840x2160, first 3 s
        ffmpeg("-i", str(clip), "-t", "3", *x264("scale=3840:2160"), str(out))
    elif kind == "portrait":  # pixels turned: a portrait 720x1280 video
        ffmpeg("-i", str(clip), *x264("transpose=1"), str(out))
    elif kind == "phone_rotated":  # sideways pixels + the display rotation a phone writes
        side = out.with_name(out.stem + "-sideways.mp4")
        ffmpeg("-i", str(clip), *x264("transpose=1"), str(side))
        ffmpeg("-i", str(side), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))
    elif kind == "vfr":  # every third frame in the first 3 s, all after: a variable frame rate
        ffmpeg(
            "-i", str(clip), "-fps_mode", "vfr",
            *x264("select='if(lt(t,3),not(mod(n,3)),1)'"), str(out),
        )  # fmt: skip
    elif (
        kind == "dark"
    ):  # a twentieth of the light: a room darker than the pose model's exposure makes up for
        ffmpeg("-i", str(clip), *x264("lutrgb=r=val/20:g=val/20:b=val/20"), str(out))
    elif kind == "faststart":
        ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(out))
    elif kind == "moov_last":
        ffmpeg("-i", str(clip), "-c", "copy", str(out))
    else:
        raise ValueError(kind)
    return out


def truncate(src: Path, out: Path, fraction: float = 0.6) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


class UploadDashboard:
    """A real store, the real upload worker and the real web server (event loop + Dash)."""

    def __init__(self, settings, *, session_running=lambda: False, worker: bool = True, auth: bool = False):
        from hiitpi.offline.worker import UploadWorker
        from hiitpi.store.db import Store
        from hiitpi.web.app import create_app
        from hiitpi.web.server import WebServer

        self.settings = settings
        self.store = Store.from_settings(settings)
        self.stored: list[int] = []
        self.worker = UploadWorker(
            settings, self.store, session_running=session_running, on_stored=self.stored.append
        )
        if worker:
            self.worker.start()
        self.app = create_app(settings, store=self.store, uploads=self.worker, auth=auth)
        self.web = WebServer(settings, self.app)
        self.web.start()
        self.base = f"http://127.0.0.1:{self.web.port}"

    def post(self, path: Path | bytes, *, player="Ana", workout="squat", keep=True, name=None, **kw):
        data = path.read_bytes() if isinstance(path, Path) else path
        q = urlencode({"player": player, "workout": workout, "keep": "1" if keep else "0"})
        headers = {"X-Upload-Name": name or (path.name if isinstance(path, Path) else "video.mp4")}
        headers.update(kw.pop("headers", {}))
        return requests.post(f"{self.base}/api/uploads?{q}", data=data, headers=headers, timeout=60, **kw)

    def job(self, token: str) -> dict:
        r = requests.get(f"{self.base}/api/uploads/{token}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["upload"]

    def wait(self, token: str, statuses=("done", "failed"), timeout: float = 240.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.job(token)
            if j["status"] in statuses:
                return j
            time.sleep(0.2)
        pytest.fail(f"upload {token} not {statuses} within {timeout:g} s: {j}")

    def files(self, sub: str) -> list[Path]:
        d = Path(self.settings.upload_dir) / sub
        return sorted(d.iterdir()) if d.is_dir() else []

    def close(self) -> None:
        self.web.stop()
        self.worker.stop()
        self.store.close()


def upload_settings(settings_factory, tmp_path, redis_url: str | None = None, **upload):
    """Settings for an `UploadDashboard`; without ``redis_url`` the live bus points at a port where
    nothing listens (uploads need none; the page then shows its "live view degraded" banner)."""
    overrides = {
        ("web", "host"): "127.0.0.1",
        ("web", "port"): free_port(),
        ("redis", "url"): redis_url or f"redis://127.0.0.1:{free_port()}/0",
        ("upload", "min_free_mb"): 0,
        ("coach", "enabled"): False,
    }
    for key, value in upload.items():
        overrides[("upload", key)] = value
    return settings_factory(overrides)
