"""`hiitpi bench pipeline --json`: the output contract, on a real clip and a real redis-server."""

from __future__ import annotations

import json
import tempfile

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
    assert out["bare_invoke_spaced"] is None and out["cpu_to_invoke_spaced"] is None  # unpaced
    assert out["paced_floor"] is None
    # the bench cleans up after itself
    import redis

    assert not redis.Redis.from_url(redis_url).keys("hiitpi:bench*")


def test_bench_pipeline_paced_also_compares_with_the_invoke_spaced_at_the_frame_rate(
    shared_data, model_mirror, redis_url, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path))
    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    code = main(
        [
            "--log-level", "WARNING", "bench", "pipeline", "--source", str(clip), "--workout", "jumping_jack",
            "--redis-url", redis_url, "--paced", "--seconds", "2", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    spaced = out["bare_invoke_spaced"]
    assert spaced["cpu_ms"] > 0 and len(spaced["runs"]) == 2
    assert out["cpu_to_invoke_spaced"] == pytest.approx(
        out["all_cpu_ms_per_frame"] / spaced["cpu_ms"], rel=0.01
    )
    assert out["cpu_to_invoke_spaced"] > 1
    # the fixed part: the spaced invoke and the file's decoding (nobody watched: no JPEG)
    floor = out["paced_floor"]
    assert floor["invoke_spaced_ms"] == pytest.approx(spaced["cpu_ms"], abs=0.001)
    assert floor["decode_ms"] > 0 and floor["jpeg_ms_per_picture"] == 0 and floor["pictures_per_frame"] == 0
    assert floor["sum_ms"] == pytest.approx(floor["invoke_spaced_ms"] + floor["decode_ms"], abs=0.002)
    assert floor["to_invoke"] == pytest.approx(floor["sum_ms"] / out["bare_invoke"]["cpu_ms"], rel=0.01)


def test_bench_pipeline_missing_clip(tmp_path, capsys):
    assert main(["bench", "pipeline", "--source", str(tmp_path / "none.mp4")]) == 2
    assert "is not a video file" in capsys.readouterr().err


def test_redis_server_cpu_is_left_out_when_its_clock_goes_back(caplog):
    from hiitpi.bench.pipeline import redis_cpu_used_s

    assert redis_cpu_used_s(1.25, 1.75) == pytest.approx(0.5)
    assert redis_cpu_used_s(None, 1.0) is None and redis_cpu_used_s(1.0, None) is None
    # a run measured on 1 Dec 2026 summed -0.665 ms a frame: another server had taken the port
    assert redis_cpu_used_s(9.0, 0.4) is None
    assert "went back" in caplog.text


def test_bench_pipeline_store_both_alternates_and_measures_rep_commits(
    shared_data, model_mirror, redis_url, tmp_path, monkeypatch, capsys
):
    """--store both: batched and durable runs alternate; only the durable ones commit per rep,
    each rep's commit timed; both count the same reps; the scratch databases are removed."""
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path))
    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    code = main(
        [
            "--log-level", "WARNING", "bench", "pipeline", "--source", str(clip), "--workout", "jumping_jack",
            "--redis-url", redis_url, "--store", "both", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["store"] for r in out["runs"]] == ["batched", "durable"]
    batched, durable = out["runs"]
    assert batched["reps"] == durable["reps"] > 0
    assert batched["rep_commit_ms"]["n"] == 0 and "store" not in batched["stage_median_ms"]
    c = durable["rep_commit_ms"]
    assert c["n"] == durable["reps"] and 0 < c["median"] <= c["p95"]
    assert out["modes"]["durable"]["rep_commit_ms"]["n"] == c["n"]
    assert not list(tmp_path.glob("bench-*"))


@pytest.mark.parametrize("mode", ["nice", "pause"])
def test_bench_pipeline_beside_an_upload(
    shared_data, model_mirror, redis_url, tmp_path, monkeypatch, capsys, mode
):
    """``--upload``: runs alone and with the upload worker analysing a clip at the same time; in
    "pause" mode the worker waits while the live run goes on."""
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the load keeps its store and files
    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    upload = shared_data / "clips" / "squat" / "calimiro_squat_19.mp4"
    code = main(
        [
            "--log-level", "WARNING", "bench", "pipeline", "--source", str(clip), "--workout", "jumping_jack",
            "--redis-url", redis_url, "--paced", "--upload", str(upload), "--upload-mode", mode,
            "--rounds", "1", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    alone, with_upload = out["runs"]
    assert alone["upload"] is None and with_upload["upload"]["mode"] == mode
    for r in out["runs"]:  # each run is a whole live run of the clip
        assert r["frames"] + r["dropped"] >= 120 and r["reps"] == r["redis_state_reps"], r
    u = with_upload["upload"]
    if mode == "nice":  # analysed during the live run, niced (a loaded machine gives it little)
        assert u["frames_analysed"] > 0 and u["upload_cpu_cores"] > 0, out
    else:  # one frame, then it waits for the session
        assert u["frames_analysed"] <= 1, out
    summary = out["summary"]
    assert summary["alone"]["fps"] == [alone["fps"]] and summary["with_upload"]["fps"] == [with_upload["fps"]]
    assert not list(tmp_path.glob("hiitpi-bench-upload-*"))  # the load cleaned up after itself
