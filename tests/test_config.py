"""Settings: defaults → file → environment → flags, and errors that name file, line and key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hiitpi.config import ConfigError, load_settings, settings_to_toml
from hiitpi.tomlpos import key_lines, load_toml


def test_defaults_are_valid():
    s = load_settings(None, env={})
    assert s.pose.model == "movenet-lightning"
    assert s.web.port == 8050
    assert s.database_path.name == "hiitpi.db"


def test_precedence_file_env_flags(tmp_path):
    f = tmp_path / "h.toml"
    f.write_text('[pose]\nmodel = "posenet"\nthreads = 2\n[web]\nport = 9000\n')
    s = load_settings(
        f,
        env={"HIITPI_POSE_THREADS": "3", "HIITPI_WEB_PORT": "9100"},
        overrides={("web", "port"): 9200, ("pose", "model"): None},
    )
    assert s.pose.model == "posenet"  # file (flag None is ignored)
    assert s.pose.threads == 3  # env beats file
    assert s.web.port == 9200  # flag beats env


def test_env_alias_for_model_mirror(tmp_path):
    s = load_settings(None, env={"HIITPI_MODEL_MIRROR": str(tmp_path)})
    assert s.models.mirror == tmp_path


def test_misspelled_key_names_file_line_and_allowed(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('# comment\n[pose]\nmodel = "posenet"\n\nthreds = 2\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(f, env={})
    (line,) = exc.value.errors
    assert line.startswith(f"{f}:5:")
    assert "pose.threds" in line and "threads" in line


def test_bad_value_says_what_is_allowed(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[pose]\ndevice = "gpu"\n[web]\nport = 0\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(f, env={})
    text = str(exc.value)
    assert f"{f}:2:" in text and "'auto', 'cpu' or 'edgetpu'" in text
    assert f"{f}:4:" in text and "web.port" in text


def test_unknown_section(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[pose]\nmodel = "posenet"\n[camra]\nfps = 30\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(f, env={})
    assert f"{f}:3:" in str(exc.value) and "camra" in str(exc.value)


def test_syntax_error_names_line(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[pose]\nmodel = "posenet\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(f, env={})
    assert f"{f}:2" in str(exc.value)


def test_bad_env_value_names_variable():
    with pytest.raises(ConfigError) as exc:
        load_settings(None, env={"HIITPI_POSE_THREADS": "many"})
    assert "HIITPI_POSE_THREADS" in str(exc.value)


def test_show_round_trips(tmp_path):
    s = load_settings(None, env={}, overrides={("pose", "threads"): 4, ("web", "privacy_mode"): True})
    f = tmp_path / "shown.toml"
    f.write_text(settings_to_toml(s))
    again = load_settings(f, env={})
    assert again == s


def test_key_lines_arrays_and_multiline():
    text = '[[state]]\nname = "up"\narr = [\n  1,\n  2,\n]\n[[state]]\nname = "down"\ns = """a\nb"""\nx = 1\n'
    lines = key_lines(text)
    assert lines[("state", 0, "name")] == 2
    assert lines[("state", 1, "name")] == 8
    assert lines[("state", 1, "x")] == 11


def test_load_toml_where(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text('[a]\nb.c = 1\n"d e" = 2\n')
    doc = load_toml(f)
    assert doc.where(("a", "b", "c")) == f"{f}:2"
    assert doc.where(("a", "d e")) == f"{f}:3"
    assert doc.where(("a", "zzz")) == f"{f}:1"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hiitpi", *args], capture_output=True, text=True, env=env)


def test_config_check_cli(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("[web]\nport = 8080\n")
    assert _cli("config", "check", str(good)).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nport = 8080\nprivacy = true\n")
    res = _cli("config", "check", str(bad))
    assert res.returncode == 2
    assert f"{bad}:3:" in res.stderr and "web.privacy" in res.stderr and "privacy_mode" in res.stderr


def test_config_check_names_what_does_not_exist(tmp_path):
    """A misspelled model or workout is well-formed but names nothing: exit 2, key, line, known names."""
    bad = tmp_path / "typo.toml"
    bad.write_text('[pose]\nthreads = 1\nmodel = "movenet-lightnin"\n\n[referee]\nworkout = "squatt"\n')
    res = _cli("config", "check", str(bad))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert any(
        ln.startswith(
            f"hiitpi: config error: {bad}:3: pose.model: unknown pose model 'movenet-lightnin' "
            "(did you mean 'movenet-lightning'?)"
        )
        for ln in lines
    ), lines
    assert any(
        f"{bad}:6: referee.workout: no workout or program named 'squatt' (did you mean 'squat'?)" in ln
        for ln in lines
    )
    assert "Traceback" not in res.stderr
    # serve --check says so too, and exits non-zero; serve itself refuses before starting anything
    res = _cli("--config", str(bad), "serve", "--check")
    assert res.returncode != 0 and "unknown pose model 'movenet-lightnin'" in res.stderr
    res = _cli("--config", str(bad), "serve")
    assert res.returncode == 2 and "Traceback" not in res.stderr and "referee.workout" in res.stderr
    # a program name is a valid workout setting; so is an alias
    ok = tmp_path / "ok.toml"
    ok.write_text('[referee]\nworkout = "tabata_squat"\n')
    assert _cli("config", "check", str(ok)).returncode == 0
    env = {**os.environ, "HIITPI_POSE_MODEL": "posenett"}
    res = _cli("config", "check", env=env)
    assert res.returncode == 2 and "environment HIITPI_POSE_MODEL: pose.model" in res.stderr


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:99999/0",
        "foo://127.0.0.1:6379",
        "redis://127.0.0.1:6379/abc",
        "redis://[::1",
        "127.0.0.1:6379",
        "unix://",
    ],
)
def test_malformed_redis_urls_are_one_line_and_exit_2(url):
    res = _cli("serve", "--redis-url", url)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("hiitpi:")]
    assert len(errors) == 1 and "redis.url" in errors[0] and "redis://127.0.0.1:6379/0" in errors[0], (
        res.stderr
    )


def test_good_redis_urls_pass():
    from hiitpi.config import check_redis_url

    for url in (
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "rediss://:pw@host:6380/2",
        "unix:///run/r.sock",
    ):
        assert check_redis_url(url) == url


def test_config_show_cli(tmp_path):
    res = _cli("--config", str(tmp_path / "missing.toml"), "config", "show")
    assert res.returncode == 2 and "cannot read" in res.stderr
    res = _cli("config", "show")
    assert res.returncode == 0 and "[pose]" in res.stdout


def test_config_show_masks_passwords(tmp_path):
    """The issue: a Redis password in the URL was printed by `config show`."""
    conf = tmp_path / "h.toml"
    conf.write_text(
        '[redis]\nurl = "redis://:url-s3cret@127.0.0.1:6379/0"\n[web]\nallowed_hosts = ["gym.lan"]\n'
    )
    env = {**os.environ, "HIITPI_REDIS_PASSWORD": "env-s3cret"}
    res = _cli("--config", str(conf), "config", "show", env=env)
    assert res.returncode == 0, res.stderr
    assert "url-s3cret" not in res.stdout and "env-s3cret" not in res.stdout
    assert 'url = "redis://:***@127.0.0.1:6379/0"' in res.stdout and 'password = "***"' in res.stdout
    assert 'allowed_hosts = ["gym.lan"]' in res.stdout  # a list stays a TOML list
    bad = tmp_path / "bad.toml"
    bad.write_text("[redis]\npassword = 12345678\n")
    res = _cli("--config", str(bad), "config", "check", str(bad))
    assert res.returncode == 2 and "redis.password" in res.stderr and "12345678" not in res.stderr
    bad.write_text('[redis]\npassword = "s3cr\\"et with space"\n')
    res = _cli("--config", str(bad), "config", "check", str(bad))
    assert res.returncode == 2 and "no spaces, quotes or backslashes" in res.stderr, res.stderr
    assert "s3cr" not in res.stderr and "bad.toml:2" in res.stderr


def test_redact_url():
    from hiitpi.redact import redact_url

    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("redis://user:pw@h/0") == "redis://user:***@h/0"
    assert redact_url("redis://pw@h/0") == "redis://***@h/0"
    assert redact_url("unix:///run/r.sock?db=1&password=pw") == "unix:///run/r.sock?db=1&password=***"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
