"""What the key browser costs on a big Redis, side by side with an almost empty one, and whether it
ever blocks the server.

Starts its own redis-server on a free loopback port (stopped by PID at the end), then for each
size (a handful of keys, then ``--keys`` loaded by pipeline in this site's key layout, 1M by
default) times what staff wait for:

  first page     ``keyspace.list_page`` of this site's keys, 100 per page
  next pages     20 pages walked by cursor (median per page)
  filtered       a glob that matches 10 keys of the whole DB, walked to its end (pages, total)
  detail         ``keyspace.key_detail`` of one entry
  bulk count     the confirmation's count of a 1,000-key match (walks the whole DB)

memcached (``--memcached-items``, 100k by default, against 1,010): a first page, the whole dump in
one page, pages of 1,000 walked to the end (each re-reads the dump up to where it stopped), and
the hit path's gets from another process while the server is listed.

and, while pages are listed for 3 s, a PING loop in another process: its median and slowest
round trip against the same loop on the idle server, and the slowest command the server itself
logged (SLOWLOG, threshold 1 ms) — the listing must never hold the server for more than 10 ms.

    .venv/bin/python bench/keys.py [--keys 1000000] [--memcached-items 100000]

Numbers are for comparison within one run; on a shared machine compare ratios, not milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _timed(fn: Callable[[], Any], budget: float = 2.0) -> float:
    """Median milliseconds of ``fn`` over at least 3 calls, more while they fit in ``budget``."""
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < 3 or (time.perf_counter() - started < budget and len(samples) < 30):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _setup(port: int, mc_port: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    settings.configure(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": f"redis://127.0.0.1:{port}/0",
                            "OPTIONS": {"socket_timeout": 30, "socket_connect_timeout": 5}},
                "mc": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                       "LOCATION": f"127.0.0.1:{mc_port}", "OPTIONS": {"no_delay": True}}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache_dashboard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHE_DASHBOARD={"TTL_OVERRIDES": None, "PURGE_ON_INVALIDATE": False, "STATS_ENABLED": False},
        USE_TZ=True,
    )
    django.setup()


def _load(client: Any, make_key: Callable[[str], str], count: int) -> None:
    """``count`` plain keys of this site: 10 under ``needle:``, 1,000 under ``tmp:``, the rest ``bulk:``."""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        name = f"needle:{i}" if i < 10 else f"tmp:{i}" if i < 1010 else f"bulk:{i}"
        pipe.set(make_key(name), b"x" * 16)
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()


_PINGER = """
import json, statistics, sys, time, redis
client = redis.Redis(port=int(sys.argv[1]), socket_timeout=5)
client.ping()
print("ready", flush=True)
end, samples = time.monotonic() + float(sys.argv[2]), []
while time.monotonic() < end:
    t0 = time.perf_counter()
    client.ping()
    samples.append((time.perf_counter() - t0) * 1000)
print(json.dumps([statistics.median(samples), max(samples), len(samples)]))
"""


def ping_while(port: int, seconds: float, work: Callable[[], Any] | None) -> tuple[float, float]:
    """PINGs from another process (no shared GIL) for ``seconds`` while ``work`` runs again and
    again (None: the server idle); the median and slowest round trip, ms."""
    import json
    import subprocess

    pinger = subprocess.Popen([sys.executable, "-c", _PINGER, str(port), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert pinger.stdout is not None
    pinger.stdout.readline()  # connected
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if work is None:
            time.sleep(0.05)
        else:
            work()
    median, slowest, _count = json.loads(pinger.stdout.readline())
    pinger.wait(10)
    return median, slowest


def _walk(alias: str, pages: int, **filters: Any) -> tuple[int, float]:
    """Walk up to ``pages`` pages by cursor; (pages read, median ms per page)."""
    from cache_dashboard.keyspace import list_page

    cursor, times = "", []
    for _ in range(pages):
        t0 = time.perf_counter()
        page = list_page(alias, cursor=cursor, **filters)
        times.append((time.perf_counter() - t0) * 1000)
        assert not page["error"], page["error"]
        cursor = page["cursor"]
        if not cursor:
            break
    return len(times), statistics.median(times)


def measure(client: Any, port: int) -> dict[str, float]:
    from django.conf import settings

    from cache_dashboard.keyspace import key_detail, list_page, matches

    alias = "default"
    settings.CACHES[alias]  # noqa: B018 - the alias exists
    out: dict[str, float] = {}
    out["first_ms"] = _timed(lambda: list_page(alias, count=100))
    _pages, out["next_ms"] = _walk(alias, 20, count=100)
    t0 = time.perf_counter()
    pages, _median = _walk(alias, 100_000, query="needle:*", count=100)
    out["filtered_ms"], out["filtered_pages"] = (time.perf_counter() - t0) * 1000, pages
    from django.core.cache import caches

    raw = str(caches[alias].make_key("needle:0")).encode()
    out["detail_ms"] = _timed(lambda: key_detail(alias, raw))
    t0 = time.perf_counter()
    found, _complete = matches(alias, query="tmp:*", namespace=None, scope="site")
    out["count_ms"], out["count"] = (time.perf_counter() - t0) * 1000, len(found)
    client.config_set("slowlog-log-slower-than", 1000)
    client.slowlog_reset()
    out["ping_quiet_p50"], out["ping_quiet_max"] = ping_while(port, 2.0, None)
    out["ping_busy_p50"], out["ping_busy_max"] = ping_while(
        port, 3.0, lambda: (_walk(alias, 20, count=100), _walk(alias, 100_000, query="needle:*", count=100)))
    slow = [entry for entry in client.slowlog_get(128) if not str(entry.get("command", b"")).startswith("b'PING")]
    out["slowest_command_ms"] = max((entry["duration"] / 1000 for entry in slow), default=0.0)
    return out


_GETTER = """
import json, statistics, sys, time
from pymemcache.client.base import Client
client = Client(("127.0.0.1", int(sys.argv[1])), timeout=5, no_delay=True)
client.get(b"probe")
print("ready", flush=True)
end, samples = time.monotonic() + float(sys.argv[2]), []
while time.monotonic() < end:
    t0 = time.perf_counter()
    client.get(b":1:needle:0")
    samples.append((time.perf_counter() - t0) * 1000)
print(json.dumps([statistics.median(samples), max(samples), len(samples)]))
"""


def get_while(port: int, seconds: float, work: Callable[[], Any] | None) -> tuple[float, float]:
    """memcached gets from another process while ``work`` runs: the hit path's median and slowest, ms."""
    import json
    import subprocess

    getter = subprocess.Popen([sys.executable, "-c", _GETTER, str(port), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert getter.stdout is not None
    getter.stdout.readline()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        work() if work is not None else time.sleep(0.05)
    median, slowest, _count = json.loads(getter.stdout.readline())
    getter.wait(10)
    return median, slowest


def measure_memcached(port: int, size: int) -> dict[str, float]:
    """``size`` items of this site in memcached: a first page, the whole dump in one page, pages of
    1,000 walked to the end, and the hit path's gets while listing."""
    from django.core.cache import caches
    from pymemcache.client.base import Client

    from cache_dashboard.adapters import get_adapter
    from cache_dashboard.keyspace import list_page

    cache, client = caches["mc"], Client(("127.0.0.1", port), no_delay=True)
    client.flush_all()
    for start in range(0, size, 5000):
        client.set_many({cache.make_key(f"needle:{i}" if i < 10 else f"bulk:{i}"): b"x" * 16
                         for i in range(start, min(size, start + 5000))}, noreply=True)
    client.get(b"sync")  # the noreply sets are in
    time.sleep(2.0)  # memcached's LRU maintainer settles new items (the dump's order holds after)
    adapter = get_adapter("mc")
    out: dict[str, float] = {}
    out["first_ms"] = _timed(lambda: list_page("mc", count=100))
    t0 = time.perf_counter()
    page = adapter.list_keys("*", "", size + 100, 60.0)
    out["dump_ms"], out["dumped"] = (time.perf_counter() - t0) * 1000, len(page.keys)
    t0 = time.perf_counter()
    pages, _median = _walk("mc", 10_000, count=1000, budget=5.0)
    out["walk_ms"], out["walk_pages"] = (time.perf_counter() - t0) * 1000, pages
    out["get_quiet_p50"], out["get_quiet_max"] = get_while(port, 2.0, None)
    out["get_busy_p50"], out["get_busy_max"] = get_while(port, 3.0, lambda: adapter.list_keys("*", "", size, 5.0))
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--memcached-items", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.servers import start_memcached, start_redis

    server, mc = start_redis(), start_memcached()
    try:
        _setup(server.port, mc.port)
        from django.core.cache import caches

        from cache_dashboard.adapters import get_adapter

        client = get_adapter("default").client()  # type: ignore[attr-defined]
        make_key = caches["default"].make_key
        print(f"redis-server on 127.0.0.1:{server.port}; load average {os.getloadavg()[0]:.2f}")
        rows = []
        for size in (1_010, args.keys):
            client.flushdb()
            t0 = time.perf_counter()
            _load(client, make_key, size)
            loaded = time.perf_counter() - t0
            print(f"  {size:,} keys loaded in {loaded:.1f} s", flush=True)
            rows.append((size, measure(client, server.port)))
        (small_size, small), (big_size, big) = rows
        print(f"\n{'':<34}{small_size:>12,}{big_size:>14,}{'ratio':>8}")
        for label, name in (("first page (100 keys), ms", "first_ms"), ("next page, median ms", "next_ms"),
                            ("10 needles, whole walk, ms", "filtered_ms"), ("  pages walked", "filtered_pages"),
                            ("key detail, ms", "detail_ms"), ("bulk count of tmp:*, ms", "count_ms"),
                            ("  keys counted", "count"),
                            ("PING idle server p50 / max, ms", "ping_quiet"),
                            ("PING while listing p50 / max, ms", "ping_busy"),
                            ("slowest command (SLOWLOG), ms", "slowest_command_ms")):
            if name.startswith("ping"):
                a, b = f"{small[name + '_p50']:.2f}/{small[name + '_max']:.1f}", \
                    f"{big[name + '_p50']:.2f}/{big[name + '_max']:.1f}"
                print(f"{label:<34}{a:>12}{b:>14}")
                continue
            ratio = f"{big[name] / small[name]:.1f}×" if small[name] else "–"
            print(f"{label:<34}{small[name]:>12,.1f}{big[name]:>14,.1f}{ratio:>8}")
        few, many = measure_memcached(mc.port, 1_010), measure_memcached(mc.port, args.memcached_items)
        print(f"\nmemcached (lru_crawler metadump){'':<2}{1_010:>12,}{args.memcached_items:>14,}{'ratio':>8}")
        for label, name in (("first page (100 keys), ms", "first_ms"), ("whole dump in one page, ms", "dump_ms"),
                            ("  items", "dumped"), ("pages of 1,000 to the end, ms", "walk_ms"),
                            ("  pages", "walk_pages")):
            ratio = f"{many[name] / few[name]:.1f}×" if few[name] else "–"
            print(f"{label:<34}{few[name]:>12,.1f}{many[name]:>14,.1f}{ratio:>8}")
        for label, name in (("hit-path get idle p50 / max, ms", "get_quiet"),
                            ("hit-path get while listing, ms", "get_busy")):
            print(f"{label:<34}{few[name + '_p50']:>7.2f}/{few[name + '_max']:<4.1f}"
                  f"{many[name + '_p50']:>9.2f}/{many[name + '_max']:<4.1f}")
    finally:
        server.stop()
        mc.stop()


if __name__ == "__main__":
    main()
