"""What scripts/check-arm64.sh relies on, checked fast on x86 without emulation (issue 22):
install-pi.sh's --no-coach and --emulated plans, both scripts' argument errors, and the appliance
without llama-cpp-python (the template coach, said plainly, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

INSTALL = REPO / "scripts" / "install-pi.sh"
CHECK = REPO / "scripts" / "check-arm64.sh"


def _run(script, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60, env=env)


def _env_without_find_links() -> dict:
    return {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}


def _pip_install_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if x.startswith("+ ") and " install --progress-bar off " in x]
    return line


def test_dry_run_with_the_coach_builds_llama_cpp():
    res = _run(INSTALL, "--dry-run", "--prefix", "/opt/hp", env=_env_without_find_links())
    assert res.returncode == 0, res.stderr
    assert "-e /opt/hp/src[coach]" in _pip_install_line(res.stdout)
    apt = next(x for x in res.stdout.splitlines() if "apt packages:" in x)
    assert "build-essential" in apt and "cmake" in apt
    # The long step is announced before it starts, with the way to skip it.
    assert "compiles llama.cpp now" in res.stderr and "--no-coach" in res.stderr
    assert "XXX" not in res.stderr
    assert "[4/8] Python packages" in res.stdout and "[8/8] systemd unit" in res.stdout


def test_dry_run_with_a_given_wheel_says_there_is_no_build(tmp_path):
    """check-arm64.sh --with-coach hands install-pi.sh a cross-built wheel through PIP_FIND_LINKS."""
    other = tmp_path / "other"
    other.mkdir()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "llama_cpp_python-0.3.36-py3-none-linux_aarch64.whl").write_bytes(b"")
    env = _env_without_find_links() | {"PIP_FIND_LINKS": f"{other} {wheels}"}
    res = _run(INSTALL, "--dry-run", "--prefix", "/opt/hp", env=env)
    assert res.returncode == 0, res.stderr
    assert "-e /opt/hp/src[coach]" in _pip_install_line(res.stdout)
    assert "a wheel is given in PIP_FIND_LINKS (llama_cpp_python-0.3.36-py3-none-linux_aarch64.whl)" in (
        res.stdout
    )
    assert "compiles llama.cpp now" not in res.stderr


def test_dry_run_no_coach_needs_no_compiler_and_removes_llama_cpp():
    res = _run(INSTALL, "--dry-run", "--no-coach", "--prefix", "/opt/hp")
    assert res.returncode == 0, res.stderr
    line = _pip_install_line(res.stdout)
    assert line.endswith("-e /opt/hp/src") and "[coach]" not in line
    apt = next(x for x in res.stdout.splitlines() if "apt packages:" in x)
    assert "build-essential" not in apt and "cmake" not in apt
    assert "uninstall --quiet --yes llama-cpp-python" in res.stdout
    assert "compiles llama.cpp" not in res.stderr
    assert "summaries are the template" in res.stdout


def test_dry_run_emulated_takes_numpy_for_picamera2():
    res = _run(INSTALL, "--dry-run", "--emulated", "--no-coach", "--prefix", "/opt/hp")
    assert res.returncode == 0, res.stderr
    apt = next(x for x in res.stdout.splitlines() if "apt packages:" in x)
    assert "python3-numpy" in apt and "python3-picamera2" not in apt
    assert "emulated Pi" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix"], "--prefix needs a folder"),
        (["--prefix", "--no-coach"], "--prefix needs a folder"),
        (["--models-from"], "--models-from needs a folder"),
        (["--prefix", "opt/hp"], "--prefix must be an absolute path"),
        (["--models-from", "/nonexistent/models"], "is not a folder"),
        (["--purge"], "--purge goes with --uninstall"),
        (["--no-such-flag"], "unknown option --no-such-flag"),
    ],
)
def test_install_argument_errors_say_what_to_do(args, message):
    res = _run(INSTALL, *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    ("script", "flags"),
    [
        (CHECK, ("--with-coach", "--native-coach-build", "--fresh", "--cache", "--shared", "--pi 4|5")),
        (INSTALL, ("--no-coach", "--emulated", "--models-from", "--dry-run")),
    ],
    ids=["check-arm64", "install-pi"],
)
def test_help_is_the_header(script, flags):
    res = _run(script, "--help")
    assert res.returncode == 0
    for flag in flags:
        assert flag in res.stdout
    assert all(line.startswith("#") for line in res.stdout.splitlines())  # no code after the header


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["--cache"], "--cache needs a value"),
        (["--nice", "high"], "--nice takes a number"),
        (["--cache", str(REPO / "build-root")], "--cache must be outside the repo"),
        (["--shared", "/nonexistent/shared"], "pass --shared DIR"),
        (["--native-coach-build", "--shared", "/nonexistent/shared"], "pass --shared DIR"),
    ],
)
def test_check_arm64_argument_errors(args, message):
    """Refused before anything is installed or built."""
    res = _run(CHECK, *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2


# --- the appliance without llama-cpp-python (install-pi.sh --no-coach) -------------------------------


@pytest.fixture()
def no_llama_cpp(monkeypatch):
    """As if llama-cpp-python were not installed: find_spec() is None and import fails."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)


def test_coach_without_llama_cpp_is_the_template(no_llama_cpp, settings_factory, shared_llm):
    from hiitpi.coach.facts import example_facts
    from hiitpi.coach.llm import LLAMA_CPP_MISSING
    from hiitpi.coach.summary import Coach

    # Even with a model file given: there is nothing to run it with.
    s = Coach.from_settings(settings_factory(), shared_llm / "tiny-llama-spm-q8_0.gguf").summarize(
        example_facts()
    )
    assert s.kind == "template" and s.reason == LLAMA_CPP_MISSING and s.attempts == []
    assert "--no-coach" in s.reason and "hiitpi[coach]" in s.reason


def test_status_says_the_coach_is_template_only(no_llama_cpp, settings_factory):
    from hiitpi.status import coach_status

    part, ok, detail = coach_status(settings_factory())
    assert part == "coach" and ok  # optional: never a failure of `serve --check`
    assert detail.startswith("template summaries, plain chat answers: llama-cpp-python is not installed")


def test_status_names_the_model_when_the_coach_can_run(settings_factory, shared_llm):
    pytest.importorskip("llama_cpp")
    from hiitpi.status import coach_status

    gguf = shared_llm / "tiny-llama-spm-q8_0.gguf"
    part, ok, detail = coach_status(settings_factory({("coach", "model_path"): str(gguf)}))
    assert (part, ok) == ("coach", True) and detail.startswith(f"{gguf} (5 MB)"), detail
    assert coach_status(settings_factory({("coach", "enabled"): False}))[2].startswith("off")
