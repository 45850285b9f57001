"""demo/run is a valid, executable bash script (the full run is exercised by hand / CI smoke)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
