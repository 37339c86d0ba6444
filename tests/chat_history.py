"""A small deterministic history for the chat tests: 40 sessions (one in ten a Tabata program) of 3
players over the 3 weeks before `NOW`, seeded by ``scripts/seed_history.py`` with a fixed seed."""

from __future__ import annotations

import importlib.util
import random
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import REPO, free_port

#: The chat's "now": a Thursday evening, so this week and last week both hold sessions.
NOW = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
WORKOUTS = ("squat", "pushup", "lunge", "jumping_jack", "burpee", "situp", "tabata")


def _seeder():
    spec = importlib.util.spec_from_file_location("seed_history", REPO / "scripts" / "seed_history.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def seed_history(path: Path):
    """Create the history at ``path``; returns the open `Store`."""
    from hiitpi.store import Store

    store = Store.open(path)
    _seeder().seed(store, 40, 1200, 3, random.Random(7), now=NOW, days=21)
    return store


def site_settings(tmp_path: Path, redis_url: str):
    """Settings for a dashboard on a free loopback port over the history at tmp_path/h.db."""
    from hiitpi.config import load_settings

    return load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path / "data"),
            ("store", "database"): str(tmp_path / "h.db"),
            ("redis", "url"): redis_url,
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        },
    )
