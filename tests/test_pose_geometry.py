"""Crop/letterbox geometry: a point sampled into the model input maps back to where it was."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiitpi.pose.geometry import Region, RegionWarp, check_frame


def _dot_frame(w: int, h: int, x: float, y: float) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    cv2 = pytest.importorskip("cv2")
    cv2.circle(frame, (round(x), round(y)), max(3, round(max(w, h) / 100)), (255, 255, 255), -1)
    return frame


def _centroid(img: np.ndarray) -> np.ndarray:
    mask = img[..., 0].astype(np.float64)
    ys, xs = np.indices(mask.shape)
    total = mask.sum()
    assert total > 0, "the dot was not sampled"
    # pixel centres are at +0.5 in continuous coordinates
    return np.array([(xs * mask).sum() / total + 0.5, (ys * mask).sum() / total + 0.5])


@pytest.mark.parametrize(
    ("w", "h", "region"),
    [
        (640, 480, None),  # landscape, letterboxed
        (480, 854, None),  # portrait phone video, letterboxed
        (1920, 1080, None),  # big frame: shrunk by halving before sampling
        (1280, 720, Region(900, 300, 400, 400)),  # a crop near the edge
        (1280, 720, Region(640, 360, 500, 500, math.radians(30))),  # rotated (BlazePose ROI)
        (720, 1280, Region(200, 1100, 600, 600, math.radians(-75))),  # rotated, partly outside
    ],
)
def test_point_round_trip(w, h, region):
    region = region or Region.letterbox(w, h)
    warp = RegionWarp(region, 192, 192)
    # a point inside the region, off-centre
    target = warp.points_to_frame(np.array([[60.0, 130.0]]))[0]
    frame = _dot_frame(w, h, *target)
    sampled = warp.sample(frame, rgb=False)
    back = warp.points_to_frame(_centroid(sampled)[None])[0]
    assert np.hypot(*(back - target)) <= max(1.5, 0.6 * warp.scale)


def test_normalized_mapping_letterbox():
    warp = RegionWarp(Region.letterbox(400, 200), 100, 100)
    # the letterboxed square is 400x400 centred on the frame: input (0.5, 0.5) is the frame centre,
    # input y=0.25 is the frame's top edge
    out = warp.normalized_to_frame(np.array([[0.5, 0.5], [0.0, 0.25], [1.0, 0.75]]), 400, 200)
    assert out == pytest.approx(np.array([[0.5, 0.5], [0.0, 0.0], [1.0, 1.0]]))


def test_outside_the_frame_is_black():
    frame = np.full((100, 300, 3), 200, np.uint8)
    img = RegionWarp(Region.letterbox(300, 100), 90, 90).sample(frame)
    assert img[:20].max() == 0 and img[-20:].max() == 0  # letterbox bars
    assert img[40:50].min() == 200


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), None],
)
def test_check_frame_rejects_bad_frames(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        check_frame(bad)
