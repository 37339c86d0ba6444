"""The per-thread CPU meter of `hiitpi bench pipeline`: real threads, real /proc figures."""

from __future__ import annotations

import threading
import time

from hiitpi.bench.threadcpu import LIBRARY, ThreadCpuMeter, role_of


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_each_threads_cpu_is_counted_under_its_role():
    """A busy 'analysis' thread, a sleeping 'capture' thread and one that starts and ends between
    two samples: the first shows its CPU, the second next to none, the third's is not lost."""
    meter = ThreadCpuMeter(interval_s=0.05)
    stop = threading.Event()
    sleeper = threading.Thread(target=stop.wait, name="capture-1")
    sleeper.start()
    meter.start()
    busy = threading.Thread(target=_burn, args=(0.3,), name="analysis")
    busy.start()
    busy.join()
    short = threading.Thread(target=_burn, args=(0.1,), name="mjpeg-encoder")
    short.start()
    short.join()
    time.sleep(0.1)
    meter.stop()
    stop.set()
    sleeper.join()
    roles = meter.by_role()
    # the busy thread is seen under its role; what the sampler could not see of it (the sampler
    # waits for the interpreter's lock while it burns) is in 'unaccounted', never lost
    assert roles["analysis"] > 0 and roles["analysis"] + roles["unaccounted"] >= 0.25
    assert roles.get("capture", 0.0) < 0.02
    # whatever a sampler could not see of a thread is in 'unaccounted': nothing is lost overall
    assert roles.get("video", 0.0) + roles["unaccounted"] >= 0.08
    assert abs(sum(roles.values()) - (meter.process_s - meter.excluded_s())) < 0.02


def test_roles_by_thread_name():
    assert role_of("analysis") == "analysis" and role_of("capture-watchdog") == "capture"
    assert role_of("mjpeg-encoder") == "video" and role_of("web-viewer") == "web"
    assert role_of(None) == LIBRARY and role_of("something-else") == "other"


def test_samples_taken_at_once_from_two_threads_count_nothing_twice():
    """The sampler and the caller sample at the same time (``stop()`` once did): no thread's CPU
    may come out larger than the process's, as it did when one sample stored a figure the other
    had already passed (a thread with a long past then counted its whole past)."""
    from hiitpi.bench.threadcpu import UNACCOUNTED

    _burn(0.5)  # this thread has a past that a miscount would add
    meter = ThreadCpuMeter(interval_s=0.001)
    meter.start()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        meter._sample()
    meter.stop()
    roles = meter.by_role()
    seen = sum(cpu for role, cpu in roles.items() if role != UNACCOUNTED)
    assert seen <= meter.process_s - meter.excluded_s() + 0.02, roles
