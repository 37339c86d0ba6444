#!/usr/bin/env python3
"""Train the exercise recogniser's classifier from the shared data; optionally report LOSO.

    .venv/bin/python scripts/train_recogniser.py                 # writes hiitpi/recognition/recogniser.npz
    .venv/bin/python scripts/train_recogniser.py --loso [--json]  # leave-one-source-out figures, no model written

Data: $HIITPI_DATA (or --data): clips/manifest.csv (poses from the pose model, cached per clip),
repcount_pose/, countix_pose/ and salient_poses/. Deterministic: the same data give the same model.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    from hiitpi.config import load_settings
    from hiitpi.recognition import train
    from hiitpi.recognition.model import DEFAULT_MODEL
    from hiitpi.referee.catalog import load_catalog

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("HIITPI_DATA") or str(REPO.parent / "shared" / "data"))
    p.add_argument("--rules", default=str(REPO / "rules"))
    p.add_argument("--out", default=str(DEFAULT_MODEL))
    p.add_argument("--hidden", type=int, default=32, help="hidden layer width (0: softmax regression)")
    p.add_argument("--loso", action="store_true", help="leave-one-source-out figures instead of a model")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not Path(args.data).is_dir():
        print(
            f"train_recogniser: {args.data}: data folder not found (set HIITPI_DATA or --data)",
            file=sys.stderr,
        )
        return 2
    overrides = {("referee", "rules_dir"): args.rules}
    if os.environ.get("HIITPI_MODEL_MIRROR"):
        overrides[("models", "mirror")] = os.environ["HIITPI_MODEL_MIRROR"]
    settings = load_settings(None, overrides=overrides)
    rules = load_catalog(args.rules)
    td = train.load_training_data(args.data, rules, settings)
    if args.loso:
        report = train.loso_report(td, rules, settings.referee.pace_window_s, args.hidden)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            from hiitpi.recognition.evaluate import format_report

            for group, rep in report.items():
                print(f"== left out: {group}")
                print(format_report(rep))
                print()
        return 0
    clf = train.train_model(td, hidden=args.hidden)
    clf.save(args.out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes): classes {', '.join(clf.classes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
