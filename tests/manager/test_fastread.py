"""The hit path degrades instead of failing when a library renames what the fast readers use.

Each private attribute a fast reader reads is hidden in turn, the way an upstream release renames
it: the library's own code still finds it (so its public ``get``/``get_many`` keep working), only
cache_dashboard's code gets ``AttributeError``. Hits must stay hits (no fetch), the circuit must
stay closed, one warning is logged and the system check ``cache_dashboard.W005`` names the
library's version. Tools that wrap a backend instance's methods (django-debug-toolbar's cache
panel) must see CacheManager's reads.
"""

from __future__ import annotations

import logging
import pickle
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.checks import run_checks
from django.test import override_settings

from cache_dashboard import CacheManager, testing
from cache_dashboard.adapters.fastread import READERS_ATTR, is_fast
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require


class HiddenFromCacheDashboard:
    """A data descriptor standing in for attribute ``name`` of a class: code in cache_dashboard gets
    AttributeError (as after a rename), every other caller gets the attribute as before."""

    def __init__(self, cls: type, name: str) -> None:
        self.name = name
        self.original = cls.__dict__.get(name)  # a method or cached_property; None: an instance attribute

    def __get__(self, obj: Any, owner: type) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("cache_dashboard."):
            raise AttributeError(f"{owner.__name__!r} object has no attribute {self.name!r}")
        if obj is None:
            return self
        if self.name in obj.__dict__:
            return obj.__dict__[self.name]
        return self.original.__get__(obj, owner)  # type: ignore[union-attr]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


class Unloadable:
    """Pickled, then renamed in the pickle: what a value of a class removed since looks like."""


def _hide(monkeypatch: pytest.MonkeyPatch, dotted: str) -> None:
    module_name, cls_name, attr = dotted.rsplit(".", 2)
    module = __import__(module_name, fromlist=[cls_name])
    cls = getattr(module, cls_name)
    monkeypatch.setattr(cls, attr, HiddenFromCacheDashboard(cls, attr), raising=False)


# (alias, what an upstream release renames). The readers of these backends read each of them.
RENAMES = [
    ("redis", "django.core.cache.backends.redis.RedisCache._cache"),
    ("redis", "django.core.cache.backends.redis.RedisCacheClient._get_connection_pool"),
    ("redis", "django.core.cache.backends.redis.RedisCacheClient._client"),
    ("redis", "django.core.cache.backends.redis.RedisCacheClient._servers"),
    ("redis", "django.core.cache.backends.redis.RedisCacheClient._serializer"),
    ("django_redis", "django_redis.client.default.DefaultClient._clients"),
    ("django_redis", "django_redis.client.default.DefaultClient._compressor"),
    ("django_redis", "django_redis.client.default.DefaultClient._serializer"),
    ("django_valkey", "django_valkey.client.default.DefaultClient._clients"),
    ("django_valkey", "django_valkey.client.default.DefaultClient._compressor"),
    ("django_valkey", "django_valkey.client.default.DefaultClient._serializer"),
    ("memcached", "django.core.cache.backends.memcached.BaseMemcachedCache._cache"),
    ("memcached", "pymemcache.client.hash.HashClient.hasher"),
    ("memcached", "pymemcache.client.rendezvous.RendezvousHash.nodes"),
    ("memcached", "pymemcache.client.hash.HashClient.clients"),
    ("memcached", "pymemcache.client.hash.HashClient._safely_run_func"),
    ("memcached", "pymemcache.client.hash.HashClient._dead_clients"),
    ("memcached", "pymemcache.client.hash.HashClient.allow_unicode_keys"),
    ("memcached", "pymemcache.client.hash.HashClient.key_prefix"),
]
LIBRARY = {"redis": "Django", "django_redis": "django-redis", "django_valkey": "django-valkey",
           "memcached": "pymemcache"}


def _fresh_alias(extra_alias: Any, alias: str, name: str) -> str:
    """A new alias on the same server: a backend instance built after the 'upgrade'."""
    extra_alias(**{name: {**settings.CACHES[alias], "KEY_PREFIX": name}})
    return name


def _reads_of_two_keys_hit(alias: str) -> None:
    cm = CacheManager(alias)
    fetches: list[str] = []

    def fetch(key: str) -> str:
        fetches.append(key)
        return f"value of {key}"

    for i in range(25):  # the case: 25 reads of two keys
        key, namespace = ("plain", None) if i % 2 else ("spaced", "ns")
        assert cm.get(key, lambda k=key: fetch(k), 60, namespace=namespace) == f"value of {key}"
    assert sorted(fetches) == ["plain", "spaced"]  # two misses, 23 hits
    breaker = get_breaker(alias)
    assert breaker.state == "closed" and breaker.failures == 0


@pytest.mark.parametrize(("alias", "renamed"), RENAMES, ids=[r[1].rsplit(".", 2)[-2] + "." + r[1].rsplit(".", 1)[-1]
                                                              for r in RENAMES])
def test_a_renamed_private_attribute_leaves_hits_hits(
    alias: str, renamed: str, servers: Any, extra_alias: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    require(alias, servers)
    _hide(monkeypatch, renamed)
    fresh = _fresh_alias(extra_alias, alias, "upgraded")
    with caplog.at_level(logging.WARNING, logger="cache_dashboard"):
        _reads_of_two_keys_hit(fresh)
    assert not is_fast(caches[fresh].__dict__[READERS_ATTR])  # Django's public get/get_many
    warnings = [r.getMessage() for r in caplog.records if "fast hit path" in r.getMessage()]
    assert len(warnings) == 1 and LIBRARY[alias] in warnings[0] and renamed.rsplit(".", 1)[-1] in warnings[0]
    messages = [m for m in run_checks(tags=["caches"]) if m.id == "cache_dashboard.W005"]
    assert [m.msg for m in messages if "'upgraded'" in m.msg], messages
    assert all(LIBRARY[alias] in m.msg for m in messages if "'upgraded'" in m.msg)


@pytest.mark.parametrize(("alias", "renamed"), [
    ("django_redis", "django_redis.client.default.DefaultClient._clients"),
    ("django_valkey", "django_valkey.client.default.DefaultClient._clients"),
    ("memcached", "pymemcache.client.hash.HashClient._dead_clients"),
])
def test_a_rename_under_a_running_process_switches_it_to_the_public_path(
    alias: str, renamed: str, servers: Any, extra_alias: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # These attributes are read at every call: readers built before the rename meet it mid-flight.
    require(alias, servers)
    fresh = _fresh_alias(extra_alias, alias, "running")
    cm = CacheManager(fresh)
    assert cm.set("k", "v", 60)
    assert cm.get("k") == "v" and is_fast(caches[fresh].__dict__[READERS_ATTR])
    _hide(monkeypatch, renamed)
    with caplog.at_level(logging.WARNING, logger="cache_dashboard"):
        assert cm.get("k", lambda: pytest.fail("a hit was fetched"), 60) == "v"
    assert not is_fast(caches[fresh].__dict__[READERS_ATTR])
    assert any("fast hit path" in r.getMessage() for r in caplog.records)
    _reads_of_two_keys_hit(fresh)


def test_an_unreadable_value_does_not_switch_off_the_fast_path(
    servers: Any, extra_alias: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An AttributeError that Django's own get() raises too (a pickle of a class that is gone) is
    # the value's problem, not the reader's: the reader stays, the error is the backend's.
    require("redis", servers)
    fresh = _fresh_alias(extra_alias, "redis", "strict")
    cm = CacheManager(fresh)
    cm.get("warm", lambda: 1, 60)
    readers = caches[fresh].__dict__[READERS_ATTR]
    assert is_fast(readers)
    raw = pickle.dumps(Unloadable()).replace(b"Unloadable", b"Vanished__")  # a class that is gone
    raw_key = caches[fresh].make_key(testing.keys(fresh).entry("gone", None))
    caches[fresh]._cache.get_client(write=True).set(raw_key, raw)
    assert cm.get("gone", lambda: "fetched", 60) == "fetched"  # fails open, as for any read error
    assert caches[fresh].__dict__[READERS_ATTR] is readers


@pytest.mark.parametrize("alias", ["locmem", "redis", "django_redis", "django_valkey", "memcached"])
def test_debug_toolbar_cache_panel_sees_cache_manager_reads(alias: str, servers: Any) -> None:
    from debug_toolbar.panels.cache import CachePanel

    require(alias, servers)
    cm = CacheManager(alias)
    cm.set("seen", "v", 60)
    cm.set("seen", "v", 60, namespace="ns")
    assert cm.get("seen") == "v"  # readers built before the panel wraps the instance
    CachePanel.ready()
    panel = CachePanel(None, lambda request: None)
    with override_settings(DEBUG_TOOLBAR_CONFIG={"ENABLE_STACKTRACES": False}):
        panel.enable_instrumentation()
        try:
            assert cm.get("seen", lambda: pytest.fail("a hit was fetched"), 60) == "v"
            assert cm.get("seen", lambda: pytest.fail("a hit was fetched"), 60, namespace="ns") == "v"
        finally:
            panel.disable_instrumentation()
    names = [call["name"] for call in panel.calls if "seen" in str(call["args"])]  # not the epoch's
    # Both reads are seen. LocMem keeps namespace generations in process memory: its namespaced
    # read is a plain get; elsewhere it is a two-key get_many.
    assert names == (["get", "get"] if alias == "locmem" else ["get", "get_many"]), names
    assert panel.hits >= 2
