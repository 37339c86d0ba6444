"""Every thread pool in the process, sized on purpose, once, early, in one place.

HIIT PI's own threads (capture, analysis, video, web, the coach) each have one job. The
libraries under them would each start a pool of their own, one thread per core, by default:

| pool | size | why |
|---|---|---|
| TFLite interpreter (XNNPACK) | ``[pose] threads`` (capped at the cores) | the model is the work; on a Coral it runs on the Edge TPU and this pool is unused |
| OpenCV's ``parallel_for_`` | 1 | its per-frame jobs (a 192x192 crop, a 640 px resize, drawing) are too small to split: a pool of 2 cost 1.3 ms of CPU per frame where 1 thread cost 0.7 ms (issue 20) |
| FFmpeg decoder, a paced file (a camera stand-in) | 1 | decoding a camera-sized frame is well under a millisecond; nothing to gain |
| FFmpeg decoder, a file read as fast as it decodes (`hiitpi analyze`, benchmarks) | 2 (1 on one core) | frame threads decode the next frame on another core while the model runs: `analyze` 1.6x faster, no more CPU (issue 20) |
| numpy's BLAS (OpenBLAS, MKL) and OpenMP | 1 | nothing here multiplies big matrices; an idle BLAS pool still holds memory per thread |

The BLAS, OpenMP and OpenCV sizes are environment variables read when those libraries load, so
`set_environment` runs first thing in ``hiitpi.cli.main`` (a value the user set in the
environment is kept); `configure` then applies the plan to what is already loaded and logs it.
`plan` is pure and tested.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Environment variables that size a library's pool, and the size HIIT PI gives them.
POOL_ENV: dict[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "OPENCV_FOR_THREADS_NUM": "1",
}


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    cores: int
    pose: int  # TFLite interpreter threads
    opencv: int  # cv2.setNumThreads
    decoder: int  # FFmpeg threads for a paced video file
    blas: int  # OpenBLAS / MKL / OpenMP
    decoder_ahead: int = 1  # FFmpeg threads for a file read as fast as it decodes

    def describe(self) -> str:
        return (
            f"{self.cores} core(s): pose model {self.pose} thread(s), OpenCV {self.opencv}, "
            f"video decoder {self.decoder} (unpaced {self.decoder_ahead}), BLAS/OpenMP {self.blas}"
        )


def plan(pose_threads: int, cores: int | None = None) -> ThreadPlan:
    """The pool sizes for ``[pose] threads`` on ``cores`` cores (default: this machine's)."""
    cores = available_cores() if cores is None else max(1, cores)
    return ThreadPlan(
        cores=cores,
        pose=max(1, min(pose_threads, cores)),
        opencv=1,
        decoder=1,
        blas=1,
        decoder_ahead=2 if cores >= 2 else 1,
    )


def set_environment(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Size the BLAS, OpenMP and OpenCV pools through their environment variables, before those
    libraries load; a variable already set is left alone. Returns what was set."""
    env = os.environ if env is None else env
    done = {}
    for name, value in POOL_ENV.items():
        if name not in env:
            env[name] = value
            done[name] = value
    return done


_applied: ThreadPlan | None = None


def configure(pose_threads: int, cores: int | None = None) -> ThreadPlan:
    """Apply the plan for ``[pose] threads``: the environment (for libraries not loaded yet) and
    OpenCV's pool (if OpenCV is loaded; its variable covers a later import). Idempotent."""
    global _applied
    p = plan(pose_threads, cores)
    set_environment()
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(p.opencv)
    if pose_threads > p.cores:
        log.warning(
            "[pose] threads = %d but this machine has %d core(s); using %d", pose_threads, p.cores, p.pose
        )
    if p != _applied:
        log.debug("thread pools: %s", p.describe())
    _applied = p
    return p


def current() -> ThreadPlan:
    """The plan in force (`configure`'s last), else the default for one pose thread."""
    return _applied or plan(1)
