"""Make sure the live bus is there: use the configured Redis, or start a private one on loopback.

On the appliance Redis runs as its own systemd service. On a laptop or in CI nothing may be
running; when the configured URL points at this machine and `redis-server` is installed,
`hiitpi serve` starts one as a child process (no persistence, loopback only) and stops it on exit.

The private one is a supervised part (``start``/``stop``/``alive``/``health``): the supervisor
starts it again on the same port when it dies. It runs in a session of its own, so Ctrl-C in the
terminal (SIGINT to the terminal's process group) does not reach it: the appliance stops it
last, after the session has been saved and the final state published. It still dies with the
appliance (``PR_SET_PDEATHSIG``, tied to the thread that started it: the main thread).

The private one always wants a password (``requirepass``), so another user of the machine cannot
drive the appliance through it (``XADD hiitpi:commands * action stop``): ``[redis] password``,
or one made on its first start and kept in ``<data_dir>/redis/password`` (mode 0600, in a 0700
folder). The password reaches redis-server in a 0600 config file, never on its command line
(where ``ps`` would show it). `redis_url_for` is the URL with the password for the other
commands (`hiitpi ask`, `serve --check`). A password is never logged (`hiitpi.redact`).
"""

from __future__ import annotations

import logging
import os
import secrets as _random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlsplit, urlunsplit

from hiitpi.errors import HiitpiError
from hiitpi.redact import redact_url

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD_FILE = "password"


def with_password(url: str, password: str | None) -> str:
    """``url`` carrying ``password`` (unchanged when there is none, or the URL has one already)."""
    if not password:
        return url
    parts = urlsplit(url)
    if parts.password or "password=" in parts.query:
        return url
    if parts.scheme == "unix":
        query = urlencode([*parse_qsl(parts.query), ("password", password)])
        return f"unix://{parts.netloc}{parts.path}?{query}"
    user = quote(parts.username or "", safe="")
    netloc = f"{user}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def private_password(workdir: Path, *, create: bool = True) -> str | None:
    """The private Redis's password, made once and kept in ``workdir/password`` (0600, folder 0700)."""
    path = Path(workdir) / PASSWORD_FILE
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    except OSError:
        return None  # not ours to read (another user's appliance)
    if not create:
        return None
    Path(workdir).mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(workdir, 0o700)
    password = _random.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, password.encode())
    finally:
        os.close(fd)
    return password


def redis_url_for(settings) -> str:
    """The live bus URL another command of this machine connects with: with ``[redis] password``,
    or the private Redis's own password when this user can read it."""
    r = settings.redis
    if r.password:
        return with_password(r.url, r.password)
    if urlparse(r.url).hostname in LOOPBACK:
        return with_password(r.url, private_password(settings.general.data_dir / "redis", create=False))
    return r.url


def ping(url: str, timeout: float = 1.0) -> str | None:
    """None if Redis at ``url`` answers, else the reason it does not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when hiitpi dies, even by SIGKILL (no orphan Redis)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def can_start_private(url: str) -> bool:
    """True when `hiitpi serve` could start its own redis-server for ``url``."""
    return urlparse(url).hostname in LOOPBACK and shutil.which("redis-server") is not None


class RedisStartError(HiitpiError, RuntimeError):
    """The live bus is not reachable and no private one could be started; the message says why."""


class LocalRedis:
    """A redis-server child process for the configured loopback URL; with ``password`` it wants
    that password, and `url` carries it."""

    name = "redis"

    def __init__(self, url: str, workdir: Path, *, password: str | None = None):
        self.url = with_password(url, password)
        self.workdir = workdir
        self.password = password
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    def _config_file(self) -> list[str]:
        """A 0600 config file holding the password (never on the command line); [] without one."""
        if not self.password:
            return []
        path = self.workdir / "redis.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, f'requirepass "{self.password}"\n'.encode())
        finally:
            os.close(fd)
        return [str(path)]

    def start(self) -> None:
        parsed = urlparse(self.url)
        exe = shutil.which("redis-server")
        if parsed.hostname not in LOOPBACK or exe is None:
            raise RedisStartError(
                f"Redis at {redact_url(self.url)} is not reachable"
                + ("" if exe else " and redis-server is not installed (sudo apt install redis-server)"),
                "start Redis, or point [redis] url / --redis-url at one that runs",
            )
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.workdir, 0o700)
        port = parsed.port or 6379
        self.proc = subprocess.Popen(
            [
                exe,
                *self._config_file(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C is ours to handle
        )
        deadline = time.monotonic() + 10
        while (reason := ping(self.url, 0.5)) is not None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(
                    f"could not start redis-server on port {port}: {reason}",
                    "is another program using the port? Set [redis] url / --redis-url to another one",
                )
            time.sleep(0.05)
        log.info(
            "started a private redis-server on 127.0.0.1:%s (pid %s%s)",
            port,
            self.proc.pid,
            ", password required" if self.password else "",
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            log.info("stopped the private redis-server (pid %s)", self.proc.pid)
        self.proc = None

    def alive(self) -> bool:
        if self.proc is None:
            return False
        code = self.proc.poll()
        if code is not None:
            self.exit_code = code
            return False
        return True

    def health(self):
        from hiitpi.health import PartHealth

        if self.proc is None:
            return PartHealth(False, "the private redis-server is not running")
        if not self.alive():
            how = (
                f"killed by signal {-self.exit_code}"
                if (self.exit_code or 0) < 0
                else f"exit code {self.exit_code}"
            )
            return PartHealth(False, f"the private redis-server (pid {self.proc.pid}) died ({how})")
        reason = ping(self.url, 0.5)
        data = {"pid": self.proc.pid}
        if reason is not None:
            return PartHealth(False, f"the private redis-server does not answer: {reason}", data)
        return PartHealth(True, f"private redis-server on {redact_url(self.url)} (pid {self.proc.pid})", data)


def ensure_redis(
    url: str, workdir: Path, *, password: str | None = None, private: bool = False
) -> LocalRedis | None:
    """Return a started `LocalRedis` if we had to start one (its `url` carries its password), None
    if Redis was already up at ``url`` (with ``password``, when given). With ``private`` (the
    appliance) the one it starts wants ``password`` or a password of its own (`private_password`)."""
    reason = ping(with_password(url, password))
    if reason is None:
        log.info("Redis at %s is up", redact_url(url))
        if private and not password and not urlsplit(url).password:
            log.warning(
                "Redis at %s wants no password: any program on its network can send the appliance "
                "commands; set [redis] password, or point [redis] url at a free port for a private one",
                redact_url(url),
            )
        return None
    if "auth" in reason.lower() or "password" in reason.lower():
        raise RedisStartError(
            f"Redis at {redact_url(url)} refused us: {reason}",
            "set [redis] password (or HIITPI_REDIS_PASSWORD) to its password",
        )
    log.info("Redis at %s not reachable (%s); starting a private one", redact_url(url), reason)
    if not password and urlsplit(url).password:
        from urllib.parse import unquote

        password = unquote(urlsplit(url).password)  # the URL's own: the private one wants that
    if private and not password:
        password = private_password(workdir)
    local = LocalRedis(url, workdir, password=password)
    local.start()
    return local
