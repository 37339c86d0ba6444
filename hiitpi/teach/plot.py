"""The reps found in a demonstration, drawn: the chosen feature over time with each rep's start and
end. `figure` is the Plotly figure of the page; `write_png` draws the same with OpenCV for the
command line (no plotting library needed on the Pi)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hiitpi.teach.bank import BY_KEY
from hiitpi.teach.learn import Taught

REP_FILL = "rgba(34, 197, 94, 0.18)"
NOREP_FILL = "rgba(239, 68, 68, 0.18)"


def spans(taught: Taught) -> list[tuple[float, float, str]]:
    """(start, end, kind) of every rep and no-rep (for a hold: the stretches the clock ran)."""
    if taught.kind == "hold":
        ticks = [e for e in taught.events if e.kind == "hold_tick"]
        if not ticks:
            return []
        t0 = float(taught.times[0])
        return [(t0, ticks[-1].t_end, "hold")]
    return [(e.t_start, e.t_end, e.kind) for e in taught.events if e.kind in ("rep", "no_rep")]


def label(taught: Taught) -> str:
    """The plotted feature in words, short enough for an axis: "shoulder height above the ankles"."""
    cand = BY_KEY.get(taught.signal_name)
    return cand.what.split(",")[0].split(" (")[0] if cand else taught.signal_name


def title(taught: Taught) -> str:
    if taught.kind == "hold":
        return f"{taught.doc['title']}: held {taught.held_s:.1f} s in the demo"
    return f"{taught.doc['title']}: {taught.count} reps found in the demo"


def figure(taught: Taught):
    """A Plotly figure: the feature, a shaded band per rep (red for a no-rep), numbered."""
    import plotly.graph_objects as go

    t = taught.times - taught.times[0]
    t0 = float(taught.times[0])
    fig = go.Figure()
    y = np.where(np.isnan(taught.signal), None, taught.signal)
    fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name=taught.signal_name, line={"width": 2}))
    n = 0
    for a, b, kind in spans(taught):
        n += kind == "rep"
        fig.add_vrect(
            x0=a - t0,
            x1=b - t0,
            fillcolor=NOREP_FILL if kind == "no_rep" else REP_FILL,
            line_width=0,
            annotation_text=str(n) if kind == "rep" else ("held" if kind == "hold" else "×"),
            annotation_position="top left",
        )
    fig.update_layout(
        title={"text": title(taught), "font": {"size": 15}},
        xaxis_title="seconds",
        yaxis_title=label(taught),
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        height=300,
        showlegend=False,
        template="plotly_dark",
    )
    return fig


def write_png(taught: Taught, path: str | Path, width: int = 1000, height: int = 360) -> Path:
    """The same plot as a PNG (OpenCV drawing): axes, the feature, the reps shaded and numbered."""
    import cv2

    path = Path(path)
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 15, 40, 40
    t = taught.times - taught.times[0]
    y = taught.signal
    ok = ~np.isnan(y)
    tmax = float(t[-1]) if len(t) and t[-1] > 0 else 1.0
    lo, hi = (float(np.nanmin(y)), float(np.nanmax(y))) if ok.any() else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def px(tt: float, v: float) -> tuple[int, int]:
        x = left + (tt / tmax) * (width - left - right)
        yy = top + (1.0 - (v - lo) / (hi - lo)) * (height - top - bottom)
        return round(x), round(yy)

    t0 = float(taught.times[0])
    n = 0
    font = cv2.FONT_HERSHEY_SIMPLEX
    for a, b, kind in spans(taught):
        n += kind == "rep"
        x0, _ = px(a - t0, hi)
        x1, _ = px(b - t0, hi)
        colour = (200, 200, 255) if kind == "no_rep" else (200, 240, 205)
        cv2.rectangle(img, (x0, top), (max(x1, x0 + 1), height - bottom), colour, -1)
        text = str(n) if kind == "rep" else ("held" if kind == "hold" else "x")
        cv2.putText(img, text, (x0 + 3, top + 16), font, 0.5, (40, 90, 40), 1, cv2.LINE_AA)
    # axes and ticks
    cv2.rectangle(img, (left, top), (width - right, height - bottom), (120, 120, 120), 1)
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        _, yy = px(0.0, v)
        cv2.line(img, (left - 4, yy), (left, yy), (120, 120, 120), 1)
        cv2.putText(img, f"{v:.2f}" if hi - lo < 10 else f"{v:.0f}", (5, yy + 4), font, 0.4, (60, 60, 60), 1)
    step = max(1, round(tmax / 10))
    for s in range(0, int(tmax) + 1, step):
        x, _ = px(float(s), lo)
        cv2.line(img, (x, height - bottom), (x, height - bottom + 4), (120, 120, 120), 1)
        cv2.putText(img, f"{s}s", (x - 8, height - bottom + 18), font, 0.4, (60, 60, 60), 1)
    # the feature, broken where it was not seen
    pts: list[tuple[int, int]] = []
    for tt, v in zip(t, y, strict=True):
        if np.isnan(v):
            if len(pts) > 1:
                cv2.polylines(img, [np.array(pts, np.int32)], False, (180, 90, 20), 2, cv2.LINE_AA)
            pts = []
            continue
        pts.append(px(float(tt), float(v)))
    if len(pts) > 1:
        cv2.polylines(img, [np.array(pts, np.int32)], False, (180, 90, 20), 2, cv2.LINE_AA)
    cv2.putText(img, title(taught), (left, 25), font, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    cv2.putText(img, label(taught), (left, height - 8), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        from hiitpi.errors import InputError

        raise InputError(f"cannot write the plot to {path}", "give a .png path in a writable folder")
    return path
