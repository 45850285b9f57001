"""Helpers for the tests of projects that use cache_dashboard (and for its own suite).

::

    from cache_dashboard import testing

    @pytest.fixture(autouse=True)
    def _fresh_cache_dashboard():
        testing.reset()          # breakers closed, no buffered counts, epochs and adapters re-read

    with testing.flusher_paused():
        ...                      # no background stats flush reaches a server meanwhile

    with testing.jobs_paused():
        ...                      # no history rollup or server sample meanwhile (flushes go on)

Neither touches the cache servers: empty your test caches yourself (on a throwaway server only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cache_dashboard import adapters, ttl_store
from cache_dashboard.adapters.fastread import forget_warnings
from cache_dashboard.adapters.locmem import forget_versions
from cache_dashboard.keys import KeyLayout
from cache_dashboard.manager import epochs, health, purge, registry, sampler, stats
from cache_dashboard.manager.breaker import reset_breakers


def reset() -> None:
    """Forget this process's state: circuit breakers, buffered statistics, the negative caches of
    process-local caches (LocMem), the copies of epochs and TTL overrides, the adapters, the
    fast-reader warnings already logged, and when the background jobs last ran."""
    reset_breakers()
    health.forget()
    registry.forget()
    stats.forget()
    sampler.forget()
    epochs.forget()
    forget_versions()
    ttl_store.reset()
    adapters.reset()
    forget_warnings()


@contextmanager
def flusher_paused() -> Iterator[None]:
    """No background stats flush reaches a server inside the block (for tests that count server
    commands). Do not call ``flush_stats()`` inside: it would wait for the block to end."""
    with stats.flusher_paused():
        yield


@contextmanager
def jobs_paused() -> Iterator[None]:
    """No background job of the flusher (the statistics history's rollup, the server samples)
    runs inside the block; flushes go on, so ``flush_stats()`` may be called inside."""
    with stats.jobs_paused():
        yield


def wait_for_purges(timeout: float = 30.0) -> bool:
    """Block until this process's background purges are done (they may delete entries a test
    writes under an old generation's keys right after an invalidation); whether they are."""
    return purge.wait(timeout)


def keys(alias: str) -> KeyLayout:
    """The key layout CacheManager uses in ``alias`` now (its current epoch): to look at or plant
    raw entries, locks and registry keys in a test (``keys("default").entry("k", None)``)."""
    return epochs.layout(alias)
