"""Fixtures of the topology suites: one Sentinel group and one Cluster per session, started on
first use (only these suites pay for them) and stopped by PID at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI
from tests.servers import have
from tests.topologies import Cluster, SentinelGroup, start_cluster, start_sentinel_group


def _need_redis() -> None:
    if not have("redis-server"):
        if IN_CI:
            pytest.fail("CI=true and redis-server missing")
        pytest.skip("redis-server is not installed (CI fails instead)")


@pytest.fixture(scope="session")
def sentinel_group() -> Iterator[SentinelGroup]:
    _need_redis()
    group = start_sentinel_group()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    _need_redis()
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
