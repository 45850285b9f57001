"""Item 2: one fetch per key under concurrent misses (threads and processes), lock TTL, stale
serving and XFetch early refresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from cache_dashboard import CacheManager, testing
from cache_dashboard.adapters import get_adapter
from cache_dashboard.manager import stats
from cache_dashboard.manager.aside import Miss, lock_value
from cache_dashboard.manager.entry import Entry, hard_timeout, load
from tests.conftest import require
from tests.procs import run_processes
from tests.workers import stampede


def test_concurrent_thread_misses_fetch_once(cm: CacheManager) -> None:
    calls = []
    barrier = threading.Barrier(8)
    results: list[object] = []

    def fetch() -> str:
        calls.append(1)
        time.sleep(0.3)
        return "computed"

    def worker() -> None:
        barrier.wait()
        results.append(cm.get("hot", fetch, 60))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["computed"] * 8
    assert len(calls) == 1


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", ["redis", "django_redis", "memcached"])
def test_concurrent_process_misses_fetch_once(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    results = run_processes(stampede, [(alias_name, "proc-key", 0.4)] * 4)
    assert results == [{"value": "proc-key"}] * 4
    assert get_adapter(alias_name).read_ints(["test:fetch-count"]) == {"test:fetch-count": 1}


def test_crashed_lock_holder_does_not_block_forever(cm: CacheManager) -> None:
    # A holder that died: its lock exists, no value will ever come. The waiter fetches itself
    # after the bounded wait instead of hanging; the lock's own TTL frees the key later.
    kb = testing.keys(cm.alias)
    orphan = kb.entry("orphan", None)
    get_adapter(cm.alias).add_and_get(kb.lock(orphan), lock_value("dead-token", 0.1), 30, orphan)
    with override_settings(CACHE_DASHBOARD={"STAMPEDE_MAX_WAIT": 0.3}):
        start = time.monotonic()
        assert cm.get("orphan", lambda: "mine", 60) == "mine"
        waited = time.monotonic() - start
    assert cm.get("orphan") == "mine"
    assert waited >= 0.19  # it did wait (min(2 × 0.1 s hint, 0.3 s)) before failing open


def test_lock_has_a_ttl(cm: CacheManager) -> None:
    # A holder stuck in its fetch longer than STAMPEDE_LOCK_TIMEOUT loses the lock by expiry.
    kb = testing.keys(cm.alias)
    lock_key = kb.lock(kb.entry("locked", None))
    adapter = get_adapter(cm.alias)  # (LocMem keeps its locks in process memory, not in the cache)
    seen = []

    def fetch() -> str:
        seen.append(adapter.get_lock(lock_key))
        time.sleep(2.2)
        seen.append(adapter.get_lock(lock_key))
        return "v"

    with override_settings(CACHE_DASHBOARD={"STAMPEDE_LOCK_TIMEOUT": 1}):
        assert cm.get("locked", fetch, 60) == "v"
    assert seen[0] is not None  # held during the fetch
    assert seen[1] is None  # expired by its own TTL while the holder was still busy


def test_stale_value_served_while_one_caller_refreshes(cm: CacheManager) -> None:
    cm.get("s", lambda: "old", 1)
    time.sleep(1.1)
    started = threading.Event()
    release = threading.Event()
    refreshed: list[object] = []

    def slow_fetch() -> str:
        started.set()
        release.wait(5)
        return "new"

    t = threading.Thread(target=lambda: refreshed.append(cm.get("s", slow_fetch, 60)))
    t.start()
    assert started.wait(5)
    # While the refresh runs, other callers get the stale value at once, without fetching.
    assert cm.get("s", lambda: pytest.fail("second fetch"), 60) == "old"
    release.set()
    t.join()
    assert refreshed == ["new"]
    assert cm.get("s") == "new"
    cm.flush_stats()
    assert cm.get_stats()["totals"]["stale"] == 1


def test_stale_is_never_served_without_fetch_func_or_past_grace(cm: CacheManager) -> None:
    with override_settings(CACHE_DASHBOARD={"STALE_GRACE": 1}):
        cm.set("g", "old", ttl=1)
        time.sleep(1.1)
        assert cm.get("g") is None
        time.sleep(hard_timeout(1, 1) - 1.1 + 0.2)  # past TTL + grace (+ rounding): physically gone
        # Another caller is refreshing: with nothing stale left, this one waits, then fetches itself.
        started, release = threading.Event(), threading.Event()

        def slow_fetch() -> str:
            started.set()
            release.wait(5)
            return "holder"

        holder = threading.Thread(target=cm.get, args=("g", slow_fetch, 60))
        holder.start()
        try:
            assert started.wait(5)
            with override_settings(CACHE_DASHBOARD={"STALE_GRACE": 1, "STAMPEDE_MAX_WAIT": 0.2}):
                assert cm.get("g", lambda: "fresh", 60) == "fresh"
        finally:
            release.set()
            holder.join()


def test_hard_timeout_outlives_ttl_plus_grace_on_whole_second_servers() -> None:
    # Backends truncate to whole seconds and memcached may expire up to a second early.
    assert hard_timeout(1, 1) == 3
    assert hard_timeout(0.95, 60) == 3
    assert hard_timeout(300, 60) == 361
    assert hard_timeout(10, 0) == 11


def test_xfetch_refreshes_early_when_fetch_is_slow_relative_to_ttl(cm: CacheManager) -> None:
    fetches = []

    def fetch() -> int:
        fetches.append(1)
        time.sleep(0.2)
        return len(fetches)

    cm.get("x", fetch, 1)  # fetch takes 0.2 s of a 1 s TTL: early refresh is likely near expiry
    time.sleep(0.85)
    values = {cm.get("x", fetch, 1) for _ in range(20)}
    # With delta=0.2 s and 0.15 s left, P(early) per call = exp(-0.75) ≈ 0.47: 20 calls refresh.
    assert len(fetches) >= 2
    assert max(values) >= 2


def test_xfetch_disabled_with_beta_zero() -> None:
    cm = CacheManager("locmem")
    fetches = []
    with override_settings(CACHE_DASHBOARD={"XFETCH_BETA": 0}):
        cm.get("x", lambda: fetches.append(1) or 1, 2)
        time.sleep(0.5)
        for _ in range(50):
            cm.get("x", lambda: fetches.append(1) or 2, 2)
    assert len(fetches) == 1


def test_lock_winner_rechecks_for_a_value_stored_since_its_miss(cm: CacheManager) -> None:
    # The interleaving behind a double fetch: our read missed, then another caller stored its value
    # and released the lock, and only then did our add() win the lock. The winner must re-read the
    # entry instead of fetching a second time (seen under load in CI with 4 processes).
    cache = caches[cm.alias]
    kb = testing.keys(cm.alias)
    ekey = kb.entry("late", None)

    def miss(fetch: Callable[[], Any], stale: Entry | None, early: bool) -> Any:
        return Miss(alias=cm.alias, cache=cache, keys=kb, key="late", namespace=None, nns=None, ekey=ekey,
                    generation=None, fetch=fetch, ttl=60, stale=stale, early=early,
                    recorder=stats.get_recorder(cm.alias)).run()

    cm.set("late", "stored-by-other", 60)
    assert miss(lambda: pytest.fail("fetched again"), None, False) == "stored-by-other"
    # An early refresh of an entry that nobody else rewrote still fetches.
    assert miss(lambda: "refreshed", load(cache.get(ekey), None), True) == "refreshed"
