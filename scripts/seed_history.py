#!/usr/bin/env python3
"""Seed a history database with made-up sessions and time the history queries on it.

    .venv/bin/python scripts/seed_history.py /tmp/seed.db --sessions 1000 --reps 50000 --measure

Sessions are spread over the last year, over several players and workouts, with one in ten a
Tabata-style program of 8 intervals; each rep has timings, range of motion and, for no-reps, a
reason. With --measure each query the history pages use is run --runs times and its median and
p90 printed (the first call is reported apart: it includes SQLite's cold page cache).
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from hiitpi.store import (
    Store,
    queries,
)
from hiitpi.store.models import Interval, Player, Rep, WorkoutSession
from hiitpi.store.players import list_players

log = logging.getLogger("seed_history")

PLAYERS = ["Ann", "Ben", "Cat", "Dev", "Eli", "Fox", "Gia", "Hal"]
WORKOUTS = ["squat", "pushup", "lunge", "jumping_jack", "burpee", "situp"]
REASONS = ["not low enough", "not fully extended", "hips sagging", "too fast"]


def seed(
    store: Store,
    n_sessions: int,
    n_reps: int,
    n_players: int,
    rng: random.Random,
    *,
    now: datetime | None = None,
    days: float = 365.0,
) -> tuple[int, int]:
    """Seed ``n_sessions`` sessions with ``n_reps`` reps in all over the ``days`` before ``now``;
    the same ``rng`` seed and ``now`` give the same history."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    # split n_reps over sessions: random weights, exact total
    weights = [rng.uniform(0.3, 1.7) for _ in range(n_sessions)]
    scale = n_reps / sum(weights)
    per_session = [int(w * scale) for w in weights]
    for k in range(n_reps - sum(per_session)):
        per_session[k % n_sessions] += 1
    starts = sorted(now - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(n_sessions))
    with store.writing() as s:
        s.execute(
            insert(Player),
            [
                {"name": n, "name_key": n.casefold(), "created_at": now - timedelta(days=400)}
                for n in PLAYERS[:n_players]
            ],
        )
        sessions, intervals, reps = [], [], []
        interval_id = rep_id = 0
        for sid, (started, n) in enumerate(zip(starts, per_session, strict=True), start=1):
            program = "tabata" if rng.random() < 0.1 else None
            plan = [rng.choice(WORKOUTS) for _ in range(8)] if program else [rng.choice(WORKOUTS)]
            seg = max(20.0, n * 2.2 / len(plan))
            t = 0.0
            counts = {"reps": 0, "no_reps": 0}
            index = 0
            for k, workout in enumerate(plan):
                interval_id += 1
                i_start = started + timedelta(seconds=t)
                share = n // len(plan) + (1 if k < n % len(plan) else 0)
                i_reps = i_no = 0
                for j in range(share):
                    index += 1
                    rep_id += 1
                    valid = rng.random() > 0.12
                    ecc, con = rng.uniform(0.6, 1.4), rng.uniform(0.4, 1.0)
                    ts = t + j * (seg / max(1, share))
                    reps.append(
                        {
                            "id": rep_id,
                            "session_id": sid,
                            "interval_id": interval_id,
                            "index": index,
                            "t_start": ts,
                            "t_end": ts + ecc + con,
                            "eccentric_s": ecc,
                            "concentric_s": con,
                            "rom": rng.uniform(0.5, 1.0) if valid else rng.uniform(0.2, 0.6),
                            "side": None,
                            "valid": valid,
                            "reason": None if valid else rng.choice(REASONS),
                            "recorded_at": started + timedelta(seconds=ts + ecc + con),
                        }
                    )
                    i_reps += valid
                    i_no += not valid
                intervals.append(
                    {
                        "id": interval_id,
                        "session_id": sid,
                        "index": k + 1,
                        "workout": workout,
                        "round": k + 1 if program else None,
                        "started_at": i_start,
                        "ended_at": i_start + timedelta(seconds=seg),
                        "duration_s": seg,
                        "reps": i_reps,
                        "no_reps": i_no,
                        "faults": 0,
                        "hold_s": None,
                    }
                )
                counts["reps"] += i_reps
                counts["no_reps"] += i_no
                t += seg + (10.0 if program else 0.0)
            ended = started + timedelta(seconds=t)
            sessions.append(
                {
                    "id": sid,
                    "player_id": rng.randint(1, n_players),
                    "workout": plan[0],
                    "program": program,
                    "started_at": started,
                    "ended_at": ended,
                    "updated_at": ended,
                    "t0": 0.0,
                    "status": "done",
                    "duration_s": t,
                    "faults": 0,
                    **counts,
                }
            )
        s.execute(insert(WorkoutSession), sessions)
        s.execute(insert(Interval), intervals)
        s.execute(insert(Rep), reps)
    with store.write_engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
        c.commit()
    return len(sessions), len(reps)


def timed(fn, runs: int) -> tuple[float, float, float]:
    first = _once(fn)
    samples = sorted(_once(fn) for _ in range(runs))
    p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
    return first, statistics.median(samples), p90


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def measure(store: Store, runs: int) -> None:
    page1 = queries.list_sessions(store)
    player = page1.items[0].player
    workout = "squat"
    day = page1.items[0].started_at.date()
    sid = page1.items[0].id

    def history_page():  # what the history page loads at once
        queries.list_sessions(store)
        list_players(store)
        queries.list_workouts(store)

    checks = [
        ("list: first page, no filter", lambda: queries.list_sessions(store)),
        ("list: player filter", lambda: queries.list_sessions(store, player=player)),
        ("list: workout filter", lambda: queries.list_sessions(store, workout=workout)),
        (
            "list: player+workout+90 days",
            lambda: queries.list_sessions(
                store, player=player, workout=workout, date_from=day - timedelta(days=90), date_to=day
            ),
        ),
        ("list: page 40 of 50", lambda: queries.list_sessions(store, page=40)),
        ("session detail (one session)", lambda: queries.session_detail(store, sid)),
        ("weekly trends: all history", lambda: queries.weekly_trends(store, weeks=None)),
        ("weekly trends: 12 weeks, one player", lambda: queries.weekly_trends(store, player=player)),
        ("personal bests: one player", lambda: queries.personal_bests(store, player)),
        ("leaderboard: squat", lambda: queries.leaderboard(store, workout)),
        ("players list", lambda: list_players(store)),
        ("history page (list+players+workouts)", history_page),
    ]
    print(f"{'query':40s} {'first ms':>9s} {'median ms':>10s} {'p90 ms':>8s}   (runs={runs})")
    for name, fn in checks:
        first, med, p90 = timed(fn, runs)
        print(f"{name:40s} {first:9.1f} {med:10.1f} {p90:8.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("database", type=Path, help="SQLite file to create (must not exist unless --force)")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=50_000)
    ap.add_argument("--players", type=int, default=6, choices=range(1, len(PLAYERS) + 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="replace an existing file")
    ap.add_argument("--measure", action="store_true", help="time the history queries afterwards")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.database.exists():
        if not args.force:
            print(f"{args.database} exists; pass --force to replace it", file=sys.stderr)
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.database) + suffix).unlink(missing_ok=True)
    store = Store.open(args.database)
    try:
        t = time.perf_counter()
        n_s, n_r = seed(store, args.sessions, args.reps, args.players, random.Random(args.seed))
        print(f"seeded {n_s} sessions, {n_r} reps into {args.database} in {time.perf_counter() - t:.1f} s")
        if args.measure:
            measure(store, args.runs)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
