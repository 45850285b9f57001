"""Invalidation tests run on LocMem and on a real Redis server (from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cache_dashboard import testing
from tests.conftest import Servers, require


@pytest.fixture(params=["locmem", "redis"])
def alias(request: pytest.FixtureRequest, servers: Servers) -> str:
    require(request.param, servers)
    return request.param


def join_purges() -> None:
    """Wait for background namespace purges (Redis: SCAN + UNLINK after invalidate_namespace).

    A purge deletes by key prefix, so one still running could delete entries a test writes
    after the invalidation that started it.
    """
    assert testing.wait_for_purges(60), "background purges did not finish"


@pytest.fixture(autouse=True)
def _no_purge_in_flight() -> Iterator[None]:
    join_purges()
    yield
    join_purges()
