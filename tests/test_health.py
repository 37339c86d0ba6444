"""/healthz against a real Redis and a real SQLite file; minimal for strangers, full when paired."""

from __future__ import annotations

import sqlite3

from flask import Flask

from hiitpi.config import load_settings
from hiitpi.pairing import create_secrets
from hiitpi.web.auth import install_auth
from hiitpi.web.health import (
    HealthMonitor,
    PartHealth,
    banner_text,
    database_probe,
    default_monitor,
    frame_age_probe,
    register_health,
)
from tests.conftest import free_port


def _settings(tmp_path, redis_url):
    return load_settings(
        None,
        env={},
        overrides={("general", "data_dir"): str(tmp_path / "data"), ("redis", "url"): redis_url},
    )


def _make_db(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def test_everything_ok_with_real_redis_and_database(tmp_path, redis_url):
    settings = _settings(tmp_path, redis_url)
    _make_db(settings.database_path)
    report = default_monitor(settings).report()
    assert report["status"] == "ok", report
    assert report["parts"]["redis"]["detail"] == "connected"
    assert report["parts"]["database"]["free_mb"] > 0
    assert banner_text(report) is None


def test_redis_down_is_degraded_with_the_reason(tmp_path):
    settings = _settings(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    _make_db(settings.database_path)
    report = default_monitor(settings).report()
    assert report["status"] == "degraded" and report["degraded"] == ["redis"]
    assert "unreachable" in report["parts"]["redis"]["detail"]
    assert banner_text(report).startswith("Live view degraded")


def test_damaged_database_and_full_disk_are_reported(tmp_path):
    db = tmp_path / "h.db"
    db.write_bytes(b"this is not a database" * 100)
    part = database_probe(db)()
    assert not part.ok and "not a database" in part.detail
    _make_db(tmp_path / "ok.db")
    full = database_probe(tmp_path / "ok.db", min_free_bytes=1 << 62)()
    assert not full.ok and "free some space" in full.detail


def test_a_probe_that_raises_is_a_failed_part_not_a_crash():
    monitor = HealthMonitor(cache_s=0)

    def broken():
        raise RuntimeError("engine gone")

    monitor.register("engine", broken)
    monitor.register("pose", lambda: PartHealth(True, "movenet-lightning", {"delegate": "cpu"}))
    report = monitor.report()
    assert report["degraded"] == ["engine"]
    assert "engine gone" in report["parts"]["engine"]["detail"]
    assert report["parts"]["pose"]["delegate"] == "cpu"


def test_report_is_cached_briefly():
    calls = []
    now = [0.0]
    monitor = HealthMonitor(cache_s=1.0, clock=lambda: now[0])
    monitor.register("x", lambda: calls.append(1) or PartHealth(True, ""))
    monitor.report()
    monitor.report()
    assert len(calls) == 1
    now[0] = 1.5
    monitor.report()
    assert len(calls) == 2


def test_frame_age():
    import time

    assert not frame_age_probe(lambda: None, max_age_s=2)().ok
    assert frame_age_probe(lambda: time.monotonic() - 0.1, max_age_s=2)().ok
    old = frame_age_probe(lambda: time.monotonic() - 10, max_age_s=2)()
    assert not old.ok and "10." in old.detail


def test_route_minimal_for_strangers_full_when_paired(tmp_path, redis_url):
    settings = _settings(tmp_path, redis_url)
    _make_db(settings.database_path)
    secrets, code = create_secrets(settings.general.data_dir)
    app = Flask("t")
    install_auth(app, settings, pairing=secrets)
    monitor = default_monitor(settings)
    register_health(app, monitor)
    c = app.test_client()
    r = c.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "degraded": []}
    c.post("/login", data={"code": code})
    full = c.get("/healthz").get_json()
    assert set(full["parts"]) == {"redis", "database"}
    assert str(settings.database_path) in full["parts"]["database"]["detail"]


def test_route_on_bare_app_without_auth(tmp_path, redis_url):
    app = Flask("bare")
    monitor = HealthMonitor()
    monitor.register("redis", lambda: PartHealth(False, "down"))
    register_health(app, monitor)
    assert app.test_client().get("/healthz").get_json() == {"status": "degraded", "degraded": ["redis"]}
