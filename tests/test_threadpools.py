"""Thread pools sized on purpose: the plan, the environment, and a real command's process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from hiitpi import threadpools
from tests.conftest import REPO


def test_plan_caps_pose_threads_at_the_cores_and_keeps_every_other_pool_at_one():
    p = threadpools.plan(4, cores=2)
    assert (p.cores, p.pose, p.opencv, p.decoder, p.blas, p.decoder_ahead) == (2, 2, 1, 1, 1, 2)
    assert threadpools.plan(1, cores=1).decoder_ahead == 1
    assert threadpools.plan(1, cores=4).pose == 1
    assert threadpools.plan(3, cores=4).pose == 3
    assert "2 core(s)" in p.describe()


def test_environment_is_set_before_libraries_load_and_a_users_value_is_kept():
    env = {"OMP_NUM_THREADS": "3"}
    done = threadpools.set_environment(env)
    assert env["OMP_NUM_THREADS"] == "3" and "OMP_NUM_THREADS" not in done
    assert env["OPENBLAS_NUM_THREADS"] == env["OPENCV_FOR_THREADS_NUM"] == "1"


def test_more_pose_threads_than_cores_is_a_warning(caplog):
    cores = threadpools.available_cores()
    with caplog.at_level(logging.WARNING, logger="hiitpi.threadpools"):
        p = threadpools.configure(cores + 3)
    assert p.pose == cores and "using" in caplog.text
    threadpools.configure(1)


_PROBE = """
import json, os, sys
from hiitpi.cli import main
code = main(sys.argv[1:])
import cv2
from hiitpi.capture.video import open_video
cap, _ = open_video(os.environ["PROBE_CLIP"])
ahead, _ = open_video(os.environ["PROBE_CLIP"], ahead=True)
ahead_threads = ahead.get(cv2.CAP_PROP_N_THREADS)
ahead.release()  # its FFmpeg frame threads end with it: a moment later on a busy machine
import time
deadline = time.monotonic() + 3.0
while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({
    "ahead_threads": ahead_threads,
    "code": code,
    "cv2_threads": cv2.getNumThreads(),
    "decoder_threads": cap.get(cv2.CAP_PROP_N_THREADS),
    "blas_env": os.environ.get("OPENBLAS_NUM_THREADS"),
    "tasks": len(os.listdir("/proc/self/task")),
}))
"""


def test_a_real_command_runs_with_every_pool_at_its_planned_size(model_mirror, shared_data, tmp_path):
    """`hiitpi pose IMAGE` on the real model: afterwards OpenCV has one thread, the decoder of a
    paced video file one (of a file read flat out two), BLAS was told one, and the process holds
    no pool threads at all."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HIITPI_MODEL_MIRROR": str(model_mirror),
        "HIITPI_DATA_DIR": str(tmp_path),
        "PROBE_CLIP": str(shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"),
    }
    image = shared_data / "images" / "squat.bmp"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, "--log-level", "WARNING", "pose", str(image), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["code"] == 0
    assert probe["cv2_threads"] == 1 and probe["decoder_threads"] == 1
    assert probe["ahead_threads"] == (2 if threadpools.available_cores() >= 2 else 1)
    assert probe["blas_env"] == "1"
    # the main thread only: no OpenBLAS, OpenCV or XNNPACK workers were started
    assert probe["tasks"] == 1, probe
