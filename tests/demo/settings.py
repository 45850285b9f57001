"""Settings of the demo's test suite: the library's test settings plus the demo's apps.

Run with ``pytest tests/demo --ds=tests.demo.settings`` (``./tests/run`` does); the library's own
suite never installs the demo.
"""

import sys
from pathlib import Path

from tests.settings import *  # noqa: F403

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "demo"))

INSTALLED_APPS = [*INSTALLED_APPS, "demo_site", "ruc", "shop"]  # noqa: F405
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "test-demo.sqlite3"}}  # noqa: F405
