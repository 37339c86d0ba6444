#!/usr/bin/env bash
# Regenerate docs/accuracy.md: rep-counting accuracy of the referee on both labelled data sets.
#
#   scripts/eval_accuracy.sh [DATA_DIR]
#
# DATA_DIR holds clips/manifest.csv and repcount_pose/ (default: $HIITPI_DATA, else ../shared/data).
# Models come from $HIITPI_MODEL_MIRROR (default ../shared/models). Raw poses are cached per clip and
# model under <data_dir>/cache/poses, so a second run only re-runs the referee (seconds).
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

"$PY" - "$tmp/clips.json" "$tmp/repcount.json" "$MODEL" >"$OUT" <<'PYEOF'
import json, subprocess, sys

clips = json.load(open(sys.argv[1]))
rc = json.load(open(sys.argv[2]))
model = sys.argv[3]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def f(v):
    return "-" if v is None else f"{v:.3f}"


def table(rep, key):
    out = [f"| {key} | exercise | gt | pred | error |", "|---|---|---:|---:|---:|"]
    for c in rep["clips"]:
        gt = str(c["gt"]) if "gt_min" not in c else f"{c['gt_min']}–{c['gt_max']}"
        pred = "-" if c["pred"] is None else str(c["pred"])
        err = "-" if c.get("abs_err") is None else str(c["abs_err"])
        if c.get("error"):
            err += f" ({c['error']})"
        out.append(f"| {c[key]} | {c['exercise']} | {gt} | {pred} | {err} |")
    return "\n".join(out)


def attempts(rep):
    """MAE/OBO per exercise if every no-rep counted as a rep (the labels' convention)."""
    per = {}
    for c in rep["clips"]:
        if c["pred"] is None:
            continue
        err = abs(c["pred"] + c.get("no_reps", 0) - c["gt"])
        per.setdefault(c["exercise"], []).append((err / max(c["gt"], 1), err <= 1))
    out = ["| exercise | MAE, reps only | MAE, reps + no-reps | OBO, reps + no-reps |", "|---|---:|---:|---:|"]
    for name, v in sorted(per.items()):
        m = rep["per_exercise"][name]["mae"]
        out.append(f"| {name} | {f(m)} | {f(sum(a for a, _ in v) / len(v))} | {f(sum(b for _, b in v) / len(v))} |")
    allv = [x for v in per.values() for x in v]
    out.append(f"| **overall** | **{f(rep['mae'])}** | {f(sum(a for a, _ in allv) / len(allv))} | {f(sum(b for _, b in allv) / len(allv))} |")
    return "\n".join(out)


#: RepCount clips whose error is not the detector's, and why (read off index.csv's per-rep frames
#: against the referee's events and the feature traces; see "Where the remaining error is").
NOT_THE_DETECTOR = {
    "test2320.mp4": "no person in 198 of 300 frames",
    "train2659.mp4": "no person in 96 of 300 frames, garbage landmarks in the rest",
    "train1665.mp4": "arms at chest height: no-reps ('arms not overhead') the labels count",
    "stu4_46.mp4": "push-ups bottoming at ~120 degrees of elbow: no-reps ('not low enough') the labels count",
    "stu2_62.mp4": "front-view sit-ups: no feature in the data follows the labelled cycles",
    "stu8_58.mp4": "six full sit-ups in the torso tilt, labelled as 3 cycles",
    "val579.mp4": "a first cycle already under way at frame 2 and a last one of 227 frames (7.6 s, past max_s)",
    "train3335.mp4": "1 labelled cycle; the torso tilt goes through two full sit-ups in it and after",
}


def budget(rep, target=0.20):
    """How much of the MAE the clips above take, and what the rest would need for the target."""
    errs = {c["video"]: abs(c["pred"] - c["gt"]) / c["gt"] for c in rep["clips"] if c["pred"] is not None}
    fixed = {v: e for v, e in errs.items() if v in NOT_THE_DETECTOR}
    rest = [e for v, e in errs.items() if v not in NOT_THE_DETECTOR]
    n = len(errs)
    allowed = target * n - sum(fixed.values())
    lines = ["| video | error | why it is not the detector's |", "|---|---:|---|"]
    for v, e in sorted(fixed.items(), key=lambda x: -x[1]):
        lines.append(f"| {v} | {e:.3f} | {NOT_THE_DETECTOR[v]} |")
    text = (
        f"These {len(fixed)} clips add {sum(fixed.values()) / n:.3f} to the overall MAE on their own. For MAE ≤ "
        f"{target:.2f} over all {n} clips the other {len(rest)} would have to total a relative error of "
        f"{allowed:.2f} (a mean of {allowed / max(len(rest), 1):.3f} each); they total {sum(rest):.2f} today "
        f"(mean {sum(rest) / max(len(rest), 1):.3f}, the detector's own MAE on this set)."
    )
    return "\n".join(lines) + "\n\n" + text


def summary(rep):
    out = ["| exercise | clips | MAE | OBO |", "|---|---:|---:|---:|"]
    for name, m in rep["per_exercise"].items():
        out.append(f"| {name} | {m['n']} | {f(m['mae'])} | {f(m['obo'])} |")
    out.append(f"| **overall** | {rep['n']} | **{f(rep['mae'])}** | **{f(rep['obo'])}** |")
    return "\n".join(out)


print(f"""# Rep-counting accuracy

Generated by `scripts/eval_accuracy.sh` at commit `{commit}` — do not edit by hand; rerun the
script and review the diff. MAE = mean(|pred − gt| / gt); OBO = share of clips with
|pred − gt| ≤ 1. Where a clip starts or ends mid-rep the manifest gives an accepted range and a
prediction inside it is exact.

## Clips (`clips/manifest.csv`, pose model `{model}`)

18 real videos, the full pipeline: MoveNet → One Euro smoothing → referee rules.

{summary(clips)}

{table(clips, "file")}

## RepCount-A pose sequences (`repcount_pose/`)

40 test sequences of BlazePose landmarks (given, no pose model run). The arrays were min–max
normalised per frame and per axis, which distorts angles; the loader restores each frame's aspect
from bone-length constancy before the same rules run. Published pose-based counters on the full
RepCount-A test set: PoseRAC MAE 0.236 / OBO 0.56; joint-angle PoseRAC 0.211 / 0.60.

{summary(rc)}

### Counting convention: the judge's count, not every attempt

RepCount-A's labels count every repetition the person attempts. The referee counts like a judge:
a push-up whose elbows stop short (the rule's `partial` threshold) or whose hips sag or pike
out of the body line, a sit-up that does not come up far enough or does not go back down, a jack
without the arms overhead is a **no-rep with a reason**, not a rep. That is the product's
behaviour and the `pred` column above; it is not relaxed to fit the labels. Where the labels count half-range movement (stu4_46: push-ups that
bottom out near 120° of elbow), that costs MAE. For the record, the same run scored as if every
no-rep were a rep (most no-reps on these noisy sequences are jitter, so this is no better
overall — it only shows where the convention, not the detector, is the error):

{attempts(rc)}

### Where the remaining RepCount error is

Read off the per-rep start/end frames in `index.csv` against the referee's events:
- **half-range reps the labels count** (see above): shallow push-ups, sit-ups that come back only
  part-way between fast reps (they merge into one rep);
- **pose data without a usable person**: frames with no detection (all-zero rows: test2320 has
  198 of 300, train3344 77 of 250, train2659 96 of 300, in stretches longer than a rep) and
  sequences whose landmarks are garbage where present (elbow angles of a few degrees, shoulders
  below the wrists in a push-up);
- **front-view sit-ups**: seen from the feet, the torso's tilt hardly changes; the sit-up rule
  therefore also reads the curl (shoulders to knees in hip widths, which do not foreshorten) when
  the hips face the camera, which made stu10_60 exact, but in stu2_62 no 2D feature separates
  lying from sitting (the tilt only drifts from 40 to 80 degrees);
- **labels that disagree with the movement**: a jack variant with the arms at chest height that
  the labels count as 3 long cycles (train1665), six full sit-ups labelled as 3 (stu8_58),
  a slow-motion jack of 7.6 s counted as one cycle (val579), one labelled cycle where the
  torso tilt shows two sit-ups (train3335).

The issue's target on this set (MAE ≤ 0.20, OBO ≥ 0.65) is met on OBO, not on MAE, and under
the judge's convention it cannot be met by the detector alone:

{budget(rc)}

Most of what is left is noisy fast push-ups whose top position reads as bent arms (stu9_52),
sit-ups with gaps at one end of every rep (train3344), fast sit-ups that do not lie back down
between reps (stu9_57: a judge's no-rep, merged into the next rep) and reps at the clips' edges.

Loader changes tried and measured on this set, not kept: smoothing the per-frame aspect
estimates over 5 frames (overall 0.282 / 0.650 before and after); giving the far side of a
side-on body a low score from BlazePose depth, so features read the near limbs (0.267 / 0.675 →
0.312 / 0.625); fixing each sequence's overall aspect from limb-to-torso proportions, which
bone-length constancy cannot pin down when every frame is squashed alike (0.267 / 0.675 →
0.338 / 0.625: foreshortened limbs mislead it); restoring each frame's three axis scales from
3D bone lengths (BlazePose's z included; in 3D the bones do not foreshorten) — squats improve,
sit-ups do not (0.241 / 0.750 → 0.254–0.261 / 0.625–0.675); replacing frames whose restored
aspect jumps by more than 2–3× from its neighbours with the local median (0.243–0.252).
Rule changes tried and not kept: letting the push-up's top position be read from the chest
height alone with a lower elbow gate (push-up MAE 0.312 → 0.300 at best, 0.002 overall, by
trading stu9_52's missed reps for stu6_42's extra ones); a push-up counter on the chest height
alone with hysteresis (push-up MAE 0.317–0.418). Calling a no-rep only after the first counted
rep, or only for movements at least `min_s` long, leaves the counts as they are and removes most
no-reps outside the labelled cycles (37 → 20 and 37 → 15 of 97) but also real ones (the
arms-at-chest-height jacks of train1665 would never hear "arms not overhead"), so it was not kept.
A "went part-way back, then up again" no-rep (the sit-up that does not lie back down, the
push-up that does not straighten between reps), which leaves counts as they are: with a
one-frame dwell on the way back it explained 5 of stu9_57's 6 missing sit-ups and 15 of
stu9_52's 22 missing push-ups but also fired 12 times on stu6_42's 8 slow push-ups and on three
sit-up clips the referee counts exactly; holding the way back for half of `min_s` silenced it
everywhere. The landmarks are too noisy for it here; not kept.

{table(rc, "video")}
""")
PYEOF
echo "wrote $OUT"
