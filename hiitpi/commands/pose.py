"""`hiitpi pose IMAGE` (keypoints of one image) and `hiitpi pose --list` (the pose models)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from hiitpi.config import Settings
from hiitpi.errors import EXIT_BAD_INPUT, HiitpiError, InputError

log = logging.getLogger(__name__)


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
