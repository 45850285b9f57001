"""The hit path's direct reads (``Adapter.readers``) keep Django's semantics on every backend.

CacheManager.get reads through per-backend readers that call the backend's client directly
(no per-call key maps, a reused redis.Redis, no murmur3 on a single memcached server, no doomed
``int()`` on a pickle). These tests pin what must not change: the same values as Django's own
``get``/``get_many``, the cache's KEY_PREFIX / VERSION / KEY_FUNCTION and key validation, one
backend instance (and client) per thread, and a namespace invalidation seen at the very next get
by every thread and process.
"""

from __future__ import annotations

import math
import pickle
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import InvalidCacheKey, caches
from django.core.cache.backends.base import CacheKeyWarning
from django.core.cache.backends.memcached import PyMemcacheCache
from django.core.cache.backends.redis import RedisCache, RedisSerializer

from cache_dashboard import CacheManager, testing
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.fastread import READERS_ATTR
from cache_dashboard.adapters.fastread import django_redis as django_redis_reader
from cache_dashboard.adapters.fastread import django_valkey as django_valkey_reader
from cache_dashboard.adapters.fastread.redis import fast_loads
from cache_dashboard.manager import aside
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require
from tests.procs import run_processes, wait_until
from tests.servers import HungServer

NETWORK = ["redis", "django_redis", "django_valkey", "memcached"]
EVERY = ["locmem", *NETWORK, "memcached_pool", "redis_multi"]
READER = {"django_redis": "DjangoRedisReader", "django_valkey": "DjangoValkeyReader"}
FAST_DECODE = {"django_redis": django_redis_reader.fast_decode, "django_valkey": django_valkey_reader.fast_decode}
VALUES: list[Any] = [
    0, -5, 7, 2**70, 1_763_000_000_000, True, False, None, "", "123", " 42 ", b"12", b"\x80", 1.5,
    ("cd1", {"a": 1}, 3, 1e18, 0.25), {"ünïcode": ["x"] * 100}, "x" * 200_000,
]


def key_function(key: str, key_prefix: str, version: int) -> str:
    """A KEY_FUNCTION unlike Django's default, to prove CacheManager's reads use the cache's own."""
    return f"{key_prefix}|v{version}|{key}"


class CountingRedisCache(RedisCache):
    """A subclass that changes reads: CacheManager must go through its methods."""

    reads: list[str] = []

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        self.reads.append(key)
        return super().get(key, default, version)


class CountingMemcache(PyMemcacheCache):
    reads: list[str] = []

    def get_many(self, keys: Any, version: Any = None) -> Any:
        self.reads.extend(keys)
        return super().get_many(keys, version)



def _readers(alias: str) -> tuple[Callable[[str], Any], Callable[[str, str], tuple[Any, Any]]]:
    return get_adapter(alias).readers(caches[alias])


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - comparing which exception, if any
        return "raised", type(exc)
    return "returned", (type(value), value)


@pytest.mark.parametrize("alias_name", EVERY)
def test_readers_return_what_django_returns(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cache = caches[alias_name]
    one, pair = _readers(alias_name)
    keys = []
    for i, value in enumerate(VALUES):
        cache.set(f"hp:{i}", value, 60)
        keys.append(f"hp:{i}")
    cache.set("hp:counter", 5, 60)
    cache.incr("hp:counter", 10)  # stored by the server's own incr, as generation counters are
    keys += ["hp:counter", "hp:missing"]
    if alias_name == "redis_multi":  # reads go to the replica, for Django and the readers alike
        deadline = time.monotonic() + 10
        while cache.get("hp:counter") != 15 or cache.get(keys[-3]) != VALUES[-1]:
            assert time.monotonic() < deadline, "replica did not catch up"
            time.sleep(0.05)
    # pair(k1, k2) reads a namespace generation and an entry: LocMem keeps generations in
    # process memory (``Adapter.version``), every other backend in the cache.
    first = get_adapter(alias_name).version if alias_name == "locmem" else cache.get
    for key in keys:
        assert _outcome(lambda k=key: one(k)) == _outcome(lambda k=key: cache.get(k)), key
        for other in ("hp:counter", "hp:missing", keys[0]):
            expected = (first(key), cache.get(other))
            assert pair(key, other) == expected and pair(other, key) == (first(other), cache.get(key)), (key, other)
            assert [type(v) for v in pair(key, other)] == [type(v) for v in expected]


@pytest.mark.parametrize("alias_name, owner", [
    ("locmem", "LocMemReader"), ("redis", "RedisCacheReader"), ("django_redis", "DjangoRedisReader"),
    ("django_valkey", "DjangoValkeyReader"), ("memcached", "PyMemcacheReader"),
])
def test_stock_backends_get_direct_readers(alias_name: str, owner: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    one, pair = _readers(alias_name)
    assert type(one.reader).__name__ == owner and pair.reader is one.reader  # type: ignore[attr-defined]
    assert getattr(caches[alias_name], READERS_ATTR) == (one, pair)  # built once per backend instance
    generic = _readers("file")
    assert generic[0].reader is None and generic[1].reader is None  # type: ignore[attr-defined]  # Django's own methods


def test_locmem_reader_expires_and_keeps_lru_order_like_django(settings: Any, extra_alias: Any) -> None:
    # The LocMem reader reads LocMemCache's storage itself: an expired entry is deleted, a read
    # moves the entry to the front (culling drops from the back), a bad key warns as Django does.
    extra_alias(small={"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hp-small",
                       "OPTIONS": {"MAX_ENTRIES": 3, "CULL_FREQUENCY": 3}})
    cache = caches["small"]
    one, _pair = _readers("small")
    assert type(one.reader).__name__ == "LocMemReader"  # type: ignore[attr-defined]
    cache.set("brief", "v", 1)
    time.sleep(1.1)
    assert one("brief") is None and cache.make_key("brief") not in cache._cache  # type: ignore[attr-defined]
    for key in ("a", "b", "c"):
        cache.set(key, key, 60)
    assert one("a") == "a"  # now the most recent
    cache.set("d", "d", 60)  # full: culls one entry from the back, "b"
    assert [cache.get(k) for k in "abcd"] == ["a", None, "c", "d"]
    with pytest.warns(CacheKeyWarning):
        one("with space")
    with pytest.warns(CacheKeyWarning):
        cache.get("with space")


def test_the_hit_path_reads_through_the_instance_django_gives_the_thread(extra_alias: Any) -> None:
    # The adapters remember caches[alias] per thread: the same instance Django keeps for a sync
    # thread, another one in another thread, and a new one once CACHES changes.
    from cache_dashboard.adapters import base

    extra_alias(mine={"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hp-mine"})
    cm = CacheManager("mine")
    cm.set("k", "v", 60)
    assert cm.get("k") == "v"
    assert base.instance("mine") is caches["mine"]
    seen: dict[str, Any] = {}

    def other() -> None:
        seen["value"] = cm.get("k")
        seen["ours"], seen["django"] = base.instance("mine"), caches["mine"]

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen["value"] == "v"
    assert seen["ours"] is seen["django"] and seen["ours"] is not caches["mine"]
    extra_alias(mine={"BACKEND": "django.core.cache.backends.dummy.DummyCache"})
    assert cm.get("k") is None  # the new CACHES: a dummy cache, read through its new instance
    assert base.instance("mine") is caches["mine"]


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_subclass_that_changes_reads_is_used_as_is(kind: str, servers: object, extra_alias: Any) -> None:
    require(kind, servers)  # type: ignore[arg-type]
    cls = CountingRedisCache if kind == "redis" else CountingMemcache
    cls.reads.clear()
    extra_alias(sub={**settings.CACHES[kind], "BACKEND": f"{__name__}.{cls.__name__}"})
    cm = CacheManager("sub")
    assert cm.get("k", lambda: "v", 60) == "v"
    assert cm.get("k", lambda: "other", 60) == "v"
    assert cm.get("k", lambda: "other", 60, namespace="ns") == "other"
    assert cm.get("k", lambda: "again", 60, namespace="ns") == "other"
    assert cls.reads  # the subclass's get / get_many were called


@pytest.mark.parametrize(("fork", "how"), [("django_redis", "setting"), ("django_redis", "option"),
                                           ("django_valkey", "setting"), ("django_valkey", "option")])
def test_ignoring_exceptions_still_lets_the_breaker_see_errors(
    fork: str, how: str, servers: object, extra_alias: Any, settings: Any
) -> None:
    # IGNORE_EXCEPTIONS (the project-wide setting, or the alias's option) turns errors into misses
    # inside django-redis and django-valkey. The hit path reads through their clients, so a hung
    # server is one socket timeout and an open circuit, not a timeout on every call.
    require(fork, servers)  # type: ignore[arg-type]
    base = settings.CACHES[fork]
    if how == "setting":
        extra_alias(quiet={**base})
        # After extra_alias: overrides are undone in reverse order (else the setting would leak
        # into every later test, as it once did). The backend instance is built at first use.
        setattr(settings, f"{fork.upper()}_IGNORE_EXCEPTIONS", True)
    else:
        extra_alias(quiet={**base, "OPTIONS": {**base["OPTIONS"], "IGNORE_EXCEPTIONS": True}})
    assert caches["quiet"]._ignore_exceptions  # the backend would swallow errors itself
    one, pair = _readers("quiet")
    assert type(one.reader).__name__ == READER[fork]  # type: ignore[attr-defined]
    cm = CacheManager("quiet")
    assert cm.get("k", lambda: "v", 60, namespace="ns") == "v"
    assert cm.get("k", namespace="ns") == "v"

    hung = HungServer()
    try:
        options = {"SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3, "IGNORE_EXCEPTIONS": True}
        scheme = base["LOCATION"].split(":", 1)[0]
        extra_alias(hung={**base, "LOCATION": f"{scheme}://127.0.0.1:{hung.port}/0", "OPTIONS": options})
        stuck = CacheManager("hung")
        took = []
        for _ in range(10):
            started = time.monotonic()
            assert stuck.get("k", lambda: "fetched", 60) == "fetched"
            took.append(time.monotonic() - started)
        assert sum(t > 0.25 for t in took) == 1, took  # one socket timeout, then the circuit is open
        assert get_breaker("hung").state == "open"
    finally:
        hung.close()


@pytest.mark.parametrize("alias_name", NETWORK)
def test_key_prefix_version_and_key_function_are_honoured(alias_name: str, servers: object,
                                                          extra_alias: Any) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    base = settings.CACHES[alias_name]
    custom = {"VERSION": 3, "KEY_FUNCTION": f"{__name__}.key_function"}
    extra_alias(tenant={**base, "KEY_PREFIX": "tenant1", **custom}, other={**base, "KEY_PREFIX": "tenant2", **custom})
    cm = CacheManager("tenant")
    assert cm.set("k", "plain", 60) and cm.set("k", "spaced", 60, namespace="ns")
    assert cm.get("k") == "plain" and cm.get("k", namespace="ns") == "spaced"

    cache = caches["tenant"]
    kb = testing.keys("tenant")
    raw = f"tenant1|v3|{kb.entry('k', None)}"  # what the key function makes of CacheManager's key
    if alias_name == "memcached":
        assert cache._cache.get(raw) is not None
    else:
        assert get_adapter("tenant").client().exists(raw) == 1
    assert cache.get(kb.entry("k", None))[1] == "plain"  # Django's API agrees on the mapping

    # A write through Django's own API under the same key is what CacheManager reads back.
    entry = list(cache.get(kb.entry("k", "ns")))
    entry[1] = "written-by-django"
    cache.set(kb.entry("k", "ns"), tuple(entry), 60)
    assert cm.get("k", namespace="ns") == "written-by-django"
    # Same server, another KEY_PREFIX: nothing is shared.
    other = CacheManager("other")
    assert other.get("k") is None and other.get("k", namespace="ns") is None


def test_key_validation_is_django_s(servers: object, extra_alias: Any) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    require("memcached", servers)  # type: ignore[arg-type]
    extra_alias(spaced={**settings.CACHES["redis"], "KEY_PREFIX": "a b"},
                fine={**settings.CACHES["redis"], "KEY_PREFIX": "ab"},
                toolong={**settings.CACHES["memcached"], "KEY_PREFIX": "p" * 250})
    # Django warns about keys memcached would reject; the readers warn exactly when it does.
    with pytest.warns(CacheKeyWarning):
        caches["spaced"].get("k")
    with pytest.warns(CacheKeyWarning):
        _readers("spaced")[0]("k")
    with pytest.warns(CacheKeyWarning):
        _readers("spaced")[1]("k", "k2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _readers("fine")[0]("k")
        _readers("fine")[1]("k", "k2")
        assert CacheManager("fine").get("k", lambda: "v", 60, namespace="ns") == "v"
    # ... and memcached's backend rejects what is too long, as cache.get does: CacheManager fails open.
    with pytest.raises(InvalidCacheKey):
        caches["toolong"].get("k")
    with pytest.raises(InvalidCacheKey):
        _readers("toolong")[0]("k")
    with pytest.raises(InvalidCacheKey):
        _readers("toolong")[1]("k", "k2")
    assert CacheManager("toolong").get("k", lambda: "fetched", 60) == "fetched"
    assert get_breaker("toolong").failures >= 1


@pytest.mark.parametrize("alias_name", [*NETWORK, "memcached_pool"])
def test_each_thread_reads_through_its_own_backend_instance(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    for i in range(20):
        cm.set(f"t{i}", i, 60, namespace="threads")
    seen: list[tuple[Any, Any, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work() -> None:
        try:
            start.wait()
            for _ in range(50):
                for i in range(20):  # a client shared between threads would mix up replies
                    assert cm.get(f"t{i}", namespace="threads") == i
                    assert cm.get(f"t{i}") is None
            cache = caches[alias_name]
            client = cache.client if alias_name in ("django_redis", "django_valkey") else cache._cache
            seen.append((cache, getattr(cache, READERS_ATTR), client))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for column in range(3):  # distinct backend instances, readers and clients (objects kept alive)
        assert len({id(row[column]) for row in seen}) == 6


@pytest.mark.parametrize("alias_name", NETWORK)
def test_namespace_invalidation_is_seen_by_a_busy_thread_at_its_next_get(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    cm.set("k", "old", 600, namespace="live")
    warmed, invalidated = threading.Event(), threading.Event()
    result: list[Any] = []

    def reader() -> None:
        for _ in range(200):  # warm every per-thread structure
            assert cm.get("k", namespace="live") == "old"
        warmed.set()
        invalidated.wait(10)
        result.append(cm.get("k", namespace="live", default="MISS"))

    thread = threading.Thread(target=reader)
    thread.start()
    assert warmed.wait(10)
    cm.invalidate_namespace("live")
    invalidated.set()
    thread.join(10)
    assert result == ["MISS"]


def read_through_invalidation(start_at: float, alias: str) -> tuple[Any, Any]:
    """Worker: reads a namespaced key over and over until told the namespace was invalidated,
    then once more: that very next get must miss."""
    cache = caches[alias]
    cm = CacheManager(alias)
    wait_until(start_at)
    first = cm.get("k", namespace="live", default="MISS")
    cache.incr("hp:ready")
    deadline = time.monotonic() + 20
    while cache.get("hp:go") is None and time.monotonic() < deadline:
        cm.get("k", namespace="live", default="MISS")  # keep the hit path hot
    return first, cm.get("k", namespace="live", default="MISS")


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", NETWORK)
def test_namespace_invalidation_is_seen_by_busy_processes_at_their_next_get(alias_name: str,
                                                                           servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cache = caches[alias_name]
    cm = CacheManager(alias_name)
    cm.set("k", "old", 600, namespace="live")
    cache.set("hp:ready", 0, 600)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.extend(
        run_processes(read_through_invalidation, [(alias_name,)] * 2)))
    runner.start()
    deadline = time.monotonic() + 60
    while cache.get("hp:ready") != 2:
        assert time.monotonic() < deadline and runner.is_alive(), "workers did not start"
        time.sleep(0.01)
    cm.invalidate_namespace("live")
    cache.set("hp:go", 1, 600)
    runner.join(60)
    assert results == [("old", "MISS"), ("old", "MISS")]


def test_xfetch_skips_the_draw_only_where_no_draw_could_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    refresh = aside.refresh_early
    now, delta, beta = 1000.0, 0.5, 2.0
    smallest = 2.0**-53  # random() returns multiples of 2**-53: the largest -ln(draw)
    reach = delta * beta * -math.log(smallest)
    monkeypatch.setattr(aside.random, "random", lambda: smallest)
    assert refresh(now, now + reach * (1 - 1e-9), delta, beta)  # the luckiest draw refreshes here
    assert not refresh(now, now + reach * (1 + 1e-6), delta, beta)

    def no_draw() -> float:
        raise AssertionError("drew a random number where none can refresh")

    monkeypatch.setattr(aside.random, "random", no_draw)
    assert not refresh(now, now + reach + 1, delta, beta)
    assert not refresh(now, None, delta, beta)  # never expires
    assert not refresh(now, now + 0.001, delta, 0)  # XFETCH_BETA = 0: off


PICKLABLE = [v for v in VALUES if not isinstance(v, bytes)]
RAWS: list[Any] = [pickle.dumps(v, protocol) for v in PICKLABLE for protocol in (0, 2, pickle.HIGHEST_PROTOCOL)]
RAWS += [b"12", b" 12 ", b"-3", b"+4", b"\t7\n", b"\x0b8", b"1_000", b"", b"abc", b"\x80garbage", b"\x00", b"\x1c5",
         b"99999999999999999999999"]
#: What django-valkey's decode() reads as floats (it tries float() after int()).
NUMBERS = [b"1.5", b".5", b"-2.5e3", b"inf", b"-Infinity", b"nan", b"NaN", b" 1.0 ", b"1e400", b"1_0.5", b"i", b"n"]


def test_redis_serializer_fast_path_matches_loads() -> None:
    serializer = RedisSerializer()
    fast = fast_loads(serializer)
    for raw in RAWS:
        assert _outcome(lambda r=raw: fast(r)) == _outcome(lambda r=raw: serializer.loads(r)), raw

    class Custom(RedisSerializer):
        def loads(self, data: Any) -> Any:
            return ("custom", data)

    custom = Custom()
    assert fast_loads(custom) == custom.loads


@pytest.mark.parametrize(("fork", "compressor"), [
    ("django_redis", None), ("django_redis", "django_redis.compressors.zlib.ZlibCompressor"),
    ("django_valkey", None), ("django_valkey", "django_valkey.compressors.zlib.ZlibCompressor"),
])
def test_fast_decode_matches_decode(fork: str, compressor: str | None, servers: object, extra_alias: Any) -> None:
    require(fork, servers)  # type: ignore[arg-type]
    options = dict(settings.CACHES[fork]["OPTIONS"])
    if compressor:
        options["COMPRESSOR"] = compressor
    extra_alias(dr={**settings.CACHES[fork], "OPTIONS": options})
    client = caches["dr"].client
    fast = FAST_DECODE[fork](client)
    assert fast != client.decode
    raws = RAWS + NUMBERS + [raw for raw in map(client.encode, PICKLABLE) if isinstance(raw, bytes)]  # not numbers
    for raw in raws:
        got, expected = _outcome(lambda r=raw: fast(r)), _outcome(lambda r=raw: client.decode(r))
        assert got == expected or repr(got) == repr(expected), raw  # repr: NaN is not equal to itself
    cm = CacheManager("dr")  # and end to end, through the compressor
    big = {"rows": ["x" * 100] * 100}
    assert cm.get("k", lambda: big, 60, namespace="ns") == big
    assert cm.get("k", namespace="ns") == big


def test_key_precheck_is_django_s_rule() -> None:
    # validate_key() is skipped only for keys Django's own check would let through silently.
    from django.core.cache.backends.base import memcache_key_warnings

    from cache_dashboard.adapters.fastread.base import _KEY_PROBLEM

    for code in [*range(0, 300), 0x85, 0xA0, 0x2028, 0x3000, 0x1F600]:
        key = f"cd:1:k:{chr(code)}"
        assert bool(_KEY_PROBLEM(key)) == bool(list(memcache_key_warnings(key))), code
    assert list(memcache_key_warnings("k" * 251)) and not list(memcache_key_warnings("k" * 250))


def test_made_keys_are_remembered_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from cache_dashboard.adapters.fastread.base import MADE_KEYS, key_maker

    cache = caches["locmem"]
    made: list[str] = []
    django_make = type(cache).make_key.__get__(cache)

    def counting(key: str, version: int | None = None) -> str:
        made.append(key)
        return django_make(key, version)

    monkeypatch.setattr(cache, "make_key", counting)
    make = key_maker(cache)
    assert make("hot") == make("hot") == django_make("hot") and made == ["hot"]  # made once
    for i in range(MADE_KEYS + 10):  # more keys than it keeps: each still right
        assert make(f"k{i}") == django_make(f"k{i}")
    assert len(made) == MADE_KEYS + 11
    made.clear()

    class Sly(str):  # a str subclass may compare equal to a key it does not make: never kept
        pass

    assert make(Sly("s")) == make(Sly("s")) == django_make("s") and made == ["s", "s"]
    with pytest.warns(CacheKeyWarning):  # a key Django warns about warns when it is made
        make("with space")
