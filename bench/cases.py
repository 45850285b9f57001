"""The benchmark suite's cases B1–B8, each run by ``bench/run.py`` in a fresh process of its own.

    cases.py B1 --redis-port P --memcached-port M [--backends redis,...] [--quick]

prints the case's rows as JSON on its last line. A row: ``what``, ``backend``, ``value`` and
``unit`` (the figure measured), ``floor`` (the raw client), ``baseline`` (``bench/baseline.py``,
the class a user would otherwise write), ``ratio``, ``goal`` and ``met``, and a ``note``.
The workers of B3, B5 and B7 (other processes) are this file too (``cases.py proc ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import pickle
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import hit_path  # noqa: E402  # (bench/ is this script's directory)
import scale  # noqa: E402
from baseline import REGISTRY_KEY, SeedsCacheManager  # noqa: E402

VALUE = hit_path.VALUE
REASONS = scale.REASONS


class Ctx:
    def __init__(self, args: argparse.Namespace) -> None:
        self.redis_port: int = args.redis_port
        self.memcached_port: int = args.memcached_port
        self.backends: list[str] = [b for b in args.backends.split(",") if b]
        self.quick: bool = args.quick

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def configure(redis_port: int, memcached_port: int, **dashboard: Any) -> None:
    import django
    from django.conf import settings

    settings.configure(
        CACHES={
            "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                       "OPTIONS": {"MAX_ENTRIES": 10_000_000}},
            "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": f"redis://127.0.0.1:{redis_port}/0",
                      "OPTIONS": {"socket_timeout": 30, "socket_connect_timeout": 5}},
            "django_redis": {"BACKEND": "django_redis.cache.RedisCache",
                             "LOCATION": f"redis://127.0.0.1:{redis_port}/1",
                             "OPTIONS": {"SOCKET_TIMEOUT": 30, "SOCKET_CONNECT_TIMEOUT": 5}},
            "memcached": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                          "LOCATION": f"127.0.0.1:{memcached_port}",
                          "OPTIONS": {"timeout": 5, "connect_timeout": 5, "no_delay": True}},
        },
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache_dashboard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHE_DASHBOARD={"TTL_OVERRIDES": None, "PURGE_ON_INVALIDATE": False, "STATS_HISTORY": None,
                         "ALIAS": "redis", **dashboard},
        USE_TZ=True,
    )
    django.setup()


def row(what: str, value: Any, unit: str = "", *, backend: str | None = None, floor: Any = None,
        baseline: Any = None, ratio: float | None = None, goal: str | None = None, met: bool | None = None,
        note: str | None = None) -> dict[str, Any]:
    return {"what": what, "backend": backend, "value": _round(value), "unit": unit, "floor": _round(floor),
            "baseline": _round(baseline), "ratio": _round(ratio), "goal": goal, "met": met, "note": note}


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def med(values: list[float]) -> float:
    return statistics.median(values)


def dashboard(**changes: Any) -> Any:
    """``override_settings`` of a few CACHE_DASHBOARD entries."""
    from django.conf import settings
    from django.test.utils import override_settings

    return override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, **changes})


def flush(alias: str) -> None:
    from django.core.cache import caches

    from cache_dashboard.adapters import get_adapter
    from cache_dashboard.adapters.redis import RedisAdapter
    from cache_dashboard.manager import epochs

    adapter = get_adapter(alias)
    if isinstance(adapter, RedisAdapter):
        adapter.client().flushdb()
    else:
        caches[alias].clear()
    epochs.forget(alias)


def procs(mode: str, count: int, ctx: Ctx, *extra: str, start_in: float = 3.0) -> list[dict[str, Any]]:
    """``count`` worker processes of this file (``proc <mode>``) started together; their results."""
    start_at = str(time.time() + start_in)
    running = [subprocess.Popen([sys.executable, __file__, "proc", mode, start_at, str(i), *extra,
                                 "--redis-port", str(ctx.redis_port), "--memcached-port", str(ctx.memcached_port)],
                                stdout=subprocess.PIPE, text=True) for i in range(count)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in running]


def wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


# -- B1 / B2: the hit path and the miss path ----------------------------------------------------------
def _managers(alias: str) -> tuple[Any, Any, Any]:
    from django.core.cache import caches

    from cache_dashboard import CacheManager

    return caches[alias], CacheManager(alias), SeedsCacheManager(alias)


def b1(ctx: Ctx) -> list[dict[str, Any]]:
    rows = []
    rounds, calls = ctx.size(15, 5), ctx.size(400, 100)
    for alias in ctx.backends:
        cache, cm, base = _managers(alias)
        missed: list[int] = []

        def fetch(missed: list[int] = missed) -> dict[str, Any]:
            missed.append(1)
            return dict(VALUE)

        cache.set("raw-key", dict(VALUE), 600)
        cm.get("key", fetch, 600)
        cm.get("key", fetch, 600, namespace="ruc")
        base.get("base-key", fetch, 600)
        ops: dict[str, Callable[[], object]] = {
            "raw": raw_reader(alias, cache, cm),
            "plain": lambda m=cm, f=fetch: m.get("key", f, 600),
            "ns": lambda m=cm, f=fetch: m.get("key", f, 600, namespace="ruc"),
            "baseline": lambda b=base, f=fetch: b.get("base-key", f, 600),
        }
        for op in ops.values():
            for _ in range(200):
                op()
        missed.clear()
        samples = hit_path.measure(ops, rounds, calls)
        assert not missed, "a timed call missed"
        wall = {k: med(v) for k, v in samples["wall"].items()}
        plain_goal = 1.3 if alias == "locmem" else 1.10
        for name, what, goal in (("plain", "hit, no namespace", plain_goal), ("ns", "hit, namespaced", 1.3)):
            ratio = med(hit_path.ratios(samples, name, "raw"))
            rows.append(row(what, wall[name], "µs", backend=alias, floor=wall["raw"], baseline=wall["baseline"],
                            ratio=ratio, goal=f"≤ {goal}× raw", met=ratio <= goal,
                            note=f"per-round ratios {min(hit_path.ratios(samples, name, 'raw')):.2f}–"
                                 f"{max(hit_path.ratios(samples, name, 'raw')):.2f}; floor: {FLOORS[alias]}"))
        if alias in ("redis", "django_redis"):
            rows += asyncio.run(_b1_async(alias, cache, cm, rounds, calls))
    return rows


FLOORS = {"locmem": "LocMemCache.get", "redis": "redis-py GET + unpickle on the alias's pool",
          "django_redis": "redis-py GET + unpickle on django-redis's client",
          "memcached": "pymemcache get (+ unpickle) on Django's client"}


def raw_reader(alias: str, cache: Any, cm: Any) -> Callable[[], object]:
    """The floor of a hit: the raw client's read of a pickled value (see FLOORS)."""
    if alias in ("redis", "django_redis"):
        client, key, loads = cm.adapter.client(), cm.adapter.raw_key("raw-key"), pickle.loads
        assert loads(client.get(key)) == VALUE
        return lambda: loads(client.get(key))
    if alias == "memcached":
        client, key = cache._cache, cache.make_key("raw-key")  # pymemcache's client; Django's serde unpickles
        assert client.get(key) == VALUE
        return lambda: client.get(key)
    return lambda: cache.get("raw-key")


async def _b1_async(alias: str, cache: Any, cm: Any, rounds: int, calls: int) -> list[dict[str, Any]]:
    import redis.asyncio
    from asgiref.sync import sync_to_async

    from cache_dashboard.manager import aio

    raw_client = redis.asyncio.Redis(connection_pool=(await aio.native_ops(alias)).pool)
    raw_key = cm.adapter.raw_key("raw-key")
    loads = pickle.loads

    async def raw() -> object:  # the floor: GET and unpickle, on the same kind of pool
        return loads(await raw_client.get(raw_key))

    ops = {"raw": raw, "aget": lambda: cm.aget("key"), "aget_ns": lambda: cm.aget("key", namespace="ruc"),
           "django": lambda: cache.aget("raw-key")}
    for op in ops.values():
        for _ in range(200):
            await op()
    assert await cm.aget("key") == VALUE and await cm.aget("key", namespace="ruc") == VALUE
    samples = await hit_path.ameasure(ops, rounds, calls)
    wall = {k: med(v) for k, v in samples["wall"].items()}
    to_raw = med(hit_path.ratios(samples, "aget", "raw"))
    ns_raw = med(hit_path.ratios(samples, "aget_ns", "raw"))
    to_django = med(hit_path.ratios(samples, "aget", "django"))
    rows = [
        row("aget hit, no namespace", wall["aget"], "µs", backend=alias, floor=wall["raw"], ratio=to_raw,
            goal="≤ 1.2× raw redis.asyncio GET", met=to_raw <= 1.2),
        row("aget hit, namespaced", wall["aget_ns"], "µs", backend=alias, floor=wall["raw"], ratio=ns_raw,
            goal="≤ 1.3× raw", met=ns_raw <= 1.3),
        row("aget hit vs Django's cache.aget", wall["aget"], "µs", backend=alias, baseline=wall["django"],
            ratio=to_django, goal="≤ 0.5× Django's aget", met=to_django <= 0.5),
    ]
    threaded = sync_to_async(cm.get, thread_sensitive=False)
    native, hop = [], []
    for _ in range(5):
        for target, out in ((cm.aget, native), (threaded, hop)):
            started = time.perf_counter()
            found = await asyncio.gather(*(target("key") for _ in range(1000)))
            out.append((time.perf_counter() - started) * 1000)
            assert all(v == VALUE for v in found)
    speedup = med(hop) / med(native)
    rows.append(row("1,000 concurrent aget hits", med(native), "ms", backend=alias, baseline=med(hop), ratio=speedup,
                    goal="≥ 5× faster than sync_to_async(get)", met=speedup >= 5,
                    note="baseline: the same 1,000 through sync_to_async(cm.get, thread_sensitive=False)"))
    await cm.aclose()
    await raw_client.aclose()
    return rows


def b2(ctx: Ctx) -> list[dict[str, Any]]:
    rows = []
    rounds, calls = ctx.size(15, 5), ctx.size(300, 60)
    for alias in ctx.backends:
        cache, cm, base = _managers(alias)
        fresh = itertools.count()
        cache.set("raw-key", dict(VALUE), 600)
        ops: dict[str, Callable[[], object]] = {
            "raw": lambda c=cache: c.get("raw-key"),
            "miss": lambda m=cm, n=fresh: m.get(f"miss-{next(n)}", lambda: VALUE, 600, namespace="ruc"),
            "baseline": lambda b=base, n=fresh: b.get(f"base-{next(n)}", lambda: VALUE, 600),
        }
        for op in ops.values():
            for _ in range(100):
                op()
        samples = hit_path.measure(ops, rounds, calls)
        wall = {k: med(v) for k, v in samples["wall"].items()}
        ratio = med(hit_path.ratios(samples, "miss", "baseline"))
        rows.append(row("namespaced miss: lock, re-read, fetch, store, release", wall["miss"], "µs", backend=alias,
                        floor=wall["raw"], baseline=wall["baseline"], ratio=ratio, goal="≤ 1.5× baseline get + set",
                        met=ratio <= 1.5))
    return rows


# -- B3: cold stampede ------------------------------------------------------------------------------------
def b3(ctx: Ctx) -> list[dict[str, Any]]:
    from cache_dashboard.adapters import get_adapter

    client = get_adapter("redis").client()
    flush("redis")
    out = {}
    for impl in ("ours", "baseline"):
        found = procs("stampede", 4, ctx, impl)
        fetches = int(client.get(f"bench:fetches:{impl}") or 0)
        out[impl] = {"fetches": fetches, "slowest": max(r["slowest_ms"] for r in found),
                     "callers": sum(r["callers"] for r in found)}
    ours, base = out["ours"], out["baseline"]
    return [
        row("fetches for 32 cold callers", ours["fetches"], backend="redis", baseline=base["fetches"],
            goal="1 fetch", met=ours["fetches"] == 1 and ours["callers"] == 32),
        row("slowest caller", ours["slowest"], "ms", backend="redis", floor=200.0, baseline=base["slowest"],
            ratio=ours["slowest"] / 200.0, goal="≤ 250 ms", met=ours["slowest"] <= 250,
            note="8 warm threads in each of 4 processes; the fetch sleeps 200 ms (the floor)"),
    ]


def proc_stampede(start_at: float, impl: str) -> dict[str, Any]:
    from cache_dashboard import CacheManager
    from cache_dashboard.adapters import get_adapter

    counter = get_adapter("redis").client()
    cm, base = CacheManager("redis"), SeedsCacheManager("redis")
    took: list[float] = []

    def fetch() -> str:
        counter.incr(f"bench:fetches:{impl}")
        time.sleep(0.2)
        return "value"

    def caller() -> None:
        cm.get("warm", lambda: "warm", 60, namespace="stampede")  # warm threads: connections exist
        base.get("warm-b", lambda: "warm", 60)
        wait_until(start_at)
        t0 = time.perf_counter()
        found = cm.get("cold", fetch, 60, namespace="stampede") if impl == "ours" else base.get("cold-b", fetch, 60)
        assert found == "value"
        took.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"slowest_ms": max(took), "callers": len(took)}


# -- B4: invalidation and purges -----------------------------------------------------------------------
def _plant(alias: str, namespace: str, count: int, *, pipe_size: int = 5000) -> None:
    """``count`` entries of ``namespace`` in CacheManager's layout, written in batches."""
    from django.core.cache import caches

    from cache_dashboard import CacheManager, testing
    from cache_dashboard.manager.entry import pack

    cm = CacheManager(alias)
    cm.set("seed", 1, 3600, namespace=namespace)  # the generation exists
    layout = testing.keys(alias)
    gen = cm.adapter.version(layout.generation(namespace))
    stored = pack(dict(VALUE), gen, time.time() + 3600, 0.01)
    cache = caches[alias]
    for start in range(0, count, pipe_size):
        cache.set_many({layout.entry(f"k{i}", namespace): stored for i in range(start, min(count, start + pipe_size))},
                       7200)
    assert cm.get("k1", namespace=namespace) == VALUE


def b4(ctx: Ctx) -> list[dict[str, Any]]:
    from cache_dashboard import CacheManager, testing

    rows = []
    small, big = 1000, ctx.size(100_000, 10_000)
    for alias in ctx.backends:
        flush(alias)
        cm = CacheManager(alias)
        timings = {}
        for size in (small, big):
            ns = f"inv{size}"
            _plant(alias, ns, size)
            samples = []
            for _ in range(20):
                t0 = time.perf_counter()
                cm.invalidate_namespace(ns)
                samples.append((time.perf_counter() - t0) * 1000)
            timings[size] = med(samples)
            assert cm.get("k1", namespace=ns) is None
        _plant(alias, "base", big)  # the baseline invalidates a service by deleting its keys
        keys = [testing.keys(alias).entry(f"k{i}", "base") for i in range(big)]
        t0 = time.perf_counter()
        for start in range(0, big, 5000):
            cm.adapter.cache.delete_many(keys[start : start + 5000])
        deleted = (time.perf_counter() - t0) * 1000
        for size in (small, big):
            rows.append(row(f"invalidate_namespace, {size:,} entries", timings[size], "ms", backend=alias,
                            baseline=deleted if size == big else None, ratio=timings[size] / timings[small],
                            goal="O(1): ≤ 2 ms", met=timings[size] <= 2,
                            note=f"baseline: delete_many of the {big:,} keys" if size == big else None))
    if "redis" in ctx.backends or "django_redis" in ctx.backends:
        rows += _b4_purge(ctx)
    return rows


def _b4_purge(ctx: Ctx) -> list[dict[str, Any]]:
    """The purge of a namespace's ``n`` entries in a database of 10 × n keys, with a PING loop."""
    from django.core.cache import caches

    from cache_dashboard import CacheManager, testing
    from cache_dashboard.adapters import get_adapter

    n = ctx.size(100_000, 10_000)
    cm = CacheManager("redis")
    others = 9 * n

    def fill(alias: str, entries: Callable[[], None]) -> Any:
        client = get_adapter(alias).client()
        client.flushdb()
        pipe = client.pipeline(transaction=False)
        for i in range(others):
            pipe.set(f"other:{i}", b"x", ex=7200)
            if i % 10_000 == 9999:
                pipe.execute()
        pipe.execute()
        entries()
        assert client.dbsize() >= others + n
        return client

    def django_keys() -> None:
        cache = caches["django_redis"]
        for start in range(0, n, 5000):
            cache.set_many({f"big:{i}": dict(VALUE) for i in range(start, min(n, start + 5000))}, 7200)

    results = {}
    client = fill("redis", lambda: _plant("redis", "big", n))
    with dashboard(PURGE_ON_INVALIDATE=True, PURGE_MIN_ENTRIES=0), _pinging(ctx.redis_port) as ping:
        t0 = time.perf_counter()
        cm.invalidate_namespace("big")
        assert testing.wait_for_purges(600)
        results["ours"] = (time.perf_counter() - t0, ping)
    left = sum(1 for _ in client.scan_iter(match="*big}:*", count=10_000))
    client = fill("django_redis", django_keys)
    with _pinging(ctx.redis_port) as ping:
        t0 = time.perf_counter()
        caches["django_redis"].delete_pattern("big:*")
        results["delete_pattern"] = (time.perf_counter() - t0, ping)
    client = fill("django_redis", django_keys)
    with _pinging(ctx.redis_port) as ping:
        t0 = time.perf_counter()
        found = client.keys(":1:big:*")
        for start in range(0, len(found), 10_000):
            client.delete(*found[start : start + 10_000])
        results["keys"] = (time.perf_counter() - t0, ping)
    ours, pattern, keys = (results[k][0] for k in ("ours", "delete_pattern", "keys"))
    pings = {k: v[1]["max_ms"] for k, v in results.items()}
    size = f"{n:,} entries among {n + others:,} keys"
    return [
        row(f"purge of {size}", ours, "s", backend="redis", floor=keys, baseline=pattern, ratio=ours / pattern,
            goal="≤ 2 s", met=ours <= 2 and left == 0,
            note=f"floor: KEYS + DEL; baseline: django-redis delete_pattern; {left} entries left after the purge"),
        row("slowest PING from another process meanwhile", pings["ours"], "ms", backend="redis",
            floor=pings["keys"], baseline=pings["delete_pattern"], goal="≤ 10 ms", met=pings["ours"] <= 10,
            note=f"PINGs sent: {results['ours'][1]['count']:,} during the purge"),
    ]


class _pinging:
    """A PING loop in another process for the duration of a ``with`` block; ``max_ms`` after it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.result: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self.proc = subprocess.Popen([sys.executable, __file__, "ping", str(self.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready"
        return self.result

    def __exit__(self, *exc: object) -> None:
        out, _ = self.proc.communicate("stop\n", timeout=60)
        self.result.update(json.loads(out.strip().splitlines()[-1]))


def ping_loop(port: int) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    client.ping()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    worst, count = 0.0, 0
    while not stop.is_set():
        t0 = time.perf_counter()
        client.ping()
        worst = max(worst, time.perf_counter() - t0)
        count += 1
        time.sleep(0.001)
    print(json.dumps({"max_ms": worst * 1000, "count": count}))


# -- B5: shared stats -------------------------------------------------------------------------------------
def b5(ctx: Ctx) -> list[dict[str, Any]]:
    from cache_dashboard import CacheManager

    rows = []
    workers, gets = ctx.size(4, 2), ctx.size(25_000, 2_500)
    flush("redis")
    cm = CacheManager("redis")
    cm.set("shared", "v", 600, namespace="stats")
    cm.flush_stats()
    before = cm.get_stats(namespace="stats")["totals"]["hits"]
    found = procs("hits", workers, ctx, str(gets))
    counted = cm.get_stats(namespace="stats")["totals"]["hits"] - before
    expected = sum(r["gets"] for r in found)
    rows.append(row(f"hits counted, {workers} processes × {gets:,}", counted, backend="redis", floor=expected,
                    baseline=SeedsCacheManager("redis").stats["hits"], goal="exact", met=counted == expected,
                    note="floor: hits made; baseline: what the seeds' per-process dict shows the dashboard's process"))
    rounds, calls = ctx.size(15, 5), ctx.size(2000, 400)
    for alias in ctx.backends:
        m = CacheManager(alias)
        m.set("k", dict(VALUE), 600, namespace="ruc")
        blocks: dict[bool, list[float]] = {True: [], False: []}
        for r in range(rounds):
            for enabled in ((True, False) if r % 2 else (False, True)):
                with dashboard(STATS_ENABLED=enabled):
                    m.get("k", namespace="ruc")
                    lat = []
                    for _ in range(calls):
                        t0 = time.perf_counter()
                        m.get("k", namespace="ruc")
                        lat.append(time.perf_counter() - t0)
                blocks[enabled].append(med(lat) * 1e6)
        per_round = [on / off for on, off in zip(blocks[True], blocks[False], strict=True)]
        ratio = med(per_round)
        rows.append(row("namespaced hit, stats on vs off", med(blocks[True]), "µs", backend=alias,
                        floor=med(blocks[False]), ratio=ratio, goal="≤ 1.05×", met=ratio <= 1.05,
                        note=f"per-round ratios {min(per_round):.2f}–{max(per_round):.2f}"))
    return rows


def proc_hits(start_at: float, gets: str) -> dict[str, Any]:
    from cache_dashboard import CacheManager

    cm = CacheManager("redis")
    count = int(gets)
    wait_until(start_at)
    for _ in range(count):
        assert cm.get("shared", lambda: "v", 600, namespace="stats") == "v"
    cm.flush_stats()
    return {"gets": count}


# -- B6: outage -------------------------------------------------------------------------------------------
def b6(ctx: Ctx) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.test.utils import override_settings

    from cache_dashboard import CacheManager
    from tests.servers import start_redis

    calls, timeout = ctx.size(1000, 200), 0.5
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    spare = start_redis()
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    aliases = {**settings.CACHES,
               "hung": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": f"redis://127.0.0.1:{hung.getsockname()[1]}/0", "OPTIONS": options},
               "killed": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": f"redis://{spare.address}/0", "OPTIONS": options}}
    rows = []
    try:
        with override_settings(CACHES=aliases), dashboard(CIRCUIT_FAILURE_THRESHOLD=3, CIRCUIT_RESET_TIMEOUT=60):
            CacheManager("killed").get("k", lambda: "v", 60)  # connected and warm, then killed
            spare.stop()
            for alias, what in (("hung", "hung (accepts, never answers)"), ("killed", "killed (refuses)")):
                cm = CacheManager(alias)
                took = []
                for i in range(calls):
                    t0 = time.perf_counter()
                    assert cm.get(f"k{i}", lambda: "fetched", 60, namespace="ns") == "fetched"
                    took.append(time.perf_counter() - t0)
                waited = sum(t > 0.8 * timeout for t in took)
                base = SeedsCacheManager(alias)
                base_waits = 0
                for i in range(3):
                    t0 = time.perf_counter()
                    try:
                        base.get(f"k{i}", lambda: "fetched", 60)
                    except Exception:
                        pass
                    base_waits += time.perf_counter() - t0 > 0.8 * timeout
                after = med(took[10:]) * 1e6
                rows.append(row(f"{what}: calls that waited a socket timeout", waited, f"of {calls:,}",
                                backend="redis", baseline=f"{base_waits} of 3", goal="≤ 1 per breaker window",
                                met=waited <= 1,
                                note="baseline: the seeds' get raises into the caller after each timeout"))
                rows.append(row(f"{what}: cost of a call once the circuit is open", after, "µs", backend="redis",
                                goal="≤ 5 µs", met=after <= 5, note="median of calls 11 on; includes the fetch"))
    finally:
        hung.close()
        spare.stop()
    return rows


# -- B7: the negative cache -------------------------------------------------------------------------------
def b7(ctx: Ctx) -> list[dict[str, Any]]:
    from cache_dashboard import CacheManager

    rows = []
    workers, marks = ctx.size(4, 2), ctx.size(2500, 500)
    total = workers * marks
    for alias in [a for a in ctx.backends if a != "locmem"]:  # (LocMem: every process its own cache)
        flush(alias)
        cm = CacheManager(alias)
        procs("marks", workers, ctx, alias, str(marks), "ours")
        kept = sum(cm.invalid_breakdown("ruc").values())
        procs("marks", workers, ctx, alias, str(marks), "baseline")
        base_kept = len(SeedsCacheManager(alias).cache.get(REGISTRY_KEY) or {})
        rows.append(row(f"marks kept, {workers} processes × {marks:,}", kept, backend=alias, floor=total,
                        baseline=base_kept, goal="exact", met=kept == total,
                        note=f"the baseline lost {total - base_kept:,} marks (read-modify-write of one dict)"))
    n = ctx.size(1_000_000, 10_000)
    empty = scale._run_worker(ROOT, ctx.redis_port, "--worker", "0")
    full = scale._run_worker(ROOT, ctx.redis_port, "--worker", str(n))
    base = _baseline_breakdown(n)
    rows.append(row(f"invalid_breakdown at {n:,} entries", full["breakdown_ms"], "ms", backend="redis",
                    floor=empty["breakdown_ms"], baseline=base, ratio=full["breakdown_ms"] / empty["breakdown_ms"],
                    goal="≤ 20 ms", met=full["breakdown_ms"] <= 20,
                    note=f"floor: the same, empty; {full['bytes_per_entry']:.0f} B per entry on the server; "
                         "baseline: counting the seeds' one-dict registry"))
    rows.append(row(f"a page of 25 entries at {n:,}", full["page_ms"], "ms", backend="redis",
                    floor=empty["page_ms"], ratio=full["page_ms"] / empty["page_ms"], goal="≤ 50 ms",
                    met=full["page_ms"] <= 50))
    return rows


def _baseline_breakdown(n: int) -> float:

    base = SeedsCacheManager("redis")
    now = time.time()
    base.cache.set(REGISTRY_KEY, {f"20{i:09d}": {"reason": REASONS[i % 3], "marked_at": now} for i in range(n)}, 600)
    took = scale._timed(base.invalid_breakdown, budget=5.0)
    assert sum(base.invalid_breakdown().values()) == n
    base.cache.delete(REGISTRY_KEY)
    return took


def proc_marks(start_at: float, index: str, alias: str, marks: str, impl: str) -> dict[str, Any]:
    from cache_dashboard import CacheManager

    cm, base = CacheManager(alias), SeedsCacheManager(alias)
    wait_until(start_at)
    for i in range(int(marks)):
        if impl == "ours":
            cm.mark_invalid(f"w{index}-{i}", REASONS[i % 3], namespace="ruc", ttl=600)
        else:
            base.add_invalid_ruc(f"w{index}-{i}", REASONS[i % 3], 600)
    return {"marks": int(marks)}


# -- B8: the dashboard at size ----------------------------------------------------------------------------
def b8(ctx: Ctx) -> list[dict[str, Any]]:
    from cache_dashboard.adapters import get_adapter
    from cache_dashboard.overview import build_overview

    rows = []
    small, big = 1000, ctx.size(1_000_000, 100_000)
    client = get_adapter("redis").client()
    took = {}
    for size in (small, big):
        flush("redis")
        _plant("redis", "ruc", 1000)
        pipe = client.pipeline(transaction=False)
        for i in range(size):
            pipe.set(f"other:{i}", b"x", ex=7200)
            if i % 10_000 == 9999:
                pipe.execute()
        pipe.execute()
        build_overview("redis")
        took[size] = {"page": scale._timed(lambda: build_overview("redis")),
                      "poll": scale._timed(lambda: build_overview("redis", window=3600, invalid_counts=False))}
    for part, what in (("page", "overview (the page's data)"), ("poll", "poll")):
        ratio = took[big][part] / took[small][part]
        rows.append(row(f"{what}, {big:,} keys", took[big][part], "ms", backend="redis", floor=took[small][part],
                        ratio=ratio, goal=f"≤ 1.5× with {small:,} keys", met=ratio <= 1.5))
    one = scale._run_worker(ROOT, ctx.redis_port, "--worker-stats", "1")
    fifty = scale._run_worker(ROOT, ctx.redis_port, "--worker-stats", "50")
    ratio = fifty["poll_ms"] / one["poll_ms"]
    rows.append(row("poll, an hour of traffic in 50 namespaces", fifty["poll_ms"], "ms", backend="redis",
                    floor=one["poll_ms"], ratio=ratio, goal="≤ 1.5× with 1 namespace", met=ratio <= 1.5))
    return rows


CASES: dict[str, Callable[[Ctx], list[dict[str, Any]]]] = {
    "B1": b1, "B2": b2, "B3": b3, "B4": b4, "B5": b5, "B6": b6, "B7": b7, "B8": b8,
}
PROCS: dict[str, Callable[..., dict[str, Any]]] = {"stampede": proc_stampede, "hits": proc_hits, "marks": proc_marks}


def main() -> None:
    if sys.argv[1:2] == ["ping"]:
        ping_loop(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="+", help="a case (B1..B8), or: proc <mode> <start_at> <index> [args]")
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--memcached-port", type=int, required=True)
    parser.add_argument("--backends", default="locmem,redis,django_redis,memcached")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure(args.redis_port, args.memcached_port)
    from cache_dashboard.manager import stats

    try:
        if args.what[0] == "proc":
            mode, start_at, index, *extra = args.what[1:]
            found = PROCS[mode](float(start_at), index, *extra) if mode == "marks" else \
                PROCS[mode](float(start_at), *extra)
            print(json.dumps(found))
        else:
            print(json.dumps(CASES[args.what[0]](Ctx(args))))
    finally:
        stats.flush_buffers()  # now, while the servers run


if __name__ == "__main__":
    main()
