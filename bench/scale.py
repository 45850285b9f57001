"""What the dashboard's reads cost as the data grows, on real Redis, side by side with another checkout.

Starts its own redis-server on a free loopback port (stopped by PID at the end). For each checkout
measured (this one, and with ``--compare DIR`` another, e.g. ``git worktree add /tmp/old v0.1.0``)
and each size, a fresh worker process loads the data by pipeline in that checkout's own key layout
and times what staff wait for:

  registry   N invalid entries in one namespace (1k / 100k / 1M): ``invalid_breakdown`` (the
             overview reads it for every namespace), a page of 25 entries as the invalid-entries
             page reads it, ``build_overview``; the worker's RSS growth during the breakdown; the
             server's memory per entry (INFO used_memory delta / N).

Times are medians of repeated calls (at least 3, or as many as fit in ~2 s); every figure is also
shown as a ratio to the same checkout with an empty cache, measured in the same run.

    .venv/bin/python bench/scale.py [--sizes 1000,100000,1000000] [--compare DIR]

Numbers are for comparison within one run; on a shared machine compare ratios, not milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REASONS = ("NO_EXISTE_SUNAT", "ERROR_API", "FORMATO_INVALIDO")


def _timed(fn: Callable[[], Any], budget: float = 2.0) -> float:
    """Median milliseconds of ``fn`` over at least 3 calls, more while they fit in ``budget``."""
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < 3 or (time.perf_counter() - started < budget and len(samples) < 50):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the worker: one checkout, one size -------------------------------------------------------------
def _setup(root: Path, port: int) -> Any:
    sys.path.insert(0, str(root))
    import django
    from django.conf import settings

    settings.configure(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": f"redis://127.0.0.1:{port}/0",
                            "OPTIONS": {"socket_timeout": 30, "socket_connect_timeout": 5}}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache_dashboard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHE_DASHBOARD={"TTL_OVERRIDES": None, "PURGE_ON_INVALIDATE": False, "STATS_ENABLED": False,
                         "REGISTRY_MAX_ENTRIES": 0},
        USE_TZ=True,
    )
    django.setup()
    from django.core.cache import caches

    return caches["default"]


def _load_registry(cache: Any, n: int) -> None:
    """``n`` invalid entries in namespace ``ruc``, by pipeline, in this checkout's layout."""
    import cache_dashboard.manager as manager
    from cache_dashboard import CacheManager

    cm = CacheManager("default")
    cm.mark_invalid("warm", "ERROR_API", namespace="ruc")  # creates the epoch, the names index
    cm.remove_invalid("warm", namespace="ruc")
    client = cache._cache.get_client(write=True)
    now = time.time()
    pipe = client.pipeline(transaction=False)
    if hasattr(manager, "registry") and hasattr(manager.registry, "registry_for"):  # kept counts
        from redis.commands.core import Script

        from cache_dashboard import testing
        from cache_dashboard.manager.registry import sorted as sorted_registry

        keys = testing.keys("default")
        script = Script(client, sorted_registry._MARK)
        names = [keys.registry("ruc", part) for part in ("t", "reasons", "d", "dropped")]
        for i in range(n):
            reason = REASONS[i % 3]
            raw = [cache.make_key(k) for k in (*names, keys.registry("ruc", f"x:{reason}"))]
            script(keys=raw, args=[f"20{i:09d}", repr(now + i * 1e-4), repr(now + 86400), reason, "", 0,
                                   86_401_000, repr(now)], client=pipe)
            if i % 5000 == 4999:
                pipe.execute()
    else:  # the 0.1 layout: an entry key and a log slot per mark
        import pickle

        from cache_dashboard.manager import core

        kb = cm._keys("default", cache)
        for i in range(n):
            key = f"20{i:09d}"
            info = {"key": key, "namespace": "ruc", "reason": REASONS[i % 3], "detail": None,
                    "marked_at": now + i * 1e-4, "expires_at": now + 86400, "seq": i + 1}
            pipe.set(cache.make_key(kb.registry_entry("ruc", key)), pickle.dumps(info), ex=86401)
            pipe.set(cache.make_key(kb.registry_log("ruc", i + 1)), pickle.dumps(key), ex=86401)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.set(cache.make_key(kb.registry_seq("ruc")), n)
        del core
    pipe.execute()


def _worker(root: Path, port: int, n: int) -> dict[str, Any]:
    cache = _setup(root, port)
    from cache_dashboard import CacheManager

    try:
        from cache_dashboard.overview import build_overview
    except ImportError:  # 0.1
        from cache_dashboard.dashboard import build_overview  # type: ignore[no-redef]

    client = cache._cache.get_client(write=True)
    client.flushdb()
    before = client.info("memory")["used_memory"]
    if n:
        _load_registry(cache, n)
    after = client.info("memory")["used_memory"]
    cm = CacheManager("default")
    rss = _maxrss_mib()
    breakdown = cm.invalid_breakdown("ruc")
    rss_growth = _maxrss_mib() - rss
    assert sum(breakdown.values()) == n, (breakdown, n)

    def page() -> Any:
        try:
            return cm.invalid_entries("ruc", offset=0, limit=25)
        except TypeError:  # 0.1 reads every entry, then shows 25
            return cm.invalid_entries("ruc")[:25]

    return {
        "n": n,
        "breakdown_ms": _timed(lambda: cm.invalid_breakdown("ruc")),
        "page_ms": _timed(page),
        "overview_ms": _timed(lambda: build_overview("default")),
        "rss_mib": rss_growth,
        "bytes_per_entry": (after - before) / n if n else None,
    }


# -- the driver ----------------------------------------------------------------------------------------
def _ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="invalid entries per run")
    parser.add_argument("--compare", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(_worker(args.root, args.port, args.worker)))
        return

    sys.path.insert(0, str(ROOT))
    from tests.servers import start_redis

    server = start_redis()
    try:
        roots = [ROOT] + ([args.compare.resolve()] if args.compare else [])
        sizes = [int(s) for s in args.sizes.split(",") if s]
        print(f"registry: one namespace, reasons {', '.join(REASONS)}; redis-server on 127.0.0.1:{server.port}; "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"{'checkout':<28}{'entries':>10}{'breakdown ms':>14}{'×empty':>8}{'page ms':>9}{'×empty':>8}"
              f"{'overview ms':>13}{'×empty':>8}{'+RSS MiB':>10}{'B/entry':>9}")
        for root in roots:
            empty: dict[str, Any] | None = None
            for n in [0, *sizes]:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", str(n), "--root", str(root), "--port", str(server.port)],
                    capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)},
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                empty = empty or row
                bpe = "—" if row["bytes_per_entry"] is None else f"{row['bytes_per_entry']:.0f}"
                print(f"{str(root)[-28:]:<28}{n:>10,}{row['breakdown_ms']:>14.2f}"
                      f"{_ratio(row['breakdown_ms'], empty['breakdown_ms']):>8}{row['page_ms']:>9.2f}"
                      f"{_ratio(row['page_ms'], empty['page_ms']):>8}{row['overview_ms']:>13.2f}"
                      f"{_ratio(row['overview_ms'], empty['overview_ms']):>8}{row['rss_mib']:>10.1f}{bpe:>9}",
                      flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
