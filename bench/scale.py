"""What the dashboard's reads cost as the data grows, on real Redis, side by side with another checkout.

Starts its own redis-server on a free loopback port (stopped by PID at the end). For each checkout
measured (this one, and with ``--compare DIR`` another, e.g. ``git worktree add /tmp/old v0.1.0``)
and each size, a fresh worker process loads the data by pipeline in that checkout's own key layout
and times what staff wait for:

  registry   N invalid entries in one namespace (1k / 100k / 1M): ``invalid_breakdown`` (the
             overview reads it for every namespace), a page of 25 entries as the invalid-entries
             page reads it, ``build_overview``; the worker's RSS growth during the breakdown; the
             server's memory per entry (INFO used_memory delta / N).
  stats      an hour of traffic in 1 / 50 / 3,000 namespaces: ``get_stats`` and the overview's
             poll (``build_overview`` without invalid counts), ratios to 1 namespace.
  purge      a 1M-key database with 10 namespaces of 50k entries: the p50/p99 latency of hits in
             the process that invalidates all 10 (and so purges them), against the same process
             quiet, and how long the purge took; then 10 invalidations a second for 5 s of a
             100-entry namespace: SCANs sent and purge threads seen; then the first purge again
             in a process serving nothing meanwhile ("idle s").
  failures   a server that accepts and never answers (0.5 s socket timeouts, threshold 3): how
             many calls waited for a timeout; 32 callers in 4 processes missing one key whose fetch
             takes 200 ms: fetches, and the slowest caller.

Times are medians of repeated calls (at least 3, or as many as fit in ~2 s); every figure is also
shown as a ratio to the same checkout with an empty cache, measured in the same run.

    .venv/bin/python bench/scale.py [--rows registry,stats,purge,failures] [--sizes 1000,100000,1000000]
                                    [--compare DIR]

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
from array import array
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


def _new_layout() -> bool:
    import cache_dashboard.manager as manager

    return hasattr(manager, "registry") and hasattr(manager.registry, "registry_for")


def _load_stats(cache: Any, namespaces: int) -> None:
    """An hour of per-minute traffic in ``namespaces`` namespaces, by pipeline, in this layout."""
    client = cache._cache.get_client(write=True)
    now = time.time()
    minutes = [int(now // 60 * 60) - 60 * i for i in range(60)]
    pipe = client.pipeline(transaction=False)
    names = [f"ns{i}" for i in range(namespaces)]
    if _new_layout():
        from cache_dashboard.keys import stats_bucket, stats_names

        for start in minutes:
            key = cache.make_key(stats_bucket(60, start))
            for ns in names:
                pipe.hset(key, mapping={f"c|{ns}|hits": 9, f"c|{ns}|misses": 3, f"c|{ns}|sets": 3})
            pipe.hset(key, mapping={"t|hits": 9 * namespaces, "t|misses": 3 * namespaces, "t|sets": 3 * namespaces})
            pipe.execute()
        pipe.sadd(cache.make_key(stats_names(int(now // 3600 * 3600))), *[f"n|{ns}" for ns in names])
    else:
        import pickle

        for start in minutes:
            for ns in names:
                for field, n in (("hits", 9), ("misses", 3), ("sets", 3)):
                    pipe.set(cache.make_key(f"cd:s:60:{start}:{ns}:{field}"), n)
            pipe.execute()
        pipe.set(cache.make_key("cd:idx"), pickle.dumps({"namespaces": {ns: ns for ns in names}, "sources": {}}))
    pipe.execute()


def _stats_worker(root: Path, port: int, namespaces: int) -> dict[str, Any]:
    cache = _setup(root, port)
    from cache_dashboard import CacheManager

    try:
        from cache_dashboard.overview import build_overview
    except ImportError:  # 0.1
        from cache_dashboard.dashboard import build_overview  # type: ignore[no-redef]
    cache._cache.get_client(write=True).flushdb()
    _load_stats(cache, namespaces)
    cm = CacheManager("default")
    with _settings(STATS_ENABLED=True):
        t0 = time.perf_counter()  # the first read after the load builds the running window
        assert cm.get_stats()["totals"]["hits"] == 9 * 60 * namespaces
        first = (time.perf_counter() - t0) * 1000
        return {"n": namespaces, "first_ms": first, "stats_ms": _timed(lambda: cm.get_stats(window=3600)),
                "poll_ms": _timed(lambda: build_overview("default", window=3600, invalid_counts=False))}


def _settings(**changes: Any) -> Any:
    from django.conf import settings
    from django.test.utils import override_settings

    return override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, **changes})


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _purge_worker(root: Path, port: int) -> dict[str, Any]:
    cache = _setup(root, port)
    import pickle
    import threading

    from cache_dashboard import CacheManager

    client = cache._cache.get_client(write=True)
    client.flushdb()
    cm = CacheManager("default")
    new = _new_layout()
    value = {"ruc": "20100038146", "razon_social": "EMPRESA DEMO S.A.C."}
    namespaces = [f"big{i}" for i in range(10)]
    for ns in namespaces:
        cm.set("seed", 1, 3600, namespace=ns)  # the generation exists
    if new:
        from cache_dashboard import testing

        layout = testing.keys("default")
        tag = "cd2"
    else:
        layout = cm._keys("default", cache)
        tag = "cd1"

    def generations() -> dict[str, Any]:
        if new:
            return {ns: cm.adapter.version(layout.generation(ns)) for ns in namespaces}
        return {ns: cache.get(layout.generation(ns)) for ns in namespaces}

    def seed_entries() -> None:  # 500k entries of the 10 namespaces, in their current generation
        gens, now = generations(), time.time()
        pipe = client.pipeline(transaction=False)
        for ns in namespaces:
            for i in range(50_000):
                raw = cache.make_key(layout.entry(f"k{i}", ns))
                pipe.set(raw, pickle.dumps((tag, value, gens[ns], now + 3600, 0.01)), ex=7200)
                if i % 5000 == 4999:
                    pipe.execute()
        pipe.execute()

    seed_entries()
    pipe = client.pipeline(transaction=False)
    for i in range(500_000):  # ...and 500k keys of other applications
        pipe.set(f"other:{i}", b"x", ex=7200)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    cm.set("hot", value, 3600, namespace="hot")

    def hits(seconds: float) -> array[float]:
        samples = array("d")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            cm.get("hot", namespace="hot")
            samples.append((time.perf_counter() - t0) * 1000)
        return samples

    quiet_samples = hits(3.0)
    before = {t.name for t in threading.enumerate()}
    started = time.monotonic()
    with _settings(PURGE_ON_INVALIDATE=True, PURGE_MIN_ENTRIES=0):
        for ns in namespaces:
            cm.invalidate_namespace(ns)
        busy = hits(3.0)
        purgers = sum(1 for t in threading.enumerate() if t.name == "cache_dashboard-purge")

        def purging() -> bool:  # asked of the worker: a SCAN of our own would load the server too
            if new:
                from cache_dashboard import testing

                return not testing.wait_for_purges(0)
            return any(t.name == "cache_dashboard-purge" for t in threading.enumerate())

        while purging() and time.monotonic() - started < 600:
            busy += hits(0.5)
        purge_seconds = time.monotonic() - started
        during = _percentiles(list(busy))
        quiet = _percentiles(list(quiet_samples + hits(3.0)))  # quiet again, before and after
        # The burst: a small namespace invalidated 10 times a second for 5 s (signal rules on saves).
        for i in range(100):
            cm.set(f"p{i}", i, 3600, namespace="small")
        scans_before = client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
        threads = 0
        for _ in range(50):
            cm.invalidate_namespace("small")
            threads = max(threads, sum(1 for t in threading.enumerate() if t.name == "cache_dashboard-purge"))
            time.sleep(0.1)
        time.sleep(2.0)
        if new:
            from cache_dashboard import testing

            testing.wait_for_purges(120)
        else:
            for thread in threading.enumerate():
                if thread.name == "cache_dashboard-purge":
                    thread.join(120)
        scans = client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0) - scans_before
        if new:
            from cache_dashboard.manager import purge

            count = purge.PURGE_SCAN_COUNT
        else:
            count = 1000
        walks = scans / -(-client.dbsize() // count)  # ~ how many times the burst walked the database
        # The same purge in a process that serves nothing meanwhile: at full pace.
        seed_entries()
        started = time.monotonic()
        for ns in namespaces:
            cm.invalidate_namespace(ns)
        while purging() and time.monotonic() - started < 600:
            time.sleep(0.05)
        idle_seconds = time.monotonic() - started
    del before
    return {"quiet_p50": quiet[0], "quiet_p99": quiet[1], "busy_p50": during[0], "busy_p99": during[1],
            "purge_s": purge_seconds, "idle_purge_s": idle_seconds, "purgers": purgers, "burst_scans": scans,
            "burst_walks": walks, "burst_threads": threads}


def _failures_worker(root: Path, port: int) -> dict[str, Any]:
    _setup(root, port)
    import socket

    from django.conf import settings
    from django.test.utils import override_settings

    from cache_dashboard import CacheManager

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    caches_conf = {**settings.CACHES, "hung": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{hung.getsockname()[1]}/0",
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}}
    with override_settings(CACHES=caches_conf), _settings(CIRCUIT_FAILURE_THRESHOLD=3, CIRCUIT_RESET_TIMEOUT=30):
        cm = CacheManager("hung")
        waited = 0
        for i in range(10):
            t0 = time.monotonic()
            cm.get(f"k{i}", lambda: "fetched", 60)
            waited += time.monotonic() - t0 > 0.4
    hung.close()
    return {"timeouts": waited}


def _stampede(root: Path, port: int) -> dict[str, Any]:
    """32 callers (8 threads in each of 4 processes) miss one key at once; its fetch takes 200 ms."""
    procs = [subprocess.Popen([sys.executable, __file__, "--worker-stampede", str(time.time() + 1.5), "--root",
                               str(root), "--port", str(port)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(root)}) for _ in range(4)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {"fetches": sum(r["fetches"] for r in results), "slowest_ms": max(r["slowest_ms"] for r in results)}


def _stampede_worker(root: Path, port: int, start_at: float) -> dict[str, Any]:
    _setup(root, port)
    import threading

    from cache_dashboard import CacheManager

    cm = CacheManager("default")
    fetched, took = [], []

    def fetch() -> str:
        fetched.append(1)
        time.sleep(0.2)
        return "value"

    def caller() -> None:
        # A web server's threads are warm: their connections and readers exist before the key is cold.
        cm.get("warm", lambda: "warm", 60, namespace="stampede")
        time.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter()
        assert cm.get("cold", fetch, 60, namespace="stampede") == "value"
        took.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"fetches": len(fetched), "slowest_ms": max(took)}


# -- the driver ----------------------------------------------------------------------------------------
def _ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.1f}×"


def _run_worker(root: Path, port: int, *flag: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *flag, "--root", str(root), "--port", str(port)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _registry_table(roots: list[Path], sizes: list[int], port: int) -> None:
    print(f"\nregistry: one namespace, reasons {', '.join(REASONS)}")
    print(f"{'checkout':<28}{'entries':>10}{'breakdown ms':>14}{'×empty':>8}{'page ms':>9}{'×empty':>8}"
          f"{'overview ms':>13}{'×empty':>8}{'+RSS MiB':>10}{'B/entry':>9}")
    for root in roots:
        empty: dict[str, Any] | None = None
        for n in [0, *sizes]:
            row = _run_worker(root, port, "--worker", str(n))
            empty = empty or row
            bpe = "—" if row["bytes_per_entry"] is None else f"{row['bytes_per_entry']:.0f}"
            print(f"{str(root)[-28:]:<28}{n:>10,}{row['breakdown_ms']:>14.2f}"
                  f"{_ratio(row['breakdown_ms'], empty['breakdown_ms']):>8}{row['page_ms']:>9.2f}"
                  f"{_ratio(row['page_ms'], empty['page_ms']):>8}{row['overview_ms']:>13.2f}"
                  f"{_ratio(row['overview_ms'], empty['overview_ms']):>8}{row['rss_mib']:>10.1f}{bpe:>9}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="registry,stats,purge,failures", help="which tables to print")
    parser.add_argument("--sizes", default="1000,100000,1000000", help="invalid entries per registry run")
    parser.add_argument("--compare", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-stats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-purge", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-failures", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-stampede", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(_worker(args.root, args.port, args.worker)))
        return
    for flag, run in (("worker_stats", lambda: _stats_worker(args.root, args.port, args.worker_stats)),
                      ("worker_purge", lambda: _purge_worker(args.root, args.port)),
                      ("worker_failures", lambda: _failures_worker(args.root, args.port)),
                      ("worker_stampede", lambda: _stampede_worker(args.root, args.port, args.worker_stampede))):
        if getattr(args, flag) not in (None, False):
            print(json.dumps(run()))
            return

    sys.path.insert(0, str(ROOT))
    from tests.servers import start_redis

    server = start_redis()
    try:
        roots = [ROOT] + ([args.compare.resolve()] if args.compare else [])
        rows = set(args.rows.split(","))
        print(f"redis-server on 127.0.0.1:{server.port}; load average {os.getloadavg()[0]:.2f}; "
              f"every row a fresh worker process")
        if "registry" in rows:
            _registry_table(roots, [int(s) for s in args.sizes.split(",") if s], server.port)
        if "stats" in rows:
            print("\nstats: an hour of traffic (per-minute buckets), 60 buckets read per poll")
            print(f"{'checkout':<28}{'namespaces':>11}{'first ms':>10}{'get_stats ms':>14}{'×1 ns':>8}"
                  f"{'poll ms':>10}{'×1 ns':>8}")
            for root in roots:
                one: dict[str, Any] | None = None
                for n in (1, 50, 3000):
                    row = _run_worker(root, server.port, "--worker-stats", str(n))
                    one = one or row
                    print(f"{str(root)[-28:]:<28}{n:>11,}{row['first_ms']:>10.1f}{row['stats_ms']:>14.2f}"
                          f"{_ratio(row['stats_ms'], one['stats_ms']):>8}"
                          f"{row['poll_ms']:>10.2f}{_ratio(row['poll_ms'], one['poll_ms']):>8}", flush=True)
        if "purge" in rows:
            print("\npurge: 1M keys (10 namespaces x 50k entries + 500k other keys); "
                  "hits of a hot key in the purging process")
            print(f"{'checkout':<28}{'quiet p50/p99 ms':>18}{'purging p50/p99 ms':>20}{'p99 ×quiet':>11}"
                  f"{'purge s':>9}{'idle s':>8}{'purgers':>9}{'burst SCANs':>12}{'≈ walks':>8}{'threads':>9}")
            for root in roots:
                row = _run_worker(root, server.port, "--worker-purge")
                print(f"{str(root)[-28:]:<28}{row['quiet_p50']:>9.3f}/{row['quiet_p99']:<8.3f}"
                      f"{row['busy_p50']:>11.3f}/{row['busy_p99']:<8.3f}{_ratio(row['busy_p99'], row['quiet_p99']):>11}"
                      f"{row['purge_s']:>9.1f}{row['idle_purge_s']:>8.1f}{row['purgers']:>9}{row['burst_scans']:>12,}"
                      f"{row['burst_walks']:>8.1f}{row['burst_threads']:>9}",
                      flush=True)
        if "failures" in rows:
            print("\nfailures: a hung server (10 calls, 0.5 s timeouts, threshold 3); a cold stampede (32 callers)")
            print(f"{'checkout':<28}{'calls that waited':>18}{'fetches':>9}{'slowest ms':>12}")
            for root in roots:
                hung = _run_worker(root, server.port, "--worker-failures")
                stampede = _stampede(root, server.port)
                print(f"{str(root)[-28:]:<28}{hung['timeouts']:>18}{stampede['fetches']:>9}"
                      f"{stampede['slowest_ms']:>12.0f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
