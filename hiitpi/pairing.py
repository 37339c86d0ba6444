"""Pairing: the one-time codes phones pair with, the phones paired, and the key that signs their cookies.

Everything lives in ``<data_dir>/secrets.json`` (mode 0600, written atomically, changed under a
lock file so `hiitpi pair` and the running appliance can both change it). Nothing secret is in
the repository or the config, and no code is stored in the clear, only a salted HMAC of it.

- A **code** is good for one phone, once, for a while: made on the device (the first start,
  `hiitpi pair --show`: ``[web] pairing_code_minutes``) or by a paired phone for another one (an
  invite: ``[web] invite_minutes``). Using it removes it; an expired one is ignored and purged.
  Making a code never signs anyone out.
- A **phone** is an entry with a random id, which its signed cookie carries: the cookie is
  worth something only while the entry is here. Logout removes the phone's entry; `hiitpi pair
  --revoke ID` removes any.
- `hiitpi pair --reset` replaces the signing key and forgets every phone and code at once (a new
  code is made and shown).

`Pairing` is the file's one reader and writer. `current()` re-reads the file when it changed (one
``stat`` per call), so what `hiitpi pair` did is in force for the running appliance at its next
request, without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets as _random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"
LOCK_FILE = "secrets.lock"
#: Letters and digits a person cannot mix up when typing (no 0/O, 1/I/L, U).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 30**10 ≈ 5.9e14 codes; one use, minutes long, tries limited per address
FORMAT_VERSION = 2
#: A version-1 file's permanent code, kept for one more pairing this long after the upgrade.
LEGACY_CODE_S = 24 * 3600
MAX_CODES = 20  # outstanding codes; a new one beyond this replaces the oldest
MAX_PHONES = 64
PHONE_NAME_MAX = 60


class SecretsError(HiitpiError, RuntimeError):
    """The secrets file is unreadable or unsafe; the message says what to do."""


class PairingFull(HiitpiError, RuntimeError):
    """Too many phones are paired to add one more."""


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -_\t\r\n")


def format_code(code: str) -> str:
    """ABCDE-FGHJK: easier to read out and type than ten letters in a row."""
    return f"{code[:5]}-{code[5:]}"


def _digest(code: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), normalize_code(code).encode(), hashlib.sha256).hexdigest()


def _legacy_digest(code: str, salt: str) -> str:  # version 1 hashed its permanent code with scrypt
    return hashlib.scrypt(normalize_code(code).encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()


def _new_code() -> str:
    return "".join(_random.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def secrets_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRETS_FILE


@dataclass(frozen=True, slots=True)
class Code:
    salt: str
    hash: str
    expires: float  # time.time()
    kind: str = "device"  # "device" (made on the appliance), "invite" (by a paired phone), "legacy"

    def matches(self, code: str) -> bool:
        digest = _legacy_digest(code, self.salt) if self.kind == "legacy" else _digest(code, self.salt)
        return hmac.compare_digest(digest, self.hash)


@dataclass(frozen=True, slots=True)
class Phone:
    id: str
    name: str
    paired: float  # time.time()
    address: str = ""
    via: str = "device"  # the kind of code it paired with


@dataclass(frozen=True)
class PairingState:
    """One reading of the file."""

    session_secret: str
    codes: tuple[Code, ...] = ()
    phones: dict[str, Phone] = field(default_factory=dict)

    def live_codes(self, now: float) -> tuple[Code, ...]:
        return tuple(c for c in self.codes if c.expires > now)

    def to_json(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "session_secret": self.session_secret,
            "codes": [
                {"salt": c.salt, "hash": c.hash, "expires": round(c.expires, 3), "kind": c.kind}
                for c in self.codes
            ],
            "phones": {
                p.id: {"name": p.name, "paired": round(p.paired, 3), "address": p.address, "via": p.via}
                for p in self.phones.values()
            },
        }

    @classmethod
    def from_json(cls, data: object, path: Path, now: float) -> tuple[PairingState, bool]:
        """(the state, whether it was upgraded from an older format and should be written)."""
        if not isinstance(data, dict) or len(str(data.get("session_secret", ""))) < 32:
            raise SecretsError(f"{path} has no usable session key; run `hiitpi pair --reset`")
        try:
            if data.get("version", 1) == 1:  # the permanent code of version 1: good once more, for a day
                legacy = Code(
                    str(data["pairing_salt"]), str(data["pairing_hash"]), now + LEGACY_CODE_S, "legacy"
                )
                return cls(str(data["session_secret"]), (legacy,), {}), True
            codes = tuple(
                Code(str(c["salt"]), str(c["hash"]), float(c["expires"]), str(c.get("kind", "device")))
                for c in data.get("codes", [])
            )
            phones = {
                str(pid): Phone(
                    str(pid),
                    str(p.get("name", "")),
                    float(p.get("paired", 0)),
                    str(p.get("address", "")),
                    str(p.get("via", "device")),
                )
                for pid, p in dict(data.get("phones", {})).items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SecretsError(
                f"{path} is damaged ({exc}); run `hiitpi pair --reset` to make new secrets"
            ) from exc
        return cls(str(data["session_secret"]), codes, phones), False


def _write_private(path: Path, data: dict) -> None:
    """Write ``data`` as JSON readable by the owner only, atomically (no window with wider mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(data, indent=1).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fresh(now: float, ttl_s: float) -> tuple[PairingState, str]:
    """A new signing key with one device code; no phones."""
    state = PairingState(_random.token_hex(32))
    return _with_code(state, now, ttl_s, "device")


def _with_code(state: PairingState, now: float, ttl_s: float, kind: str) -> tuple[PairingState, str]:
    code = _new_code()
    salt = _random.token_hex(16)
    codes = [*state.live_codes(now), Code(salt, _digest(code, salt), now + ttl_s, kind)][-MAX_CODES:]
    return PairingState(state.session_secret, tuple(codes), dict(state.phones)), code


class Pairing:
    """The pairing file of one data folder; see the module docstring. Thread-safe."""

    def __init__(self, data_dir: Path, *, clock=time.time):
        self.path = secrets_path(data_dir)
        self.lock_path = Path(data_dir) / LOCK_FILE
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: PairingState | None = None
        self._stamp: tuple | None = None
        self._last_error: str | None = None

    # -- reading ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> PairingState | None:
        """The file as it is now (None when there is none yet). Refuses a file others can read."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        if st.st_mode & 0o077:
            raise SecretsError(
                f"{self.path} is readable by other users (mode {st.st_mode & 0o777:o}); "
                f"run `chmod 600 {self.path}` and then `hiitpi pair --reset`, since the key may have leaked"
            )
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise SecretsError(f"cannot read {self.path}: {exc}; run `hiitpi pair --reset`") from exc
        state, upgraded = PairingState.from_json(data, self.path, self.clock())
        if upgraded:
            with contextlib.suppress(OSError):
                _write_private(self.path, state.to_json())
                log.warning(
                    "%s upgraded: its pairing code works once more within a day; phones must pair again",
                    self.path,
                )
        return state

    def current(self) -> PairingState | None:
        """The state, re-read when the file changed (one stat per call). On a request path: never
        raises; a file that cannot be used counts as no pairing (and is logged once)."""
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            self._note(f"cannot read {self.path}: {exc}")
            return None
        with self._lock:
            if stamp is not None and stamp == self._stamp:
                return self._cached
        if stamp is None:
            state = None
        else:
            try:
                state = self.load()
            except SecretsError as exc:
                self._note(exc.message)
                return None
        with self._lock:
            self._cached, self._stamp, self._last_error = state, stamp, None
        return state

    def _note(self, message: str) -> None:
        if message != self._last_error:
            log.error("pairing: %s; no phone can pair or open the dashboard until it is fixed", message)
        self._last_error = message

    def phone(self, phone_id: object) -> Phone | None:
        """The paired phone with this id (from a cookie), or None."""
        state = self.current()
        if state is None or not isinstance(phone_id, str):
            return None
        return state.phones.get(phone_id)

    # -- changing -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self) -> Iterator[list]:
        """Read, let the caller replace ``box[0]``, write: under the lock file (other processes)
        and the thread lock. ``box[0]`` is None when there is no file yet."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            box = [self.load()]
            before = box[0]
            yield box
            if box[0] is not before and box[0] is not None:
                _write_private(self.path, box[0].to_json())
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def reset(self, ttl_s: float) -> str:
        """A new signing key, no phones, no codes but one new device code (returned)."""
        with self._changing() as box:
            box[0], code = _fresh(self.clock(), ttl_s)
        log.info("new pairing key and code written to %s (mode 0600); every phone is signed out", self.path)
        return code

    def make_code(self, ttl_s: float, kind: str = "device") -> str:
        """A new one-time code (the first start's secrets too, when there are none); nobody is
        signed out."""
        with self._changing() as box:
            if box[0] is None:
                box[0], code = _fresh(self.clock(), ttl_s)
            else:
                box[0], code = _with_code(box[0], self.clock(), ttl_s, kind)
        return code

    def redeem(self, code: str, *, name: str, address: str) -> Phone | None:
        """Pair a phone with ``code``: the code is used up, the phone added. None for a wrong or
        expired code; `PairingFull` when MAX_PHONES are paired."""
        if not isinstance(code, str) or not normalize_code(code):
            return None
        now = self.clock()
        with self._changing() as box:
            state = box[0]
            if state is None:
                return None
            live = state.live_codes(now)
            match = next((c for c in live if c.matches(code)), None)
            if match is None:
                if len(live) != len(state.codes):  # purge the expired ones while here
                    box[0] = PairingState(state.session_secret, live, dict(state.phones))
                return None
            if len(state.phones) >= MAX_PHONES:
                raise PairingFull(
                    f"{MAX_PHONES} phones are paired already",
                    "sign one out on the Phones page (/pair) or with `hiitpi pair --revoke ID`",
                )
            phone = Phone(_random.token_urlsafe(12), _clean_name(name), now, address[:64], match.kind)
            box[0] = PairingState(
                state.session_secret,
                tuple(c for c in live if c is not match),
                {**state.phones, phone.id: phone},
            )
        return phone

    def revoke(self, phone_id: str) -> bool:
        """Sign one phone out (its cookie is worthless from now on); False if it was not paired."""
        with self._changing() as box:
            state = box[0]
            if state is None or phone_id not in state.phones:
                return False
            phones = {k: v for k, v in state.phones.items() if k != phone_id}
            box[0] = PairingState(state.session_secret, state.codes, phones)
        return True


def _clean_name(name: str) -> str:
    text = "".join(ch for ch in str(name) if ch.isprintable())
    return " ".join(text.split())[:PHONE_NAME_MAX] or "a browser"


def phone_name(user_agent: str | None) -> str:
    """'Chrome on Android' from a User-Agent header: enough to tell the family's phones apart."""
    ua = user_agent or ""
    os_name = next(
        (label for key, label in (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
                                  ("Windows", "Windows"), ("Mac OS X", "Mac"), ("CrOS", "Chromebook"),
                                  ("Linux", "Linux")) if key in ua),
        "",
    )  # fmt: skip
    browser = next(
        (label for key, label in (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("FxiOS", "Firefox"),
                                  ("CriOS", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari")) if key in ua),
        "a browser",
    )  # fmt: skip
    return f"{browser} on {os_name}" if os_name else browser


def pairing_url(host: str, port: int, code: str) -> str:
    """The link the QR code holds: opening it pairs the phone in one step."""
    return f"http://{host}:{port}/login?code={format_code(code)}"


def qr_text(data: str) -> str:
    """``data`` as a QR code drawn with block characters, for a terminal or the journal."""
    import io

    import segno

    out = io.StringIO()
    segno.make(data, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_svg(data: str) -> str:
    """``data`` as an inline SVG QR code (dark on white, with its quiet zone) for a page."""
    import segno

    return segno.make(data, error="m").svg_inline(scale=6, dark="#0f172a", light="#ffffff", border=4)


def announce_code(code: str, url: str | None, minutes: float | None = None) -> str:
    """The text shown once: the code, the link and its QR code, and how long it is good for."""
    lines = ["", "=" * 60, f"  HIIT PI pairing code: {format_code(code)}"]
    if url:
        lines.append(f"  Open {url} on your phone, or scan:")
    lines.append("=" * 60)
    text = "\n".join(lines) + "\n"
    if url:
        try:
            text += qr_text(url)
        except ImportError:
            text += "  (install segno to show a QR code here)\n"
    good = f"within {minutes:g} minutes" if minutes else "once"
    text += (
        f"  The code pairs one phone, {good}. `hiitpi pair --show` makes a new one (nobody is signed\n"
        "  out); a paired phone can invite another on its Phones page (/pair).\n"
    )
    return text


@dataclass
class PendingCode:
    """A first start's code, made only when `announce` is called: the appliance announces once its
    dashboard listens, so a start that fails (the port is taken) makes no code nobody can use."""

    pairing: Pairing
    ttl_s: float
    url_for_code: object = None  # (code) -> link

    def announce(self) -> None:
        if self.pairing.exists():  # made meanwhile (hiitpi pair)
            return
        code = self.pairing.make_code(self.ttl_s)
        url = self.url_for_code(code) if callable(self.url_for_code) else None
        log.info("wrote a new pairing key and code to %s (mode 0600)", self.pairing.path)
        log.warning("first start: a pairing code was made%s", announce_code(code, url, self.ttl_s / 60))


def create_secrets(data_dir: Path, *, ttl_s: float = 1800.0) -> tuple[Pairing, str]:
    """Reset the pairing of ``data_dir``: a new key, nobody paired, one new code (returned)."""
    pairing = Pairing(data_dir)
    return pairing, pairing.reset(ttl_s)


def load_secrets(data_dir: Path) -> PairingState | None:
    """The stored state, or None when there is none yet (`SecretsError` for an unsafe file)."""
    return Pairing(data_dir).load()
