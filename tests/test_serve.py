"""`hiitpi serve`: starts, loads config, connects to Redis (or starts a private one), stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import redis

from tests.conftest import free_port


def _env(tmp_path, model_mirror) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIITPI_")}
    env.update(HIITPI_DATA_DIR=str(tmp_path / "data"), HIITPI_MODEL_MIRROR=str(model_mirror))
    return env


def test_serve_check_reports_every_part(tmp_path, model_mirror, redis_url):
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "serve", "--check", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        env=_env(tmp_path, model_mirror),
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    for part in ("model movenet-lightning", "tflite runtime", "redis", "database", "camera"):
        assert f"status: {part}" in res.stderr
    assert "FAIL" not in res.stderr


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


def test_serve_starts_private_redis_and_stops_on_sigterm(tmp_path, model_mirror):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hiitpi",
            "serve",
            "--redis-url",
            url,
            "--source",
            str(tmp_path / "none.mp4"),
            "--port",
            str(free_port()),
            "--host",
            "127.0.0.1",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path, model_mirror),
    )
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "private redis never came up"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        err = proc.stderr.read()
        assert "started a private redis-server" in err and "received SIGTERM" in err
    finally:
        if proc.poll() is None:
            proc.kill()
        client.close()
    # The private Redis went away with the appliance.
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        raise AssertionError("private redis-server still running after stop")
    except redis.ConnectionError:
        pass
