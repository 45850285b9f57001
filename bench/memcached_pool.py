"""What a hung memcached server costs the application, and how long until its keys are hits again,
with Django's PyMemcacheCache (a pymemcache ``HashClient``) and CacheManager's breaker.

Starts its own memcached servers on free loopback ports (stopped by PID at the end), and runs
``THREADS`` threads calling ``CacheManager.get`` over 300 warm keys while one server is hung
(SIGSTOP for ``--hang`` seconds, then SIGCONT):

  pool     three servers, one of them hung: its keys fail open, then (once pymemcache marks it
           dead) go to the other two; the breaker stays closed
  single   one server, hung: the breaker opens, and its half-open probes find the server again
           once pymemcache's ``dead_timeout`` is over

Each phase prints: calls, failed calls (an exception or a wrong value: the goal is 0), fetches
(upstream traffic), the fetches after the hang ended, and the seconds from the end of the hang
until every serving thread's client has the server back in rotation and a whole second passes
without a fetch ("hits again after"). The goal: within CIRCUIT_RESET_TIMEOUT (5 s here) + 5 s.

    .venv/bin/python bench/memcached_pool.py [--hang 10] [--dead-timeout 5] [--retry-attempts 1]
        [--retry-timeout 1] [--only pool|single]

Times are wall-clock on a shared machine: compare them with CIRCUIT_RESET_TIMEOUT, not across
machines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEYS = [f"ruc:{20100000000 + i}" for i in range(300)]
THREADS = 4
RESET = 5.0


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    settings.configure(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache_dashboard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHE_DASHBOARD={"TTL_OVERRIDES": None, "CIRCUIT_RESET_TIMEOUT": RESET},
        USE_TZ=True,
    )
    django.setup()


@dataclass
class Load:
    """``THREADS`` threads calling ``CacheManager.get`` over ``KEYS`` until stopped."""

    alias: str
    served: int = 0
    failed: list[str] = field(default_factory=list)
    fetches: list[float] = field(default_factory=list)  # monotonic time of each fetch
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        from cache_dashboard import CacheManager

        cm = CacheManager(self.alias)
        for key in KEYS:
            cm.get(key, lambda key=key: key, 600)
        self._threads = [threading.Thread(target=self._work, args=(cm,), daemon=True) for _ in range(THREADS)]
        for thread in self._threads:
            thread.start()

    def _work(self, cm: Any) -> None:
        while not self.stop.is_set():
            for key in KEYS:
                def fetch(key: str = key) -> str:
                    with self.lock:
                        self.fetches.append(time.monotonic())
                    return key
                try:
                    got = cm.get(key, fetch, 600)
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


def _in_rotation(alias: str, node: str) -> bool:
    """Whether every serving thread's HashClient has ``node`` in rotation and not failing."""
    from cache_dashboard.adapters import get_adapter
    from cache_dashboard.adapters.pymemcache import server_states

    clients = get_adapter(alias).serving_clients()  # type: ignore[attr-defined]
    return bool(clients) and all(node in list(hashed.hasher.nodes) and node not in server_states(hashed)
                                 for hashed in clients)


def _back_after(load: Load, node: str, since: float, limit: float = 120.0) -> float | None:
    """Seconds from ``since`` to the start of the first whole second without a fetch with ``node``
    back in rotation in every serving thread."""
    deadline = since + limit
    while time.monotonic() < deadline:
        if not _in_rotation(load.alias, node):
            time.sleep(0.05)
            continue
        with load.lock:
            before = len(load.fetches)
        start = time.monotonic()
        time.sleep(1.0)
        with load.lock:
            if len(load.fetches) == before and _in_rotation(load.alias, node):
                return start - since
    return None


def _phase(name: str, alias: str, pid: int, node: str, hang: float) -> None:
    from cache_dashboard.manager.breaker import get_breaker

    load = Load(alias)
    load.run()
    time.sleep(1.0)
    with load.lock:
        served_before, fetched_before = load.served, len(load.fetches)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(hang)
        opened = get_breaker(alias).state
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    recovered = _back_after(load, node, resumed)
    load.finish()
    with load.lock:
        fetched = load.fetches[fetched_before:]
        after = sum(1 for t in fetched if t >= resumed)
        calls = load.served - served_before
    print(f"  {name:<34} calls {calls:>8,}  failed {len(load.failed):>3}  fetches {len(fetched):>7,}  "
          f"after the hang {after:>6,}  circuit at the end of the hang: {opened:<9}  "
          f"hits again after {'never' if recovered is None else f'{recovered:5.2f} s'}")
    for failure in load.failed[:3]:
        print(f"      {failure}")


def run(what: str, args: argparse.Namespace) -> None:
    from django.core.cache import caches
    from django.test.utils import override_settings

    from cache_dashboard import testing
    from tests.servers import start_memcached

    servers = [start_memcached() for _ in range(3 if what == "pool" else 1)]
    try:
        options = {"timeout": 0.5, "connect_timeout": 0.5, "no_delay": True, "dead_timeout": args.dead_timeout,
                   "retry_attempts": args.retry_attempts, "retry_timeout": args.retry_timeout}
        alias = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                 "LOCATION": [server.address for server in servers], "OPTIONS": options}
        with override_settings(CACHES={**caches.settings, what: alias}):
            testing.reset()
            victim = servers[-1]
            print(f"{what}: {len(servers)} server(s), one hung for {args.hang:g} s under load "
                  f"(dead_timeout {args.dead_timeout:g}, retry_attempts {args.retry_attempts}, "
                  f"retry_timeout {args.retry_timeout:g})")
            _phase(f"{what}: server hung, then back", what, victim.proc.pid, victim.address, args.hang)
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("pool", "single"))
    parser.add_argument("--hang", type=float, default=10.0)
    parser.add_argument("--dead-timeout", type=float, default=5.0)
    parser.add_argument("--retry-attempts", type=int, default=1)
    parser.add_argument("--retry-timeout", type=float, default=1.0)
    args = parser.parse_args()
    _setup()
    for what in ("pool", "single"):
        if args.only in (None, what):
            run(what, args)


if __name__ == "__main__":
    main()
