"""demo/run is a valid, executable bash script (the full run is exercised by hand / CI smoke)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "demo" / "run"


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
