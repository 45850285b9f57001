"""cache_dashboard's system checks, each both ways: its ID when misconfigured, none when right."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.template.loader import get_template
from django.test import override_settings
from django.utils import translation

from cache_dashboard.adapters import get_adapter

# Every tag runs, the models' checks too, and those ask the database what it supports.
pytestmark = pytest.mark.django_db

REDIS = "django.core.cache.backends.redis.RedisCache"
DJANGO_REDIS = "django_redis.cache.RedisCache"
MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
DUMMY = "django.core.cache.backends.dummy.DummyCache"

# Nothing listens on port 1: the checks read the configuration, they never connect.
GOOD_REDIS = {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0",
              "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}
GOOD_DJANGO_REDIS = {"BACKEND": DJANGO_REDIS, "LOCATION": "redis://127.0.0.1:1/1",
                     "OPTIONS": {"SOCKET_TIMEOUT": 0.5, "SOCKET_CONNECT_TIMEOUT": 0.5}}
GOOD_MEMCACHED = {"BACKEND": MEMCACHED, "LOCATION": "127.0.0.1:1",
                  "OPTIONS": {"timeout": 0.5, "connect_timeout": 0.5, "dead_timeout": 5}}


def ids(*, deploy: bool = False, **overrides: Any) -> set[str]:
    """The IDs of every check's messages (every tag) under ``overrides``."""
    with override_settings(**overrides):
        return {m.id for m in run_checks(include_deployment_checks=deploy) if m.id}


def ours(found: set[str]) -> set[str]:
    return {i for i in found if i.startswith("cache_dashboard.")}


def caches(**aliases: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A CACHES of ``aliases`` on a well-configured default."""
    return {"default": GOOD_REDIS, **aliases}


def with_options(params: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {**params, "OPTIONS": {**params["OPTIONS"], **options}}


def without_options(params: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**params, "OPTIONS": {k: v for k, v in params["OPTIONS"].items() if k not in names}}


def test_a_well_configured_site_has_no_messages() -> None:
    all_good = caches(dr=GOOD_DJANGO_REDIS, mc=GOOD_MEMCACHED,
                      pool={**GOOD_MEMCACHED, "LOCATION": ["127.0.0.1:1", "127.0.0.1:2"], "KEY_PREFIX": "pool"})
    assert ours(ids(CACHES=all_good)) == set()
    assert ours(ids(deploy=True, CACHES=all_good)) == set()


def test_the_suites_own_settings_have_no_messages() -> None:
    # tests/settings.py with the servers' aliases of tests/conftest.py (the README's setup); only
    # the deployment checks name its LocMem and Dummy aliases.
    assert ours(ids()) == set()
    assert ours(ids(deploy=True)) == {"cache_dashboard.W006"}


def test_overriding_caches_gives_fresh_adapters() -> None:
    with override_settings(CACHES=caches()):
        assert get_adapter("default").name == "redis"
        with override_settings(CACHES={"default": GOOD_MEMCACHED}):
            assert get_adapter("default").name == "memcached"
        assert get_adapter("default").name == "redis"


# -- E002: TTLS values ------------------------------------------------------------------------
def test_e002_ttls_must_be_positive_whole_seconds_or_none() -> None:
    for bad in (0, -5, 1.5, "60", True):
        assert "cache_dashboard.E002" in ids(CACHES=caches(), CACHE_DASHBOARD={"TTLS": {"ruc": bad}}), bad
    assert "cache_dashboard.E002" not in ids(CACHES=caches(), CACHE_DASHBOARD={"TTLS": {"ruc": 1, "forever": None}})


# -- W003: socket timeouts, on both Redis backends and memcached --------------------------------
def test_w003_no_socket_timeouts() -> None:
    for good, names in ((GOOD_REDIS, ("socket_timeout", "socket_connect_timeout")),
                        (GOOD_DJANGO_REDIS, ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT")),
                        (GOOD_MEMCACHED, ("timeout", "connect_timeout"))):
        assert "cache_dashboard.W003" not in ids(CACHES=caches(other=good)), good["BACKEND"]
        for name in names:
            assert "cache_dashboard.W003" in ids(CACHES=caches(other=without_options(good, name))), name
        bare = {k: v for k, v in good.items() if k != "OPTIONS"}
        assert "cache_dashboard.W003" in ids(CACHES=caches(other=bare)), good["BACKEND"]


def test_w003_wants_each_backends_own_spelling() -> None:
    # django-redis's options are upper case; the lower-case ones of Django's RedisCache do nothing there.
    lower = {**GOOD_DJANGO_REDIS, "OPTIONS": GOOD_REDIS["OPTIONS"]}
    assert "cache_dashboard.W003" in ids(CACHES=caches(other=lower))


# -- E004: django-redis's CLIENT_CLASS on Django's RedisCache -----------------------------------
def test_e004_client_class_on_djangos_redis_cache() -> None:
    client_class = {"CLIENT_CLASS": "django_redis.client.DefaultClient"}
    assert "cache_dashboard.E004" in ids(CACHES=caches(other=with_options(GOOD_REDIS, **client_class)))
    assert "cache_dashboard.E004" not in ids(CACHES=caches(other=GOOD_REDIS))
    # django-redis reads it: no message there.
    assert "cache_dashboard.E004" not in ids(CACHES=caches(other=with_options(GOOD_DJANGO_REDIS, **client_class)))


# -- django-valkey: django-redis's OPTIONS; E007: its async-only backend ---------------------------
def test_django_valkey_takes_django_redis_s_options() -> None:
    pytest.importorskip("django_valkey", reason="django-valkey needs Python 3.11")
    good = {"BACKEND": "django_valkey.cache.ValkeyCache", "LOCATION": "valkey://127.0.0.1:1/1",
            "OPTIONS": {**GOOD_DJANGO_REDIS["OPTIONS"], "CLIENT_CLASS": "django_valkey.client.DefaultClient"}}
    assert ours(ids(CACHES=caches(dv=good))) == set()  # CLIENT_CLASS is its own option: no E004
    assert "cache_dashboard.W003" in ids(CACHES=caches(dv=without_options(good, "SOCKET_TIMEOUT")))
    assert "cache_dashboard.W003" in ids(CACHES=caches(dv={**good, "OPTIONS": GOOD_REDIS["OPTIONS"]}))


# Django's own cache checks build every alias's backend, and Django closes it synchronously.
@pytest.mark.filterwarnings("ignore:coroutine 'AsyncBackendCommands.close' was never awaited:RuntimeWarning")
def test_e007_an_async_only_backend() -> None:
    # django-valkey's AsyncValkeyCache has coroutine get/set: CacheManager's calls would get
    # coroutines. Django's own backends keep get synchronous beside aget: no message there.
    pytest.importorskip("django_valkey", reason="django-valkey needs Python 3.11")
    async_only = {"BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache", "LOCATION": "valkey://127.0.0.1:1/1",
                  "OPTIONS": GOOD_DJANGO_REDIS["OPTIONS"]}
    assert "cache_dashboard.E007" in ids(CACHES=caches(av=async_only))
    assert "cache_dashboard.E007" not in ids(CACHES=caches(dr=GOOD_DJANGO_REDIS, mc=GOOD_MEMCACHED,
                                                           lm={"BACKEND": LOCMEM}))


# -- E005: the dashboard lives in the admin -----------------------------------------------------
def test_e005_admin_missing() -> None:
    apps = list(settings.INSTALLED_APPS)
    without_admin = [app for app in apps if app != "django.contrib.admin"]
    with override_settings(ROOT_URLCONF="tests.test_checks"):  # no admin URLs to import
        assert "cache_dashboard.E005" in ids(INSTALLED_APPS=without_admin, CACHES=caches())
    assert "cache_dashboard.E005" not in ids(INSTALLED_APPS=apps, CACHES=caches())


def test_w009_cache_dashboard_before_the_admin() -> None:
    apps = [app for app in settings.INSTALLED_APPS if app != "cache_dashboard"]
    first, after = ["cache_dashboard", *apps], [*apps, "cache_dashboard"]
    assert "cache_dashboard.W009" in ids(INSTALLED_APPS=first, CACHES=caches())
    assert ours(ids(INSTALLED_APPS=after, CACHES=caches())) == set()
    # Why: the catalog of the app listed first wins a msgid both have.
    for order, change in ((first, "Cambiar"), (after, "Modificar")):
        with override_settings(INSTALLED_APPS=order), translation.override("es"):
            assert translation.gettext("Change") == change, order[0]
    # The templates resolve the same in either order: none of the app's names is the admin's.
    for order in (first, after):
        with override_settings(INSTALLED_APPS=order):
            assert get_template("cache_dashboard/overview.html").origin.name.endswith(
                "cache_dashboard/templates/cache_dashboard/overview.html")
            assert "django/contrib/admin" in get_template("admin/base_site.html").origin.name


urlpatterns: list[Any] = []


# -- W006: process-local caches in production ----------------------------------------------------
def test_w006_locmem_or_dummy_under_deploy() -> None:
    for backend in (LOCMEM, DUMMY):
        shown = caches(local={"BACKEND": backend})
        assert "cache_dashboard.W006" in ids(deploy=True, CACHES=shown), backend
        assert "cache_dashboard.W006" not in ids(CACHES=shown), backend  # a deployment check only
        # Left out of the dashboard (and not CacheManager's alias): not the dashboard's business.
        assert "cache_dashboard.W006" not in ids(deploy=True, CACHES=shown,
                                                 CACHE_DASHBOARD={"ALIASES": ["default"]}), backend
        # CacheManager's own alias counts even when the dashboard does not show it.
        assert "cache_dashboard.W006" in ids(deploy=True, CACHES=shown,
                                             CACHE_DASHBOARD={"ALIAS": "local", "ALIASES": ["default"]}), backend
    assert "cache_dashboard.W006" not in ids(deploy=True, CACHES=caches(mc=GOOD_MEMCACHED))


# -- W007: sessions the key browser can delete --------------------------------------------------
CACHE_SESSIONS = ("django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.cached_db")


def test_w007_sessions_on_a_dashboard_alias() -> None:
    for engine in CACHE_SESSIONS:
        assert "cache_dashboard.W007" in ids(CACHES=caches(), SESSION_ENGINE=engine), engine
        assert "cache_dashboard.W007" in ids(CACHES=caches(sessions=GOOD_MEMCACHED), SESSION_ENGINE=engine,
                                             SESSION_CACHE_ALIAS="sessions"), engine
    for engine in ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.signed_cookies"):
        assert "cache_dashboard.W007" not in ids(CACHES=caches(), SESSION_ENGINE=engine), engine


def test_w007_sessions_on_an_alias_of_their_own() -> None:
    engine = "django.contrib.sessions.backends.cache"
    own = {**GOOD_REDIS, "KEY_PREFIX": "sessions"}
    hidden = {"ALIASES": ["default"]}
    assert "cache_dashboard.W007" not in ids(CACHES=caches(sessions=own), SESSION_ENGINE=engine,
                                             SESSION_CACHE_ALIAS="sessions", CACHE_DASHBOARD=hidden)
    # The same store under the same KEY_PREFIX: sessions are the shown alias's own keys.
    assert "cache_dashboard.W007" in ids(CACHES=caches(sessions=GOOD_REDIS), SESSION_ENGINE=engine,
                                         SESSION_CACHE_ALIAS="sessions", CACHE_DASHBOARD=hidden)
    # Another KEY_PREFIX on the same store: foreign keys, deletable only with KEY_BROWSER_FOREIGN_WRITES.
    assert "cache_dashboard.W007" in ids(CACHES=caches(sessions=own), SESSION_ENGINE=engine,
                                         SESSION_CACHE_ALIAS="sessions",
                                         CACHE_DASHBOARD={**hidden, "KEY_BROWSER_FOREIGN_WRITES": True})


def test_w007_not_on_a_backend_without_the_key_browser() -> None:
    assert "cache_dashboard.W007" not in ids(CACHES=caches(sessions={"BACKEND": DUMMY}),
                                             SESSION_ENGINE="django.contrib.sessions.backends.cache",
                                             SESSION_CACHE_ALIAS="sessions")


# -- W008: memcached's dead_timeout ----------------------------------------------------------------
def test_w008_memcached_without_dead_timeout() -> None:
    pool = {**GOOD_MEMCACHED, "LOCATION": ["127.0.0.1:1", "127.0.0.1:2"]}
    for params in (GOOD_MEMCACHED, pool):  # Django builds a HashClient for one server too
        assert "cache_dashboard.W008" in ids(CACHES=caches(mc=without_options(params, "dead_timeout")))
        assert "cache_dashboard.W008" not in ids(CACHES=caches(mc=params))
        assert "cache_dashboard.W008" not in ids(CACHES=caches(mc=with_options(params, dead_timeout=0)))
    assert "cache_dashboard.W008" in ids(CACHES=caches(mc={"BACKEND": MEMCACHED, "LOCATION": "127.0.0.1:1"}))


def test_w008_memcached_dead_timeout_too_long_or_too_many_retries() -> None:
    for params in (GOOD_MEMCACHED, {**GOOD_MEMCACHED, "LOCATION": ["127.0.0.1:1", "127.0.0.1:2"]}):
        assert "cache_dashboard.W008" in ids(CACHES=caches(mc=with_options(params, dead_timeout=60)))
        assert "cache_dashboard.W008" not in ids(CACHES=caches(mc=with_options(params, dead_timeout=10)))
        assert "cache_dashboard.W008" in ids(CACHES=caches(mc=with_options(params, retry_attempts=5)))
        recommended = with_options(params, dead_timeout=5, retry_attempts=1, retry_timeout=1)
        assert "cache_dashboard.W008" not in ids(CACHES=caches(mc=recommended))
