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
