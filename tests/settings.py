"""Settings of the library's test suite: the package and a test app, nothing of the demo (the demo's
suite has its own settings, tests/demo/settings.py). Cache aliases for real servers are added by
tests/conftest.py."""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "cache_dashboard",
    "tests.invalidation.testapp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# CD_TEST_DATABASE: the SQLite file the worker processes of a multi-process test share (tests/procs.py).
# The test database is a file in WAL mode, as a site on SQLite runs it: a reader never waits for a
# writer and a writer waits its turn (Django's default in-memory test database answers "database
# table is locked" at once to a request that reads while another thread commits).
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("CD_TEST_DATABASE") or BASE_DIR / "test.sqlite3",
                         # (Workers on a shared file keep its journal: switching it needs the file alone.)
                         "OPTIONS": {} if os.environ.get("CD_TEST_DATABASE") else
                         {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF"},
                         # One file per test run (two runs in one checkout must not share it).
                         "TEST": {"NAME": Path(tempfile.gettempdir()) / f"cd-test-db-{os.getpid()}.sqlite3"}}}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "artifacts" / "static"
LANGUAGES = [("en", "English"), ("es", "Español")]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests-default"},
}
CACHE_DASHBOARD = {
    "TTLS": {"ruc": 3600, "ruc_invalid": 86400, "estadisticas_ventas": 300},
    "STAMPEDE_MAX_WAIT": 2.0,
}
SILENCED_SYSTEM_CHECKS = ["cache_dashboard.W003"] if os.environ.get("CD_SILENCE_TIMEOUTS") else []
