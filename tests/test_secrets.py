"""Nobody next door can drive it, and nothing secret leaks: `hiitpi serve` started from a shell
with the usual umask 022 (not systemd's 0077), its private redis-server, a real clip.

- Another local user's ``XADD hiitpi:commands * action stop`` is refused (the private Redis wants
  a password) and the session goes on; with the password the same command works.
- The password is not in the log, not on redis-server's command line, not in ``serve --check``.
- Every file in the data folder is 0600 and every folder 0700 (database, WAL, secrets, Redis's).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port
from tests.test_faults_process import WORKOUT, Serve, rep_rows

pytestmark = pytest.mark.slow


@pytest.fixture()
def clip(shared_data):
    return shared_data / "clips" / "jumping_jack" / "ahmedlila_jj_12.mp4"


def test_private_redis_wants_a_password_and_data_files_are_private(tmp_path, model_mirror, clip):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing there: serve starts its own
    serve = Serve(tmp_path, model_mirror, url, clip)
    old = os.umask(0o022)  # a shell's umask, inherited by the child
    try:
        serve.start()
    finally:
        os.umask(old)
    try:
        serve.wait_for(lambda: "HIIT PI is running" in serve.text(), 120, "the appliance")
        serve.wait_for(lambda: len([r for r in rep_rows(serve.db) if r[3]]) >= 2, 60, "2 reps on disk")
        neighbour = redis.Redis.from_url(url, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            neighbour.xadd("hiitpi:commands", {"action": "stop", "sent": repr(time.time())})
        with pytest.raises(redis.AuthenticationError):
            neighbour.hgetall("hiitpi:state")
        password = (serve.data / "redis" / "password").read_text().strip()
        owner = redis.Redis.from_url(url, password=password, decode_responses=True, socket_timeout=2)
        time.sleep(1.0)
        assert owner.hget("hiitpi:state", "running") == "1"  # the neighbour's stop did nothing
        pid = int(owner.info("server")["process_id"])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert password not in argv  # it is in a 0600 config file, never on the command line
        check = subprocess.run(
            [
                sys.executable,
                "-m",
                "hiitpi",
                "serve",
                "--check",
                "--redis-url",
                url,
                "--port",
                str(serve.port),
            ],
            env=serve.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert password not in check.stdout + check.stderr
        assert f"{url} answers" in check.stdout + check.stderr, check.stderr  # the same user knows it

        for folder, dirs, files in os.walk(serve.data):
            for d in dirs:
                mode = stat.S_IMODE(os.stat(os.path.join(folder, d)).st_mode)
                assert mode & 0o077 == 0, (os.path.join(folder, d), oct(mode))
            for f in files:
                path = os.path.join(folder, f)
                if os.path.islink(path):
                    continue
                mode = stat.S_IMODE(os.stat(path).st_mode)
                assert mode & 0o077 == 0, (path, oct(mode))
        assert stat.S_IMODE(serve.data.stat().st_mode) == 0o700
        names = {p.name for p in serve.data.rglob("*")}
        assert {"hiitpi.db", "hiitpi.db-wal", "secrets.json", "password", "redis.conf"} <= names, names

        owner.xadd("hiitpi:commands", {"action": "stop", "sent": repr(time.time())})  # with it: works
        serve.wait_for(lambda: owner.hget("hiitpi:state", "running") == "0", 10, "the stop")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 0
    finally:
        serve.kill()
    log = serve.text()
    assert password not in log
    assert "password required" in log
    assert WORKOUT


def test_a_password_in_the_redis_url_is_never_logged(tmp_path, model_mirror, clip):
    """The issue: a Redis password in the URL was written to the log at every start."""
    import requests

    from hiitpi.pairing import create_secrets

    secret = "hunter2-" + os.urandom(4).hex()
    url = f"redis://:{secret}@127.0.0.1:{free_port()}/0"
    serve = Serve(tmp_path, model_mirror, url, clip)
    _, code = create_secrets(serve.data)
    serve.start()
    try:
        serve.wait_for(lambda: "HIIT PI is running" in serve.text(), 120, "the appliance")
        phone = requests.Session()
        base = f"http://127.0.0.1:{serve.port}"
        assert phone.post(base + "/login", data={"code": code}, allow_redirects=False).status_code == 303
        health = phone.get(base + "/healthz", timeout=5).text
        assert "redis" in health and secret not in health
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url.replace(secret, "wrong")).ping()
        assert redis.Redis.from_url(url).ping()  # the private one wants the URL's own password
        # an outage: the live bus says it is unreachable, then reconnected, with the URL masked
        os.kill(int(redis.Redis.from_url(url).info("server")["process_id"]), signal.SIGKILL)
        serve.wait_for(lambda: "reconnected after" in serve.text(), 60, "the live bus to reconnect")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 0
    finally:
        serve.kill()
    log = serve.text()
    assert secret not in log and ":***@127.0.0.1" in log
    assert "unreachable" in log and "reconnected after" in log
