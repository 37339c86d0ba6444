"""The learned part of the recogniser: a small classifier on window features, numpy only.

A one-hidden-layer network (tanh) with a softmax output over standardised window features, or
without the hidden layer a softmax regression: the file is tens of kilobytes, inference is two
small matrix–vector products, training takes seconds. Missing features (NaN: a keypoint never
seen in the window) are read as the training mean; standardised values are clipped to ±5 so one
wild keypoint cannot dominate.

The model file is an ``.npz`` with the classes, the feature names it was trained on, the
standardisation (mean, scale), the weights and a JSON ``meta`` (window length, what it was trained
on, the training command). `load_model` refuses a file whose feature names differ from the code's,
so a model can never be read with features computed differently.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.errors import InputError
from hiitpi.recognition.features import WINDOW_FEATURES

log = logging.getLogger(__name__)

#: standardised features are clipped to this many standard deviations
CLIP = 5.0
#: The model shipped with the package (built by scripts/train_recogniser.py).
DEFAULT_MODEL = Path(__file__).with_name("recogniser.npz")


class ModelError(InputError):
    """A recogniser model file that cannot be used."""


@dataclass
class Classifier:
    classes: tuple[str, ...]
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (inputs, classes): the output layer
    bias: np.ndarray  # (classes,)
    hidden_weights: np.ndarray | None = None  # (features, hidden); None: no hidden layer
    hidden_bias: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return np.clip(np.where(np.isnan(z), 0.0, z), -CLIP, CLIP)

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = self.standardise(x)
        if self.hidden_weights is not None:
            z = np.tanh(z @ self.hidden_weights + self.hidden_bias)
        return z @ self.weights + self.bias

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for one window (F,) or a batch (n, F)."""
        z = self.logits(x)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            classes=np.array(self.classes),
            features=np.array(self.features),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            hidden_weights=self.hidden_weights.astype(np.float32)
            if self.hidden_weights is not None
            else np.zeros(0),
            hidden_bias=self.hidden_bias.astype(np.float32) if self.hidden_bias is not None else np.zeros(0),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )


def load_model(path: str | Path | None = None) -> Classifier:
    """The classifier in ``path`` (default: the one shipped with the package)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    try:
        with np.load(path, allow_pickle=False) as d:
            clf = Classifier(
                classes=tuple(str(c) for c in d["classes"]),
                features=tuple(str(f) for f in d["features"]),
                mean=d["mean"].astype(np.float64),
                scale=d["scale"].astype(np.float64),
                weights=d["weights"].astype(np.float64),
                bias=d["bias"].astype(np.float64),
                hidden_weights=d["hidden_weights"].astype(np.float64) if d["hidden_weights"].size else None,
                hidden_bias=d["hidden_bias"].astype(np.float64) if d["hidden_bias"].size else None,
                meta=json.loads(str(d["meta"])),
            )
    except FileNotFoundError:
        raise ModelError(
            f"{path}: recogniser model not found", "build it with `python scripts/train_recogniser.py`"
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"{path}: not a recogniser model ({exc})", "rebuild it with `python scripts/train_recogniser.py`"
        ) from None
    if clf.features != WINDOW_FEATURES:
        raise ModelError(
            f"{path}: the model was trained on other pose features than this version computes",
            "rebuild it with `python scripts/train_recogniser.py`",
        )
    return clf


def fit_classifier(
    x: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    *,
    weight: np.ndarray | None = None,
    hidden: int = 32,
    l2: float = 1e-3,
    iterations: int = 600,
    lr: float = 0.01,
    seed: int = 0,
) -> Classifier:
    """Fit by full-batch Adam on the weighted cross-entropy with an L2 penalty.

    ``y`` holds class indices, ``weight`` a weight per sample (default 1), ``hidden`` the hidden
    layer's width (0: a softmax regression). Deterministic for a given ``seed``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        scale = np.nanstd(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    scale = np.where(~np.isfinite(scale) | (scale < 1e-6), 1.0, scale)
    clf = Classifier(tuple(classes), WINDOW_FEATURES, mean, scale, np.zeros(0), np.zeros(0))
    z = clf.standardise(x)
    n, f = z.shape
    k = len(classes)
    rng = np.random.default_rng(seed)
    params = []
    if hidden:
        params += [rng.normal(0, 1 / np.sqrt(f), (f, hidden)), np.zeros(hidden)]
    width = hidden or f
    params += [rng.normal(0, 1 / np.sqrt(width), (width, k)) * (1.0 if hidden else 0.0), np.zeros(k)]
    w8 = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    w8 = (w8 / w8.sum())[:, None]
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for it in range(1, iterations + 1):
        h = np.tanh(z @ params[0] + params[1]) if hidden else z
        logits = h @ params[-2] + params[-1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * w8
        grads = [h.T @ g + l2 * params[-2], g.sum(axis=0)]
        if hidden:
            gh = (g @ params[-2].T) * (1.0 - h * h)
            grads = [z.T @ gh + l2 * params[0], gh.sum(axis=0), *grads]
        for i, gr in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr * gr
            params[i] -= lr * (m[i] / (1 - 0.9**it)) / (np.sqrt(v[i] / (1 - 0.999**it)) + 1e-8)
    clf.weights, clf.bias = params[-2], params[-1]
    if hidden:
        clf.hidden_weights, clf.hidden_bias = params[0], params[1]
    return clf
