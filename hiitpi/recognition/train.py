"""Training the recogniser's classifier: labelled sequences → windows → a softmax regression.

Windows are cut from every sequence the way the live recogniser sees them (``window_s`` of
frames ending every ``hop_s``); a window where fewer than half the frames show a body is skipped.
In a sequence whose index gives every rep's frames, a window with (almost) no rep in it is a
``none`` example (rest between sets), one half in and half out is skipped.

Every data set weighs the same in the fit, and inside it every class: the large single-frame
sets must not drown the video clips, nor the many "none" windows the workouts. `leave_one_out`
fits on every source but one and scores the one left out, in turn (the figure that says how the
classifier does on data it has never seen).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.recognition.data import NONE, Sequence
from hiitpi.recognition.features import frame_features, window_features
from hiitpi.recognition.model import Classifier, fit_classifier

log = logging.getLogger(__name__)

WINDOW_S = 2.5
HOP_S = 0.5


@dataclass
class Windows:
    x: np.ndarray  # (n, F) window features
    label: list[str]
    source: list[str]
    dataset: list[str]
    sequence: list[str]

    def __len__(self) -> int:
        return len(self.label)


def sequence_windows(
    seq: Sequence, frames: np.ndarray | None = None, window_s: float = WINDOW_S, hop_s: float = HOP_S
) -> tuple[list[np.ndarray], list[str]]:
    """(window features, labels) of one sequence; ``frames`` its per-frame features if known."""
    f = frame_features(seq.px) if frames is None else frames
    present = ~np.isnan(f).all(axis=1)
    t = seq.t
    out, labels = [], []
    if len(t) == 0:
        return out, labels
    end = t[0] + window_s
    while end <= t[-1] + 1e-9:
        sel = (t > end - window_s) & (t <= end)
        end += hop_s
        if sel.sum() < 4 or present[sel].mean() < 0.5:
            continue
        label = seq.exercise
        if seq.active is not None and label != NONE:
            share = seq.active[sel].mean()
            if share < 0.1:
                label = NONE
            elif share < 0.5:
                continue
        out.append(window_features(f[sel]))
        labels.append(label)
    return out, labels


def build_windows(sequences: Iterable[Sequence], frames: Iterable[np.ndarray] | None = None, **kw) -> Windows:
    xs: list[np.ndarray] = []
    w = Windows(np.empty((0, 0)), [], [], [], [])
    frames = list(frames) if frames is not None else None
    for i, seq in enumerate(sequences):
        x, labels = sequence_windows(seq, frames[i] if frames is not None else None, **kw)
        xs.extend(x)
        w.label += labels
        w.source += [seq.source] * len(labels)
        w.dataset += [seq.dataset] * len(labels)
        w.sequence += [seq.name] * len(labels)
    w.x = np.array(xs) if xs else np.empty((0, 0))
    return w


def balanced_weights(datasets: list[str], labels: list[str]) -> np.ndarray:
    """Per-window weights: every data set weighs the same, and inside it every class."""
    per = Counter(zip(datasets, labels, strict=True))
    classes_in = defaultdict(set)
    for d, c in per:
        classes_in[d].add(c)
    return np.array([1.0 / (per[(d, c)] * len(classes_in[d])) for d, c in zip(datasets, labels, strict=True)])


def fit(windows: Windows, classes: tuple[str, ...] | None = None, **kw) -> Classifier:
    classes = classes or tuple(sorted(set(windows.label)))
    idx = {c: i for i, c in enumerate(classes)}
    keep = [i for i, c in enumerate(windows.label) if c in idx]
    y = np.array([idx[windows.label[i]] for i in keep])
    wts = balanced_weights([windows.dataset[i] for i in keep], [windows.label[i] for i in keep])
    return fit_classifier(windows.x[keep], y, classes, weight=wts, **kw)


def leave_one_out(windows: Windows, groups: list[str], **kw) -> dict[str, dict]:
    """For every group (a data set, a source): fit on the others, score its windows.

    Returns {group: {"accuracy", "n", "per_class": {label: {"accuracy", "n"}}}}; classes the
    others never show cannot be learned, and count as wrong.
    """
    out = {}
    classes = tuple(sorted(set(windows.label)))
    for g in sorted(set(groups)):
        train = [i for i, x in enumerate(groups) if x != g]
        test = [i for i, x in enumerate(groups) if x == g]
        sub = _subset(windows, train)
        clf = fit(sub, tuple(c for c in classes if c in set(sub.label)), **kw)
        pred = [clf.classes[k] for k in clf.proba(windows.x[test]).argmax(axis=1)]
        truth = [windows.label[i] for i in test]
        per: dict[str, list[bool]] = defaultdict(list)
        for p, t in zip(pred, truth, strict=True):
            per[t].append(p == t)
        out[g] = {
            "accuracy": round(float(np.mean([p == t for p, t in zip(pred, truth, strict=True)])), 4),
            "n": len(test),
            "per_class": {
                c: {"accuracy": round(float(np.mean(v)), 4), "n": len(v)} for c, v in sorted(per.items())
            },
        }
    return out


def _subset(w: Windows, idx: list[int]) -> Windows:
    return Windows(
        w.x[idx],
        [w.label[i] for i in idx],
        [w.source[i] for i in idx],
        [w.dataset[i] for i in idx],
        [w.sequence[i] for i in idx],
    )


# --------------------------------------------------------------------------------------------
# the shared data sets, end to end


@dataclass
class TrainingData:
    """Every labelled sequence; ``scored`` are the real ones (with their smoothed poses), which
    the evaluations run through auto mode; the rebuilt single-frame ones only train."""

    scored: list[tuple[Sequence, list]]
    rebuilt: list[Sequence]

    @property
    def sequences(self) -> list[Sequence]:
        return [s for s, _ in self.scored] + self.rebuilt


def load_training_data(
    data_dir: str | Path, rules: Any, settings: Any, progress: bool = False
) -> TrainingData:
    """The clips (through the pose model, cached), RepCount-A, Countix-Fitness and the salient poses
    under ``data_dir`` (the shared data's layout; missing parts are skipped with a warning)."""
    from hiitpi.recognition import data

    d = Path(data_dir)
    resolve = data.rules_resolver(rules)
    scored: list = []
    manifest = d / "clips" / "manifest.csv"
    if manifest.is_file():
        scored += data.clip_sequences(manifest, settings, resolve, progress=progress)
    else:
        log.warning("%s not found: training without the clips", manifest)
    for index, folder, name in (
        (d / "repcount_pose" / "index.csv", d / "repcount_pose" / "poses", "repcount"),
        (d / "repcount_pose" / "index_other.csv", d / "repcount_pose" / "poses", "repcount"),
        (d / "countix_pose" / "index.csv", d / "countix_pose" / "poses", "countix"),
    ):
        if index.is_file():
            scored += data.pose_index_sequences(index, folder, name, resolve, settings.pose.smoothing)
        else:
            log.warning("%s not found: skipped", index)
    for seq, poses in scored:
        if seq.exercise != NONE and seq.exercise in rules.workouts:
            data.mark_reps_by_referee(seq, poses, rules.workouts[seq.exercise])
    salient = d / "salient_poses"
    rebuilt = data.salient_sequences(
        salient / "countix_fitness_train.csv", salient / "kaggle_exercise_updown.csv", resolve
    )
    return TrainingData(scored, rebuilt)


def source_group(seq: Sequence) -> str:
    """The unit left out in LOSO: the data set, and for the clips their source repository."""
    return f"clips:{seq.source}" if seq.dataset == "clips" else seq.dataset


def train_model(td: TrainingData, hidden: int = 32, seed: int = 0) -> Classifier:
    """The classifier fitted on every window of every sequence, with what it saw in ``meta``."""
    w = build_windows(td.sequences)
    clf = fit(w, hidden=hidden, seed=seed)
    clf.meta = {
        "window_s": WINDOW_S,
        "hop_s": HOP_S,
        "hidden": hidden,
        "seed": seed,
        "windows": {
            f"{d}/{c}": n for (d, c), n in sorted(Counter(zip(w.dataset, w.label, strict=True)).items())
        },
        "trained_by": "scripts/train_recogniser.py",
    }
    return clf


def loso_report(td: TrainingData, rules: Any, pace_window_s: float, hidden: int = 32) -> dict[str, dict]:
    """Leave one source out, in turn: fit on the rest, run auto mode on the left-out sequences.

    Returns {group: evaluation report} (the keys of `hiitpi.recognition.evaluate.summarise`).
    """
    from hiitpi.recognition.auto import AutoMode
    from hiitpi.recognition.evaluate import score_sequence, summarise

    seqs = td.sequences
    frames = [frame_features(s.px) for s in seqs]
    groups = [source_group(s) for s in seqs]
    out = {}
    for g in sorted({source_group(s) for s, _ in td.scored}):
        keep = [i for i, x in enumerate(groups) if x != g]
        clf = fit(build_windows([seqs[i] for i in keep], [frames[i] for i in keep]), hidden=hidden)
        scores = [
            score_sequence(
                s.name,
                s.exercise,
                poses,
                list(s.t),
                lambda c=clf: AutoMode(rules.workouts, c, pace_window_s=pace_window_s),
            )
            for s, poses in td.scored
            if source_group(s) == g
        ]
        out[g] = summarise(scores)
        log.info("LOSO %s: accuracy %s on %d", g, out[g]["accuracy"], len(scores))
    return out
