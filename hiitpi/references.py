"""Names in the settings that refer to other things, checked against what exists.

A setting can be well-formed and still name nothing: ``[pose] model = "movenet-lightnin"``,
``[referee] workout = "squatt"``, a rules folder that is not there, a video file that was moved.
`reference_problems` finds them, each as 'where: key: what is wrong; known: …', where "where" is
the file and line (or the environment variable, or the command line) the value came from.
`hiitpi config check`, `hiitpi serve --check` and `hiitpi serve` itself use it, so a typo is one
clear line before anything starts.
"""

from __future__ import annotations

from pathlib import Path

from hiitpi.config import ConfigError, Settings
from hiitpi.errors import did_you_mean


def _startable(rules_dir: Path) -> tuple[set[str], list[str]]:
    """(every workout, alias and program name, the workouts' names for the message)."""
    from hiitpi.recognition import AUTO
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(rules_dir)
    return {*cat.workouts, *cat.aliases, *cat.programs, AUTO}, [*cat.names(), AUTO]


def _source_problem(source: str) -> str | None:
    spec = source.strip()
    if spec in ("auto", "picamera", "picamera2") or spec.isdigit():
        return None
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if scheme in ("rtsp", "rtsps", "http", "https", "udp", "tcp"):
            return None
        return f"'{spec}' is not a stream this can read (use rtsp://, http://, udp:// or tcp://)"
    path = Path(spec).expanduser()
    if spec.startswith("/dev/"):
        return None if path.exists() else f"no device {spec} (is the camera plugged in? `ls /dev/video*`)"
    if not path.exists():
        return f"no video file {spec}; use a video file's path, 'auto', 'picamera' or /dev/videoN"
    if not path.is_file():
        return f"{spec} is not a file; use a video file's path, 'auto', 'picamera' or /dev/videoN"
    return None


def reference_problems(settings: Settings) -> list[str]:
    """Every setting that names something that does not exist, as one line each."""
    from hiitpi.referee.rules import normalise_name

    problems: list[str] = []

    def where(path: tuple[str, ...]) -> str:
        return settings.origin_of(path)

    from hiitpi.pose.registry import UnknownBackendError, check_options, get_backend

    try:
        get_backend(settings.pose.model)
    except UnknownBackendError as exc:
        problems.append(f"{where(('pose', 'model'))}: pose.model: {exc.message}")
    for path, what in check_options(settings.pose.options):
        problems.append(f"{where(path)}: {'.'.join(path)}: {what}")
    rules_dir = Path(settings.referee.rules_dir)
    if not rules_dir.is_dir():
        problems.append(f"{where(('referee', 'rules_dir'))}: referee.rules_dir: no folder {rules_dir}")
    else:
        names, shown = _startable(rules_dir)
        workout = settings.referee.workout
        if normalise_name(workout) not in names:
            problems.append(
                f"{where(('referee', 'workout'))}: referee.workout: no workout or program named '{workout}'"
                f"{did_you_mean(workout, shown)} in {rules_dir}; known: {', '.join(shown) or 'none'} (see `hiitpi rules list`)"
            )
    source_problem = _source_problem(settings.capture.source)
    if source_problem:
        problems.append(f"{where(('capture', 'source'))}: capture.source: {source_problem}")
    return problems


def check_references(settings: Settings) -> None:
    """Raise `ConfigError` (exit 2) listing every setting that names something that does not exist."""
    problems = reference_problems(settings)
    if problems:
        raise ConfigError(problems, "fix the settings above (`hiitpi config show` prints every setting)")
