"""The two files anyone may fetch without pairing, served by the event loop, never the app shell:
``/favicon.ico`` (HIIT PI's icon, also the page's ``/_favicon.ico``) and ``/robots.txt`` (index
nothing). Neither says anything about the software or the home it runs in.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

ROBOTS = "User-agent: *\nDisallow: /\n"
CACHE = {"Cache-Control": "public, max-age=86400"}


@lru_cache(maxsize=1)
def favicon_bytes(size: int = 32) -> bytes:
    """A 32×32 icon (a lime ring on the dashboard's navy, PNG inside an ICO file), drawn once."""
    import cv2
    import numpy as np

    img = np.zeros((size, size, 4), np.uint8)
    c = size // 2
    cv2.circle(img, (c, c), c - 1, (42, 23, 15, 255), -1, cv2.LINE_AA)  # BGRA #0f172a
    cv2.circle(img, (c, c), c - 6, (22, 204, 132, 255), 3, cv2.LINE_AA)  # #84cc16
    cv2.line(img, (c, 9), (c, size - 9), (255, 255, 255, 255), 3, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes a 32x32 PNG
        raise RuntimeError("could not draw the icon")
    data = png.tobytes()
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(data), 6 + 16)
    return header + entry + data


async def favicon(request: Request) -> Response:
    return Response(favicon_bytes(), media_type="image/x-icon", headers=CACHE)


async def robots(request: Request) -> Response:
    return PlainTextResponse(ROBOTS, headers=CACHE)
