"""Hit-path cost of CacheManager.get relative to a raw cache.get, measured side by side.

Starts its own redis-server and memcached on free loopback ports (stopped by PID at the end),
then for each backend times these operations, interleaved so machine noise hits them alike:
  raw        cache.get(key)                           Django's backend alone: the baseline of both
  plain      CacheManager.get(key, fetch)             target <= 1.10x raw
  namespaced CacheManager.get(key, fetch, namespace=) target <= 1.3x raw (one round trip: the
                                                      namespace generation and the entry together)
  raw x2     cache.get_many([key, key2])              for reference only: Django's own two-key read
  miss       CacheManager.get(new key, fetch, ns)     a namespaced miss: lock, re-read, fetch, store,
                                                      release; target <= 1.5x naive
  naive      cache.get(new key), cache.set(...)      the least a cache-aside miss can cost
and the cost of invalidate_namespace with 10 vs 10,000 keys in the namespace (O(1)).

Method: R rounds of C calls of each operation, interleaved call by call in an order that rotates
from call to call, each call timed alone (perf_counter); a round's figure for an operation is the
median latency of its calls, and its ratio divides that by the raw median of the same round. The
table shows the median over rounds and the spread (min-max) of the per-round ratios: noise from
other processes hits every operation alike. The "cpu" ratios use the calling thread's CPU time
(thread_time) summed over the round instead: robust on a busy machine, but they leave out the
server's work and the wire, so they overstate the wall-clock ratio. Every timed CacheManager call
is a hit (checked: the value is right, ``fetch`` is never called); settings are the defaults
(stats on, XFetch on) except the background Redis purge, off so that the invalidation column
measures the O(1) part alone.

    .venv/bin/python bench/hit_path.py [--calls 400] [--rounds 15] [--backends redis,memcached]

Numbers are for comparison within one run; on a shared machine compare ratios, not microseconds.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BACKENDS = ("locmem", "redis", "django_redis", "memcached")
VALUE = {"ruc": "20100038146", "razon_social": "EMPRESA DEMO S.A.C.", "estado": "ACTIVO"}


def _order(names: list[str], calls: int) -> Iterator[str]:
    """Each operation ``calls`` times, interleaved call by call in an order that rotates."""
    for i in range(calls):
        k = i % len(names)
        yield from names[k:] + names[:k]


def measure(ops: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, dict[str, list[float]]]:
    """Per round and operation: median wall latency (µs) and summed thread CPU time (µs)."""
    out: dict[str, dict[str, list[float]]] = {"wall": {n: [] for n in ops}, "cpu": {n: [] for n in ops}}
    perf, cpu = time.perf_counter, time.thread_time
    for _ in range(rounds):
        lat: dict[str, list[float]] = {n: [] for n in ops}
        used = dict.fromkeys(ops, 0.0)
        for name in _order(list(ops), calls):
            op = ops[name]
            c0, t0 = cpu(), perf()
            op()
            lat[name].append(perf() - t0)
            used[name] += cpu() - c0
        _close_round(out, lat, used, calls)
    return out


async def ameasure(ops: dict[str, Callable[[], Awaitable[object]]], rounds: int,
                   calls: int) -> dict[str, dict[str, list[float]]]:
    """:func:`measure` for coroutine functions, awaited one at a time on the running loop."""
    out: dict[str, dict[str, list[float]]] = {"wall": {n: [] for n in ops}, "cpu": {n: [] for n in ops}}
    perf, cpu = time.perf_counter, time.thread_time
    for _ in range(rounds):
        lat: dict[str, list[float]] = {n: [] for n in ops}
        used = dict.fromkeys(ops, 0.0)
        for name in _order(list(ops), calls):
            op = ops[name]
            c0, t0 = cpu(), perf()
            await op()
            lat[name].append(perf() - t0)
            used[name] += cpu() - c0
        _close_round(out, lat, used, calls)
    return out


def _close_round(out: dict[str, dict[str, list[float]]], lat: dict[str, list[float]], used: dict[str, float],
                 calls: int) -> None:
    for name in lat:
        out["wall"][name].append(statistics.median(lat[name]) * 1e6)
        out["cpu"][name].append(used[name] / calls * 1e6)


def ratios(samples: dict[str, dict[str, list[float]]], name: str, to: str) -> list[float]:
    """Per-round ratios of ``name``'s median latency to ``to``'s."""
    return [a / b for a, b in zip(samples["wall"][name], samples["wall"][to], strict=True)]


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400, help="calls per operation per round (default 400)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per backend (default 15)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated subset of {BACKENDS}")
    parser.add_argument("--no-invalidation", action="store_true", help="skip the invalidate_namespace timing")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}")

    from tests.servers import start_memcached, start_redis

    redis_server, memcached = start_redis(), start_memcached()
    try:
        import django
        from django.conf import settings

        settings.configure(
            CACHES={
                "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                           "OPTIONS": {"MAX_ENTRIES": 10_000_000}},  # the miss rows add keys
                "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": f"redis://{redis_server.address}/0",
                          "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1}},
                "django_redis": {"BACKEND": "django_redis.cache.RedisCache",
                                 "LOCATION": f"redis://{redis_server.address}/1",
                                 "OPTIONS": {"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1}},
                "memcached": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                              "LOCATION": memcached.address,
                              "OPTIONS": {"timeout": 1, "connect_timeout": 1, "no_delay": True}},
            },
            INSTALLED_APPS=["cache_dashboard"],
            CACHE_DASHBOARD={"TTL_OVERRIDES": None, "PURGE_ON_INVALIDATE": False},
        )
        django.setup()
        from django.core.cache import caches

        import cache_dashboard
        from cache_dashboard import CacheManager

        load = os.getloadavg()
        print(f"hit path: {args.rounds} rounds x {args.calls} calls of each operation, interleaved call by call;\n"
              f"µs = median over rounds of each round's median latency; ratio = median over rounds of the\n"
              f"per-round ratio to raw (spread min-max); cpu = the same with this thread's CPU time.\n"
              f"Django {django.get_version()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
              f"average {load[0]:.2f} at start; cache_dashboard from {Path(cache_dashboard.__file__).parent}")
        print(f"{'backend':<13}{'raw µs':>8}{'plain µs':>10}{'ns µs':>8}{'raw x2 µs':>11}"
              f"{'plain/raw':>11}{'spread':>11}{'ns/raw':>8}{'spread':>11}{'x2/raw':>8}"
              f"{'cpu plain':>11}{'cpu ns':>8}{'miss/naive':>12}{'spread':>11}{'naive/raw':>11}"
              f"{'inv ns 10 keys µs':>19}{'10k keys µs':>13}")
        for alias in backends:
            cache, cm = caches[alias], CacheManager(alias)
            fetched: list[int] = []

            def fetch(fetched: list[int] = fetched) -> dict:
                fetched.append(1)
                return dict(VALUE)

            cache.set("raw-key", dict(VALUE), 600)
            cache.set("raw-key2", 1, 600)
            cm.get("key", fetch, 600)
            cm.get("key", fetch, 600, namespace="ruc")
            fresh = itertools.count()

            def miss(m: CacheManager = cm, n: itertools.count = fresh) -> object:
                return m.get(f"miss-{next(n)}", lambda: VALUE, 600, namespace="ruc")

            def naive(c: object = cache, n: itertools.count = fresh) -> object:
                key = f"naive-{next(n)}"
                if c.get(key) is None:  # type: ignore[attr-defined]
                    c.set(key, VALUE, 600)  # type: ignore[attr-defined]
                return VALUE

            ops: dict[str, Callable[[], object]] = {
                "raw": lambda c=cache: c.get("raw-key"),
                "plain": lambda m=cm, f=fetch: m.get("key", f, 600),
                "ns": lambda m=cm, f=fetch: m.get("key", f, 600, namespace="ruc"),
                "x2": lambda c=cache: c.get_many(["raw-key", "raw-key2"]),
                "miss": miss,
                "naive": naive,
            }
            fetched.clear()
            assert ops["plain"]() == VALUE and ops["ns"]() == VALUE and ops["raw"]() == VALUE
            for op in ops.values():  # warm-up: connections, readers, epoch
                for _ in range(200):
                    op()
            samples = measure(ops, args.rounds, args.calls)
            assert not fetched, "a timed CacheManager call missed"
            assert ops["plain"]() == VALUE and ops["ns"]() == VALUE
            med = {k: statistics.median(v) for k, v in samples["wall"].items()}
            ratios = {k: [s / raw for s, raw in zip(v, samples["wall"]["raw"], strict=True)]
                      for k, v in samples["wall"].items()}
            cpu = {k: statistics.median(s / raw for s, raw in zip(v, samples["cpu"]["raw"], strict=True))
                   for k, v in samples["cpu"].items()}
            inv = {10: float("nan"), 10_000: float("nan")}
            if not args.no_invalidation:
                for size in inv:
                    ns = f"inv{size}"
                    for i in range(size):
                        cm.set(f"k{i}", i, 600, namespace=ns)
                    cm.get("k0", namespace=ns)
                    timings = []
                    for _ in range(20):
                        start = time.perf_counter()
                        cm.invalidate_namespace(ns)
                        timings.append((time.perf_counter() - start) * 1e6)
                    inv[size] = statistics.median(timings)
            to_naive = [m / n for m, n in zip(samples["wall"]["miss"], samples["wall"]["naive"], strict=True)]
            print(f"{alias:<13}{med['raw']:>8.1f}{med['plain']:>10.1f}{med['ns']:>8.1f}{med['x2']:>11.1f}"
                  f"{statistics.median(ratios['plain']):>11.2f}{_spread(ratios['plain']):>11}"
                  f"{statistics.median(ratios['ns']):>8.2f}{_spread(ratios['ns']):>11}"
                  f"{statistics.median(ratios['x2']):>8.2f}{cpu['plain']:>11.2f}{cpu['ns']:>8.2f}"
                  f"{statistics.median(to_naive):>12.2f}{_spread(to_naive):>11}"
                  f"{statistics.median(ratios['naive']):>11.2f}"
                  f"{inv[10]:>19.1f}{inv[10_000]:>13.1f}", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at end")
        from cache_dashboard.manager import stats

        stats.flush_buffers()  # now, while the servers run (not at exit, after they stopped)
    finally:
        redis_server.stop()
        memcached.stop()


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
