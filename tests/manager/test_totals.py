"""The running totals (``CacheManager.get_totals``, what the Prometheus counters read): every
process adds to them, they only grow, and they outlive the per-minute buckets' retention."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import caches

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.keys import stats_bucket
from cache_dashboard.manager import statstore
from tests.conftest import require
from tests.procs import run_processes
from tests.workers import hits


@pytest.mark.parametrize("alias", ["redis", "memcached"])
def test_four_processes_add_up_exactly(servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    before = cm.get_totals()["namespaces"].get("stats", {}).get("hits", 0)
    cm.get("shared-key", lambda: "v", 60, namespace="stats")  # the key exists: every get below is a hit
    cm.flush_stats()
    before_all = cm.get_totals()["namespaces"]["stats"]
    run_processes(hits, [(alias, 500)] * 4)
    after = cm.get_totals()["namespaces"]["stats"]
    assert after["hits"] - before_all["hits"] == 2000 and after["hits"] >= before
    assert after["misses"] == before_all["misses"]  # no process missed
    if alias == "redis":  # one hash, kept about ten years after its last write
        ttl = get_adapter(alias).client().ttl(get_adapter(alias).raw_key(stats_bucket(0, 0)))  # type: ignore[attr-defined]
        assert statstore.LIFETIME_TTL - 60 <= ttl <= statstore.LIFETIME_TTL


def test_totals_outlive_the_minute_buckets_on_locmem(monkeypatch: Any) -> None:
    caches["locmem"].clear()
    statstore.forget()
    cm = CacheManager("locmem")
    cm.get("k", lambda: 1, 60, namespace="totals")
    cm.get("k", namespace="totals")
    cm.flush_stats()
    # A flush ten days later: the first flush's minute and hour buckets are past their retention
    # (pruned), the totals are not.
    later = time.time() + 10 * 86400
    monkeypatch.setattr(statstore.time, "time", lambda: later)
    adapter = get_adapter("locmem")
    statstore.store_for(adapter).write(adapter, [(60, int(later // 60 * 60), {"c|totals|hits": 1}, {})],
                                       int(later // 3600 * 3600), set())
    store = statstore.store_for(adapter)
    first_minute = int((later - 10 * 86400) // 60 * 60)
    assert store.read(adapter, 60, [first_minute]) == [{}]  # pruned
    [totals] = store.read(adapter, statstore.LIFETIME, [0])
    assert totals["c|totals|hits"] == 1 and totals["c|totals|misses"] == 1 and totals["c|totals|sets"] == 1
