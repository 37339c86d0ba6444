"""`hiitpi pair`: pairing codes for phones, the phones paired, and signing them out."""

from __future__ import annotations

import argparse
import sys
import time

from hiitpi.config import Settings
from hiitpi.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pair",
        help="pairing codes for phones; list and sign out paired phones",
        description="Without options: set pairing up if it is not, showing the first code. --show: a new "
        "one-time code (with its QR code) for one more phone; nobody is signed out. --list: the phones "
        "paired. --revoke ID: sign one phone out. --reset: a new signing key; every phone is signed out "
        "and a new code is shown. A running appliance follows each change at once.",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="make and show a new one-time code")
    what.add_argument("--list", action="store_true", help="list the paired phones")
    what.add_argument("--revoke", metavar="ID", help="sign out the phone with this id (see --list)")
    what.add_argument("--reset", action="store_true", help="sign out every phone; make a new key and code")
    p.add_argument("--host", help="address in the pairing link (default: this machine's LAN address)")
    p.set_defaults(func=pair_cmd)


def pair_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.pairing import Pairing, SecretsError, announce_code, pairing_url
    from hiitpi.web.auth import _lan_address

    data_dir = settings.general.data_dir
    pairing = Pairing(data_dir)
    ttl = settings.web.pairing_code_minutes * 60
    try:
        state = pairing.load()
    except SecretsError:
        if not args.reset:
            raise  # says what is wrong with the file; --reset replaces it
        state = None
    if args.list:
        return _list(state)
    if args.revoke is not None:
        if state is None or not pairing.revoke(args.revoke):
            raise InputError(f"no phone {args.revoke!r} is paired", "`hiitpi pair --list` shows their ids")
        print(f"phone {args.revoke} is signed out: it must pair again to open the dashboard")
        return 0
    if state is not None and not (args.show or args.reset):
        print(
            f"pairing is set up ({len(state.phones)} phone(s) paired; secrets in {pairing.path}). "
            "`hiitpi pair --show` makes a code for one more phone; --list shows them."
        )
        return 0
    code = pairing.reset(ttl) if args.reset else pairing.make_code(ttl)
    host = args.host or (settings.web.host if settings.web.host not in ("0.0.0.0", "::") else _lan_address())
    sys.stdout.write(announce_code(code, pairing_url(host, settings.web.port, code), ttl / 60))
    if args.reset:
        print("every phone paired before is signed out (a running appliance already refuses them)")
    return 0


def _list(state) -> int:
    if state is None or not state.phones:
        print("no phone is paired; `hiitpi pair --show` makes a code")
        return 0
    print(f"{'id':18s} {'paired':17s} {'from':16s} phone")
    for p in sorted(state.phones.values(), key=lambda p: p.paired):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.paired))
        print(f"{p.id:18s} {when:17s} {p.address[:16]:16s} {p.name}")
    codes = len(state.live_codes(time.time()))
    print(f"{codes} unused code(s) still valid")
    return 0
