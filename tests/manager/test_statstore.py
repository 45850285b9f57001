"""Where statistics live (``manager.statstore``): Redis's running-sum windows stay the exact sum
of their buckets, and the names index is bounded by the retention on every backend kind."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from django.core.cache import caches

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.keys import normalize_key, normalize_namespace, stats_names, stats_window
from cache_dashboard.manager import stats, statstore
from cache_dashboard.testing import flusher_paused
from tests.conftest import require

SERIES = stats.SERIES_FIELDS
REDIS_ALIASES = ["redis", "django_redis", "django_valkey"]


def _now_bucket(res: int) -> int:
    # Starts ahead of the clock, so the retention check of the advance never interferes.
    return int(time.time() // res * res) + 600 * res


# Each bucket's invalidations by these (cells name sources normalised, as the recorder writes them).
SOURCES = ("signal", "admin", normalize_key("a|b"), normalize_key("\ud800lone"))


def _expected(store: statstore.StatsStore, adapter: Any, res: int, starts: list[int],
              nns: str | None) -> statstore.Window:
    return statstore.fold(store.read(adapter, res, starts), nns, SERIES, SOURCES)


def _clean(window: statstore.Window) -> tuple[dict[str, int], list[dict[str, int]]]:
    totals = {cell: n for cell, n in window.totals.items() if n and not cell.startswith("t|")}
    return totals, [{f: n for f, n in row.items() if n} for row in window.series]


@pytest.mark.parametrize("alias_name", REDIS_ALIASES)
@pytest.mark.parametrize("seed", range(4))
def test_the_running_window_is_the_sum_of_its_buckets(alias_name: str, seed: int, servers: object) -> None:
    # Flushes land in the newest bucket or, late, in one the window already holds; the window
    # moves by one bucket, by several, or by more than its span. After each move its totals,
    # maxima included, are those of its buckets added up, and so are one namespace's.
    require(alias_name, servers)  # type: ignore[arg-type]
    caches[alias_name].clear()
    adapter = get_adapter(alias_name)
    store = statstore.store_for(adapter)
    assert isinstance(store, statstore.HashStore)
    rng = random.Random(seed)
    res, count = statstore.WINDOWS[0]
    last = _now_bucket(res)
    # "hits": a namespace named like a series field, whose fetch maximum must stay out of the series.
    namespaces = ["ruc", "", "hits", *(normalize_namespace(ns) for ns in ("\ud800lone", "__proto__", "a|b", "x" * 300))]
    for _step in range(40):
        last += res * rng.choice([0, 1, 1, 1, 2, 7, count - 1, count, count + 3])
        for _flush in range(rng.randint(0, 4)):
            start = last - res * rng.choice([0, 0, 0, 1, 5])  # late flushes too
            deltas = {f"c|{rng.choice(namespaces)}|{rng.choice(statstore.FIELDS)}": rng.choice([1, 2, 50])
                      for _ in range(rng.randint(1, 6))}
            deltas[f"s|{rng.choice([*SOURCES, 'not asked for'])}"] = rng.choice([1, 3])
            maxima = {f"m|{rng.choice(namespaces)}": rng.randint(1, 10_000)}
            store.write(adapter, [(res, start, deltas, maxima)], 0, set())
        starts = [last - (count - 1 - i) * res for i in range(count)]
        window = store.window(adapter, res, starts, None, SERIES, SOURCES)
        assert _clean(window) == _clean(_expected(store, adapter, res, starts, None))
        assert not any("s|not asked for" in row for row in window.series)
        for nns in ("ruc", "hits", normalize_namespace("\ud800lone")):
            assert _clean(store.window(adapter, res, starts, nns, SERIES, SOURCES)) == _clean(
                _expected(store, adapter, res, starts, nns))


def test_a_maximum_leaving_the_window_gives_way_to_the_next(servers: object) -> None:
    require("redis", servers)  # type: ignore[arg-type]
    adapter = get_adapter("redis")
    store = statstore.store_for(adapter)
    res, count = statstore.WINDOWS[0]
    first = _now_bucket(res)
    store.write(adapter, [(res, first, {"c|ruc|fetches": 1}, {"m|ruc": 9000})], 0, set())
    store.write(adapter, [(res, first + 10 * res, {"c|ruc|fetches": 1}, {"m|ruc": 300})], 0, set())

    def window_at(last: int) -> dict[str, int]:
        starts = [last - (count - 1 - i) * res for i in range(count)]
        return store.window(adapter, res, starts, None, SERIES).totals

    assert window_at(first + 10 * res)["m|ruc"] == 9000
    assert window_at(first + count * res)["m|ruc"] == 300  # the 9 ms fetch left the window
    assert window_at(first + (count + 10) * res).get("m|ruc") is None
    assert window_at(first + (count + 10) * res).get("c|ruc|fetches") is None


@pytest.mark.parametrize("alias_name", REDIS_ALIASES)
def test_a_server_that_lost_its_scripts_is_sent_them_again(alias_name: str, servers: object) -> None:
    # django_valkey: valkey-py raises its own NoScriptError, not redis-py's.
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    cm.get("k", lambda: 1, 60, namespace="ruc")
    cm.flush_stats()
    assert cm.get_stats()["totals"]["misses"] == 1
    get_adapter(alias_name).client().script_flush()
    cm.get("k2", lambda: 1, 60, namespace="ruc")
    cm.flush_stats()  # the write pipeline meets NOSCRIPT, loads, sends again: counted once
    assert cm.get_stats()["totals"]["misses"] == 2
    get_adapter(alias_name).client().script_flush()
    assert cm.get_stats()["namespaces"]["ruc"]["misses"] == 2
    # The registry's scripts are loaded again too.
    cm.mark_invalid("20999999999", "ERROR_API", namespace="ruc")
    assert cm.invalid_breakdown("ruc") == {"ERROR_API": 1}
    get_adapter(alias_name).client().script_flush()
    cm.mark_invalid("20999999998", "ERROR_API", namespace="ruc")
    assert cm.invalid_breakdown("ruc") == {"ERROR_API": 2}


def test_a_poll_reads_the_window_not_every_bucket(servers: object) -> None:
    # 50 namespaces moved in each of 60 minutes: the dashboard's hour reads each namespace once.
    require("redis", servers)  # type: ignore[arg-type]
    adapter = get_adapter("redis")
    store = statstore.store_for(adapter)
    res, count = statstore.WINDOWS[0]
    last = int(time.time() // res * res)
    for i in range(count):
        store.write(adapter, [(res, last - i * res, {f"c|ns{n}|hits": 1 for n in range(50)}, {})], 0, set())
    client = adapter.client()
    with flusher_paused():
        client.config_resetstat()
        found = stats.read_stats(stats.get_recorder("redis"), None, 3600)
        commands = client.info("commandstats")
    assert found["totals"]["hits"] == 50 * count and len(found["namespaces"]) >= 50
    assert sum(found["series"]["hits"]) == 50 * count
    assert "cmdstat_hgetall" in commands and commands["cmdstat_hgetall"]["calls"] == 1
    assert commands["cmdstat_hmget"]["calls"] == count  # the chart: five cells per bucket
    window_ttl = client.ttl(adapter.raw_key(stats_window(res, count)))  # type: ignore[attr-defined]
    assert 0 < window_ttl <= statstore.retention(res)


# -- the names index is bounded by the retention ---------------------------------------------------
@pytest.mark.parametrize("alias_name", ["locmem", "redis", "memcached"])
def test_idle_names_drop_out_after_the_retention(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    adapter = get_adapter(alias_name)
    store = statstore.store_for(adapter)
    now = time.time()
    hour = int(now // 3600 * 3600)
    old = hour - (statstore.retention(3600) + statstore.NAMES_EXTRA) // 3600 * 3600 - 7200  # past keeping
    store.write(adapter, [], old, {f"n|idle{i}" for i in range(1000)})
    store.write(adapter, [], hour, {"n|busy"})
    stats.get_recorder(alias_name)._shared = (0.0, {"namespaces": {}, "sources": {}})
    known = CacheManager(alias_name).known_namespaces()
    assert "busy" in known and not any(name.startswith("idle") for name in known)
    if alias_name == "redis":  # a names set expires with the retention
        ttl = adapter.client().ttl(adapter.raw_key(stats_names(hour)))  # type: ignore[attr-defined]
        assert 0 < ttl <= statstore.retention(3600) + statstore.NAMES_EXTRA
    if alias_name == "locmem":  # process memory keeps only the hours within the retention
        place = statstore.MEMORY._place(adapter)
        assert old not in statstore.MEMORY._names[place] and hour in statstore.MEMORY._names[place]


@pytest.mark.parametrize("alias_name", ["locmem", "redis", "django_redis", "memcached"])
@pytest.mark.parametrize("namespace", ["\ud800lone", "has space", "ctl\x00\n\x7f", "x" * 300, "__proto__"])
def test_any_namespace_name_reaches_every_process(alias_name: str, namespace: str, servers: object) -> None:
    # Names are kept as given: a lone surrogate, a space or 300 characters must not break the
    # index (a memcached key, a Redis set member) and must come back unchanged.
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    cm.get("k", lambda: 1, 60, namespace=namespace)
    cm.flush_stats()
    recorder = stats.get_recorder(alias_name)
    recorder._shared = (0.0, {"namespaces": {}, "sources": {}})
    recorder._names = {"namespaces": {}, "sources": {}}  # as another process: only the shared index
    assert namespace in cm.known_namespaces()
    assert cm.get_stats()["namespaces"][namespace]["misses"] == 1
