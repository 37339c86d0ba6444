"""The appliance's secrets: the pairing code phones use once, and the key that signs their cookies.

Both are generated on this machine (at install, or at the first start) and kept in
``<data_dir>/secrets.json`` with mode 0600; nothing secret is in the repository or the config.
The pairing code itself is not stored, only a salted hash of it: it is shown once (the journal
and a QR code in the terminal), and `hiitpi pair --reset` makes a new one when it is lost, which
also replaces the signing key so every phone paired before must pair again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"
#: Letters and digits a person cannot mix up when typing (no 0/O, 1/I/L, U).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 30**10 ≈ 5.9e14 codes; with the login rate limit, not guessable on a LAN
FORMAT_VERSION = 1


class SecretsError(HiitpiError, RuntimeError):
    """The secrets file is unreadable or unsafe; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ApplianceSecrets:
    session_secret: str
    pairing_salt: str
    pairing_hash: str
    path: Path

    def check_code(self, code: str) -> bool:
        """True when ``code`` (any case, spaces and dashes ignored) is the pairing code."""
        digest = _hash_code(normalize_code(code), self.pairing_salt)
        return hmac.compare_digest(digest, self.pairing_hash)


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -_\t\r\n")


def format_code(code: str) -> str:
    """ABCDE-FGHJK: easier to read out and type than ten letters in a row."""
    return f"{code[:5]}-{code[5:]}"


def _hash_code(code: str, salt: str) -> str:
    return hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()


def _new_code() -> str:
    return "".join(_random.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def secrets_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRETS_FILE


def _write_private(path: Path, data: dict) -> None:
    """Write ``data`` as JSON readable by the owner only, atomically (no window with wider mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(data, indent=1).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _new_secrets(path: Path) -> tuple[dict, str]:
    code = _new_code()
    salt = _random.token_hex(16)
    data = {
        "version": FORMAT_VERSION,
        "session_secret": _random.token_hex(32),
        "pairing_salt": salt,
        "pairing_hash": _hash_code(code, salt),
    }
    return data, code


def create_secrets(data_dir: Path) -> tuple[ApplianceSecrets, str]:
    """Make a new pairing code and signing key, replacing any; returns (secrets, the code)."""
    path = secrets_path(data_dir)
    data, code = _new_secrets(path)
    _write_private(path, data)
    log.info("wrote new pairing code and session key to %s (mode 0600)", path)
    return _from_dict(data, path), code


@dataclass
class PendingCode:
    """A first start's new secrets, held in memory until `announce`: then written and the code
    shown once. The appliance announces once its dashboard listens, so a start that fails (the
    port is taken) never shows a code nobody can use, and the next start makes the code."""

    data: dict
    path: Path
    code: str
    url: str | None

    def announce(self) -> None:
        _write_private(self.path, self.data)
        log.info("wrote new pairing code and session key to %s (mode 0600)", self.path)
        log.warning("first start: a new pairing code was made%s", announce_code(self.code, self.url))


def load_or_prepare_secrets(
    data_dir: Path, *, url_for_code=None
) -> tuple[ApplianceSecrets, PendingCode | None]:
    """The stored secrets (and None), or new ones not yet written with their `PendingCode`."""
    found = load_secrets(data_dir)
    if found is not None:
        return found, None
    path = secrets_path(data_dir)
    data, code = _new_secrets(path)
    url = url_for_code(code) if url_for_code else None
    return _from_dict(data, path), PendingCode(data, path, code, url)


def _from_dict(data: dict, path: Path) -> ApplianceSecrets:
    try:
        return ApplianceSecrets(
            session_secret=str(data["session_secret"]),
            pairing_salt=str(data["pairing_salt"]),
            pairing_hash=str(data["pairing_hash"]),
            path=path,
        )
    except (KeyError, TypeError) as exc:
        raise SecretsError(f"{path} is missing {exc}; run `hiitpi pair --reset` to make new secrets") from exc


def load_secrets(data_dir: Path) -> ApplianceSecrets | None:
    """The stored secrets, or None when there are none yet. Refuses a file others can read."""
    path = secrets_path(data_dir)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077:
        raise SecretsError(
            f"{path} is readable by other users (mode {st.st_mode & 0o777:o}); "
            f"run `chmod 600 {path}` and then `hiitpi pair --reset`, since the code may have leaked"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SecretsError(f"cannot read {path}: {exc}; run `hiitpi pair --reset`") from exc
    if not isinstance(data, dict) or len(str(data.get("session_secret", ""))) < 32:
        raise SecretsError(f"{path} has no usable session key; run `hiitpi pair --reset`")
    return _from_dict(data, path)


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


def announce_code(code: str, url: str | None) -> str:
    """The text shown once: the code, the link and its QR code."""
    lines = [
        "",
        "=" * 60,
        f"  HIIT PI pairing code: {format_code(code)}",
    ]
    if url:
        lines.append(f"  Open {url} on your phone, or scan:")
    lines.append("=" * 60)
    text = "\n".join(lines) + "\n"
    if url:
        try:
            text += qr_text(url)
        except ImportError:
            text += "  (install segno to show a QR code here)\n"
    text += "  This code is shown only once. Lost it? `hiitpi pair --reset` makes a new one.\n"
    return text


def ensure_secrets(data_dir: Path, *, url_for_code=None) -> ApplianceSecrets:
    """Load the secrets, creating them (and logging the new code once) on the first start.

    ``url_for_code(code) -> str`` builds the pairing link shown with the QR code.
    """
    secrets, pending = load_or_prepare_secrets(data_dir, url_for_code=url_for_code)
    if pending is not None:
        pending.announce()
    return secrets
