"""One typed settings object: defaults → TOML file → environment (HIITPI_*) → flags.

Every section is a pydantic model with ``extra="forbid"``, so a misspelled key is an error that
names the file, the line and the keys that are allowed. Environment variables map onto fields by
path: ``HIITPI_POSE_MODEL`` sets ``[pose] model``, ``HIITPI_REDIS_URL`` sets ``[redis] url``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from hiitpi.errors import ErrorList
from hiitpi.tomlpos import TomlDocument, TomlSyntaxError, load_toml

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = Path("/etc/hiitpi/hiitpi.toml")
PACKAGE_ROOT = Path(__file__).resolve().parent
#: rules/ beside the package in a checkout; the installed copy otherwise.
DEFAULT_RULES_DIR = (
    PACKAGE_ROOT.parent / "rules" if (PACKAGE_ROOT.parent / "rules").is_dir() else PACKAGE_ROOT / "rules"
)
#: models/manifest.toml beside the package in a checkout; the installed copy otherwise.
DEFAULT_MANIFEST = (
    PACKAGE_ROOT.parent / "models" / "manifest.toml"
    if (PACKAGE_ROOT.parent / "models" / "manifest.toml").is_file()
    else PACKAGE_ROOT / "models" / "manifest.toml"
)


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "hiitpi"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GeneralSettings(Section):
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        title="Data folder",
        description="Where the database, downloaded models and secrets live.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", title="Log level", description="Logging threshold for the stderr log."
    )


class CaptureSettings(Section):
    source: str = Field(
        "auto",
        title="Frame source",
        description="'auto' (Pi camera, then /dev/video0), 'picamera', a V4L2 device "
        "('/dev/video0' or '0'), an rtsp:// URL, or a video file path.",
    )
    width: int = Field(640, ge=64, le=4096, title="Capture width", description="Pixels.")
    height: int = Field(480, ge=64, le=4096, title="Capture height", description="Pixels.")
    fps: float = Field(30.0, gt=0, le=120, title="Capture rate", description="Frames per second.")
    loop: bool = Field(False, title="Loop video files", description="Restart a file at its end.")
    paced: bool = Field(
        True,
        title="Pace video files",
        description="Play a file at its own frame rate (live demo) instead of as fast as possible.",
    )
    lores_width: int = Field(
        320,
        ge=64,
        le=1920,
        title="Inference stream width",
        description="Pi camera only: width of the small 'lores' stream the pose model reads (pixels).",
    )
    stall_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        title="Stall timeout",
        description="The watchdog restarts a source that delivers no frame for this long (seconds).",
    )


class SmoothingSettings(Section):
    enabled: bool = Field(True, title="Smoothing on", description="One Euro filter per keypoint.")
    min_cutoff: float = Field(
        1.7, gt=0, title="Min cutoff (Hz)", description="Lower = smoother at rest, more lag."
    )
    beta: float = Field(0.3, ge=0, title="Speed coefficient", description="Higher = less lag on fast moves.")
    d_cutoff: float = Field(1.0, gt=0, title="Derivative cutoff (Hz)", description="")


class PoseSettings(Section):
    model: str = Field(
        "movenet-lightning",
        title="Pose model",
        description="Backend name: movenet-lightning, movenet-thunder, posenet, blazepose-full.",
    )
    threads: int = Field(1, ge=1, le=16, title="CPU threads", description="TFLite interpreter threads.")
    device: Literal["auto", "cpu", "edgetpu"] = Field(
        "auto",
        title="Device",
        description="'edgetpu' requires a Coral; 'auto' uses it when present, else the CPU.",
    )
    fallback: Literal["none", "cpu"] = Field(
        "none",
        title="Fallback",
        description="With device='edgetpu': 'cpu' logs and falls back when the Coral is missing.",
    )
    min_score: float = Field(
        0.2, ge=0, le=1, title="Min pose score", description="Below this a frame has no person."
    )
    exposure: Literal["auto", "off"] = Field(
        "auto",
        title="Exposure",
        description="'auto': a dim picture is brightened before the pose model (its brightest "
        "percent up to 200 of 255, at most 4 times), as a camera's auto-exposure would; "
        "'off': the model sees the frames as they come.",
    )
    smoothing: SmoothingSettings = Field(default_factory=SmoothingSettings)
    options: dict[str, dict[str, bool | int | float | str]] = Field(
        default_factory=dict,
        title="Backend options",
        description="Per pose model, e.g. [pose.options.movenet-lightning] tracking = false; "
        "`hiitpi pose --list` shows each model's options.",
    )


class RefereeSettings(Section):
    rules_dir: Path = Field(
        DEFAULT_RULES_DIR, title="Rules folder", description="One TOML file per workout or program."
    )
    workout: str = Field("squat", title="Default workout", description="Rules name to start with.")
    pace_window_s: float = Field(
        20.0, gt=1, le=600, title="Pace window", description="Seconds of reps the pace is taken over."
    )
    counting: Literal["judge", "attempts"] = Field(
        "judge",
        title="Counting",
        description="judge: only full-range reps count, short ones are no-reps with a reason "
        "(a rep on its way back when the set ends counts); attempts: every attempted rep counts "
        "once back at its start, short ones are marked as faults. The page can choose per session.",
    )
    autostart: bool = Field(
        False,
        title="Start by itself",
        description="Start a session of the default workout for 'guest' as soon as `hiitpi serve` "
        "starts (an unattended video file). Off: nothing starts until someone presses Start.",
    )


def check_redis_url(url: str) -> str:
    """``url`` if it is a Redis URL (redis://host:port/db, rediss://…, unix:///path); else ValueError."""
    from urllib.parse import urlsplit

    example = "e.g. redis://127.0.0.1:6379/0 or unix:///run/hiitpi/redis.sock"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a Redis URL ({exc}); {example}") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"not a Redis URL: it must start with redis://, rediss:// or unix://; {example}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"a unix:// Redis URL needs the socket's path; {example}")
        return url
    if not parts.hostname:
        raise ValueError(f"the Redis URL names no host; {example}")
    if port == 0:
        raise ValueError(f"port 0 is not a Redis port; {example}")
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        raise ValueError(f"the database after the last / must be a number, not {db!r}; {example}")
    return url


def check_redis_password(value: str) -> str:
    """At most 128 characters, without spaces, quotes or backslashes (it goes into redis.conf as is)."""
    if len(value) > 128:
        raise ValueError("use at most 128 characters")
    if any(ch.isspace() or ch in '"\\' or not ch.isprintable() for ch in value):
        raise ValueError("use no spaces, quotes or backslashes")
    return value


class RedisSettings(Section):
    url: Annotated[str, AfterValidator(check_redis_url)] = Field(
        "redis://127.0.0.1:6379/0",
        title="Redis URL",
        description="The live bus: redis://host:port/db, rediss:// (TLS) or unix:///path/to/socket.",
    )
    stream_maxlen: int = Field(
        5000, ge=100, le=1_000_000, title="Stream cap", description="Approximate entries kept."
    )
    prefix: str = Field("hiitpi", title="Key prefix", description="Namespace for every key.")
    password: Annotated[str, AfterValidator(check_redis_password)] = Field(
        "",
        title="Redis password",
        description="AUTH password (also HIITPI_REDIS_PASSWORD). The private Redis `serve` starts always "
        "wants one: this, or one it makes and keeps in <data_dir>/redis/password. Never shown.",
    )
    sample_fps: float = Field(
        10.0,
        ge=0,
        le=120,
        title="Sample rate",
        description="Live samples per second on the bus (twice the page's 5 chart points a "
        "second); events and state changes are written at once whatever it is; 0 = every frame.",
    )


class WebSettings(Section):
    host: str = Field("0.0.0.0", title="Listen address", description="0.0.0.0 serves the LAN.")
    port: int = Field(8050, ge=1, le=65535, title="Port", description="HTTP port.")
    threads: int = Field(
        8, ge=1, le=64, title="Page threads", description="Threads serving the pages (the streams need none)."
    )
    video_full_viewers: int = Field(
        20, ge=0, le=500, title="Full-rate video viewers", description="Viewers who get every video frame."
    )
    video_max_viewers: int = Field(
        50,
        ge=0,
        le=1000,
        title="Video viewers",
        description="Past the full-rate ones, viewers get 1 frame/s; past this many, a still picture.",
    )
    feed_max_viewers: int = Field(
        200, ge=1, le=2000, title="Live feed viewers", description="Open live pages at once; more get 503."
    )
    max_connections: int = Field(
        400,
        ge=16,
        le=10000,
        title="Connections",
        description="Open connections at once; past it the longest idle one is closed for a new one.",
    )
    max_connections_per_client: int = Field(
        32, ge=4, le=1000, title="Connections per address", description="Open connections from one address."
    )
    head_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        title="Request head time-out",
        description="A connection that has not sent a whole request head in this many seconds is closed.",
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=1 << 30,
        title="Request body cap",
        description="Longest request body (bytes) a route takes unless it declares its own (uploads).",
    )
    max_headers: int = Field(
        100, ge=16, le=1000, title="Request headers", description="Most headers a request may have."
    )
    max_header_bytes: int = Field(
        16384,
        ge=4096,
        le=1 << 20,
        title="Request head size",
        description="Longest request line plus headers (bytes).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        title="Other host names",
        description="Names the dashboard also answers to (besides localhost, this machine's name and "
        "name.local, and its IP addresses), e.g. a DNS name on your router.",
    )
    pairing_code_minutes: float = Field(
        30.0,
        gt=0,
        le=7 * 24 * 60,
        title="Pairing code lifetime",
        description="A code made on the device (first start, `hiitpi pair --show`) pairs one phone within this.",
    )
    invite_minutes: float = Field(
        10.0,
        gt=0,
        le=24 * 60,
        title="Invite lifetime",
        description="An invite code a paired phone makes for another pairs one phone within this.",
    )
    privacy_mode: bool = Field(
        False, title="Privacy mode", description="Stream only the skeleton, never the camera image."
    )
    stream_fps: float = Field(15.0, gt=0, le=60, title="Stream rate", description="MJPEG frames/s cap.")
    stream_width: int = Field(640, ge=64, le=1920, title="Stream width", description="Pixels cap.")
    jpeg_quality: int = Field(70, ge=10, le=95, title="JPEG quality", description="10..95.")


class StoreSettings(Section):
    database: Path | None = Field(
        None,
        title="Database file",
        description="SQLite file; default <data_dir>/hiitpi.db.",
    )
    flush_interval_s: float = Field(
        0.5,
        gt=0,
        le=5,
        title="Write batch interval",
        description="Reps are written to disk in batches at most this many seconds after they happen.",
    )
    flush_max_events: int = Field(
        64,
        ge=1,
        le=10_000,
        title="Write batch size",
        description="A batch is written early at this many events.",
    )
    busy_timeout_ms: int = Field(
        5000, ge=0, le=600_000, title="Busy timeout", description="How long a writer waits for a lock (ms)."
    )
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "FULL",
        title="Sync mode",
        description="FULL survives power loss (an fsync per batch); NORMAL survives a crash only.",
    )
    durable_reps: bool = Field(
        True,
        title="Durable reps",
        description="Commit each rep to disk before it is shown (samples stay batched); never waits on a "
        "full disk.",
    )
    durable_timeout_s: float = Field(
        1.0,
        gt=0,
        le=10,
        title="Rep commit time-out",
        description="The longest the analysis waits for a rep's commit; past it the disk is deemed slow.",
    )


class CoachSettings(Section):
    enabled: bool = Field(True, title="Coach on", description="Write a summary after each session.")
    model_path: Path | None = Field(
        None,
        title="GGUF model",
        description="Default: the manifest's tinyllama file in <data_dir>/models.",
    )
    threads: int = Field(2, ge=1, le=16, title="Threads", description="llama.cpp threads.")
    max_tokens: int = Field(220, ge=16, le=2048, title="Max tokens", description="Summary length cap.")
    timeout_s: float = Field(
        120.0, gt=0, title="Time limit", description="Past this the template summary is used."
    )
    nice: int = Field(
        10,
        ge=0,
        le=19,
        title="Niceness",
        description="CPU priority of the coach's thread (summaries and chat; 0 = normal, 19 = lowest) so the engine keeps the CPU.",
    )
    keep_loaded_s: float = Field(
        120.0,
        ge=0,
        le=3600,
        title="Keep the model loaded",
        description="Seconds the model stays in memory after its last summary or answer (follow-up "
        "questions skip the load); 0 frees it at once. It is freed when a session starts on a device "
        "that refuses chats during sessions.",
    )
    chat_max_tokens: int = Field(
        160, ge=16, le=1024, title="Chat answer length", description="Tokens an answer may take."
    )
    chat_timeout_s: float = Field(
        90.0,
        gt=0,
        title="Chat time limit",
        description="Past this (both attempts) the plain answer built from the facts is used.",
    )
    chat_during_session: Literal["auto", "refuse", "allow"] = Field(
        "auto",
        title="Chat during a session",
        description="'refuse': 'the coach is busy' while a session runs; 'allow': answer, niced; "
        "'auto': refuse on a Raspberry Pi 4 or older, allow on a Pi 5 and other machines.",
    )


class UploadSettings(Section):
    enabled: bool = Field(
        True, title="Uploads on", description="Phones may send a recorded workout to be refereed."
    )
    dir: Path | None = Field(
        None,
        title="Upload folder",
        description="Where sent videos wait for analysis and annotated videos are kept; default "
        "<data_dir>/uploads.",
    )
    max_mb: int = Field(
        1500, ge=1, le=100_000, title="Largest video", description="Megabytes one sent video may have."
    )
    max_minutes: float = Field(
        20.0, gt=0, le=240, title="Longest video", description="Minutes one sent video may last."
    )
    min_free_mb: int = Field(
        500,
        ge=0,
        le=1_000_000,
        title="Disk space kept free",
        description="An upload is refused when it (and its annotated video) would leave less free space "
        "than this on the data disk (megabytes).",
    )
    max_queued: int = Field(
        10, ge=1, le=200, title="Queue length", description="Uploads waiting or being analysed at once."
    )
    keep_video: bool = Field(
        True,
        title="Keep the annotated video",
        description="The upload form's default: keep the video with the skeleton and the count drawn on it "
        "(the sent file itself is always deleted after the analysis).",
    )
    retention_days: int = Field(
        30,
        ge=0,
        le=36500,
        title="Keep annotated videos",
        description="Days an annotated video is kept (0: until the space below is needed).",
    )
    videos_max_mb: int = Field(
        5000,
        ge=10,
        le=1_000_000,
        title="Space for annotated videos",
        description="Megabytes all kept annotated videos may take; past it the oldest are deleted.",
    )
    video_max_side: int = Field(
        1280,
        ge=160,
        le=3840,
        title="Annotated video size",
        description="Longer side of the annotated video in pixels (a 4K video is drawn on at this size).",
    )
    nice: int = Field(
        15,
        ge=0,
        le=19,
        title="Niceness",
        description="CPU priority of the analysis of sent videos (0 = normal, 19 = lowest): a live session "
        "always wins the CPU.",
    )
    during_session: Literal["pause", "nice"] = Field(
        "pause",
        title="During a live session",
        description="'pause': the analysis of a sent video waits while someone trains in front of the "
        "camera; 'nice': it goes on at its lower priority, which slows the live count on a busy "
        "device (measured: README, 'Send a workout from the phone').",
    )
    encoder: Literal["auto", "pyav", "ffmpeg"] = Field(
        "auto",
        title="Video encoder",
        description="H.264 encoder of the annotated video: PyAV's libx264, the ffmpeg program, or 'auto' "
        "(PyAV first).",
    )


class ModelSettings(Section):
    dir: Path | None = Field(
        None, title="Model folder", description="Where model files live; default <data_dir>/models."
    )
    mirror: Path | None = Field(
        None,
        title="Mirror folder",
        description="A folder holding model files by their manifest path (HIITPI_MODEL_MIRROR).",
    )
    manifest: Path = Field(DEFAULT_MANIFEST, title="Manifest", description="models/manifest.toml.")


class Settings(Section):
    general: GeneralSettings = Field(default_factory=GeneralSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    pose: PoseSettings = Field(default_factory=PoseSettings)
    referee: RefereeSettings = Field(default_factory=RefereeSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    coach: CoachSettings = Field(default_factory=CoachSettings)
    upload: UploadSettings = Field(default_factory=UploadSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    #: Where each set value came from ('file:line', 'environment NAME', 'command line'), by key path.
    _origins: dict[tuple[str, ...], str] = PrivateAttr(default_factory=dict)

    def __eq__(self, other: object) -> bool:  # where a value came from is not part of the value
        if not isinstance(other, Settings):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def origin_of(self, path: tuple[str, ...]) -> str:
        """Where the value at ``path`` was set, for error messages ('default' when it was not)."""
        return self._origins.get(tuple(path), "default settings")

    @property
    def models_dir(self) -> Path:
        return self.models.dir or self.general.data_dir / "models"

    @property
    def upload_dir(self) -> Path:
        return self.upload.dir or self.general.data_dir / "uploads"

    @property
    def database_path(self) -> Path:
        return self.store.database or self.general.data_dir / "hiitpi.db"


class ConfigError(ErrorList, ValueError):
    """A config that cannot be used; ``errors`` holds one line per problem."""


#: Environment names kept for convenience beside the path-derived ones.
ENV_ALIASES = {
    "HIITPI_MODEL_MIRROR": ("models", "mirror"),
    "HIITPI_DATA_DIR": ("general", "data_dir"),
}
#: HIITPI_* variables that are not settings (read by tests and scripts).
ENV_NOT_SETTINGS = {"HIITPI_CONFIG", "HIITPI_DATA", "HIITPI_TEST_ARTIFACTS"}


def _field_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_field_paths(ann, path))
        else:
            out["HIITPI_" + "_".join(path).upper()] = path
    return out


ENV_FIELDS = {**_field_paths(Settings), **ENV_ALIASES}


def _set_path(data: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def _format_errors(exc: ValidationError, doc: TomlDocument | None, origin: dict) -> list[str]:
    """Each error as 'where: key: what', where is the file:line, the environment variable or the flag."""
    from hiitpi.schema import describe, doc_path

    errors = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if loc[:2] in SECRET_FIELDS:
            err = {k: v for k, v in err.items() if k != "input"}  # never echo a password back
        path = doc_path(doc.data, loc) if doc is not None else loc
        src = origin.get(loc)
        if src:
            where = src
        elif doc is not None and (loc in doc.lines or loc[:-1] in doc.lines):
            where = doc.where(loc)
        else:
            where = "settings"
        errors.append(f"{where}: {describe(err, Settings, path or loc)}")
    return errors


def load_settings(
    path: str | Path | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, ...], Any] | None = None,
) -> Settings:
    """Build the effective settings.

    ``path`` is the TOML file (default: $HIITPI_CONFIG, then /etc/hiitpi/hiitpi.toml if it
    exists). ``overrides`` are command-line flags as {("pose", "model"): "posenet"}; ``None``
    values are ignored. Raises `ConfigError` listing every problem with file/line/key.
    """
    env = dict(os.environ if env is None else env)
    data: dict = {}
    origin: dict[tuple, str] = {}
    doc: TomlDocument | None = None
    if path is None:
        path = env.get("HIITPI_CONFIG") or (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None)
    if path is not None:
        try:
            doc = load_toml(path)
        except TomlSyntaxError as exc:
            raise ConfigError([str(exc)]) from exc
        data = doc.data
    for name, value in sorted(env.items()):
        if not name.startswith("HIITPI_") or name in ENV_NOT_SETTINGS:
            continue
        field_path = ENV_FIELDS.get(name)
        if field_path is None:
            log.warning("ignoring unknown environment variable %s", name)
            continue
        _set_path(data, field_path, value)
        origin[field_path] = f"environment {name}"
    for field_path, value in (overrides or {}).items():
        if value is None:
            continue
        _set_path(data, field_path, value)
        origin[field_path] = "command line"
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, doc, origin)) from exc
    if doc is not None:
        for key in doc.lines:
            if all(isinstance(k, str) for k in key):
                settings._origins[key] = doc.where(key)
    settings._origins.update(origin)
    return settings


#: Values `config show` never prints: (section, key) → how to mask them.
SECRET_FIELDS = {("redis", "url"): "url", ("redis", "password"): "value"}


def settings_to_toml(settings: Settings) -> str:
    """The effective settings as a TOML document (what `hiitpi config show` prints), secrets
    masked (`SECRET_FIELDS`: a password in a URL, the Redis password)."""
    from hiitpi.redact import MASK, redact_url

    lines: list[str] = []

    def shown(table: str, name: str, value: Any) -> Any:
        how = SECRET_FIELDS.get((table, name))
        if how == "url":
            return redact_url(str(value))
        if how == "value":
            return MASK if value else value
        return value

    def fmt(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, list | tuple):
            return "[" + ", ".join(fmt(v) for v in value) + "]"
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def emit(model: BaseModel | dict, table: str) -> None:
        scalars, tables = [], []
        fields = model if isinstance(model, dict) else dict(model)
        for name, value in fields.items():
            if isinstance(value, BaseModel):
                tables.append((name, value))
            elif isinstance(value, dict):  # a table of tables ([pose.options.<model>])
                tables.extend((f"{name}.{key}", sub) for key, sub in value.items())
            elif value is not None:
                scalars.append(f"{name} = {fmt(shown(table, name, value))}")
            else:
                scalars.append(f"# {name} = (unset)")
        if table and scalars:
            lines.append(f"[{table}]")
        lines.extend(scalars)
        if scalars:
            lines.append("")
        for name, sub in tables:
            emit(sub, f"{table}.{name}" if table else name)

    emit(settings, "")
    return "\n".join(lines).rstrip() + "\n"
