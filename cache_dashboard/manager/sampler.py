"""Server history: each server's memory, evictions, hits and misses and commands, sampled once a
minute by the background flusher (never on the hit path) into shared buckets of their own.

One process samples each minute: the first to ``add`` the minute's lock (``keys.sample_lock``)
asks every server of the alias for its INFO / ``stats``, with a short timeout and through the
circuit breaker. A sample is the server's running counters and its memory, per address, in the
minute's and the hour's bucket (``statstore`` keeps each cell's largest value, so a bucket holds
the latest counters and the peak memory). :func:`read_history` turns consecutive samples into
rates per point: operations per second, evictions, the server's hit ratio.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import dashboard_aliases, get_setting
from cache_dashboard.formatting import hit_ratio
from cache_dashboard.keys import sample_lock
from cache_dashboard.manager import statstore
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.stats import add_job

logger = logging.getLogger("cache_dashboard")

#: Seconds between two samples of an alias's servers (a bucket of the shortest resolution).
SAMPLE_EVERY = 60
#: Longest wait for one server's answer, in seconds (``HEALTH_TIMEOUT`` when shorter).
SAMPLE_TIMEOUT = 0.5
#: What a sample keeps of ``Adapter.summarize_server``: memory in bytes, the rest running counters.
FIELDS = ("memory", "evictions", "hits", "misses", "commands")
#: Seconds the minute's lock is held (past the minute: a slow sampler still owns it).
LOCK_SECONDS = 2 * SAMPLE_EVERY

#: The minute each alias was last tried by this process.
_tried: dict[str, int] = {}


def sample(alias: str, now: float | None = None) -> bool:
    """Sample ``alias``'s servers into the buckets of ``now``, unless another process sampled this
    minute or the circuit is open; whether a sample was written."""
    now = time.time() if now is None else now
    minute = int(now // SAMPLE_EVERY * SAMPLE_EVERY)
    adapter = get_adapter(alias)
    breaker = get_breaker(alias)
    if not breaker.allow():
        return False
    try:
        taken = adapter.cache.add(sample_lock(minute), 1, LOCK_SECONDS)
    except Exception as exc:
        breaker.failure(exc)
        return False
    breaker.success()
    if not taken:
        return False
    timeout = min(SAMPLE_TIMEOUT, float(get_setting("HEALTH_TIMEOUT")))
    cells: statstore.Cells = {}
    for row in adapter.server_info(timeout):  # one row per server, errors inside the rows
        if not row.get("ok"):
            continue
        summary = adapter.summarize_server(row)
        address = str(summary.get("address") or "")
        for field in FIELDS:
            value = _number(summary.get(field))
            if value is not None:
                cells[f"v|{address}|{field}"] = value
        cells[f"v|{address}|at"] = int(now)
    if not cells:
        return False
    buckets = [(res, int(now // res * res), cells) for res in (SAMPLE_EVERY, 3600)]
    try:
        statstore.store_for(adapter).write_samples(adapter, buckets)
    except Exception as exc:
        breaker.failure(exc)
        return False
    return True


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _sample_due(now: float) -> None:
    """The flusher's job: once a minute, each dashboard alias with servers to ask."""
    minute = int(now // SAMPLE_EVERY * SAMPLE_EVERY)
    for alias in dashboard_aliases():
        if _tried.get(alias) == minute:
            continue
        _tried[alias] = minute
        try:
            if get_adapter(alias).capabilities.server_stats:
                sample(alias, now)
        except Exception:  # one alias's trouble must not stop the others
            logger.debug("cache_dashboard: sampling %r failed", alias, exc_info=True)


def read_history(alias: str, window: int, now: float | None = None) -> dict[str, Any]:
    """The servers of ``alias`` over ``window`` seconds, one point per minute (up to 2 h) or hour:
    memory (the peak, in bytes), operations per second, evictions and the servers' hit ratio,
    each summed over the servers (None where no sample says); and over the whole span."""
    adapter = get_adapter(alias)
    window = max(60, int(window))
    res = SAMPLE_EVERY if window <= 7200 else 3600
    now = time.time() if now is None else now
    last = int(now // res * res)
    count = math.ceil(window / res)
    # One bucket before the window: the first point's rates need the sample before it.
    starts = [last - (count - i) * res for i in range(count + 1)]
    buckets = statstore.store_for(adapter).read_samples(adapter, res, starts)
    servers: dict[str, list[dict[str, int]]] = {}
    for i, cells in enumerate(buckets):
        for cell, value in cells.items():
            kind, _, rest = cell.partition("|")
            address, _, field = rest.rpartition("|")
            if kind == "v":
                servers.setdefault(address, [{} for _ in buckets])[i][field] = value
    memory: list[int | None] = [None] * count
    ops: list[float | None] = [None] * count
    evictions: list[int | None] = [None] * count
    looked: list[tuple[int, int] | None] = [None] * count  # (hits, misses) of the point
    for samples in servers.values():
        for i in range(count):
            before, after = samples[i], samples[i + 1]
            memory[i] = _add(memory[i], after.get("memory"))
            seconds, commands = _delta(before, after, "at"), _delta(before, after, "commands")
            if commands is not None and seconds:
                ops[i] = (ops[i] or 0.0) + commands / seconds
            evictions[i] = _add(evictions[i], _delta(before, after, "evictions"))
            hits, misses = _delta(before, after, "hits"), _delta(before, after, "misses")
            if hits is not None and misses is not None:
                held = looked[i] or (0, 0)
                looked[i] = (held[0] + hits, held[1] + misses)
    moved = [point for point in looked if point is not None]
    evicted = [n for n in evictions if n is not None]
    return {
        "alias": alias,
        "resolution": res,
        "window": count * res,
        "timestamps": starts[1:],
        "servers": sorted(servers),
        "memory": memory,
        "ops": [None if n is None else round(n, 2) for n in ops],
        "evictions": evictions,
        "hit_ratio": [None if point is None else hit_ratio(*point) for point in looked],
        "totals": {
            "evictions": sum(evicted) if evicted else None,
            "hit_ratio": hit_ratio(sum(h for h, _ in moved), sum(m for _, m in moved)) if moved else None,
        },
    }


def _delta(before: dict[str, int], after: dict[str, int], field: str) -> int | None:
    """How much a running counter grew from one sample to the next (None: a sample is missing,
    or the counter went back: the server restarted)."""
    if field not in before or field not in after or after[field] < before[field]:
        return None
    return after[field] - before[field]


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


def forget() -> None:
    """Forget which minutes this process sampled (tests)."""
    _tried.clear()


add_job("servers", _sample_due)
