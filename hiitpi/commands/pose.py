"""`hiitpi pose IMAGE` (keypoints of one image), `hiitpi pose --list` (the pose models) and
`hiitpi bench pose` (model latency)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from hiitpi.config import Settings
from hiitpi.errors import EXIT_BAD_INPUT, HiitpiError, InputError
from hiitpi.stats import summary

log = logging.getLogger(__name__)

#: Default bench frames when --source is not given: a clip (then an image) under the shared data.
_BENCH_DEFAULT_CLIP = Path("clips") / "squat" / "yuyoujiang_squat.mp4"
_BENCH_DEFAULT_IMAGE = Path("images") / "squat.bmp"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pose",
        help="print the keypoints of one image (and draw the skeleton); --list the pose models",
        description="Run the pose model on one image and print its 17 COCO keypoints "
        "(x, y in [0, 1] of the image, score). With --list: every pose model, its files per "
        "device and its options.",
    )
    p.add_argument("image", metavar="IMAGE", nargs="?", help="image file (PNG, JPEG, BMP, ...)")
    p.add_argument("--list", action="store_true", help="list the pose models (backends) and exit")
    p.add_argument("--model", help="pose model (see --list; default: [pose] model)")
    p.add_argument("--threads", type=int, help="TFLite CPU threads")
    p.add_argument("--device", choices=["auto", "cpu", "edgetpu"], help="where to run the model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--draw", metavar="OUT.png", help="save the image with the skeleton drawn")
    p.set_defaults(func=pose_cmd, settings_overrides=_overrides)


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "pose",
        help="pose model latency: inference and full per-frame cost (median, p90)",
        description="Time the pose model on real frames: inference (the model invocations) and the "
        "full per-frame cost (crop/resize + inference + decode), over --runs frames after a warm-up.",
    )
    p.add_argument("--model", help="pose model (default: [pose] model)")
    p.add_argument("--threads", type=int, help="TFLite CPU threads (default: [pose] threads)")
    p.add_argument("--device", choices=["auto", "cpu", "edgetpu"], help="where to run the model")
    p.add_argument(
        "--source",
        help="video or image to take frames from (default: $HIITPI_DATA or ../shared/data: "
        f"{_BENCH_DEFAULT_CLIP}, else {_BENCH_DEFAULT_IMAGE})",
    )
    p.add_argument("--runs", type=int, default=200, help="timed frames (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed frames first (default 20)")
    p.add_argument("--max-frames", type=int, default=120, help="distinct frames read from a video")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): args.model,
        ("pose", "threads"): args.threads,
        ("pose", "device"): args.device,
    }


def read_image(path: str | Path) -> Any:
    """An image file as a BGR uint8 array. Raises `InputError` saying why it cannot be read."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image {p} not found")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(
            f"cannot read image {p}: not an image format OpenCV can decode (PNG, JPEG, BMP, ...)"
        )
    return img


def pose_cmd(args: argparse.Namespace, settings: Settings) -> int:
    if args.list:
        return list_backends(settings, as_json=args.json)
    if args.image is None:
        raise InputError("give an IMAGE to find the pose in, or --list to see the pose models")
    from hiitpi.pose.registry import create_estimator, get_backend

    get_backend(settings.pose.model)  # a misspelled --model is reported before the image is read
    image = read_image(args.image)
    try:
        estimator = create_estimator(settings)
    except HiitpiError as exc:
        exc.exit_code = EXIT_BAD_INPUT  # here exit 1 means "no person": an unusable model is 2
        raise
    pose = estimator.estimate(image, 0.0)
    if args.draw:
        import cv2

        from hiitpi.pose.draw import draw_pose

        out = draw_pose(image, pose, min_score=settings.pose.min_score)
        if not cv2.imwrite(args.draw, out):
            raise InputError(f"cannot write {args.draw}: use a .png or .jpg name in a writable folder")
    if args.json:
        doc: dict[str, Any] = {"model": estimator.name, "device": estimator.device, "image": args.image}
        if pose is None:
            doc.update(person=False, keypoints=[])
        else:
            doc.update(person=True, **pose.to_dict())
        print(json.dumps(doc))
    elif pose is None:
        print(f"no person found in {args.image} ({estimator.name})")
    else:
        print(
            f"{estimator.name} on {estimator.device}: pose score {pose.score:.3f}, image {pose.width}x{pose.height}"
        )
        print(f"{'keypoint':18s} {'x':>7s} {'y':>7s} {'score':>7s}")
        for kp in pose.to_dict()["keypoints"] + pose.to_dict().get("extras", []):
            print(f"{kp['name']:18s} {kp['x']:7.4f} {kp['y']:7.4f} {kp['score']:7.3f}")
    return 0 if pose is not None else 1


def describe_backends(settings: Settings) -> dict[str, Any]:
    """Every pose model: what it is, its files per device (in place or not), its options; and the
    backend modules that failed to import, with the reason."""
    from hiitpi.modelfiles import ModelStore
    from hiitpi.pose.registry import backend_specs, broken_backends

    store = ModelStore(settings)
    models = []
    for spec in backend_specs():
        options = {
            key: {"default": info.default, "description": info.description or ""}
            for key, info in spec.options.model_fields.items()
        }
        files = {
            device: {role: {"file": name, "in_place": store.has(name)} for role, name in by_role.items()}
            for device, by_role in spec.files.items()
        }
        models.append(
            {
                "name": spec.name,
                "title": spec.title,
                "description": spec.description,
                "module": spec.module,
                "configured": spec.name == settings.pose.model,
                "devices": list(spec.devices),
                "files": files,
                "options": options,
            }
        )
    return {"models": models, "not_loaded": broken_backends()}


def list_backends(settings: Settings, *, as_json: bool = False) -> int:
    """`hiitpi pose --list`: what `describe_backends` says, as text or JSON."""
    doc = describe_backends(settings)
    if as_json:
        print(json.dumps(doc))
        return 0
    for m in doc["models"]:
        mark = "*" if m["configured"] else " "
        print(f"{mark} {m['name']:20s} {m['title']}  [{', '.join(m['devices'])}]")
        print(f"    {m['description']}")
        for device, by_role in m["files"].items():
            files = ", ".join(
                f"{f['file']} ({'in place' if f['in_place'] else 'missing'})" for f in by_role.values()
            )
            print(f"    files on {device}: {files}")
        for key, opt in m["options"].items():
            print(f"    option {key} = {json.dumps(opt['default'])}: {opt['description']}")
    for module, reason in doc["not_loaded"].items():
        print(f"! not loaded: backend module {module}: {reason}")
    print(
        "(* = [pose] model; options go in [pose.options.<model>]; `hiitpi models fetch <model>` gets the files)"
    )
    return 0


def default_bench_source() -> Path | None:
    """A real clip (else image) under $HIITPI_DATA, else the checkout's ../shared/data."""
    roots = [os.environ.get("HIITPI_DATA"), Path(__file__).resolve().parents[2].parent / "shared" / "data"]
    for root in roots:
        if not root:
            continue
        for rel in (_BENCH_DEFAULT_CLIP, _BENCH_DEFAULT_IMAGE):
            if (Path(root) / rel).is_file():
                return Path(root) / rel
    return None


def read_frames(source: Path, max_frames: int) -> list:
    """Up to ``max_frames`` consecutive frames of a video, or the one image."""
    import cv2

    img = (
        cv2.imread(str(source), cv2.IMREAD_COLOR)
        if source.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
        else None
    )
    if img is not None:
        return [img]
    cap = cv2.VideoCapture(str(source))
    frames = []
    try:
        while len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise InputError(f"no frames could be read from {source}: not a video or image OpenCV can decode")
    return frames


def bench_pose(estimator: Any, frames: list, runs: int, warmup: int) -> dict[str, Any]:
    """Time ``estimator.estimate`` over ``frames`` (cycled, in order, as a stream).

    Inference is the time spent in the backend's TFLite model runs for that frame (all of its
    models: BlazePose's detector counts on the frames where it ran); the frame cost is the
    whole ``estimate`` call.
    """
    models = list(estimator.models.values())
    infer_ms: list[float] = []
    frame_ms: list[float] = []
    infer_cpu_ms: list[float] = []
    frame_cpu_ms: list[float] = []
    found = 0
    estimator.reset()
    for i in range(warmup + runs):
        frame = frames[i % len(frames)]
        before = sum(m.run_seconds for m in models)
        before_cpu = sum(m.run_cpu_seconds for m in models)
        t0 = time.perf_counter()
        c0 = time.process_time()
        pose = estimator.estimate(frame, i / 30.0)
        elapsed = time.perf_counter() - t0
        elapsed_cpu = time.process_time() - c0
        if i < warmup:
            continue
        infer_ms.append((sum(m.run_seconds for m in models) - before) * 1e3)
        frame_ms.append(elapsed * 1e3)
        infer_cpu_ms.append((sum(m.run_cpu_seconds for m in models) - before_cpu) * 1e3)
        frame_cpu_ms.append(elapsed_cpu * 1e3)
        found += pose is not None
    result: dict[str, Any] = {}
    for prefix, values in (
        ("", infer_ms),
        ("frame_", frame_ms),
        ("cpu_", infer_cpu_ms),
        ("frame_cpu_", frame_cpu_ms),
    ):
        # cpu_*: CPU time (all threads of this process): what the work costs without waiting for a
        # core; on a busy machine the wall-clock figures also include that waiting.
        figures = summary(values)
        for stat in ("median", "p90", "p95"):
            result[f"{prefix}{stat}_ms"] = figures[stat]
    result.update(runs=runs, warmup=warmup, person_found=found)
    return result


def bench_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.pose.registry import create_estimator
    from hiitpi.pose.runtime import load_runtime

    if args.runs < 1 or args.warmup < 0:
        raise InputError("--runs must be >= 1 and --warmup >= 0")
    source = Path(args.source) if args.source else default_bench_source()
    if source is None:
        raise InputError(
            "no frames to time: pass --source VIDEO_OR_IMAGE (or set HIITPI_DATA to the shared data)"
        )
    if not source.is_file():
        raise InputError(f"--source {source} not found")
    frames = read_frames(source, args.max_frames)
    estimator = create_estimator(settings)
    result = {
        "model": estimator.name,
        "threads": settings.pose.threads,
        "device": estimator.device,
        "runtime": load_runtime().module_name,
        "source": str(source),
        "frame_size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames": len(frames),
    }
    result.update(bench_pose(estimator, frames, args.runs, args.warmup))
    if hasattr(estimator, "detector_runs"):
        result["detector_runs"] = estimator.detector_runs
    estimator.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['model']} ({result['device']}, {result['threads']} thread(s), {result['runtime']}) "
            f"on {result['frames']} frame(s) {result['frame_size']} of {source.name}, {args.runs} runs:\n"
            f"  inference  median {result['median_ms']:.2f} ms  p90 {result['p90_ms']:.2f} ms  "
            f"p95 {result['p95_ms']:.2f} ms\n"
            f"  per frame  median {result['frame_median_ms']:.2f} ms  p90 {result['frame_p90_ms']:.2f} ms  "
            f"p95 {result['frame_p95_ms']:.2f} ms  (crop/resize + inference + decode)\n"
            f"  CPU time   inference median {result['cpu_median_ms']:.2f} ms, per frame median "
            f"{result['frame_cpu_median_ms']:.2f} ms (all threads; excludes waiting for a core)\n"
            f"  person found in {result['person_found']}/{args.runs} frames",
            file=sys.stdout,
        )
    return 0
