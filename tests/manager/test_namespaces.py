"""Item 4 (namespaces), item 5 (pattern invalidation) and item 6 (safe clear)."""

from __future__ import annotations

import io
import pickle
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from cache_dashboard import CacheManager, UnsupportedOperation, testing
from cache_dashboard.keys import normalize_namespace
from cache_dashboard.manager import purge
from cache_dashboard.testing import flusher_paused
from tests.conftest import require
from tests.procs import run_processes
from tests.workers import read_after_invalidation


def test_invalidate_namespace_drops_only_that_namespace(cm: CacheManager) -> None:
    for i in range(20):
        cm.set(f"k{i}", i, 60, namespace="migo")
        cm.set(f"k{i}", -i, 60, namespace="nubefact")
    cm.set("k1", "plain", 60)
    cm.invalidate_namespace("migo")
    assert all(cm.get(f"k{i}", namespace="migo") is None for i in range(20))
    assert [cm.get(f"k{i}", namespace="nubefact") for i in range(20)] == [-i for i in range(20)]
    assert cm.get("k1") == "plain"
    # and the namespace fills again normally
    assert cm.get("k1", lambda: "refilled", 60, namespace="migo") == "refilled"
    assert cm.get("k1", namespace="migo") == "refilled"


def test_invalidate_unknown_namespace_is_fine(cm: CacheManager) -> None:
    cm.invalidate_namespace("never-used")
    cm.set("a", 1, 60, namespace="never-used")
    assert cm.get("a", namespace="never-used") == 1


def test_fetch_started_before_invalidation_does_not_survive_it(cm: CacheManager) -> None:
    # The entry records the generation read *before* the fetch, so a value computed from data
    # older than the invalidation is never served after it.
    def fetch() -> str:
        cm.invalidate_namespace("race")
        return "computed-from-old-data"

    assert cm.get("k", fetch, 60, namespace="race") == "computed-from-old-data"
    assert cm.get("k", namespace="race") is None


@pytest.mark.parametrize("alias_name", ["memcached", "redis", "django_redis"])
def test_invalidate_namespace_is_constant_work(alias_name: str, servers: object) -> None:
    """O(1): the same server commands whether the namespace has 5 or 2,000 keys (not counting
    Redis's optional background purge, which only returns memory)."""
    require(alias_name, servers)  # type: ignore[arg-type]
    from pymemcache.client.base import Client

    cm = CacheManager(alias_name)
    # The measurement's own connection, and the replica's once-a-second REPLCONF ACK / PING (the
    # session's Redis has a replica: counting them made this test flaky).
    excluded = ("info", "hello", "client", "select", "auth", "replconf", "ping")

    def commands() -> int:
        if alias_name == "memcached":
            host, port = servers.memcached.address.split(":")  # type: ignore[attr-defined]
            client = Client((host, int(port)))
            stats = client.stats()
            client.close()
            return sum(int(stats[k]) for k in (b"cmd_get", b"cmd_set", b"cmd_touch", b"incr_hits",
                                               b"incr_misses", b"delete_hits", b"delete_misses"))
        info = cm.adapter.client().info("commandstats")
        return sum(v["calls"] for k, v in info.items() if not k.removeprefix("cmdstat_").startswith(excluded))

    costs = []
    # Counted alone: no stats flush and no background purge during the measurement.
    with override_settings(CACHE_DASHBOARD={"STATS_ENABLED": False, "PURGE_ON_INVALIDATE": False}):
        cm.flush_stats()
        for size in (5, 2000):
            ns = f"size{size}"
            for i in range(size):
                cm.set(f"k{i}", i, 60, namespace=ns)
            cm.get("k0", namespace=ns)  # epoch and generation are known
            seen = []
            for _ in range(3):  # the least of three: another client of the shared server only adds
                with flusher_paused():  # other aliases' buffered stats may share this server
                    before = commands()
                    cm.invalidate_namespace(ns)
                    seen.append(commands() - before)
            costs.append(min(seen))
            assert cm.get("k1", namespace=ns) is None
    assert costs[0] == costs[1]
    assert costs[0] <= 3


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", ["redis", "memcached"])
def test_namespace_invalidation_is_visible_to_other_processes_at_next_get(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    cm.set("k", "old", 600, namespace="shared")
    assert run_processes(read_after_invalidation, [(alias_name,)] * 2) == ["old", "old"]
    cm.invalidate_namespace("shared")
    assert run_processes(read_after_invalidation, [(alias_name,)] * 2) == ["MISS", "MISS"]


@pytest.mark.parametrize("alias_name", ["redis", "django_redis", "django_valkey"])
def test_purge_keeps_an_entry_rewritten_between_its_read_and_its_delete(
    alias_name: str, servers: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A purge reads a batch, decides which entries are of an old generation, then deletes them. A
    # writer that stores a fresh entry in between must not lose it (seen as a flaky miss right
    # after invalidate_namespace + set, with the background purge running).
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    with override_settings(CACHE_DASHBOARD={"PURGE_ON_INVALIDATE": False}):
        cm.set("k", "old", 600, namespace="race")
        cm.invalidate_namespace("race")
        decode = cm.adapter.hit_decoder()
        writes: list[str] = []

        def decode_then_write(raw: bytes) -> object:
            if not writes:  # the writer gets in once, after the purge read the old entry
                writes.append("new")
                assert cm.set("k", "new", 600, namespace="race")
            return decode(raw)

        # The purge that reads values back (the server-side one, for pickled entries, has no window)
        monkeypatch.setattr(type(cm.adapter), "generation_marker", lambda *args: None)
        monkeypatch.setattr(cm.adapter, "hit_decoder", lambda: decode_then_write)
        assert cm.purge_namespace("race") == 0
    assert writes == ["new"]
    assert cm.get("k", namespace="race") == "new"


@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_purge_namespace_deletes_physically_and_only_that_namespace(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    for i in range(2500):
        cm.set(f"k{i}", i, 600, namespace="big")
    cm.set("k1", "keep", 600, namespace="other")
    caches[alias_name].set("foreign", "keep")
    kb = testing.keys(alias_name)

    def stored(ns: str) -> int:
        return cm.adapter.scan_count(*kb.entry_match(ns, "*"))

    assert stored("big") == 2500
    assert cm.purge_namespace("big") == 0  # nothing was invalidated: nothing to purge
    cm.invalidate_namespace("big")  # starts a background purge too; both may run at once
    cm.set("fresh", "kept", 600, namespace="big")
    cm.purge_namespace("big")
    assert stored("big") == 1
    assert stored("other") == 1
    assert cm.get("fresh", namespace="big") == "kept"
    assert cm.get("k1", namespace="other") == "keep"
    assert caches[alias_name].get("foreign") == "keep"


@pytest.mark.parametrize("walker", ["server", "client"])
@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_one_scan_purges_several_namespaces_and_only_their_old_entries(
    alias_name: str, walker: str, servers: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    names = ["a", "b", "odd name/ü", "untouched"]
    for ns in names:
        for i in range(300):
            cm.set(f"k{i}", i, 600, namespace=ns)
    with override_settings(CACHE_DASHBOARD={"PURGE_ON_INVALIDATE": False}):
        for ns in names:
            cm.invalidate_namespace(ns)  # "untouched" is invalidated too, but not purged below
    for ns in names:
        cm.set("fresh", ns, 600, namespace=ns)
    kb = testing.keys(alias_name)
    client = cm.adapter.client()
    calls: list[set[bytes]] = []  # the hash tags (namespaces) of each script call's keys
    ends: list[bool] = []  # per step walked by the server: whether it ended a walk (cursor 0)
    real = type(cm.adapter)._script

    def counting(self: Any, client: Any, source: str, sha: str, keys: list[bytes], args: list[Any],
                 **kwargs: Any) -> Any:
        calls.append({key[key.index(b"{") + 1:key.index(b"}")] for key in keys})
        reply = real(self, client, source, sha, keys, args, **kwargs)
        if not kwargs.get("convert", True):
            ends.append(int(reply[0]) == 0)
        return reply

    monkeypatch.setattr(type(cm.adapter), "_script", counting)
    if walker == "client":  # a server that refuses the walk's script (an ACL): this process walks
        monkeypatch.setattr(type(cm.adapter), "walk_unlink_unmarked", lambda *args, **kwargs: None)
    scans = client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
    assert purge.purge_many(alias_name, ["a", "b", "odd name/ü"]) == 900
    walked = client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0) - scans
    keys = client.dbsize()
    if walker == "server":  # one walk of the database, not three
        assert ends.count(True) == 1 and ends[-1] and walked == len(ends)
    else:
        assert walked <= keys // purge.PURGE_SCAN_COUNT + 10
    for ns in names[:3]:
        assert cm.adapter.scan_count(*kb.entry_match(normalize_namespace(ns), "*")) == 1
        assert cm.get("fresh", namespace=ns) == ns
    assert cm.adapter.scan_count(*kb.entry_match("untouched", "*")) == 301
    if walker == "server":  # one script call per step, declaring no key
        assert calls and all(not tags for tags in calls)
    else:  # a single server takes keys of several namespaces in one call (Cluster: one slot each)
        assert calls and max(len(tags) for tags in calls) > 1


def test_invalidate_namespace_on_redis_purges_in_background(servers: object, settings: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "PURGE_MIN_ENTRIES": 250}  # type: ignore[attr-defined]
    cm = CacheManager("redis")
    for i in range(300):
        cm.set(f"k{i}", i, 600, namespace="bg")
    match = testing.keys("redis").entry_match("bg", "*")
    assert cm.adapter.scan_count(*match) == 300
    cm.invalidate_namespace("bg")
    assert testing.wait_for_purges(30)
    assert cm.adapter.scan_count(*match) == 0
    assert purge.pending("redis") == []  # done: nothing left for cache_purge


def test_a_namespace_too_small_for_a_scan_expires_on_its_own(servers: object) -> None:
    # 20 entries: below PURGE_MIN_ENTRIES (1000), a SCAN of the whole database is not worth it.
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    for i in range(20):
        cm.set(f"k{i}", i, 600, namespace="small")
    cm.invalidate_namespace("small")
    assert testing.wait_for_purges(30)
    assert cm.adapter.scan_count(*testing.keys("redis").entry_match("small", "*")) == 20  # left to expire
    assert cm.get("k1", namespace="small") is None  # and invalid at once all the same
    assert purge.pending("redis") == []


def test_a_burst_of_invalidations_is_one_purge_or_two(servers: object, settings: object,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Signal rules fire on every save: 30 invalidations of one namespace while it is being purged
    # must not mean 30 purges (or 30 threads, as they once did).
    require("redis", servers)  # type: ignore[arg-type]
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "PURGE_MIN_ENTRIES": 0}  # type: ignore[attr-defined]
    cm = CacheManager("redis")
    for i in range(3000):
        cm.set(f"k{i}", i, 600, namespace="busy")
    runs: list[str] = []
    real = purge.purge_many

    def counted(alias: str, namespaces: list[str], *, paced: bool = False) -> int:
        runs.extend(namespaces)
        return real(alias, namespaces, paced=paced)

    monkeypatch.setattr(purge, "purge_many", counted)
    threads_before = {t.name for t in threading.enumerate()}
    for _ in range(30):
        cm.invalidate_namespace("busy")
    assert testing.wait_for_purges(60)
    assert 1 <= len(runs) <= 2, runs
    assert sum(t.name == "cache_dashboard-purge" for t in threading.enumerate()) <= 1
    assert {t.name for t in threading.enumerate()} - threads_before <= {"cache_dashboard-purge"}
    assert cm.adapter.scan_count(*testing.keys("redis").entry_match("busy", "*")) == 0


def test_a_purge_a_process_did_not_finish_is_finished_by_cache_purge(servers: object) -> None:
    from django.core.management import call_command

    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    for i in range(50):
        cm.set(f"k{i}", i, 600, namespace="orphan")
    with override_settings(CACHE_DASHBOARD={"PURGE_ON_INVALIDATE": False}):
        cm.invalidate_namespace("orphan")
    purge.record("redis", "orphan")  # what a process that died mid-purge leaves behind
    out = io.StringIO()
    call_command("cache_purge", alias=["redis"], stdout=out)
    assert "namespace 'orphan': 50 entries deleted" in out.getvalue()
    assert purge.pending("redis") == []


# -- item 5: patterns ------------------------------------------------------------------------------
@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_pattern_invalidation_on_redis(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    for i in range(1500):
        cm.set(f"ruc:20{i:09d}", i, 600, namespace="migo")
    cm.set("ruc:other-ns", 1, 600, namespace="nubefact")
    cm.set("ruc:plain", 1, 600)
    caches[alias_name].set("ruc:foreign", 1)  # not written by CacheManager
    assert cm.count_pattern("ruc:20*", namespace="migo") == 1500
    assert cm.invalidate_pattern("ruc:2000000000[0-4]", namespace="migo") == 5
    assert cm.invalidate_pattern("ruc:20*", namespace="migo") == 1495
    assert cm.get("ruc:other-ns", namespace="nubefact") == 1
    assert cm.get("ruc:plain") == 1
    assert caches[alias_name].get("ruc:foreign") == 1
    assert cm.invalidate_pattern("ruc:*") == 1  # plain keys only
    assert cm.get("ruc:plain") is None


def test_pattern_stays_within_key_prefix_even_with_glob_characters(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    from django.conf import settings

    base = settings.CACHES["redis"]
    with override_settings(CACHES={**settings.CACHES,
                                   "a": {**base, "KEY_PREFIX": "site[1]*"},
                                   "b": {**base, "KEY_PREFIX": "site1x"}}):
        a, b = CacheManager("a"), CacheManager("b")
        a.set("k1", "a", 600)
        b.set("k1", "b", 600)
        assert a.invalidate_pattern("k*") == 1
        assert b.get("k1") == "b"


@pytest.mark.parametrize("alias_name", ["locmem", "memcached", "file", "dummy"])
def test_pattern_invalidation_unsupported_elsewhere(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    with pytest.raises(UnsupportedOperation, match="invalidate_namespace"):
        cm.invalidate_pattern("ruc:*")
    with pytest.raises(UnsupportedOperation):
        cm.count_pattern("ruc:*")


@pytest.mark.parametrize("bad", ["", "a b", "x\n", "k" * 1001])
def test_bad_patterns_are_rejected(bad: str, servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CacheManager("redis").invalidate_pattern(bad)


# -- item 6: clear_all ------------------------------------------------------------------------------
def test_clear_all_removes_only_what_cache_manager_wrote(cm: CacheManager) -> None:
    cache = caches[cm.alias]
    cache.set("django.contrib.sessions.cache:abc", {"user": 1})
    cache.set("other-app", "keep")
    cm.set("mine", 1, 600)
    cm.set("mine", 2, 600, namespace="ruc")
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    cm.clear_all()
    assert cm.get("mine") is None
    assert cm.get("mine", namespace="ruc") is None
    assert cm.invalid_entries("ruc") == []
    assert cache.get("django.contrib.sessions.cache:abc") == {"user": 1}
    assert cache.get("other-app") == "keep"
    cm.set("after", 3, 600)
    assert cm.get("after") == 3


@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_clear_all_on_shared_redis_db_spares_other_prefixes_and_frees_memory(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    from django.conf import settings

    base = settings.CACHES[alias_name]
    with override_settings(CACHES={**settings.CACHES, "tenant": {**base, "KEY_PREFIX": "tenant"}}):
        mine, tenant = CacheManager(alias_name), CacheManager("tenant")
        for i in range(100):
            mine.set(f"k{i}", i, 600)
        tenant.set("k1", "tenant", 600)
        old_epoch = testing.keys(alias_name).base
        assert mine.adapter.scan_count(old_epoch) == 100
        mine.clear_all()
        assert mine.adapter.scan_count(old_epoch) == 0  # memory returned at once
        assert tenant.get("k1") == "tenant"
        assert mine.get("k1") is None


def test_clear_all_on_shared_memcached_spares_other_tenants(servers: object) -> None:
    require("memcached", servers)  # type: ignore[arg-type]
    raw = caches["memcached"]._cache
    raw.set(b"other-tenant-key", b"keep")
    cm = CacheManager("memcached")
    cm.set("k", 1, 600)
    cm.clear_all()
    assert cm.get("k") is None
    assert raw.get(b"other-tenant-key") == b"keep"


@pytest.mark.parametrize("serializer", [None, "django_redis.serializers.json.JSONSerializer"])
def test_a_pickled_purge_is_decided_by_the_server_others_read_values_back(
    serializer: str | None, servers: object, extra_alias: Any
) -> None:
    require("django_redis", servers)  # type: ignore[arg-type]
    base = settings.CACHES["django_redis"]
    options = {**base["OPTIONS"], **({"SERIALIZER": serializer} if serializer else {})}
    extra_alias(own={**base, "LOCATION": base["LOCATION"].rsplit("/", 1)[0] + "/5", "OPTIONS": options})
    cm = CacheManager("own")
    client = cm.adapter.client()
    client.flushdb()
    with override_settings(CACHE_DASHBOARD={"PURGE_ON_INVALIDATE": False}):
        for i in range(250):
            cm.set(f"k{i}", {"i": i}, 600, namespace="svc")
        cm.invalidate_namespace("svc")
        cm.set("fresh", "kept", 600, namespace="svc")
        gen = cm.adapter.version(testing.keys("own").generation("svc"))
        planted = testing.keys("own").entry("planted", "svc")
        # An old entry whose value happens to hold the current generation's bytes is kept, never
        # a current one deleted.
        cm.adapter.cache.set(planted, ["cd2", pickle.dumps(gen, protocol=2)[2:-1].hex(), gen - 1, None, 0.0]
                             if serializer else ("cd2", pickle.dumps(gen, protocol=2), gen - 1, None, 0.0), 600)

        def mgets() -> int:
            return int(client.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))

        before = mgets()
        deleted = cm.purge_namespace("svc")
        read_back = mgets() - before
    assert cm.get("fresh", namespace="svc") == "kept"
    assert cm.get("k1", namespace="svc") is None
    if serializer is None:  # pickle: the server decided, no value came back
        assert read_back == 1 and deleted == 250  # (the one MGET: the current generations)
        assert client.exists(cm.adapter.raw_key(planted)) == 1
    else:  # JSON writes the generation as digits: values are read back and decoded here
        assert read_back > 0 and deleted == 251


def test_a_purge_walked_by_the_server_survives_a_script_flush(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    for i in range(50):
        cm.set(f"k{i}", i, 600, namespace="flushed")
    with override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, "PURGE_ON_INVALIDATE": False}):
        cm.invalidate_namespace("flushed")
    cm.adapter.client().script_flush()  # a restarted server has no scripts: loaded again, walked again
    assert purge.purge_many("redis", ["flushed"]) == 50
    assert cm.adapter.scan_count(*testing.keys("redis").entry_match("flushed", "*")) == 0


def test_a_walk_by_the_server_strides_through_keys_it_has_nothing_to_do_with(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    client = cm.adapter.client()
    for i in range(40):
        cm.set(f"k{i}", i, 600, namespace="sparse")
    pipe = client.pipeline(transaction=False)
    for i in range(6000):  # keys of other applications: nothing for the purge to do
        pipe.set(f"other:{i}", b"x", ex=600)
    pipe.execute()
    with override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, "PURGE_ON_INVALIDATE": False}):
        cm.invalidate_namespace("sparse")
    before = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert purge.purge_many("redis", ["sparse"]) == 40
    steps = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) - before
    # At a fixed COUNT it would take about dbsize / PURGE_WALK_COUNT steps; the step grows instead.
    assert 0 < steps < client.dbsize() // purge.PURGE_WALK_COUNT // 2
    assert client.dbsize() >= 6000  # the other keys are untouched


class _Spinner:
    """A thread of this process burning CPU, as one serving requests does."""

    def __enter__(self) -> _Spinner:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _paces(pacer_of: Any, steps: int, step_seconds: float, work: float) -> tuple[purge.Pacer, list[float]]:
    pauses: list[float] = []

    def sleep(seconds: float) -> None:  # while it sleeps, the process's other threads run
        pauses.append(seconds)
        threading.Event().wait(seconds)

    pacer = pacer_of(sleep)
    for _ in range(steps):
        threading.Event().wait(step_seconds)  # the step: this thread waits on the server
        pacer(work)
    return pacer, pauses


def test_a_purge_goes_at_full_pace_while_the_process_serves_nothing() -> None:
    with flusher_paused():  # nothing else of the process runs meanwhile
        pacer, pauses = _paces(lambda sleep: purge.Pacer(2.0, sleep=sleep), 5, 0.02, 0.001)
    assert pacer.busy_steps == 0 and pacer.steps == 5
    assert pauses == [pytest.approx(0.002)] * 5  # twice the step's work, not its wall time


def test_a_purge_keeps_to_its_busy_duty_while_other_threads_run() -> None:
    with _Spinner():
        pacer, pauses = _paces(lambda sleep: purge.Pacer(2.0, sleep=sleep), 5, 0.002, 0.0001)
    assert pacer.busy_steps == pacer.steps == 5
    least = 0.002 * (1 / purge.BUSY_DUTY - 1)  # the step took at least 2 ms of wall time
    assert all(least <= pause <= purge.MAX_PAUSE for pause in pauses), pauses
    with _Spinner():  # a long step: the pause is capped
        _pacer, pauses = _paces(lambda sleep: purge.Pacer(2.0, sleep=sleep), 2, 0.02, 0.0001)
    assert pauses == [purge.MAX_PAUSE] * 2


def test_a_purge_in_a_busy_process_is_paced_as_busy_and_still_exact(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    for i in range(300):
        cm.set(f"k{i}", i, 600, namespace="paced")
        cm.set(f"k{i}", i, 600, namespace="kept")
    with override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, "PURGE_ON_INVALIDATE": False}):
        cm.invalidate_namespace("paced")
    cm.set("fresh", 1, 600, namespace="paced")
    layout = testing.keys("redis")
    nns = normalize_namespace("paced")
    generation = cm.adapter.version(layout.generation("paced"))
    marker = purge._marker(cm.adapter, generation)
    assert marker is not None
    skip = len(cm.adapter.raw_prefix(layout.namespaced_entries()).encode())
    pauses: list[float] = []
    with _Spinner():
        pacer = purge.Pacer(purge.WALK_PACE_FACTOR, sleep=lambda seconds: (pauses.append(seconds), time.sleep(seconds)))
        prefix, _glob = layout.entry_match(nns, "*")
        deleted = cm.adapter.walk_unlink_unmarked(prefix, skip, {nns.encode(): marker},
                                                  pace=pacer, count=purge.PURGE_WALK_COUNT)
    assert deleted == 300
    assert pacer.steps > 0 and pacer.busy_steps == pacer.steps and len(pauses) == pacer.steps
    assert cm.get("fresh", namespace="paced") == 1 and cm.get("k7", namespace="kept") == 7
    assert cm.adapter.scan_count(*layout.entry_match(nns, "*")) == 1


def test_a_paced_purge_of_hostile_namespaces_is_exact(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    hostile = ["ñ\ud800\x00", "__proto__", "a}b*[c]?", "\u2028\r\n", "x" * 300]
    neighbours = ["a", "__proto", "a}b"]
    for ns in hostile + neighbours:
        for i in range(30):
            cm.set(f"k{i}\ud800", i, 600, namespace=ns)
    with override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, "PURGE_ON_INVALIDATE": False}):
        for ns in hostile:
            cm.invalidate_namespace(ns)
    for ns in hostile:
        cm.set("fresh", ns, 600, namespace=ns)
    assert purge.purge_many("redis", hostile, paced=True) == 30 * len(hostile)
    layout = testing.keys("redis")
    for ns in hostile:
        assert cm.get("fresh", namespace=ns) == ns
        assert cm.adapter.scan_count(*layout.entry_match(normalize_namespace(ns), "*")) == 1
    for ns in neighbours:
        assert cm.get("k7\ud800", namespace=ns) == 7
        assert cm.adapter.scan_count(*layout.entry_match(normalize_namespace(ns), "*")) == 30
