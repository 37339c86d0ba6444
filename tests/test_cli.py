"""The one `hiitpi` command: every subcommand has real --help text."""

from __future__ import annotations

import argparse

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
