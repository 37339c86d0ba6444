"""`hiitpi bench pipeline --json`: the output contract, on a real clip and a real redis-server."""

from __future__ import annotations

import json

import pytest

from hiitpi.cli import main

pytestmark = pytest.mark.slow


def test_bench_pipeline_json_contract(shared_data, model_mirror, redis_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path))
    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    code = main(
        [
            "--log-level", "WARNING", "bench", "pipeline", "--source", str(clip), "--workout", "jumping_jack",
            "--redis-url", redis_url, "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("fps", "frames", "dropped", "cpu_cores_busy", "stage_median_ms", "frame_to_redis_ms"):
        assert key in out
    assert out["frames"] == 126 and out["dropped"] == 0  # unpaced: every frame, none lost
    assert out["fps"] > 0 and 0 < out["cpu_cores_busy"] <= 2.5
    assert set(out["stage_median_ms"]) >= {"pose", "smooth", "referee", "publish"}
    assert out["frame_to_redis_ms"]["median"] <= out["frame_to_redis_ms"]["p95"]
    assert out["reps"] == out["redis_state_reps"]
    # every thread's CPU per frame, the Redis server's, and the ratio to a bare invoke of the same model
    by_thread = out["cpu_ms_per_frame_by_thread"]
    assert (
        by_thread["analysis"] > 0 and "redis server" in by_thread and "capture" not in by_thread
    )  # a file: inline
    assert out["all_cpu_ms_per_frame"] == pytest.approx(sum(by_thread.values()), abs=0.01)
    assert out["bare_invoke"]["cpu_ms"] > 0 and len(out["bare_invoke"]["runs"]) == 2
    assert out["cpu_to_invoke"] == pytest.approx(
        out["all_cpu_ms_per_frame"] / out["bare_invoke"]["cpu_ms"], rel=0.01
    )
    assert out["cpu_to_invoke"] > 1  # the model is not all there is
    # the bench cleans up after itself
    import redis

    assert not redis.Redis.from_url(redis_url).keys("hiitpi:bench*")


def test_bench_pipeline_missing_clip(tmp_path, capsys):
    assert main(["bench", "pipeline", "--source", str(tmp_path / "none.mp4")]) == 2
    assert "is not a video file" in capsys.readouterr().err
