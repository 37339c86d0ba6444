"""The live bus against a real redis-server: contract, publisher, readers, commands, outages."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import redis

from hiitpi.live.contract import LiveEntry, LiveKeys, LiveState, encode_event, encode_sample
from hiitpi.live.inbox import CommandListener
from hiitpi.live.publisher import LivePublisher
from hiitpi.live.reader import CommandRejected, LiveReader

KEYS = LiveKeys("t")


def _sample(i: int, session: str = "s1") -> dict[str, str]:
    kp = np.full((17, 3), 0.5, np.float32)
    kp[0] = (i / 1000, 0.25, 0.9)
    return encode_sample(
        seq=i,
        ts=i / 30,
        wall=time.time(),
        session=session,
        keypoints=kp,
        score=0.8,
        stages={"pose": 6.1, "referee": 0.05},
        age_ms=1.5,
    )


def _rep(count: int) -> dict[str, str]:
    return encode_event("rep", ts=count, wall=time.time(), session="s1", count=count, data={"rom": 0.9})


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_sample_and_event_round_trip(redis_url):
    pub = LivePublisher(redis_url, KEYS)
    reader = LiveReader(redis_url, KEYS)
    try:
        assert pub.publish(_sample(7), [_rep(1)], LiveState(reps=1, running=True, pace=12.5))
        entries = reader.read("0-0")
        assert [e.type for e in entries] == ["event", "sample"]
        ev, s = entries
        assert (ev.kind, ev.count, ev.data) == ("rep", 1, {"rom": 0.9})
        assert s.seq == 7 and s.score == pytest.approx(0.8) and s.stages == {"pose": 6.1, "referee": 0.05}
        assert len(s.keypoints) == 17 and s.keypoints[0] == pytest.approx([0.007, 0.25, 0.9])
        st = reader.state()
        assert (st["reps"], st["running"], st["pace"], st["degraded"]) == ("1", "1", "12.5", "")
        assert reader.live_state() == LiveState(reps=1, running=True, pace=12.5)
    finally:
        pub.close()
        reader.close()


def test_no_person_sample_has_empty_keypoints():
    f = encode_sample(seq=1, ts=0, wall=0, session="", keypoints=None, score=None, stages={})
    e = LiveEntry.decode("1-0", f)
    assert e.keypoints is None and e.score is None


def test_two_readers_see_identical_sequences(redis_url):
    pub = LivePublisher(redis_url, KEYS)
    readers = [LiveReader(redis_url, KEYS) for _ in range(2)]
    seen: list[list[str]] = [[], []]
    stop = threading.Event()

    def follow(i: int) -> None:
        for entry in readers[i].follow("0-0", block_ms=100, stop=stop):
            seen[i].append(f"{entry.type}:{entry.seq}:{entry.count}")

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(200):
            pub.publish(_sample(i), [_rep(i // 20)] if i % 20 == 0 else [], LiveState(reps=i // 20))
        assert wait_for(lambda: len(seen[0]) == 210 and len(seen[1]) == 210)
    finally:
        stop.set()
        for t in threads:
            t.join(3)
        pub.close()
    assert seen[0] == seen[1]
    # A reader that joins late reads the same history from the start: nothing was consumed.
    late = LiveReader(redis_url, KEYS)
    assert [f"{e.type}:{e.seq}:{e.count}" for e in late.history()] == seen[0]
    late.close()


def test_stream_stays_near_its_cap(redis_url):
    pub = LivePublisher(redis_url, KEYS, stream_maxlen=100)
    try:
        for i in range(1000):
            pub.publish(_sample(i))
        xlen = pub.client.xlen(KEYS.stream)
    finally:
        pub.close()
    assert 100 <= xlen < 300  # MAXLEN ~ trims whole macro-nodes (100 entries each)


def test_redis_killed_and_restarted(redis_server, redis_url, caplog):
    pub = LivePublisher(redis_url, KEYS, backoff_initial_s=0.05, backoff_max_s=0.2)
    try:
        assert pub.publish(_sample(0), [_rep(1)], LiveState(reps=1))
        redis_server.stop()
        t0 = time.monotonic()
        results = [
            pub.publish(_sample(i), [_rep(2)] if i == 5 else [], LiveState(reps=1 + (i >= 5)))
            for i in range(1, 30)
        ]
        elapsed = time.monotonic() - t0
        # a sample's reply is read at the next write: the first may have gone into the dead
        # connection before that was known (and is counted lost); none after it is written
        assert not any(results[1:]) and pub.degraded
        assert elapsed < 2.0  # 29 frames while the bus is down: one fast failure, then no waiting
        assert pub.samples_lost == 29
        redis_server.start()  # same port, empty (no persistence)
        assert wait_for(lambda: not pub.degraded, 5)
        assert pub.reconnects == 1
        assert pub.publish(_sample(30), [], LiveState(reps=2))
        entries = LiveReader(redis_url, KEYS).history()
        kinds = [(e.type, e.kind) for e in entries]
        # the rep that happened while the bus was down is replayed, then the status event, then live data
        assert kinds == [("event", "rep"), ("event", "status"), ("sample", None)]
        assert entries[0].count == 2 and entries[1].data["events_replayed"] == 1
        assert entries[1].data["samples_lost"] == 29
        assert pub.client.hget(KEYS.state, "reps") == b"2"
        assert "reconnected" in caplog.text
    finally:
        pub.close()


def test_redis_down_at_start_then_up(redis_server, redis_url):
    redis_server.stop()
    pub = LivePublisher(redis_url, KEYS, backoff_initial_s=0.05, backoff_max_s=0.2)
    try:
        assert not pub.check() and pub.degraded
        assert not pub.publish(None, [_rep(1)], LiveState(reps=1))
        redis_server.start()
        assert wait_for(lambda: not pub.degraded, 5)
        assert redis.Redis.from_url(redis_url).hget(KEYS.state, "reps") == b"1"
    finally:
        pub.close()


def test_commands_reach_only_the_engine_in_order(redis_server, redis_url):
    reader = LiveReader(redis_url, KEYS)
    reader.send_command("stop")  # sent before the engine started: not replayed
    listener = CommandListener(redis_url, KEYS, block_ms=50)
    listener.start()
    try:
        time.sleep(0.2)
        a = reader.send_command("start", player="ana", workout="squat")
        b = reader.send_command("switch", workout="push_up")
        got = []
        assert wait_for(lambda: got.extend(listener.drain()) or len(got) == 2)
        assert [(c.id, c.action, c.player, c.workout) for c in got] == [
            (a, "start", "ana", "squat"),
            (b, "switch", None, "push_up"),
        ]
        # the listener survives an outage and keeps its place
        redis_server.stop()
        time.sleep(0.3)
        redis_server.start()
        c = reader.send_command("stop")
        got = []
        assert wait_for(lambda: got.extend(listener.drain()) or len(got) == 1, 8)
        assert got[0].id == c
    finally:
        listener.stop()
        reader.close()


def test_bad_commands_are_refused_before_sending(redis_url):
    reader = LiveReader(redis_url, KEYS)
    with pytest.raises(CommandRejected, match="unknown action"):
        reader.send_command("explode")
    with pytest.raises(CommandRejected, match=r"1\.\.64"):
        reader.send_command("start", player="x" * 10_000)
    with pytest.raises(CommandRejected, match="switch needs"):
        reader.send_command("switch")
    assert reader.client.xlen(KEYS.commands) == 0
    reader.close()


def test_state_hash_is_rewritten_whole_now_and_then(redis_url):
    from hiitpi.live.publisher import FULL_STATE_EVERY

    pub = LivePublisher(redis_url, KEYS)
    try:
        state = LiveState(reps=4, workout="squat", running=True)
        pub.publish(_sample(0), [], state)
        pub.client.delete(KEYS.state)  # someone cleared it
        for i in range(FULL_STATE_EVERY):
            pub.publish(_sample(i + 1), [], state)  # an unchanged state: only the samples go out ...
        assert LiveState.decode(pub.client.hgetall(KEYS.state)) == state  # ... and now and then all of it
    finally:
        pub.close()


def test_samples_are_thinned_to_the_viewers_rate_while_every_event_arrives_at_once(redis_url):
    """Frames at 100 a second for 1.5 s, a rep every 10th frame, the count in the state: about
    ``sample_fps`` samples a second reach the stream, every event does, each with its frame's
    sample beside it and the state already saying its count; a clock that moves alone is no write."""
    pub = LivePublisher(redis_url, KEYS, sample_fps=10)
    reader = LiveReader(redis_url, KEYS)
    try:
        t0 = time.monotonic()
        i = reps = 0
        while time.monotonic() - t0 < 1.5:
            events = []
            if i % 10 == 9:
                reps += 1
                events = [_rep(reps)]
            state = LiveState(reps=reps, running=True, elapsed=i / 100, updated=time.time())
            sample = _sample(i) if events or pub.sample_due() else None
            pub.publish(sample, events, state)
            i += 1
            time.sleep(0.01)
        wall = time.monotonic() - t0
        entries = reader.history()
        samples = [e for e in entries if e.type == "sample"]
        reps_seen = [e.count for e in entries if e.kind == "rep"]
        assert reps_seen == list(range(1, reps + 1)) and reps >= 10  # every event, in order
        # every event is followed by the sample of its frame
        for j, e in enumerate(entries):
            if e.kind == "rep":
                assert entries[j + 1].type == "sample" and entries[j + 1].seq % 10 == 9
        due_samples = [s for s in samples if s.seq % 10 != 9]
        assert 10 * wall * 0.5 <= len(due_samples) <= 10 * wall + 2, (len(due_samples), wall)
        assert len(samples) < i / 3  # far fewer than frames
        assert reader.live_state().reps == reps
        # only a clock moved: nothing is written (it goes with the next sample) ...
        before = pub.client.xlen(KEYS.stream)
        assert not pub.publish(None, [], LiveState(reps=reps, running=True, elapsed=99.0))
        assert reader.live_state().elapsed != 99.0 and pub.client.xlen(KEYS.stream) == before
        # ... while any other change is written at once, sample due or not
        assert pub.publish(None, [], LiveState(reps=reps, running=False, elapsed=99.5))
        st = reader.live_state()
        assert st.running is False and st.elapsed == 99.5
    finally:
        reader.close()
        pub.close()


def test_a_reader_woken_by_an_event_finds_the_state_and_the_sample_with_it(redis_url):
    """Events go out in one MULTI/EXEC with the state first: a blocked XREAD returns the rep and
    its sample together, and the state it then reads already has the count."""
    pub = LivePublisher(redis_url, KEYS, sample_fps=1)
    reader = LiveReader(redis_url, KEYS)
    got: list = []

    def follow() -> None:
        entries = reader.read(reader.last_id(), block_ms=3000)
        got.append((entries, reader.live_state()))

    try:
        pub.publish(_sample(0), [], LiveState(reps=0))
        t = threading.Thread(target=follow)
        t.start()
        time.sleep(0.3)  # the reader is blocked in XREAD
        pub.publish(_sample(1), [_rep(1)], LiveState(reps=1))
        t.join(5)
        entries, state = got[0]
        assert [(e.type, e.kind) for e in entries] == [("event", "rep"), ("sample", None)]
        assert state.reps == 1
    finally:
        reader.close()
        pub.close()
