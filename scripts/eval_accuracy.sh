#!/usr/bin/env bash
# Regenerate docs/accuracy.md: rep-counting accuracy of the referee on the labelled data sets.
#
#   scripts/eval_accuracy.sh [DATA_DIR]
#
# DATA_DIR holds clips/manifest.csv, repcount_pose/ and countix_pose/ (default: $HIITPI_DATA, else
# ../shared/data). Models come from $HIITPI_MODEL_MIRROR (default ../shared/models). Raw poses are
# cached per clip and model under <data_dir>/cache/poses, so a second run only re-runs the referee.
# The leave-one-source-out section re-runs everything 27 times (a few minutes); LOSO=0 skips it,
# LOSO_FILE=table.md uses a table scripts/eval_loso.py printed for the same rules.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-${HIITPI_DATA:-../shared/data}}"
export HIITPI_MODEL_MIRROR="${HIITPI_MODEL_MIRROR:-../shared/models}"
PY="${PYTHON:-.venv/bin/python}"
MODEL="${MODEL:-movenet-lightning}"
OUT=docs/accuracy.md
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$PY" -m hiitpi eval clips "$DATA/clips/manifest.csv" --model "$MODEL" --no-progress --json >"$tmp/clips.json" || true
"$PY" -m hiitpi eval repcount "$DATA/repcount_pose/index.csv" "$DATA/repcount_pose/poses" --json >"$tmp/repcount.json" || true
"$PY" -m hiitpi eval repcount "$DATA/repcount_pose/index.csv" "$DATA/repcount_pose/poses" --counting judge --json >"$tmp/repcount_judge.json" || true
"$PY" -m hiitpi eval countix "$DATA/countix_pose/index.csv" "$DATA/countix_pose/poses" --json >"$tmp/countix.json" || true
if [ -n "${LOSO_FILE:-}" ]; then
  cp "$LOSO_FILE" "$tmp/loso.md"  # a table scripts/eval_loso.py printed before (same commit's rules)
elif [ "${LOSO:-1}" != 0 ]; then
  nice -n 10 "$PY" scripts/eval_loso.py "$DATA" "$MODEL" >"$tmp/loso.md"
else
  echo "(skipped: LOSO=0)" >"$tmp/loso.md"
fi

"$PY" - "$tmp" "$MODEL" "$DATA" >"$OUT" <<'PYEOF'
import json, subprocess, sys
from pathlib import Path

import numpy as np

tmp, model, data = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
clips = json.load(open(tmp / "clips.json"))
rc = json.load(open(tmp / "repcount.json"))
rcj = json.load(open(tmp / "repcount_judge.json"))
cx = json.load(open(tmp / "countix.json"))
loso = (tmp / "loso.md").read_text().strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def f(v):
    return "-" if v is None else f"{v:.3f}"


def summary(rep):
    out = ["| exercise | clips | MAE | OBO |", "|---|---:|---:|---:|"]
    for name, m in rep["per_exercise"].items():
        out.append(f"| {name} | {m['n']} | {f(m['mae'])} | {f(m['obo'])} |")
    out.append(f"| **overall** | {rep['n']} | **{f(rep['mae'])}** | **{f(rep['obo'])}** |")
    return "\n".join(out)


def table(rep, key):
    out = [f"| {key} | exercise | gt | pred | error | attempts | no-reps |", "|---|---|---:|---:|---:|---:|---:|"]
    for c in rep["clips"]:
        if c.get("not_workout"):
            continue
        if "gt_hold_s" in c:
            out.append(f"| {c[key]} | {c['exercise']} | {c['gt_hold_s']:.1f} s held | {c['pred_hold_s']:.1f} s | {c['hold_err_s']:.1f} s | | |")
            continue
        gt = str(c["gt"]) if "gt_min" not in c else f"{c['gt_min']}–{c['gt_max']}"
        pred = "-" if c["pred"] is None else str(c["pred"])
        err = "-" if c.get("abs_err") is None else str(c["abs_err"])
        if c.get("error"):
            err += f" ({c['error']})"
        out.append(f"| {c[key]} | {c['exercise']} | {gt} | {pred} | {err} | {c.get('attempts', '')} | {c.get('no_reps', '')} |")
    return "\n".join(out)


def share(rep, video):
    c = next(c for c in rep["clips"] if c.get("video") == video)
    return f"{100 * c['pred'] / c['gt']:.0f} %"


def holds(rep):
    h = rep.get("holds")
    if not h:
        return "no hold clips"
    return (f"{h['n']} hold clip(s): mean error {h['mean_err_s']:.2f} s ({100 * h['mean_rel_err']:.1f} % of the "
            f"time held), {100 * h['within_tolerance']:.0f} % within {100 * h['tolerance']:.0f} %")


def worst(rep, key, n=12):
    """The clips that make most of the MAE, with their share of it."""
    rows = [c for c in rep["clips"] if c.get("pred") is not None and not c.get("not_workout")]
    rows.sort(key=lambda c: -c["abs_err"] / max(c["gt"], 1))
    total = len(rows)
    out = ["| clip | exercise | gt | pred | adds to MAE |", "|---|---|---:|---:|---:|"]
    acc = 0.0
    for c in rows[:n]:
        e = c["abs_err"] / max(c["gt"], 1)
        acc += e
        out.append(f"| {c[key]} | {c['exercise']} | {c['gt']} | {c['pred']} | {e / total:.3f} |")
    rest = sum(c["abs_err"] / max(c["gt"], 1) for c in rows[n:]) / total
    out.append(f"| the other {total - n} | | | | {rest:.3f} |")
    return "\n".join(out)


def negatives():
    """How many reps our workouts' referees count on sequences of exercises that are not ours."""
    from hiitpi.config import load_settings
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.datasets import pose_sequence, read_pose_index
    from hiitpi.referee.evaluate import count_sequence

    settings = load_settings(None)
    cat = load_catalog("rules")
    ours = ("push_up", "squat", "situp", "jumping_jack", "lunge")
    sets = [("RepCount-A", data / "repcount_pose" / "index_other.csv", data / "repcount_pose" / "poses"),
            ("Countix", data / "countix_pose" / "index.csv", data / "countix_pose" / "poses")]
    per: dict = {}
    for name, index, poses in sets:
        for row in read_pose_index(index):
            if row.exercise in cat.workouts or row.exercise in ours:
                continue
            arr = np.load(poses / (Path(row.video).stem + ".npy"))
            seq = list(pose_sequence(arr, 30.0))
            d = per.setdefault(row.exercise, {"n": 0, "gt": 0, **{k: 0 for k in ours}})
            for w in ours:
                d[w] += count_sequence(cat.workout(w), seq, 30.0, settings).count
            per[row.exercise]["n"] += 1
            per[row.exercise]["gt"] += row.count
    out = ["| exercise (not ours) | sequences | its reps | " + " | ".join(f"counted as {w}" for w in ours) + " |",
           "|---|---:|---:|" + "---:|" * len(ours)]
    for ex, d in sorted(per.items()):
        out.append(f"| {ex} | {d['n']} | {d['gt']} | " + " | ".join(str(d[w]) for w in ours) + " |")
    return "\n".join(out)


print(f"""# Rep-counting accuracy

Generated by `scripts/eval_accuracy.sh` at commit `{commit}` — do not edit by hand; rerun the
script and review the diff. MAE = mean(|pred − gt| / gt); OBO = share of clips with
|pred − gt| ≤ 1. Where a clip starts or ends mid-rep the manifest gives an accepted range and a
prediction inside it is exact. Timed holds are scored by the seconds held, not in MAE/OBO.
One rules set (`rules/`) for everything below; pose model `{model}` for the clips.

## How the referee counts (what changed in issue 13)

- **Calibrated features**: the deciding features are measured in the person's own travel (0 at
  their start position, 1 at their far position: the medians of their last three turning points,
  `hiitpi/referee/calibrate.py`), with a physical floor and ceiling per feature in the rules file.
  States are shares of that travel (start below 0.35, far above 0.65, short above 0.5). The judge's
  physical marks (a squat's shoulders below 85 % of the standing height, a push-up's elbows past
  120°, a jack's hands over the shoulders) are checks on uncalibrated copies.
- **One signal several features agree on**: a `mean` feature of the calibrated ones (a squat's
  standing height, knee and hip height; a push-up's elbow and chest height), not "any of them".
- **Camera views** read from the body (`hiitpi/referee/view.py`); features and checks are valid in
  the views the rules file names (a torso tilt or a hip line seen from the front or above is not).
- **States by margin**, not list order; **seconds, not frames** everywhere; **`finish()`** at the
  end of a clip counts a rep on its way back; a rep may **hold** its far position past `max_s`.
- **Alternating** movements: a far leg never seen is counted from the alternation.
- **Two conventions**: `judge` (the clips: complete reps) and `attempts` (RepCount-A and Countix,
  labelled by attempts): short cycles count as attempts with a fault once a full rep follows them.

## Clips (`clips/manifest.csv`, judge mode)

{len(clips['clips'])} real videos, the full pipeline: MoveNet → One Euro smoothing → referee rules.

{summary(clips)}

Holds: {holds(clips)}.

{table(clips, "file")}

## RepCount-A pose sequences (`repcount_pose/`, attempts mode)

40 test sequences of BlazePose landmarks (given, no pose model run), min–max normalised per frame
and per axis; the loader restores each frame's aspect from bone-length constancy. Published
pose-based counters on the full RepCount-A test set: PoseRAC MAE 0.236 / OBO 0.56; joint-angle
PoseRAC 0.211 / 0.60. The same sequences in judge mode: MAE {f(rcj['mae'])} / OBO {f(rcj['obo'])}.

{summary(rc)}

Where the error is (the clips that add most to the MAE):

{worst(rc, "video")}

Read off `index.csv`'s per-rep frames against the referee's events: train3335 (1 labelled cycle,
two sit-ups in the torso tilt) and stu8_58 (six sit-ups labelled as 3) disagree with the movement;
test2320 has no person in 198 of 300 frames; stu2_62 and stu10_60 are sit-ups seen from the feet
where no 2D feature follows the labelled cycles; in stu6_42 the elbow straightens twice in each
labelled cycle; stu8_34 moves through a full jack's travel after its set; the fast push-ups of
stu9_52 and stu4_46 (~0.5 s a rep, the elbow moving ~40° in noise of ±15°) are counted to
{share(rc, "stu9_52.mp4")} and {share(rc, "stu4_46.mp4")} of their labels.

{table(rc, "video")}

## Countix-Fitness pose sequences (`countix_pose/`, attempts mode, held out)

76 test sequences (the same 33-landmark layout as RepCount-A, 99 columns, counts only); the 37
of push-ups, squats, sit-ups and lunges are scored, the others listed as not workouts. Countix was
kept aside while the design was made: it was run to measure, and one push-up sequence was looked
at (the torso-tilt gate of the push-up rule, 40° → 25°, which RepCount-A also preferred); no
other rule or constant was chosen by looking at it. The frame rate is not given: 30 fps assumed.

{summary(cx)}

{worst(cx, "video", 10)}

{table(cx, "video")}

### Exercises that are not workouts here (false-rep check)

Sequences of bench press, front raise, pull-ups, rope pushdown and pommel horse are not counted
as workouts (recognising the exercise is another issue); this is how many reps our HIIT
workouts' referees would count on them if the wrong workout were running (attempts mode):

{negatives()}

## Leave-one-source-out

The calibration's constants (a turning point's retrace, turning points per median) and the
states' travel levels were chosen on the data. Re-chosen from a 27-point grid without each
source in turn (the clips' `source_repo`, the pose data sets), scored on the one left out, beside
the shipped choice (0.5, 3, 0.35/0.65/0.5). The shipped choice is the grid's best over all the
sources; it was made after this table showed that re-choosing without a source scores that source
about as well (it is what is chosen without Countix, which the rest of the design never saw):

{loso}

## Which change moved which figure

Measured in this order while building it (each on the branch as it was then; clips in judge
mode, RepCount-A and Countix in attempts mode). Start (main, absolute thresholds): clips
0.105 / 0.846, RepCount-A 0.241 / 0.750 judge, 0.350 / 0.550 attempts, Countix 0.377 / 0.595.

| change | figure before → after |
|---|---|
| states by margin instead of list order (old rules) | RepCount judge 0.241 → 0.251 (push-up 8 for 5 on stu4_46, sit-ups worse) |
| `finish()` at the end of a clip | clips 0.105 → 0.101 (a push-up clip that ends on the way up) |
| squat on calibrated features (any of three) | RepCount squat 0.369 → 0.321 |
| push-up on the mean of calibrated elbow and chest | RepCount push-up 0.409 → 0.272 |
| calibration learns only in the exercise's posture | RepCount push-up 0.272 → 0.267 |
| squat on the mean of three calibrated features | RepCount squat 0.283 → 0.266 |
| short cycles before the first full rep are not judged; attempts do not count them | RepCount 0.325 → 0.283 |
| turning points need half the travel (0.25 before) | clips 0.076 → 0.069 (mountain climbers exact), RepCount 0.322 → 0.282 |
| a rep may hold its far position past max_s | RepCount 0.276 → 0.247 |
| push-up chest, torso and hip line valid in side/oblique only | clips push-up 0.176 → 0.057 (the elevated front view 2 → 5 of 5) |
| burpee on calibrated standing height + torso, plank check side-only, an unseen mark does not fail a rep | clips 0.045 → 0.018 (front-then-side burpees 1 → 3 of 3) |
| attempts count short cycles | RepCount 0.249 → 0.237 |
| ... once a full rep follows them | RepCount 0.237 → 0.231, Countix 0.319 → 0.309 |
| high knees: higher return level (0.45, now 0.5 with the levels below: the other knee is already rising) | clips OBO 0.96 → 1.00 (60 fps high knees 16 → 17 of 18–20) |
| turning points from a 0.1 s median (glitches) | RepCount 0.229 → 0.217, Countix 0.304 → 0.308 |
| no cap on the travel from the last 4 s of movement (see below) | RepCount 0.217 → 0.236, Countix 0.308 → 0.234 |
| travel levels 0.35/0.65/0.5 (from 0.3/0.7/0.45) and medians of 3 turning points (from 5): the grid's best over all sources, chosen after the leave-one-source-out check | RepCount 0.236 → 0.226 (OBO 0.55 → 0.62), Countix 0.234 → 0.231, clips unchanged |

### Tried and not kept (measured)

- Calibration from the 5th/95th percentiles of a sliding window (10 s; 15 samples a second): the
  rests between sets (sitting up, standing) fill the window and stretch the travel (RepCount
  0.32); only "moving" samples: no better. From decaying extremes (20 s half-life): one early
  glitch sets the travel for tens of seconds. Both replaced by turning points.
- Turning points from a Schmitt trigger on the learnt range instead of a retrace: deadlocks when
  the real movement sits inside one half of a stale range (RepCount jacks 0.22, 2 of 30 on one).
- Capping the travel by the last 4 s of movement (to recover from an early glitch): RepCount
  0.217 but Countix 0.308 against 0.236 / 0.234 without; it also turns a short rep after deep ones
  into a full one within 4 s, against the judge's "short of your usual travel". Not kept.
- Median instead of mean of the calibrated features: sit-ups 0.52 → 0.42 but squats 0.31 → 0.39.
- A zig-zag count (a turn at any retrace of 30–50 % of the travel) on the same signal: RepCount
  push-up 0.70–1.27, squat 1.16–2.02 (noise turns).
- High knees on the side-less knee-height difference, each swing a lift: 16 of 18–20 at 60 fps and
  a march with pauses 12–15 of 16 (both feet down makes a third level); one machine per leg:
  the march double counted (MoveNet puts both knees on the lifted one).
- Shorter `min_s` (0.6×, or at most 0.3 s): RepCount 0.237 → 0.276–0.280, Countix 0.319 →
  0.340–0.361 (noise cycles count).
- A learned second opinion: a logistic regression (numpy) on normalised COCO-17 poses (hip-centred,
  body-size scaled, mirrored, with joint angles) trained on the Kaggle up/down poses (MIT) gave,
  on its own with the same 0.3/0.7 levels and calibration, RepCount push-up 0.222, squat 0.169,
  sit-up 0.526, jacks 0.278, Countix push-up 0.249, squat 0.404, sit-up 0.212; trained on
  Countix-Fitness's training poses, RepCount push-up 0.343, squat 0.199, sit-up 0.599. Averaged
  into the push-up's and squat's mean it moved RepCount push-up 0.324 → 0.266 and squat
  0.127 → 0.177 (offline counter), Countix push-up 0.314 → 0.289, squat 0.244 → 0.304. Better on
  some classes and worse on others, on data it was not trained on: not kept (it would also need
  weights shipped and a second pose-normalisation path for the live MoveNet poses).
- BlazePose's z: the earlier loader experiments (3D bone lengths; this file at commit 787b21c) did
  not help the sit-ups; the live product runs MoveNet (no z), so the view is read from 2D widths.

## What stands in the way of the pose-sequence targets

The issue's targets on RepCount-A and Countix-Fitness (attempts: MAE ≤ 0.15, OBO ≥ 0.75) are not
reached (above: RepCount-A {f(rc['mae'])} / {f(rc['obo'])}, Countix {f(cx['mae'])} / {f(cx['obo'])}). The tables of
the clips that add most to the MAE show why: a few sequences whose labels disagree with the
movement or that have no person for most frames add about 0.1 on their own on RepCount-A; sit-ups seen
from the feet, where no 2D feature follows the cycles; fast shallow push-ups in noisy landmarks;
and on Countix, long sequences with set-up and rests around a few reps, where any movement that
looks like a rep is one. The learned opinion above did not close the gap on data it was not
trained on. Earlier loader experiments on RepCount-A (aspect restoration variants, depth-based
side selection, 3D bone lengths) are recorded in this file's history at commit 787b21c.
""")
PYEOF
echo "wrote $OUT"
