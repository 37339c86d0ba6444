"""Why the template summary was used, in words a person understands.

The stored reason is the technical one (for the log and `hiitpi summary`); the page shows
`explain(reason)`: what happened to the coach model, and that the summary was written from the
session's own numbers instead.
"""

from __future__ import annotations

FROM_NUMBERS = "so this summary was written straight from your numbers."


def explain(reason: str | None) -> str:
    """One sentence for the page about a template summary's ``reason`` ("" for none)."""
    if not reason:
        return ""
    low = reason.lower()
    missing = (
        low.startswith(("model file missing", "no model file", "no 'tinyllama'")) or "not configured" in low
    )
    if missing or (low.startswith("model failed to load") and "not found" in low):
        why = "The coach model is not installed on this device"
    elif low.startswith("model failed to load"):
        why = "The coach model could not be loaded (the file may be damaged)"
    elif low.startswith("time limit"):
        why = "The coach model took longer than its time limit"
    elif low == "cancelled" or "cancel" in low:
        why = "The coach model was stopped before it finished (a new session started, or the device was stopping)"
    elif "language:" in low:
        why = "The coach model twice wrote text that was not a plain English summary"
    elif "fact check" in low:
        why = "The coach model twice wrote numbers that are not in your session"
    elif low.startswith("model error"):
        why = "The coach model failed while writing"
    elif "queue full" in low:
        why = "The coach was too busy"
    else:
        why = "The coach model's text could not be used"
    return f"{why}, {FROM_NUMBERS}"
