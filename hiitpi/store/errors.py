"""Errors the store raises: each says what went wrong and what to do next."""

from __future__ import annotations

from hiitpi.errors import HiitpiError, InputError


class StoreError(HiitpiError, RuntimeError):
    """The database could not be read or written (disk full, read-only, corrupt, locked)."""


class InvalidInput(InputError, ValueError):
    """A value from a user or a page that the store refuses; the message is fit to show."""


class NotFound(InputError, LookupError):
    """A player or session id that does not exist."""


def describe_db_error(exc: BaseException, path: object) -> str:
    """A one-line explanation of a SQLite failure with the next step for the user."""
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    if "disk is full" in low or "no space" in low or "file too large" in low:
        hint = "free space on the disk that holds it; nothing written before is lost"
    elif "disk i/o error" in low:
        hint = (
            "the disk refused a write: free space on it (or raise the file-size limit), "
            "or check the disk/SD card for faults; nothing written before is lost"
        )
    elif "readonly" in low or "read-only" in low or "read only" in low:
        hint = "the file or its folder is read-only: fix its permissions or mount it read-write"
    elif "locked" in low or "busy" in low:
        hint = "another process holds a write lock: stop it or raise [store] busy_timeout_ms"
    elif "unable to open" in low:
        hint = "check that the folder exists and is writable"
    elif "malformed" in low or "not a database" in low:
        hint = "the file is damaged: restore a backup or move it aside to start a new history"
    else:
        hint = "see the log for details"
    return f"database {path}: {text} — {hint}"
