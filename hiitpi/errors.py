"""The one error type users see.

Every error a person can act on is a `HiitpiError`: ``message`` says what is wrong, ``hint``
what to do about it, ``exit_code`` what the command line returns (2 for bad input, 1 for a
failure). The CLI catches it once (`hiitpi.cli.main`) and prints one or two lines; a traceback
only with ``--debug``. Classes that describe one kind of problem subclass it (and, where callers
already catch a builtin such as ``ValueError``, that builtin too).
"""

from __future__ import annotations

#: Exit codes of the `hiitpi` command.
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class HiitpiError(Exception):
    """Something failed; ``message`` says what, ``hint`` (optional) what to do next."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str = "", hint: str | None = None, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"

    def lines(self) -> list[str]:
        """What the CLI prints: the message's lines, then the hint."""
        out = [line for line in str(self.message).splitlines() if line.strip()] or [type(self).__name__]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class InputError(HiitpiError):
    """Bad input from the person: a file, a flag, a name, a value. Exit code 2."""

    exit_code = EXIT_BAD_INPUT


class ErrorList(InputError):
    """A file with several problems; ``errors`` holds one 'file:line: key: what' line per problem."""

    def __init__(self, errors: list[str], hint: str | None = None):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors), hint)

    def __str__(self) -> str:
        return "\n".join(self.errors)


def did_you_mean(name: object, known: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'squat'?)`` for a name close to one of ``known`` (a typo), else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name).strip().lower(), [k.lower() for k in known], n=1)
    if not close:
        return ""
    match = next(k for k in known if k.lower() == close[0])
    return f" (did you mean {match!r}?)"
