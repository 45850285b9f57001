"""Functions run in separate processes by the concurrency tests (importable by spawned workers)."""

from __future__ import annotations

import time
from typing import Any

from tests.procs import wait_until


def stampede(start_at: float, alias: str, key: str, fetch_seconds: float) -> Any:
    from cache_dashboard import CacheManager
    from cache_dashboard.adapters import get_adapter

    cm = CacheManager(alias)

    def fetch() -> dict:
        get_adapter(alias).incr("test:fetch-count", 1, 60)
        time.sleep(fetch_seconds)
        return {"value": key}

    wait_until(start_at)
    return cm.get(key, fetch, 60, namespace="procs")


def mark_many(start_at: float, alias: str, worker: int, count: int) -> int:
    from cache_dashboard import CacheManager

    cm = CacheManager(alias)
    reasons = ("NO_EXISTE_SUNAT", "FORMATO_INVALIDO", "ERROR_API")
    wait_until(start_at)
    marked = 0
    for i in range(count):
        if cm.mark_invalid(f"w{worker}-{i}", reasons[i % 3], namespace="ruc", ttl=600):
            marked += 1
    return marked


def hits(start_at: float, alias: str, gets: int) -> int:
    from cache_dashboard import CacheManager

    cm = CacheManager(alias)
    wait_until(start_at)
    for _ in range(gets):
        cm.get("shared-key", lambda: "v", 60, namespace="stats")
    cm.flush_stats()
    return gets


def read_after_invalidation(start_at: float, alias: str) -> Any:
    from cache_dashboard import CacheManager

    cm = CacheManager(alias)
    wait_until(start_at)
    return cm.get("k", namespace="shared", default="MISS")


def roll_up(start_at: float, alias: str, now: float) -> list[int]:
    """Roll the closed hours of ``alias`` into the shared database; the hours this process stored."""
    from cache_dashboard.manager import stats

    wait_until(start_at)
    return stats.roll_up(alias, now)


def sample_servers(start_at: float, alias: str, now: float) -> bool:
    """Sample ``alias``'s servers for the minute of ``now``; whether this process did."""
    from cache_dashboard.manager import sampler

    wait_until(start_at)
    return sampler.sample(alias, now)


def astampede(start_at: float, alias: str, key: str, fetch_seconds: float, coroutines: int) -> list[Any]:
    """``coroutines`` concurrent ``aget``s of one cold key in this process's event loop."""
    import asyncio

    from cache_dashboard import CacheManager
    from cache_dashboard.adapters import get_adapter

    cm = CacheManager(alias)

    async def fetch() -> dict:
        get_adapter(alias).incr("test:fetch-count", 1, 60)  # sync, in the loop: a test's counter only
        await asyncio.sleep(fetch_seconds)
        return {"value": key}

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(cm.aget(key, fetch, 60, namespace="procs") for _ in range(coroutines))))

    wait_until(start_at)
    return asyncio.run(main())
