"""Hit-path cost of CacheManager.get relative to a raw cache.get, measured side by side.

Starts its own redis-server and memcached on free loopback ports (stopped by PID at the end),
then for each backend times, interleaved in rounds so machine noise hits both alike:
  raw        cache.get(key)                      (Django's backend alone)
  plain      CacheManager.get(key)               (target <= 1.10x raw)
  namespaced CacheManager.get(key, namespace=)   (target <= 1.3x raw: one get_many round trip)
and the cost of invalidate_namespace with 10 vs 10,000 keys in the namespace (O(1)).

    .venv/bin/python bench/hit_path.py [--calls 3000] [--rounds 7]

Prints medians in microseconds and the ratios. Numbers are for comparison within one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from tests.servers import start_memcached, start_redis

    redis_server, memcached = start_redis(), start_memcached()
    try:
        import django
        from django.conf import settings

        settings.configure(
            CACHES={
                "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": f"redis://{redis_server.address}/0",
                          "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1}},
                "django_redis": {"BACKEND": "django_redis.cache.RedisCache",
                                 "LOCATION": f"redis://{redis_server.address}/1",
                                 "OPTIONS": {"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1}},
                "memcached": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                              "LOCATION": memcached.address,
                              "OPTIONS": {"timeout": 1, "connect_timeout": 1}},
            },
            INSTALLED_APPS=["cache_dashboard"],
            # The background Redis purge is off so the invalidation column measures the O(1) part alone.
            CACHE_DASHBOARD={"TTL_OVERRIDES": None, "XFETCH_BETA": 0, "PURGE_ON_INVALIDATE": False},
        )
        django.setup()
        from django.core.cache import caches

        from cache_dashboard import CacheManager

        print(f"{'backend':<14}{'raw get µs':>12}{'plain µs':>10}{'ns µs':>9}{'plain/raw':>11}{'ns/raw':>8}"
              f"{'inv ns 10 keys µs':>19}{'10k keys µs':>13}")
        for alias in ("locmem", "redis", "django_redis", "memcached"):
            cache, cm = caches[alias], CacheManager(alias)
            cache.set("raw-key", {"ruc": "20100038146"}, 600)
            cm.set("key", {"ruc": "20100038146"}, 600)
            cm.set("key", {"ruc": "20100038146"}, 600, namespace="ruc")
            samples: dict[str, list[float]] = {"raw": [], "plain": [], "ns": []}
            ops = {
                "raw": lambda c=cache: c.get("raw-key"),
                "plain": lambda m=cm: m.get("key"),
                "ns": lambda m=cm: m.get("key", namespace="ruc"),
            }
            for _ in range(args.rounds):
                for name, op in ops.items():
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        op()
                    samples[name].append((time.perf_counter() - start) / args.calls * 1e6)
            med = {k: statistics.median(v) for k, v in samples.items()}
            inv = {}
            for size in (10, 10_000):
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
            print(f"{alias:<14}{med['raw']:>12.1f}{med['plain']:>10.1f}{med['ns']:>9.1f}"
                  f"{med['plain'] / med['raw']:>11.2f}{med['ns'] / med['raw']:>8.2f}"
                  f"{inv[10]:>19.1f}{inv[10_000]:>13.1f}")
    finally:
        redis_server.stop()
        memcached.stop()


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
