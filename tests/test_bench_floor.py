"""`hiitpi.bench.floor`: the fixed costs of a paced run, measured on a real clip."""

from __future__ import annotations

import pytest

from hiitpi.config import WebSettings


def test_the_floor_is_the_spaced_invoke_the_decoding_and_the_viewers_jpegs(shared_data):
    from hiitpi.bench.floor import jpeg_spaced_ms, paced_floor
    from hiitpi.capture.video import open_video

    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    cap, _ = open_video(clip)
    ok, frame = cap.read()
    cap.release()
    assert ok
    web = WebSettings(stream_fps=60, stream_width=320)
    assert jpeg_spaced_ms(frame, web, 10) > 0
    # 126 frames: reading past the end starts the clip again instead of timing nothing
    floor = paced_floor(
        clip,
        frame,
        web,
        source_fps=200.0,
        invoke_spaced_ms=3.0,
        invoke_ms=2.0,
        pictures_per_frame=0.5,
        runs=150,
    )
    assert floor["decode_ms"] > 0 and floor["jpeg_ms_per_picture"] > 0
    assert floor["sum_ms"] == pytest.approx(
        3.0 + floor["decode_ms"] + 0.5 * floor["jpeg_ms_per_picture"], abs=0.002
    )
    assert floor["to_invoke"] == pytest.approx(floor["sum_ms"] / 2.0, rel=0.01)
    assert floor["to_invoke_spaced"] == pytest.approx(floor["sum_ms"] / 3.0, rel=0.01)
    # nobody watching: no JPEG in the floor
    alone = paced_floor(clip, frame, web, source_fps=200.0, invoke_spaced_ms=3.0, invoke_ms=2.0, runs=20)
    assert alone["jpeg_ms_per_picture"] == 0 and alone["sum_ms"] == pytest.approx(
        3.0 + alone["decode_ms"], abs=0.002
    )
