"""Settings of the cache_dashboard demo: LocMemCache + SQLite unless environment variables say otherwise.

Cache selection (the README's backend table):

=====================================================  ==========================================
environment                                            cache
=====================================================  ==========================================
(nothing)                                              LocMemCache (per process, no server)
``REDIS_URL=redis://127.0.0.1:6379/1``                 Django's RedisCache
``CACHE_BACKEND=django_redis`` (+ ``REDIS_URL``)        django-redis
``MEMCACHED_URL=127.0.0.1:11211[,host2:11211]``        PyMemcacheCache (several servers allowed)
=====================================================  ==========================================

Timeouts are short (0.5 s) on purpose: CacheManager fails open, so a dead cache server costs
each request at most that long instead of hanging it.

``DEMO_LANGUAGE=en|es`` pins the admin's language (unset: each browser's own, English or Spanish,
else Spanish; the admin has no language switch). ``DEMO_DEBUG=1`` turns ``DEBUG`` on (off by
default: its error pages list settings and environment; passwords in URLs are masked there by
``demo_site.debug``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent  # demo/

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-secret-key-do-not-use-in-production")


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """True if ``env[name]`` is 1, true, yes or on (any case)."""
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


# Off unless DEMO_DEBUG=1: Django's debug pages show the settings and the environment.
DEBUG = env_flag(os.environ, "DEMO_DEBUG")
# Also when DEBUG is on, passwords inside URLs (CACHES' LOCATION, REDIS_URL) are masked there.
DEFAULT_EXCEPTION_REPORTER_FILTER = "demo_site.debug.MaskingExceptionReporterFilter"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "cache_dashboard",
    "demo_site",
    "ruc",
    "shop",
]

LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"


def pinned_language(env: Mapping[str, str] = os.environ) -> str | None:
    """``DEMO_LANGUAGE`` (``en`` or ``es``), or None when unset: then each browser's language decides."""
    value = env.get("DEMO_LANGUAGE", "").strip()
    if value and value not in dict(LANGUAGES):
        raise ImproperlyConfigured(f"DEMO_LANGUAGE must be en or es, not {value!r}")
    return value or None


def build_middleware(language: str | None) -> list[str]:
    """The middleware; a pinned language drops LocaleMiddleware so every request gets LANGUAGE_CODE."""
    return [name for name in _MIDDLEWARE if not (language and name == LOCALE_MIDDLEWARE)]


_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    LOCALE_MIDDLEWARE,  # unless DEMO_LANGUAGE is set: the browser's Accept-Language picks en or es
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
DEMO_LANGUAGE = pinned_language()
MIDDLEWARE = build_middleware(DEMO_LANGUAGE)

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        # The traffic generator writes while the server reads: wait for the lock, don't fail.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The UI language: DEMO_LANGUAGE if set; otherwise the browser's (LocaleMiddleware), Spanish when it
# asks for neither English nor Spanish. The admin has no language switch.
LANGUAGE_CODE = DEMO_LANGUAGE or "es"
TIME_ZONE = "America/Lima"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".cache" / "static"


def build_caches(env: Mapping[str, str] = os.environ) -> dict[str, dict[str, Any]]:
    """The ``CACHES`` setting for the environment ``env`` (see the module docstring).

    ``CACHE_BACKEND`` (``locmem``, ``redis``, ``django_redis``, ``memcached``) forces a backend;
    without it ``REDIS_URL`` selects Redis and ``MEMCACHED_URL`` memcached.
    """
    kind = env.get("CACHE_BACKEND", "").strip().lower().replace("-", "_")
    redis_url = env.get("REDIS_URL", "").strip()
    memcached_url = env.get("MEMCACHED_URL", "").strip()
    timeout = float(env.get("CACHE_SOCKET_TIMEOUT", 0.5))
    common = {"TIMEOUT": 300, "KEY_PREFIX": "demo"}

    if kind == "django_redis":
        return {
            "default": {
                **common,
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": redis_url or "redis://127.0.0.1:6379/1",
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": timeout,
                    "SOCKET_TIMEOUT": timeout,
                },
            }
        }
    if kind == "redis" or (kind == "" and redis_url):
        return {
            "default": {
                **common,
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url or "redis://127.0.0.1:6379/1",
                "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
            }
        }
    if kind in ("memcached", "pymemcache") or (kind == "" and memcached_url):
        servers = [
            s.strip().removeprefix("memcached://")
            for s in (memcached_url or "127.0.0.1:11211").split(",")
            if s.strip()
        ]
        return {
            "default": {
                **common,
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": servers if len(servers) > 1 else servers[0],
                "OPTIONS": {
                    "connect_timeout": timeout,
                    "timeout": timeout,
                    # A failed server is back in use after 5 s, not pymemcache's 60 (check W008).
                    "dead_timeout": 5,
                    "no_delay": True,
                    "use_pooling": True,
                    "max_pool_size": 8,
                },
            }
        }
    return {
        "default": {
            **common,
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cache-dashboard-demo",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }


CACHES = build_caches()

CACHE_DASHBOARD = {
    "ALIAS": "default",
    # TTL per data type / namespace in seconds (the seeds' values); editable in the admin.
    "TTLS": {
        "ruc": 3600,  # valid RUCs: 1 h
        "ruc_invalid": 86400,  # invalid RUCs: 24 h
        "ruc_error": 60,  # upstream failures (ERROR_API): 1 min
        "nubefact": 3600,
        "nubefact_invalid": 86400,
        "nubefact_error": 60,
        "estadisticas_ventas": 300,
        "estadisticas_usuarios": 600,
        "productos_vendidos": 300,
        "metodos_pago": 600,
        "perfil_usuario": 3600,
        "lista_productos": 300,
    },
    "POLL_INTERVAL": 5,
}

# The simulated upstream providers (ruc/upstream.py): latency in seconds, failure probability.
DEMO_UPSTREAM = {
    "LATENCY": float(os.environ.get("DEMO_UPSTREAM_LATENCY", 0.3)),
    "FAILURE_RATE": float(os.environ.get("DEMO_UPSTREAM_FAILURE_RATE", 0.1)),
    "NOT_FOUND_PERCENT": int(os.environ.get("DEMO_UPSTREAM_NOT_FOUND_PERCENT", 20)),
}

# Shared secret between ./demo/run's server and its traffic generator (empty: demo writes off).
DEMO_TRAFFIC_TOKEN = os.environ.get("DEMO_TRAFFIC_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"debug_off": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        # With DEBUG off Django logs server errors nowhere visible (no ADMINS): to the server's log.
        "errors": {"class": "logging.StreamHandler", "level": "ERROR", "filters": ["debug_off"]},
    },
    "loggers": {
        "cache_dashboard": {"handlers": ["console"], "level": os.environ.get("DEMO_LOG_LEVEL", "WARNING")},
        "django.request": {"handlers": ["errors"], "level": "ERROR"},
    },
}
