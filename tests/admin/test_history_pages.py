"""The overview's history: "Last 7 days" (one point per hour, older hours from the database), the
charts after the cache server lost everything, and the servers' chart from the once-a-minute
samples, in the page and in its JSON poll, on real Redis and memcached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from cache_dashboard.adapters import get_adapter
from cache_dashboard.manager import sampler, stats, statstore
from cache_dashboard.models import StatsHour
from cache_dashboard.testing import jobs_paused
from tests.conftest import require
from tests.servers import free_port

pytestmark = pytest.mark.django_db
WEEK = 7 * 86400
OVERVIEW, JSON = "admin:cache_dashboard_overview", "admin:cache_dashboard_overview_json"


@pytest.fixture(autouse=True)
def _no_background_jobs() -> Iterator[None]:
    with jobs_paused():
        StatsHour.objects.all().delete()
        yield


def poll(client: Any, **query: Any) -> dict[str, Any]:
    response = client.get(reverse(JSON), query)
    assert response.status_code == 200
    return dict(response.json())


def test_the_week_is_a_window_of_168_hours(client_for: Any) -> None:
    client = client_for("view")
    page = client.get(reverse(OVERVIEW)).content.decode()
    assert 'data-cd-window="604800"' in page and "Last 7 d" in page
    data = poll(client, window=WEEK)
    assert data["window"] == WEEK and data["stats"]["resolution"] == 3600
    assert len(data["stats"]["series"]["timestamps"]) == 168 and len(data["stats"]["series"]["hits"]) == 168
    assert "One point per hour" in data["html"]["chart_note"]
    assert "statistics history in the database" in data["html"]["chart_note"]


def test_after_a_flushall_the_day_and_the_week_still_show_the_rolled_up_hours(client_for: Any, servers: Any) -> None:
    require("redis", servers)
    adapter = get_adapter("redis")
    store = statstore.store_for(adapter)
    hour = int(time.time() // 3600 * 3600) - 2 * 3600
    store.write(adapter, [(3600, hour, {"c|ruc|hits": 30, "c|ruc|misses": 10}, {})], hour, {"n|ruc"})
    assert stats.roll_up("redis") == [hour]
    adapter.client().flushall()  # what a restart of the server leaves
    stats.forget()  # and a process that starts after it
    client = client_for("view")
    for window in (86400, WEEK):
        data = poll(client, alias="redis", window=window)
        series = data["stats"]["series"]
        assert series["hits"][series["timestamps"].index(hour)] == 30, window
        assert series["misses"][series["timestamps"].index(hour)] == 10
        assert data["stats"]["totals"]["hits"] == 30 and data["stats"]["totals"]["hit_ratio"] == 0.75
        rows = {row["name"]: row for row in data["namespaces"]}
        assert rows["ruc"]["hits"] == 30 and rows["ruc"]["has_data"]  # the database remembers it
    page = client.get(reverse(OVERVIEW), {"alias": "redis", "window": WEEK}).content.decode()
    assert 'data-cd-ns="ruc"' in page


@pytest.mark.django_db(transaction=True)
def test_a_database_without_the_table_still_serves_every_page(client_for: Any) -> None:
    client = client_for("view")
    with connection.schema_editor() as editor:
        editor.delete_model(StatsHour)
    try:
        data = poll(client, alias="redis", window=WEEK)
        assert data["stats"]["available"] and data["stats"]["history"] == "unavailable"
        assert "statistics history could not be read" in data["html"]["chart_note"]
        for window in (3600, 86400, WEEK):
            assert client.get(reverse(OVERVIEW), {"alias": "redis", "window": window}).status_code == 200
        assert "statistics history could not be read" not in poll(client, alias="redis")["html"]["chart_note"]
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(StatsHour)


# -- the servers' chart ---------------------------------------------------------------------------


def two_samples(alias: str) -> tuple[int, int]:
    """Sample the servers for two past minutes (the background sampler takes the current one)."""
    minute = int(time.time() // 60 * 60)
    first, second = minute - 180, minute - 120
    assert sampler.sample(alias, first + 5)
    assert sampler.sample(alias, second + 5)
    return first, second


@pytest.mark.parametrize("alias_name", ["redis", "memcached", "memcached_pool"])
def test_the_servers_chart_has_memory_and_operations(client_for: Any, servers: Any, alias_name: str) -> None:
    require(alias_name, servers)
    first, second = two_samples(alias_name)
    client = client_for("view")
    page = client.get(reverse(OVERVIEW), {"alias": alias_name}).content.decode()
    assert 'id="cd-server-chart"' in page and "data-cd-server-chart hidden" not in page
    data = poll(client, alias=alias_name)
    history = data["server_history"]
    assert history["available"] and history["resolution"] == 60 and len(history["timestamps"]) == 60
    assert len(history["servers"]) == (2 if alias_name == "memcached_pool" else 1)
    at = history["timestamps"].index(second)
    assert history["memory"][history["timestamps"].index(first)] > 0 and history["memory"][at] > 0
    assert history["ops"][at] is not None and history["ops"][at] >= 0  # counters of two samples a minute apart
    assert history["evictions"][at] == 0 and history["totals"]["evictions"] == 0
    assert history["ops"][history["timestamps"].index(first)] is None  # no sample the minute before
    note = data["html"]["server_note"]
    assert "(1 server" in note or "(2 servers added up)" in note
    assert "sampled once a minute" in note and "Over the span: 0 evictions" in note
    # The day: one point per hour, the hour's latest counters and peak memory.
    day = poll(client, alias=alias_name, window=86400)["server_history"]
    assert day["resolution"] == 3600 and len(day["timestamps"]) == 24
    assert day["memory"][day["timestamps"].index(second // 3600 * 3600)] > 0


def test_the_servers_chart_waits_for_samples_and_is_absent_without_servers(client_for: Any) -> None:
    client = client_for("view")
    # A sample the sampler took between the cache's reset and this file's pause of the jobs.
    from django.core.cache import caches

    caches["redis"]._cache.get_client(write=True).flushall()  # our throwaway test server only
    data = poll(client, alias="redis")
    page = client.get(reverse(OVERVIEW), {"alias": "redis"}).content.decode()
    assert data["server_history"]["shown"] and not data["server_history"]["available"]
    assert "No server samples in this span yet" in data["html"]["server_note"]
    assert "data-cd-server-chart hidden" in page
    for alias in ("locmem", "default"):  # LocMem has no server to ask
        assert not poll(client, alias=alias)["server_history"]["shown"]
        assert 'id="cd-server-chart"' not in client.get(reverse(OVERVIEW), {"alias": alias}).content.decode()


def test_a_dead_server_gives_an_empty_chart_not_an_error(client_for: Any, extra_alias: Any) -> None:
    extra_alias(dead={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                      "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}})
    client = client_for("view")
    for window in (3600, 86400, WEEK):
        data = poll(client, alias="dead", window=window)
        assert data["server_history"]["shown"] and not data["server_history"]["available"]
        assert client.get(reverse(OVERVIEW), {"alias": "dead", "window": window}).status_code == 200
