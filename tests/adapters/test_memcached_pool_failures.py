"""A pool of three real memcached servers with one killed (stopped by PID) and one hung
(SIGSTOP): hits on the healthy server's keys go on, the other keys fail open, the breaker stays
closed, health shows what pymemcache's HashClient knows, and the pool serves again once the
servers are back. Short socket timeouts and a 1 s ``dead_timeout`` keep it to seconds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.pymemcache import PyMemcacheAdapter, server_states
from cache_dashboard.keys import epoch_key, normalize_key
from cache_dashboard.manager import epochs, health
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import IN_CI
from tests.servers import Server, free_port, have, start_memcached

MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
OPTIONS = {"timeout": 0.3, "connect_timeout": 0.3, "dead_timeout": 1, "retry_attempts": 1,
           "retry_timeout": 0.2, "no_delay": True}
KEYS = [f"pool-key-{i}" for i in range(45)]
#: Generous: "eventually" on a loaded 2-CPU machine, never a timing assertion.
DEADLINE = 20.0


@pytest.fixture(scope="module")
def three() -> Iterator[list[Server]]:
    if not have("memcached"):
        if IN_CI:
            pytest.fail("CI=true and memcached missing")
        pytest.skip("memcached is not installed (CI fails instead)")
    started: list[Server] = []
    try:
        for _n in range(3):
            started.append(start_memcached())
        yield started
    finally:
        for server in started:
            if server.proc.poll() is None:
                os.kill(server.proc.pid, signal.SIGCONT)  # a hung one must be able to exit
            server.stop()


@pytest.fixture
def pool(three: list[Server], extra_alias: Callable[..., None]) -> str:
    for server in three:
        if server.proc.poll() is not None:
            server.restart()
    extra_alias(pool3={"BACKEND": MEMCACHED, "LOCATION": [s.address for s in three], "KEY_PREFIX": "p3",
                       "OPTIONS": dict(OPTIONS)})
    caches["pool3"]._cache.flush_all()  # this module's throwaway servers only
    return "pool3"


def node_of(alias: str, cache_key: str) -> str:
    """The server (``host:port``) the alias's HashClient picks for a raw Django cache key."""
    cache: Any = caches[alias]
    return str(cache._cache.hasher.get_node(cache.make_key(cache_key)))


def entry_node(alias: str, key: str) -> str:
    return node_of(alias, epochs.layout(alias).entry(normalize_key(key), None))


def read_all(cm: CacheManager) -> dict[str, int]:
    """Each key through CacheManager; how often each key's fetch ran (0: a hit)."""
    fetched: dict[str, int] = {}
    for key in KEYS:
        count = [0]

        def fetch(key: str = key, count: list[int] = count) -> str:
            count[0] += 1
            return f"value of {key}"

        assert cm.get(key, fetch, 300) == f"value of {key}"  # a hit or a fetch: never an error
        fetched[key] = count[0]
    return fetched


def test_one_server_killed_and_one_hung(pool: str, three: list[Server]) -> None:
    cm = CacheManager(pool)
    read_all(cm)
    assert not any(read_all(cm).values())  # all stored: hits
    by_address = {server.address: server for server in three}
    # The epoch key (what every read's key layout comes from) stays on the healthy server here: a
    # pool whose epoch server fails moves the epoch (see the README's memcached notes).
    healthy = by_address[node_of(pool, epoch_key())]
    killed, hung = (server for server in three if server is not healthy)
    mine = {key: entry_node(pool, key) for key in KEYS}
    on_healthy = [key for key in KEYS if mine[key] == healthy.address]
    others = [key for key in KEYS if mine[key] != healthy.address]
    assert on_healthy and others

    killed.stop()
    os.kill(hung.proc.pid, signal.SIGSTOP)
    try:
        # Enough rounds for pymemcache to fail, retry and mark both servers dead (1 retry, 0.2 s apart).
        for round_no in range(4):
            fetched = read_all(cm)
            assert not any(fetched[key] for key in on_healthy)  # hits on the healthy server go on
            if round_no == 0:  # the others failed open: fetched (and returned, as read_all checks)
                assert all(fetched[key] for key in others)
            assert get_breaker(pool).state == "closed"
            time.sleep(0.25)
        hashed: Any = caches[pool]._cache
        known = server_states(hashed)
        assert set(known) == {killed.address, hung.address}
        rows = {row["address"]: row for row in health.check(pool)["server"]}
        assert rows[healthy.address]["ok"] and not rows[healthy.address].get("note")
        for server in (killed, hung):
            assert not rows[server.address]["ok"]
            note = rows[server.address]["note"]
            assert "marked it dead until" in note or "retrying" in note, note
            assert "serving threads' clients know" in note
        assert get_breaker(pool).state == "closed"
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
    killed.restart()

    deadline = time.monotonic() + DEADLINE
    while True:  # the pool serves again: every server back in rotation, every key a hit
        read_all(cm)
        fetched = read_all(cm)
        back = not server_states(hashed) and len(hashed.hasher.nodes) == 3
        if back and not any(fetched.values()):
            break
        assert time.monotonic() < deadline, (server_states(hashed), fetched)
        time.sleep(0.2)
    assert {entry_node(pool, key) for key in others} == {killed.address, hung.address}
    while True:  # and health says so (an idle thread's client may still hold a server out for a second)
        rows = {row["address"]: row for row in health.check(pool)["server"]}
        if all(row["ok"] and not row.get("note") for row in rows.values()):
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_every_server_down_opens_the_breaker(extra_alias: Callable[..., None]) -> None:
    """Nothing listens on either port: once no server is left, failures count as before."""
    extra_alias(down2={"BACKEND": MEMCACHED, "LOCATION": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"],
                       "OPTIONS": dict(OPTIONS)})
    cm = CacheManager("down2")
    deadline = time.monotonic() + DEADLINE
    # pymemcache answers defaults (misses) between its retries: the errors come as it retries
    # each server and then finds none left ("All servers seem to be down right now").
    while get_breaker("down2").state != "open":
        for key in KEYS:
            assert cm.get(key, lambda key=key: key) == key
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_contains_only_in_a_pool_with_a_server_left(extra_alias: Callable[..., None], three: list[Server]) -> None:
    extra_alias(one={"BACKEND": MEMCACHED, "LOCATION": three[0].address, "OPTIONS": dict(OPTIONS)},
                two={"BACKEND": MEMCACHED, "LOCATION": [three[0].address, three[1].address],
                     "OPTIONS": dict(OPTIONS)})
    one, two = get_adapter("one"), get_adapter("two")
    assert isinstance(one, PyMemcacheAdapter) and isinstance(two, PyMemcacheAdapter)
    assert not one.contains(ConnectionRefusedError())  # one server: the whole alias
    assert two.contains(ConnectionRefusedError())  # nobody failing yet: the other serves
    assert not two.contains(ValueError())  # not a server's failure
    hashed: Any = caches["two"]._cache
    now = time.time()
    for server in hashed.clients.values():
        hashed._failed_clients[server.server] = {"failed_time": now, "attempts": 0}
    assert not two.contains(ConnectionRefusedError())  # every server failing: counts as before
    hashed._failed_clients.clear()


def test_health_notes_what_the_serving_clients_know(extra_alias: Callable[..., None], three: list[Server],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Dead-server state set by hand on this thread's client: a note and a warning while the
    server is out; a failing server that answers our stats is not noted; never an error."""
    for server in three:
        if server.proc.poll() is not None:
            server.restart()
    first, second = three[0], three[1]
    extra_alias(two={"BACKEND": MEMCACHED, "LOCATION": [first.address, second.address],
                     "OPTIONS": dict(OPTIONS, dead_timeout=30)})
    CacheManager("two").get("k", lambda: 1)  # this thread serves: its client is known
    hashed: Any = caches["two"]._cache
    now = time.time()
    hashed._dead_clients[hashed.clients[first.address].server] = now
    hashed._failed_clients[hashed.clients[second.address].server] = {"failed_time": now, "attempts": 1}
    try:
        report = health.check("two")
        rows = {row["address"]: row for row in report["server"]}
        assert "marked it dead until" in rows[first.address]["note"]
        assert "as 1 of 1 serving threads' clients know" in rows[first.address]["note"]
        assert rows[first.address]["ok"] and rows[first.address]["warning"]
        assert report["status"] == "warning"
        assert not rows[second.address].get("note")  # it answers: its next call retries it
        adapter = get_adapter("two")
        monkeypatch.setattr(adapter, "server_state_notes", lambda: 1 / 0)
        assert all(row["ok"] and not row.get("note") for row in adapter.server_info(1.0))
    finally:
        hashed._dead_clients.clear()
        hashed._failed_clients.clear()
