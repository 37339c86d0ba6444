"""The one `hiitpi` command: every subcommand has real --help text."""

from __future__ import annotations

import argparse

import pytest

from hiitpi.cli import build_parser


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_top_level_commands_present():
    names = {path[0] for path, _ in _subcommands(build_parser())}
    assert {"serve", "models", "bench", "config"} <= names


def test_every_subcommand_has_help(capsys):
    for path, sub in _subcommands(build_parser()):
        text = sub.format_help()
        assert "usage: hiitpi " + " ".join(path) in text
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"hiitpi {' '.join(path)} {action.option_strings} has no help"


_IMPORTS_PROBE = """
import sys
from hiitpi.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = ("alembic", "pygments", "mako", "llama_cpp", "plotly", "dash", "flask", "sqlalchemy", "redis", "cv2")
print("LOADED", code, ",".join(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["--help"], set()),
        (["config", "show"], set()),
        (["rules", "check"], set()),
        (["pose", "{image}", "--json"], {"cv2"}),
        (["db", "status"], {"sqlalchemy"}),
    ],
)
def test_a_command_imports_only_what_it_needs(argv, allowed, shared_data, model_mirror, tmp_path):
    """Start-up imports nothing a command does not use: no migrations' syntax highlighter on an
    up-to-date database, no coach (llama.cpp), no plots or web framework outside the dashboard."""
    import os
    import subprocess
    import sys

    from hiitpi.store.db import Store
    from tests.conftest import REPO

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HIITPI_MODEL_MIRROR": str(model_mirror),
        "HIITPI_DATA_DIR": str(tmp_path),
    }
    Store.open(tmp_path / "hiitpi.db").close()  # an up-to-date history, as on every start but the first
    argv = [a.format(image=shared_data / "images" / "squat.bmp") for a in argv]
    run = subprocess.run(
        [sys.executable, "-c", _IMPORTS_PROBE, "--log-level", "WARNING", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    line = next(x for x in run.stdout.splitlines() if x.startswith("LOADED"))
    _, code, loaded = (line + " ").split(" ", 2)
    assert code in ("0", "None"), run.stderr
    assert set(filter(None, loaded.strip().split(","))) <= allowed, (argv, loaded)
