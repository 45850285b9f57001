"""``keys.glob_matcher`` agrees with Redis's own MATCH (``stringmatchlen``) on any pattern."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cache_dashboard.keys import glob_matcher
from tests.conftest import require

ALPHABET = "ab-^]\\[*?}:"


@pytest.fixture(scope="module")
def client(servers):  # type: ignore[no-untyped-def]
    require("redis", servers)
    import redis

    return redis.Redis(port=servers.redis.port, db=9)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(pattern="[:-]:", key=":")  # "-]" ends a range, not the class (found by hypothesis)
@given(pattern=st.text(ALPHABET, min_size=1, max_size=6), key=st.text("ab-^]\\[}:", min_size=1, max_size=5))
def test_matches_like_redis(client, pattern: str, key: str) -> None:  # type: ignore[no-untyped-def]
    client.set(key, 1)
    try:
        redis_says = key.encode() in set(client.scan_iter(match=pattern, count=1000))
    finally:
        client.delete(key)
    assert glob_matcher(pattern)(key) == redis_says, (pattern, key)
