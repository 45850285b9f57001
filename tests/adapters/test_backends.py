"""Item 12: the rest of the backends (file, database, dummy, memcached pool, Redis with a replica)
and the system checks."""

from __future__ import annotations

import time

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from tests.conftest import require

OTHER_ALIASES = ["file", "db", "memcached_pool", "redis_multi"]


@pytest.fixture(params=OTHER_ALIASES)
def other(request: pytest.FixtureRequest, servers: object) -> CacheManager:
    require(request.param, servers)  # type: ignore[arg-type]
    if request.param == "db":
        request.getfixturevalue("transactional_db")  # the stats flusher thread writes too
    return CacheManager(request.param)


def settle(cm: CacheManager) -> None:
    if cm.alias == "redis_multi":  # reads go to the replica: let replication catch up
        cm.adapter.client().wait(1, 300)


def test_contract_basics_on_other_backends(other: CacheManager) -> None:
    calls = []
    assert other.get("k", lambda: calls.append(1) or {"v": 1}, 60, namespace="ruc") == {"v": 1}
    settle(other)
    assert other.get("k", lambda: calls.append(1) or {"v": 2}, 60, namespace="ruc") == {"v": 1}
    assert len(calls) == 1
    other.set("plain", None, 60)
    settle(other)
    assert other.get("plain", default="x") is None
    other.invalidate_namespace("ruc")
    settle(other)
    assert other.get("k", namespace="ruc") is None
    other.mark_invalid("123", "FORMATO_INVALIDO", namespace="ruc")
    settle(other)
    assert other.invalid_breakdown("ruc") == {"FORMATO_INVALIDO": 1}
    other.clear_all()
    settle(other)
    time.sleep(0.01)
    assert other.get("plain", default="gone") == "gone"
    assert other.get_health()["status"] in ("healthy", "warning")
    assert other.get_stats()["totals"]["misses"] >= 1


def test_memcached_pool_spreads_keys_over_both_servers(servers: object) -> None:
    require("memcached", servers)  # type: ignore[arg-type]
    cm = CacheManager("memcached_pool")
    for i in range(200):
        cm.set(f"k{i}", i, 60)
    items = [s["curr_items"] for s in cm.get_health()["server"]]
    assert len(items) == 2 and all(n > 20 for n in items)


def test_dummy_backend_fails_open_and_says_so(servers: object) -> None:
    cm = CacheManager("dummy")
    assert cm.get("k", lambda: 5, 60) == 5
    assert cm.get("k", default="miss") == "miss"
    report = cm.get_health()
    assert report["backend"] == "dummy" and report["status"] == "warning"
    assert cm.mark_invalid("k", "ERROR_API", namespace="ruc") is not None
    assert cm.invalid_entries("ruc") == []


@pytest.mark.parametrize(("alias", "name", "capabilities"), [
    ("locmem", "locmem", {"pattern_invalidation": False, "shared_stats": False}),
    ("file", "file", {"pattern_invalidation": False, "physical_purge": False, "shared_stats": True}),
    ("dummy", "dummy", {"stores_values": False, "shared_stats": False}),
    ("redis", "redis", {"pattern_invalidation": True, "server_stats": True, "physical_purge": True}),
    ("django_redis", "django_redis", {"pattern_invalidation": True, "server_stats": True}),
    ("memcached", "memcached", {"pattern_invalidation": False, "server_stats": True, "shared_stats": True,
                                "key_browsing": True}),
])
def test_adapter_capabilities(alias: str, name: str, capabilities: dict, servers: object) -> None:
    require(alias, servers)  # type: ignore[arg-type]
    adapter = get_adapter(alias)
    assert adapter.name == name
    got = adapter.capabilities.as_dict()
    assert {k: got[k] for k in capabilities} == capabilities


def _ids(**overrides: object) -> set[str]:
    with override_settings(**overrides):
        return {m.id for m in run_checks(tags=["caches"])}


def test_system_checks(servers: object) -> None:
    from django.conf import settings

    assert not {i for i in _ids() if i.startswith("cache_dashboard.E")}
    assert "cache_dashboard.E001" in _ids(CACHE_DASHBOARD={"ALIAS": "nope"})
    assert "cache_dashboard.E002" in _ids(CACHE_DASHBOARD={"TTLS": {"ruc": -5}})
    assert "cache_dashboard.W001" in _ids(CACHE_DASHBOARD={"TTLZ": {}})
    assert "cache_dashboard.E003" not in _ids(CACHE_DASHBOARD={"KEY_PREFIX": "site-1:cd"})
    for prefix in ("", "with space", "{tag}", "cd*", "x" * 65):
        assert "cache_dashboard.E003" in _ids(CACHE_DASHBOARD={"KEY_PREFIX": prefix}), prefix
    no_timeouts = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:1"}
    assert "cache_dashboard.W003" in _ids(CACHES={**settings.CACHES, "bare": no_timeouts})
    assert "cache_dashboard.W004" in _ids(CACHES={**settings.CACHES, "long": {
        **no_timeouts, "KEY_PREFIX": "p" * 70, "OPTIONS": {"timeout": 1, "connect_timeout": 1}}})


# -- the miss path's two steps (issue 8): one round trip each where the backend allows ------------
@pytest.mark.parametrize("alias_name", ["locmem", "redis", "django_redis", "memcached", "memcached_pool", "file"])
def test_lock_and_reread_then_store_and_release(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    adapter = get_adapter(alias_name)
    cache = adapter.cache
    cache.set("entry", "old", 60)
    assert adapter.add_and_get("lock", "mine 0.1 1.0", 10, "entry") == (True, "old")
    assert adapter.add_and_get("lock", "theirs 0.1 1.0", 10, "entry") == (False, "old")
    assert adapter.get_lock("lock") == "mine 0.1 1.0"  # the first holder keeps it
    assert adapter.lock_and_get("lock", "entry") == ("mine 0.1 1.0", "old")
    adapter.set_and_delete("entry", {"new": [1, 2]}, 60, "lock")
    assert cache.get("entry") == {"new": [1, 2]} and adapter.get_lock("lock") is None
    assert adapter.lock_and_get("lock", "entry") == (None, {"new": [1, 2]})
    assert adapter.add_and_get("lock", "next", 10, "absent") == (True, None)
    adapter.release_lock("lock")
    assert adapter.get_lock("lock") is None and adapter.add_and_get("lock", "again", 1, "absent")[0] is True
    time.sleep(2.1)  # a lock expires by its own TTL (memcached's clock ticks once a second)
    assert adapter.get_lock("lock") is None and adapter.add_and_get("lock", "later", 10, "absent")[0] is True
    adapter.release_lock("lock")


def test_memcached_noreply_steps_only_with_no_delay(servers: object) -> None:
    # Without TCP_NODELAY a request sent behind a noreply command waits out the server's delayed
    # ACK (~40 ms): the noreply steps are for sockets with no_delay (the README's setup) only.
    require("memcached", servers)  # type: ignore[arg-type]
    assert get_adapter("memcached")._client() is not None  # type: ignore[attr-defined]
    assert get_adapter("memcached_pool")._client() is None  # type: ignore[attr-defined]  # no no_delay


def test_memcached_refused_value_is_not_left_behind(servers: object) -> None:
    require("memcached", servers)  # type: ignore[arg-type]
    adapter = get_adapter("memcached")
    adapter.cache.set("big", "old", 60)
    assert adapter.add_and_get("big-lock", "mine", 10, "big")[0] is True
    with pytest.raises(Exception):  # noqa: B017, PT011 - pymemcache's MemcacheServerError, as Django's set raises
        adapter.set_and_delete("big", b"x" * (2 * 1024 * 1024), 60, "big-lock")  # over memcached's 1 MiB
    assert adapter.cache.get("big") is None  # memcached unlinks the old item on a refused SET, as for Django's set


def test_memcached_small_entry_is_stored_without_waiting(servers: object) -> None:
    # Up to NOREPLY_STORE_BYTES pickled, the entry goes out with noreply and is read back as
    # Django's set would have stored it; above, the store waits for its reply.
    from cache_dashboard.adapters.pymemcache import NOREPLY_STORE_BYTES

    require("memcached", servers)  # type: ignore[arg-type]
    adapter = get_adapter("memcached")
    for name, value in (("small", {"ruc": "20100047218", "n": [1, 2]}), ("text", ("ñ\ud800\x00__proto__", 1)),
                        ("over", b"x" * (NOREPLY_STORE_BYTES + 1))):
        assert adapter.add_and_get(f"{name}-lock", "mine", 10, name) == (True, None)
        adapter.set_and_delete(name, value, 60, f"{name}-lock")
        assert adapter.cache.get(name) == value and adapter.get_lock(f"{name}-lock") is None, name


def test_memcached_unseen_refusal_leaves_no_stale_entry(extra_alias, servers: object) -> None:  # type: ignore[no-untyped-def]
    # What noreply cannot see: a memcached out of memory with eviction off (-M) refuses a small
    # entry. It unlinks the old item, so the next read misses, and the connection stays in step.
    from pymemcache.exceptions import MemcacheServerError

    from tests.servers import start_memcached

    require("memcached", servers)  # type: ignore[arg-type]
    server = start_memcached("-m", "2", "-M")
    try:
        extra_alias(full={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                          "LOCATION": server.address,
                          "OPTIONS": {"timeout": 1, "connect_timeout": 1, "no_delay": True}})
        adapter = get_adapter("full")
        cache = adapter.cache
        assert adapter._client() is not None  # type: ignore[attr-defined]  # the direct path
        cache.set("entry", "old", 60)  # small items first: their slab class has room left below
        filler = b"f" * 40_000
        for i in range(200):  # then 40 KB items until the server refuses them
            try:
                cache._cache.set(f"fill-{i}", filler, noreply=False)  # type: ignore[attr-defined]
            except MemcacheServerError as exc:
                assert b"out of memory" in exc.args[0]
                break
        else:
            pytest.fail("memcached -m 2 -M never ran out of memory")
        assert cache.get("entry") == "old"
        assert adapter.add_and_get("lock", "mine", 10, "entry") == (True, "old")
        adapter.set_and_delete("entry", b"n" * 40_000, 60, "lock")  # refused, unseen: no exception
        assert cache.get("entry") is None  # not the old value
        assert adapter.get_lock("lock") is None  # the release behind it was run
        cache.set("after", "fine", 60)
        assert cache.get_many(["after", "entry"]) == {"after": "fine"}  # replies still match requests
    finally:
        server.stop()


def test_memcached_other_serde_waits_for_the_store(extra_alias, servers: object) -> None:  # type: ignore[no-untyped-def]
    from pymemcache.serde import PickleSerde

    class Tagged(PickleSerde):  # a serde of the user's own: its bytes may not pass through
        pass

    require("memcached", servers)  # type: ignore[arg-type]
    from django.conf import settings

    extra_alias(own_serde={**settings.CACHES["memcached"], "KEY_PREFIX": "serde",
                           "OPTIONS": {**settings.CACHES["memcached"]["OPTIONS"], "serde": Tagged()}})
    adapter = get_adapter("own_serde")
    writer = adapter._client()  # type: ignore[attr-defined]
    assert writer is not None and writer.pickle is None
    assert adapter.add_and_get("lock", "mine", 10, "entry") == (True, None)
    adapter.set_and_delete("entry", {"a": 1}, 60, "lock")
    assert adapter.cache.get("entry") == {"a": 1} and adapter.get_lock("lock") is None
