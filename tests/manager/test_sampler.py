"""The server sampler: once a minute one process asks every server of an alias for its counters
and memory, and the samples land in the shared buckets; a dead or unreachable server costs a
skipped sample, never an error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.manager import sampler, statstore
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.testing import jobs_paused
from tests.conftest import require
from tests.procs import run_processes
from tests.servers import free_port
from tests.workers import sample_servers


@pytest.fixture(autouse=True)
def _no_background_jobs() -> Iterator[None]:
    with jobs_paused():
        yield


def test_one_process_samples_each_minute(servers: Any) -> None:
    require("redis", servers)
    minute = int(time.time() // 60 * 60) - 300
    assert sampler.sample("redis", minute + 1) is True
    assert sampler.sample("redis", minute + 30) is False  # taken this minute
    results = run_processes(sample_servers, [("redis", minute + 60 + 2), ("redis", minute + 60 + 3)])
    assert sorted(results) == [False, True]


def test_samples_are_the_servers_counters(servers: Any) -> None:
    require("memcached", servers)
    minute = int(time.time() // 60 * 60) - 600
    assert sampler.sample("memcached", minute + 1)
    adapter = get_adapter("memcached")
    (cells,) = statstore.store_for(adapter).read_samples(adapter, 60, [minute])
    fields = {cell.rpartition("|")[2] for cell in cells}
    assert fields == {"memory", "evictions", "hits", "misses", "commands", "at"}
    assert cells[f"v|{servers.memcached.address}|at"] == minute + 1


def test_a_dead_server_is_skipped_and_told_to_the_breaker(extra_alias: Any) -> None:
    extra_alias(dead={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                      "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}})
    assert sampler.sample("dead") is False
    assert get_breaker("dead").failures >= 1  # the breaker heard of it
    assert CacheManager("dead").get_server_history() is None  # read through the breaker, quietly
    get_breaker("dead").failure(TimeoutError("hung"))  # a timeout opens the circuit at once
    assert get_breaker("dead").state == "open"
    assert sampler.sample("dead") is False  # an open circuit: not even tried


def test_the_history_turns_counters_into_rates(servers: Any) -> None:
    require("redis", servers)
    minute = int(time.time() // 60 * 60) - 900
    assert sampler.sample("redis", minute + 1) and sampler.sample("redis", minute + 61)
    found = sampler.read_history("redis", 3600)
    at = found["timestamps"].index(minute + 60)
    assert found["memory"][at] > 0 and found["ops"][at] >= 0 and found["evictions"][at] == 0
    assert found["ops"][at - 1] is None and found["evictions"][at - 1] is None  # no sample before it
    assert found["servers"] == [get_adapter("redis").server_info(1)[0]["address"]]
