"""Where a demonstration starts and ends, on synthetic pose scores: a title card or a fade (poses
with a low score) at either end is not the start, and a clip seen clearly throughout is kept whole."""

from __future__ import annotations

import numpy as np

from hiitpi.teach.periodic import clearly_seen

T = np.arange(0.0, 10.0, 1 / 30)


def test_a_clip_seen_clearly_throughout_is_kept_whole():
    rng = np.random.default_rng(1)
    scores = 0.6 + 0.05 * rng.standard_normal(len(T))
    assert clearly_seen(T, scores) == (T[0], T[-1])


def test_a_title_card_and_a_fade_out_are_not_the_demo():
    scores = np.full(len(T), 0.65)
    scores[T < 1.3] = 0.05  # a title card over a blurred frame
    scores[T > 9.0] = 0.2  # the fade out
    start, end = clearly_seen(T, scores)
    assert 1.2 <= start <= 1.45 and 8.85 <= end <= 9.05
