"""The demo's cache selection from environment variables (README backend table)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from demo_site.settings import build_caches
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter


def test_default_is_locmem() -> None:
    assert build_caches({})["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_redis_url_selects_django_rediscache_with_short_timeouts() -> None:
    conf = build_caches({"REDIS_URL": "redis://127.0.0.1:6379/1"})["default"]
    assert conf["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert conf["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert conf["OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def test_cache_backend_django_redis() -> None:
    conf = build_caches({"CACHE_BACKEND": "django_redis", "REDIS_URL": "redis://h:6379/2"})["default"]
    assert conf["BACKEND"] == "django_redis.cache.RedisCache"
    assert conf["LOCATION"] == "redis://h:6379/2"
    assert conf["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] == 0.5
    assert conf["OPTIONS"]["SOCKET_TIMEOUT"] == 0.5
    assert (
        build_caches({"CACHE_BACKEND": "django-redis"})["default"]["BACKEND"]
        == "django_redis.cache.RedisCache"
    )


def test_memcached_url_one_or_several_servers() -> None:
    one = build_caches({"MEMCACHED_URL": "127.0.0.1:11211"})["default"]
    assert one["BACKEND"] == "django.core.cache.backends.memcached.PyMemcacheCache"
    assert one["LOCATION"] == "127.0.0.1:11211"
    assert one["OPTIONS"]["connect_timeout"] == 0.5 and one["OPTIONS"]["timeout"] == 0.5
    assert one["OPTIONS"]["dead_timeout"] == 5
    several = build_caches({"MEMCACHED_URL": "10.0.0.1:11211, memcached://10.0.0.2:11211"})["default"]
    assert several["LOCATION"] == ["10.0.0.1:11211", "10.0.0.2:11211"]


def test_timeout_is_configurable() -> None:
    conf = build_caches({"REDIS_URL": "redis://x/0", "CACHE_SOCKET_TIMEOUT": "2"})["default"]
    assert conf["OPTIONS"]["socket_timeout"] == 2.0


# -- the switches read at import: DEMO_DEBUG, DEMO_LANGUAGE -------------------------------------------


@pytest.fixture
def load_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Re-import demo_site.settings under a given environment (the module only; Django's active
    settings stay the test suite's), and re-import it as it was afterwards."""
    import demo_site.settings as module

    def load(**env: str) -> ModuleType:
        for name in ("DEMO_DEBUG", "DEMO_LANGUAGE", "REDIS_URL", "MEMCACHED_URL", "CACHE_BACKEND"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(module)

    yield load
    monkeypatch.undo()
    importlib.reload(module)


def test_debug_is_off_by_default_and_opt_in(load_settings) -> None:
    assert load_settings().DEBUG is False
    assert load_settings(DEMO_DEBUG="0").DEBUG is False
    assert load_settings(DEMO_DEBUG="").DEBUG is False
    assert load_settings(DEMO_DEBUG="1").DEBUG is True
    assert load_settings(DEMO_DEBUG="yes").DEBUG is True


def test_error_pages_mask_passwords_in_urls(load_settings) -> None:
    module = load_settings()
    assert module.DEFAULT_EXCEPTION_REPORTER_FILTER == "demo_site.debug.MaskingExceptionReporterFilter"


def test_language_follows_the_browser_unless_demo_language_pins_it(load_settings) -> None:
    default = load_settings()
    assert (default.DEMO_LANGUAGE, default.LANGUAGE_CODE) == (None, "es")
    assert "django.middleware.locale.LocaleMiddleware" in default.MIDDLEWARE
    for code in ("en", "es"):
        pinned = load_settings(DEMO_LANGUAGE=code)
        assert (pinned.DEMO_LANGUAGE, pinned.LANGUAGE_CODE) == (code, code)
        assert "django.middleware.locale.LocaleMiddleware" not in pinned.MIDDLEWARE
        assert pinned.MIDDLEWARE == [m for m in default.MIDDLEWARE if not m.endswith("LocaleMiddleware")]


@pytest.mark.parametrize("value", ["fr", "EN", "en-us", "english"])
def test_an_unknown_demo_language_is_a_clear_error(load_settings, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"DEMO_LANGUAGE must be en or es, not '{value}'"):
        load_settings(DEMO_LANGUAGE=value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("pinned", "browser", "expected"),
    [
        ("en", "es", "Log in"),  # pinned: the browser's language is ignored
        ("es", "en", "Iniciar sesión"),
        (None, "en", "Log in"),  # not pinned: the browser decides
        (None, "es", "Iniciar sesión"),
        (None, "de", "Iniciar sesión"),  # neither English nor Spanish: LANGUAGE_CODE
    ],
)
def test_the_admin_speaks_the_chosen_language(client, pinned: str | None, browser: str, expected: str) -> None:
    from demo_site.settings import build_middleware

    with override_settings(
        ROOT_URLCONF="demo_site.urls", LANGUAGE_CODE=pinned or "es", MIDDLEWARE=build_middleware(pinned)
    ):
        page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=browser)
    assert page.status_code == 200
    assert expected in page.content.decode()


# -- the masking filter of Django's error reports -----------------------------------------------------

SECRET = "-".join(("s3cret", "pw"))  # built, so the report's source excerpts never contain it


def _boom() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:6379/1"  # a frame variable the report lists
    raise RuntimeError(f"cache down at {url.rpartition('@')[2]}")


def _report(filter_path: str, settings: Any) -> str:
    settings.DEBUG = True
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = filter_path
    demo_cache = build_caches({"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:6379/1"})["default"]
    settings.CACHES = {**settings.CACHES, "demo": demo_cache}
    settings.CACHE_MIRRORS = [f"redis://user:{SECRET}@replica:6379/1"]  # a list of URLs, as LOCATION can be
    request = RequestFactory().get("/", REDIS_URL=f"redis://:{SECRET}@127.0.0.1:6379/1")
    get_default_exception_reporter_filter.cache_clear()  # Django builds the filter once per process
    try:
        _boom()
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    finally:
        get_default_exception_reporter_filter.cache_clear()
    raise AssertionError("unreachable")


def test_django_alone_would_show_the_redis_password(settings) -> None:
    assert SECRET in _report("django.views.debug.SafeExceptionReporterFilter", settings)


def test_the_demo_filter_masks_it_in_settings_environment_and_frames(settings) -> None:
    html = _report("demo_site.debug.MaskingExceptionReporterFilter", settings)
    assert SECRET not in html
    assert "redis://:***@127.0.0.1:6379/1" in html  # CACHES' LOCATION, META's REDIS_URL, the local
    assert "redis://user:***@replica:6379/1" in html
    assert "cache down at 127.0.0.1:6379/1" in html  # the report itself is intact
