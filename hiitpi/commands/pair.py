"""`hiitpi pair`: make the pairing code phones use (shown once, with a QR code)."""

from __future__ import annotations

import argparse
import sys

from hiitpi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pair",
        help="make the pairing code phones use to open the dashboard",
        description="Without --reset: make the pairing code if there is none yet and show it once. "
        "With --reset: make a new code and signing key; every phone must pair again.",
    )
    p.add_argument("--reset", action="store_true", help="replace the code and sign out every phone")
    p.add_argument("--host", help="address in the pairing link (default: this machine's LAN address)")
    p.set_defaults(func=pair_cmd)


def pair_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.pairing import (
        SecretsError,
        announce_code,
        create_secrets,
        load_secrets,
        pairing_url,
        secrets_path,
    )
    from hiitpi.web.auth import _lan_address

    try:
        existing = load_secrets(settings.general.data_dir)
    except SecretsError:
        if not args.reset:
            raise  # says what is wrong with the file; --reset replaces it
        existing = None
    if existing is not None and not args.reset:
        print(
            f"this appliance is already paired (secrets in {secrets_path(settings.general.data_dir)}); "
            "the code was shown once when it was made. `hiitpi pair --reset` makes a new one."
        )
        return 0
    _, code = create_secrets(settings.general.data_dir)
    host = args.host or (settings.web.host if settings.web.host not in ("0.0.0.0", "::") else _lan_address())
    sys.stdout.write(announce_code(code, pairing_url(host, settings.web.port, code)))
    if args.reset:
        print(
            "every phone paired before must pair again (restart the service: sudo systemctl restart hiitpi)"
        )
    return 0
