"""The learned part of the recogniser: a small classifier on window features, numpy only.

A softmax regression (a linear score per class over standardised window features): the file is
a few kilobytes, inference is one matrix–vector product, and it is trained in seconds. Missing
features (NaN: a keypoint never seen in the window) are read as the training mean.

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
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    meta: dict[str, Any] = field(default_factory=dict)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.standardise(x) @ self.weights + self.bias

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


def fit_softmax(
    x: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    *,
    weight: np.ndarray | None = None,
    l2: float = 1e-2,
    iterations: int = 300,
    lr: float = 0.5,
) -> Classifier:
    """A softmax regression fitted by full-batch gradient descent with momentum.

    ``y`` holds class indices; ``weight`` per sample (default 1). ``l2`` is the ridge penalty on
    the weights per sample. Deterministic: the same data give the same model.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    scale = np.nanstd(x, axis=0)
    scale = np.where(~np.isfinite(scale) | (scale < 1e-6), 1.0, scale)
    z = (x - mean) / scale
    z = np.where(np.isnan(z), 0.0, z)
    n, f = z.shape
    k = len(classes)
    w8 = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    w8 = w8 / w8.sum()
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    weights = np.zeros((f, k))
    bias = np.zeros(k)
    vw = np.zeros_like(weights)
    vb = np.zeros_like(bias)
    for _ in range(iterations):
        logits = z @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * w8[:, None]
        gw = z.T @ g + l2 * weights
        gb = g.sum(axis=0)
        vw = 0.9 * vw + gw
        vb = 0.9 * vb + gb
        weights -= lr * vw
        bias -= lr * vb
    return Classifier(tuple(classes), WINDOW_FEATURES, mean, scale, weights, bias)
