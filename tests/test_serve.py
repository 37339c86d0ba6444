"""`hiitpi serve`: starts, loads config, connects to Redis (or starts a private one), stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from tests.conftest import free_port


def _env(tmp_path, model_mirror) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIITPI_")}
    env.update(HIITPI_DATA_DIR=str(tmp_path / "data"), HIITPI_MODEL_MIRROR=str(model_mirror))
    return env


def _serve_clip(tmp_path, model_mirror, shared_data, web_port: int, stderr) -> tuple[str, subprocess.Popen]:
    """`hiitpi serve` on a looping squat clip with its own private Redis: (redis url, process)."""
    url = f"redis://:test-pw@127.0.0.1:{free_port()}/0"  # the private one wants a password: this one
    clip = shared_data / "clips/squat/calimiro_squat_19.mp4"
    cmd = [sys.executable, "-m", "hiitpi", "serve", "--redis-url", url, "--source", str(clip), "--loop",
           "--workout", "squat", "--host", "127.0.0.1", "--port", str(web_port)]  # fmt: skip
    return url, subprocess.Popen(cmd, stderr=stderr, text=True, env=_env(tmp_path, model_mirror))


def _check(tmp_path, model_mirror, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hiitpi", "serve", "--check", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, model_mirror),
        timeout=60,
    )


def _line(res: subprocess.CompletedProcess, part: str) -> str:
    found = [ln for ln in res.stderr.splitlines() if re.match(rf"status: {re.escape(part)}\s", ln)]
    assert len(found) == 1, res.stderr
    return found[0]


def test_serve_check_reports_every_part(tmp_path, model_mirror, redis_url, shared_data):
    clip = shared_data / "clips/squat/calimiro_squat_19.mp4"
    port = str(free_port())
    res = _check(tmp_path, model_mirror, "--redis-url", redis_url, "--source", str(clip), "--port", port)
    assert res.returncode == 0, res.stderr
    for part in ("model movenet-lightning", "tflite runtime", "redis", "database", "coach", "pairing"):
        assert " ok " in _line(res, part)
    assert "a 1280×720 frame decoded" in _line(res, "video file")  # opened and decoded, not just found
    assert f":{port} is free" in _line(res, "dashboard port")
    assert f"{redis_url} answers" in _line(res, "redis")
    assert "template summaries, plain chat answers" in _line(res, "coach")  # no LLM here: not a failure
    assert "FAIL" not in res.stderr and "Traceback" not in res.stderr


def test_serve_check_fails_for_what_serve_could_not_use(tmp_path, model_mirror, shared_data):
    """No camera for 'auto', the port taken by another program, a broken file: FAIL, exit 1."""
    import socket

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        redis_port = free_port()
        res = _check(
            tmp_path, model_mirror, "--source", "auto", "--host", "127.0.0.1", "--port", port,
            "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
        )  # fmt: skip
        bad = _check(tmp_path, model_mirror, "--source", str(broken), "--port", str(free_port()))
    assert res.returncode == 1
    assert "FAIL" in _line(res, "camera") and "no camera found" in _line(res, "camera")
    port_line = _line(res, "dashboard port")
    assert "FAIL" in port_line and "the port is in use" in port_line and "--port" in port_line
    # nothing answers there, but a private redis-server can start: not a failure
    assert f"serve will start a private redis-server on port {redis_port}" in _line(res, "redis")
    assert bad.returncode == 1 and "FAIL" in _line(bad, "video file"), bad.stderr
    assert "Traceback" not in res.stderr + bad.stderr


def test_serve_check_fails_without_model(tmp_path, redis_url):
    env = _env(tmp_path, tmp_path / "no-mirror")
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "serve", "--check", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 1
    assert "hiitpi models fetch movenet-lightning" in res.stderr


def test_serve_runs_the_whole_appliance_on_a_clip(tmp_path, model_mirror, shared_data):
    """One process: private Redis, store, engine, dashboard; state in Redis; nothing starts by
    itself, a start command does; SIGTERM stops it all."""
    from hiitpi.live.contract import LiveKeys
    from hiitpi.live.reader import LiveReader

    web_port = free_port()
    url, proc = _serve_clip(tmp_path, model_mirror, shared_data, web_port, stderr=subprocess.PIPE)
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        deadline = time.monotonic() + 90
        state: dict = {}
        while time.monotonic() < deadline:  # the engine analyses frames: no session has started
            assert proc.poll() is None, proc.stderr.read()
            try:
                state = client.hgetall("hiitpi:state")
            except redis.ConnectionError:
                state = {}
            if float(state.get("fps") or 0) > 0:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        assert client.hget("hiitpi:state", "running") == "0" and not client.hget("hiitpi:state", "session")
        reader = LiveReader(url, LiveKeys("hiitpi"))
        answer = reader.wait_command(reader.send_command("start", player="Ana", workout="squat"), 10)
        assert answer is not None and answer[0], answer
        assert answer[1] == "Started Squat for Ana (session 1).", answer
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            try:
                state = client.hgetall("hiitpi:state")
            except redis.ConnectionError:
                state = {}
            if (
                state.get("running") == "1"
                and state.get("workout") == "squat"
                and float(state.get("elapsed", 0)) > 1
            ):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"engine never published a running squat session: {state}")
        # The dashboard binds a moment after the engine publishes: wait for it.
        while True:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "dashboard never answered /healthz"
                time.sleep(0.2)
        assert health.status == 200
        # `serve --check` beside the running appliance tells the truth about it
        clip = shared_data / "clips/squat/calimiro_squat_19.mp4"
        check = _check(
            tmp_path, model_mirror, "--redis-url", url, "--source", str(clip),
            "--host", "127.0.0.1", "--port", str(web_port),
        )  # fmt: skip
        assert check.returncode == 0, check.stderr
        assert f"127.0.0.1:{web_port}: held by this appliance (pid {proc.pid})" in _line(
            check, "dashboard port"
        )
        assert f"answers; in use by this appliance (pid {proc.pid})" in _line(check, "redis")
        # a file is opened and decoded whatever runs (it is not the appliance's own clip here)
        assert "calimiro_squat_19.mp4: a " in _line(check, "video file") and "frame decoded" in _line(
            check, "video file"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        err = proc.stderr.read()
        assert "started a private redis-server" in err and "received SIGTERM" in err
        assert "stopping history store" in err
        # the first start's pairing code is shown once the dashboard listens, not before
        assert err.index("dashboard on http://127.0.0.1") < err.index("HIIT PI pairing code")
    finally:
        if proc.poll() is None:
            proc.kill()
        client.close()
    # The private Redis went away with the appliance; the session is in the history database.
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    db = sqlite3.connect(tmp_path / "data" / "hiitpi.db")
    (status,) = db.execute("SELECT status FROM sessions").fetchone()
    assert status == "done"


def test_private_redis_dies_with_a_killed_appliance(tmp_path, model_mirror, shared_data):
    """SIGKILL leaves no orphan redis-server behind (it would hold the port and the memory)."""
    url, proc = _serve_clip(tmp_path, model_mirror, shared_data, free_port(), stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "private redis never came up"
                time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the appliance stopped by itself"
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
            except redis.ConnectionError:
                break
            assert time.monotonic() < deadline, "redis-server outlived the killed appliance"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        client.close()


def test_serve_with_missing_video_says_so(tmp_path, model_mirror, redis_url):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hiitpi",
            "serve",
            "--redis-url",
            redis_url,
            "--source",
            str(tmp_path / "none.mp4"),
            "--port",
            str(free_port()),
            "--host",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path, model_mirror),
        timeout=120,
    )
    assert res.returncode == 2  # bad input: the named file is not there, found before anything starts
    assert "capture.source: no video file" in res.stderr and "none.mp4" in res.stderr
    assert "Traceback" not in res.stderr
