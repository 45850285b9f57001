"""What a failover or a node failure costs the application: calls served, calls failed, calls that
went to the fetch function (upstream traffic), and the time until the cache serves hits again.

Starts its own servers on free loopback ports (stopped by PID at the end):

  sentinel   a master, a replica and three sentinels; 8 threads call ``CacheManager.get`` over
             200 warm keys while ``SENTINEL FAILOVER`` runs, through django-redis's SentinelClient
             and through Django's RedisCache with redis-py's SentinelConnectionPool
  cluster    three primaries; the same load while one primary is killed, then while one is hung
             (SIGSTOP for ``--hang`` seconds, then SIGCONT)

Each run prints, per phase: calls, failed calls (an exception or a wrong value: the goal is 0),
fetches (the goal: at most one breaker window of them), the span of time in which fetches
happened, the time from the event to the first full second without a fetch, and the share of
calls fetched in the 2 s after that (a killed cluster node's keys: about a third, for good).

    .venv/bin/python bench/topology.py [--only sentinel|cluster] [--hang 10]

Times are wall-clock on a shared machine: compare them with CIRCUIT_RESET_TIMEOUT (5 s here), not
across machines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEYS = [f"ruc:{20100000000 + i}" for i in range(200)]
THREADS = 8


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    settings.configure(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache_dashboard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHE_DASHBOARD={"TTL_OVERRIDES": None, "CIRCUIT_RESET_TIMEOUT": 5.0},
        USE_TZ=True,
    )
    django.setup()


@dataclass
class Load:
    """``THREADS`` threads calling ``CacheManager.get`` over ``KEYS`` until stopped."""

    alias: str
    #: None spreads the keys over the cluster's slots; a namespace puts them all in its hash tag.
    namespace: str | None = "ruc"
    served: int = 0
    failed: list[str] = field(default_factory=list)
    fetches: list[float] = field(default_factory=list)  # monotonic time of each fetch
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        from cache_dashboard import CacheManager

        cm = CacheManager(self.alias)
        for key in KEYS:
            cm.get(key, lambda key=key: key, namespace=self.namespace)
        threads = [threading.Thread(target=self._work, args=(cm,), daemon=True) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        self._threads = threads

    def _work(self, cm: Any) -> None:
        while not self.stop.is_set():
            for key in KEYS:
                def fetch(key: str = key) -> str:
                    with self.lock:
                        self.fetches.append(time.monotonic())
                    return key
                try:
                    got = cm.get(key, fetch, namespace=self.namespace)
                except Exception as exc:
                    with self.lock:
                        self.failed.append(repr(exc))
                    continue
                with self.lock:
                    self.served += 1
                    if got != key:
                        self.failed.append(f"{key}: {got!r}")

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(10)

    def quiet_since(self, event: float, limit: float = 60.0) -> float | None:
        """Seconds from ``event`` to the start of the first whole second without a fetch."""
        deadline = event + limit
        while time.monotonic() < deadline:
            with self.lock:
                before = len(self.fetches)
            start = time.monotonic()
            time.sleep(1.0)
            with self.lock:
                if len(self.fetches) == before:
                    return start - event
        return None


def _phase(name: str, alias: str, event: Callable[[], Any], limit: float = 60.0,
           namespace: str | None = "ruc") -> None:
    load = Load(alias, namespace)
    load.run()
    time.sleep(1.0)
    with load.lock:
        served_before, fetched_before = load.served, len(load.fetches)
    at = time.monotonic()
    event()
    recovered = load.quiet_since(at, limit)
    with load.lock:
        calls, fetches = load.served, len(load.fetches)
    time.sleep(2.0)
    with load.lock:
        tail = (len(load.fetches) - fetches) / max(1, load.served - calls)
    load.finish()
    fetched = [t for t in load.fetches[fetched_before:] if t >= at]
    span = (max(fetched) - min(fetched)) if fetched else 0.0
    print(f"  {name:<44} calls {load.served - served_before:>7,}  failed {len(load.failed):>3}  "
          f"fetches {len(fetched):>6,}  fetch span {span:5.2f} s  "
          f"hits again after {'never' if recovered is None else f'{recovered:5.2f} s'}  "
          f"(then {tail:.1%} of calls fetched)")
    for failure in load.failed[:3]:
        print(f"      {failure}")


def sentinel() -> None:
    from django.core.cache import caches
    from django.test.utils import override_settings
    from redis.sentinel import Sentinel

    from tests.topologies import SERVICE, start_sentinel_group

    group = start_sentinel_group()
    try:
        base = caches.settings if hasattr(caches, "settings") else {}
        aliases = {
            "sentinel_dr": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{SERVICE}/0",
                            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.SentinelClient",
                                        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                                        "SENTINELS": group.addresses,
                                        "SOCKET_TIMEOUT": 0.5, "SOCKET_CONNECT_TIMEOUT": 0.5}},
            "sentinel_dj": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": f"redis://{SERVICE}/1",
                            "OPTIONS": {"pool_class": "redis.sentinel.SentinelConnectionPool",
                                        "service_name": SERVICE,
                                        "sentinel_manager": Sentinel(group.addresses, socket_timeout=0.5),
                                        "socket_timeout": 0.5, "socket_connect_timeout": 0.5}},
        }
        with override_settings(CACHES={**base, **aliases}):
            print("Sentinel: SENTINEL FAILOVER under load")
            for alias in aliases:
                _phase(f"{alias}: failover", alias, group.failover)
    finally:
        group.stop()


def cluster(hang: float) -> None:
    from django.core.cache import caches
    from django.test.utils import override_settings

    from tests.topologies import start_cluster

    base = caches.settings if hasattr(caches, "settings") else {}
    for what in ("killed", "hung"):
        nodes = start_cluster()
        try:
            alias = {"BACKEND": "cache_dashboard.backends.redis_cluster.RedisClusterCache",
                     "LOCATION": nodes.locations,
                     "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}
            with override_settings(CACHES={**base, "cluster": alias}):
                victim = nodes.nodes[0]
                if what == "killed":
                    print("Cluster: one of three primaries killed under load (its keys fail open for good)")
                    _phase("cluster: primary killed", "cluster", victim.stop, limit=10.0, namespace=None)
                else:
                    print(f"Cluster: one of three primaries hung for {hang:g} s under load")
                    pid = victim.proc.pid
                    thaw = threading.Timer(hang, os.kill, (pid, signal.SIGCONT))

                    def freeze(pid: int = pid, thaw: threading.Timer = thaw) -> None:
                        os.kill(pid, signal.SIGSTOP)
                        thaw.start()

                    try:
                        _phase("cluster: primary hung, then back", "cluster", freeze, namespace=None)
                    finally:
                        thaw.join()
        finally:
            nodes.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("sentinel", "cluster"))
    parser.add_argument("--hang", type=float, default=10.0)
    args = parser.parse_args()
    _setup()
    if args.only in (None, "sentinel"):
        sentinel()
    if args.only in (None, "cluster"):
        cluster(args.hang)


if __name__ == "__main__":
    main()
