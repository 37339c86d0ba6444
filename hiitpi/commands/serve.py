"""`hiitpi serve`: start the appliance (engine + dashboard)."""

from __future__ import annotations

import argparse
import logging

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="start the appliance: camera → pose → referee → Redis, and the dashboard",
        description="Start the appliance. With --source FILE it runs on a video file instead of a camera.",
    )
    p.add_argument("--source", help="'auto', 'picamera', /dev/videoN, rtsp://..., or a video file")
    p.add_argument("--workout", help="rules name to start with (see `hiitpi rules list`)")
    p.add_argument("--model", help="pose model (movenet-lightning, movenet-thunder, posenet, blazepose-full)")
    p.add_argument("--host", help="dashboard listen address (default 0.0.0.0)")
    p.add_argument("--port", type=int, help="dashboard port (default 8050)")
    p.add_argument("--redis-url", help="Redis URL for the live bus")
    p.add_argument("--loop", action="store_true", default=None, help="loop a video file")
    p.add_argument("--privacy", action="store_true", default=None, help="stream the skeleton only")
    p.add_argument("--check", action="store_true", help="report status of every part and exit")
    p.set_defaults(func=serve_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("capture", "source"): args.source,
        ("referee", "workout"): args.workout,
        ("pose", "model"): args.model,
        ("web", "host"): args.host,
        ("web", "port"): args.port,
        ("redis", "url"): args.redis_url,
        ("capture", "loop"): args.loop,
        ("web", "privacy_mode"): args.privacy,
    }


def serve_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.references import check_references

    if args.check:
        from hiitpi.status import report_status

        return 0 if report_status(settings) else 1
    check_references(settings)  # a misspelled model or workout: one line, exit 2, before anything starts
    from hiitpi.appliance import run_appliance

    return run_appliance(settings)
