"""demo/run: a valid bash script, and what it starts behaves as it says (a real runserver)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "demo" / "run"
#: Words of the Spanish terminal output the demo used to print (the data's own names, such as the
#: reasons FORMATO_INVALIDO or the usernames operador and lector, are not output language).
SPANISH = re.compile(
    r"\b(usuarios|peticiones|escrituras|errores|aviso|faltan|permisos|responde|solo|superusuario|invalidar)\b", re.I
)


def test_is_executable() -> None:
    assert os.access(RUN, os.X_OK)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_parses() -> None:
    subprocess.run(["bash", "-n", str(RUN)], check=True)


def test_binds_to_loopback_and_stops_children_by_pid() -> None:
    text = RUN.read_text()
    assert 'runserver "127.0.0.1:$PORT"' in text
    assert "trap cleanup INT TERM EXIT" in text
    assert "pkill" not in text and "killall" not in text


def runserver_args() -> list[str]:
    """The runserver arguments demo/run passes, with its port variable resolved later."""
    line = next(line for line in RUN.read_text().splitlines() if " runserver " in line and "MANAGE" in line)
    args = line.split(" runserver ", 1)[1].split(">", 1)[0].split()
    return [arg.strip('"') for arg in args]


def test_the_server_serves_static_files_with_debug_off() -> None:
    assert runserver_args() == ["127.0.0.1:$PORT", "--noreload", "--insecure"]


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """demo/manage.py runserver with demo/run's arguments and the demo's default settings (DEBUG off)."""
    port = free_port()
    args = [arg.replace("$PORT", str(port)) for arg in runserver_args()]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DEMO_", "DJANGO_", "REDIS_", "MEMCACHED_", "CACHE_"))
    }
    # This checkout's package (not another editable install) and a throwaway database.
    env.update(PYTHONPATH=str(ROOT), DEMO_DB=str(tmp_path / "db.sqlite3"), DJANGO_SETTINGS_MODULE="demo_site.settings")
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "manage.py"), "runserver", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"runserver exited: {(tmp_path / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(base + "/admin/login/", timeout=2)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("runserver did not answer within 30 s")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()  # by PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_runserver_as_demo_run_starts_it(demo_server: str) -> None:
    """DEBUG is off by default, yet the admin's and the dashboard's static files are served."""
    for path in ("/static/admin/css/base.css", "/static/admin/js/core.js"):
        with urllib.request.urlopen(demo_server + path, timeout=5) as response:  # noqa: S310
            assert response.status == 200, path
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(demo_server + "/no-such-page/", timeout=5)  # noqa: S310
    body = missing.value.read().decode()
    assert missing.value.code == 404
    assert "DEBUG = True" not in body and "URLconf" not in body  # not Django's debug page


def test_demo_language_is_checked_before_anything_runs(tmp_path: Path) -> None:
    env = {**os.environ, "DEMO_LANGUAGE": "fr"}
    result = subprocess.run(["bash", str(RUN)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "DEMO_LANGUAGE must be en or es, not fr" in result.stderr
    assert result.stdout == ""


def test_the_terminal_output_is_english() -> None:
    """What demo/run prints itself: say/die lines and the banner."""
    text = RUN.read_text()
    printed = re.findall(r'^\s*(?:say|die|printf|echo)\b(.*)$', text, re.M)
    banner = text.split("cat <<EOF", 1)[1].split("\nEOF", 1)[0]
    for line in [*printed, banner]:
        assert not SPANISH.search(line), line


# -- one interpreter choice for demo/run and tests/run (demo/python.sh) -------------------------------

PYTHON_SH = ROOT / "demo" / "python.sh"
TESTS_RUN = ROOT / "tests" / "run"
PROBE = 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])'


def real_interpreters() -> dict[str, str]:
    """X.Y -> a working interpreter of this machine (PATH, pyenv), for the versions the project supports."""
    found: dict[str, str] = {}
    roots = {Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")), Path("/root/.pyenv")}
    for version in ("3.10", "3.11", "3.12", "3.13", "3.14"):
        candidates = [str(p) for root in roots for p in sorted(root.glob(f"versions/{version}.*/bin/python"))]
        candidates.append(shutil.which(f"python{version}") or "")  # last: a pyenv shim is slow, may be broken
        for candidate in filter(None, candidates):
            try:
                out = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True, timeout=20)
            except OSError:
                continue
            if out.returncode == 0 and out.stdout.strip() == version:
                found[version] = candidate
                break
    return found


@pytest.fixture(scope="module")
def interpreters() -> dict[str, str]:
    found = real_interpreters()
    if len(found) < 2:
        pytest.skip(f"needs two Python versions on this machine, found {sorted(found)}")
    return found


def sandbox(tmp_path: Path, interpreters: dict[str, str], *, on_path: dict[str, str]) -> dict[str, str]:
    """An environment whose only Pythons are a pyenv root with ``interpreters`` (symlinks to real ones)
    and ``on_path`` (name -> target; a target of "" is a broken pyenv shim: no interpreter behind it)."""
    root = tmp_path / "pyenv"
    for version, target in interpreters.items():
        bindir = root / "versions" / f"{version}.0" / "bin"
        bindir.mkdir(parents=True)
        (bindir / "python").symlink_to(target)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("rm",):
        (bindir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    for name, target in on_path.items():
        if target:
            (bindir / name).symlink_to(target)
        else:
            (bindir / name).write_text('#!/bin/sh\necho "pyenv: python3.14: command not found" >&2\nexit 127\n')
            (bindir / name).chmod(0o755)
    return {"PATH": str(bindir), "PYENV_ROOT": str(root), "HOME": str(tmp_path)}


def shell(env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(
        [bash, "-c", f'set -euo pipefail; . "{PYTHON_SH}"; {script}', "-", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


def version_of(python: str) -> str:
    return subprocess.run([python, "-c", PROBE], capture_output=True, text=True, check=True).stdout.strip()


def test_both_scripts_source_the_one_choice() -> None:
    for script in (RUN, TESTS_RUN):
        text = script.read_text()
        assert "demo/python.sh" in text, script
        assert "pick_python() {" not in text, f"{script} has its own interpreter choice again"
    assert "pick_python)" in TESTS_RUN.read_text() and "pick_python)" in RUN.read_text()


def test_newest_supported_first_and_broken_shims_skipped(tmp_path: Path, interpreters: dict[str, str]) -> None:
    oldest = min(interpreters)
    env = sandbox(tmp_path, interpreters, on_path={"python3.14": "", "python3": interpreters[oldest]})
    chosen = shell(env, "pick_python")
    assert chosen.returncode == 0, chosen.stderr
    assert version_of(chosen.stdout.strip()) == max(interpreters)
    assert chosen.stdout.strip().startswith(env["PYENV_ROOT"])  # found where pyenv keeps them


def test_explicit_versions_and_cd_python(tmp_path: Path, interpreters: dict[str, str]) -> None:
    oldest, newest = min(interpreters), max(interpreters)
    env = sandbox(tmp_path, interpreters, on_path={})
    assert version_of(shell(env, 'pick_python "$@"', "3.9", oldest).stdout.strip()) == oldest
    env["CD_PYTHON"] = interpreters[oldest]
    assert version_of(shell(env, "pick_python").stdout.strip()) == oldest  # the override
    assert version_of(shell(env, 'pick_python "$@"', newest).stdout.strip()) == newest  # not for a list
    env["CD_PYTHON"] = str(tmp_path / "nothing")
    failed = shell(env, "pick_python")
    assert failed.returncode == 1 and "CD_PYTHON=" in failed.stderr


def test_no_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    env = sandbox(tmp_path, {}, on_path={"python3.14": ""})
    failed = shell(env, "pick_python")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "no working Python 3.14 3.13 3.12 3.11 3.10" in failed.stderr


def test_an_existing_venv_on_another_python_is_kept_and_said_so(tmp_path: Path, interpreters: dict[str, str]) -> None:
    oldest, newest = min(interpreters), max(interpreters)
    venv = tmp_path / "venv"
    subprocess.run([interpreters[oldest], "-m", "venv", "--without-pip", str(venv)], check=True)
    env = sandbox(tmp_path, interpreters, on_path={})
    result = shell(env, 'ensure_venv "$1" "$(pick_python)"; python_version "$1/bin/python"', str(venv))
    assert result.returncode == 0, result.stderr
    assert version_of(str(venv / "bin" / "python")) == oldest  # kept...
    assert result.stdout.strip().startswith(oldest + ".")  # ...and what is reported is what runs
    assert f"has Python {oldest}." in result.stderr and f"not Python {newest}." in result.stderr
    assert "rm -rf" in result.stderr


def test_a_broken_venv_is_recreated_a_foreign_directory_refused(tmp_path: Path, interpreters: dict[str, str]) -> None:
    newest = max(interpreters)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /gone\n")
    (venv / "bin" / "python").symlink_to(tmp_path / "gone" / "python")  # its interpreter was removed
    env = sandbox(tmp_path, interpreters, on_path={})
    result = shell(env, 'ensure_venv "$1" "$(pick_python)"', str(venv))
    assert result.returncode == 0, result.stderr
    assert "no working Python" in result.stdout and f"recreating it with Python {newest}." in result.stdout
    assert version_of(str(venv / "bin" / "python")) == newest

    foreign = tmp_path / "not-a-venv"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = shell(env, 'ensure_venv "$1" "$(pick_python)"', str(foreign))
    assert refused.returncode == 1 and "is not a virtualenv" in refused.stderr
    assert (foreign / "keep.txt").exists()


@pytest.mark.parametrize(
    ("env", "language", "debug"),
    [
        ({}, "the browser's, English or Spanish (DEMO_LANGUAGE=en|es pins one)", "off (DEMO_DEBUG=1 turns it on)"),
        ({"DEMO_LANGUAGE": "en", "DEMO_DEBUG": "1"}, "English (DEMO_LANGUAGE=en)", "on (DEMO_DEBUG=1)"),
    ],
)
def test_the_banner_says_what_the_settings_made_of_the_environment(
    tmp_path: Path, env: dict[str, str], language: str, debug: str
) -> None:
    """demo/run's own banner code, from ``ABOUT_PY=`` to the banner, run against the demo's settings."""
    text = RUN.read_text()
    start = text.index("ABOUT_PY=")
    banner = text[start : text.index("\nEOF\n", text.index("cat <<EOF", start)) + 5]
    prefixes = ("DEMO_", "DJANGO_", "REDIS_", "MEMCACHED_", "CACHE_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    run_env = {
        **clean,
        **env,
        "REDIS_URL": "redis://:s3cret@127.0.0.1:1/1",  # never connected to: only displayed
        "PYTHONPATH": str(ROOT),
        "DEMO_DB": str(tmp_path / "db.sqlite3"),
    }
    script = f'MANAGE=("{sys.executable}" "{ROOT / "demo" / "manage.py"}"); PORT=8000; RATE=5; CREDENTIALS=""\n{banner}'
    out = subprocess.run(["bash", "-c", script], env=run_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    fields = [line.split(":", 1) for line in out.stdout.splitlines() if ":  " in line]
    lines = {name.strip(): value.strip() for name, value in fields}
    assert lines["Cache backend"] == "redis redis://:***@127.0.0.1:1/1"
    assert lines["Admin language"] == language
    assert lines["Debug"] == debug
