"""Invalidations by source (the dashboard, the commands, each rule, code) over the chosen span and
bucket by bucket, the rules table with the keys each rule invalidated, and server rows labelled
as servers."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.urls import reverse

from cache_dashboard import CacheManager, overview
from cache_dashboard.adapters import get_adapter
from cache_dashboard.invalidation import invalidate_on, unregister
from cache_dashboard.keys import normalize_key
from cache_dashboard.manager import stats, statstore
from cache_dashboard.testing import jobs_paused
from tests.conftest import require
from tests.invalidation.testapp.models import Article

pytestmark = pytest.mark.django_db


def test_invalidations_by_source_and_per_rule(client_for: Any, django_capture_on_commit_callbacks: Any) -> None:
    cm = CacheManager("default")
    rule = invalidate_on(Article, keys=["articles_index"], name="sources-rule")
    try:
        for n in range(3):
            cm.set(f"k{n}", n, namespace="ruc")
        client = client_for("superuser")
        client.post(reverse("admin:cache_dashboard_invalidate_key"), {"alias": "default", "key": "k0",
                                                                      "namespace": "ruc"})
        call_command("cache_invalidate", "--alias", "default", "--key", "k1", "--namespace", "ruc",
                     "--yes")
        cm.invalidate(["k2"], namespace="ruc")  # code, no source
        cm.set("articles_index", [1])
        with django_capture_on_commit_callbacks(execute=True):
            Article.objects.create(title="x")
        data = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": "default"}).json()
        by_kind = {(row["kind"], row["source"]): row["count"] for row in data["invalidation_sources"]}
        assert by_kind == {("admin", "admin"): 1, ("command", "command"): 1, ("rule", rule.source): 1,
                           ("code", ""): 1}
        [row] = [r for r in data["rules"] if r["name"] == "sources-rule"]
        assert row["invalidated"] == 1 and row["model"].endswith("Article")
        html = data["html"]["sources"]
        assert "The dashboard" in html and "Management commands" in html and "Code (no source given)" in html
        assert re.search(r'data-cd-col="invalidated">1<', data["html"]["rules"])
    finally:
        unregister(rule)


def test_server_rows_name_the_server_and_this_db(client_for: Any, servers: Any) -> None:
    require("django_redis", servers)
    CacheManager("django_redis").set("k", 1)
    data = client_for("view").get(reverse("admin:cache_dashboard_overview_json"), {"alias": "django_redis"}).json()
    [server] = data["servers"]
    assert server["address"] == f"127.0.0.1:{servers.redis.port}"  # server-wide INFO: no "/1"
    assert server["db"] == "1" and server["db_keys"] >= 1
    assert server["ops_per_sec"] is not None and server["uptime"] is not None
    html = data["html"]["servers"]
    assert "(DB 1)" in html and "/1" not in html.split("</th>")[0]


# -- invalidations by source over time ------------------------------------------------------------
def _fresh_stats(alias: str) -> None:
    """An alias whose statistics hold nothing yet, and whose names are read again at once."""
    caches[alias].clear()
    statstore.forget()
    stats.forget()
    stats.get_recorder(alias)._shared = (0.0, {"namespaces": {}, "sources": {}})


def _plant_minute(alias: str, minute: int, deltas: dict[str, int], names: set[str]) -> None:
    adapter = get_adapter(alias)
    statstore.store_for(adapter).write(adapter, [(60, minute, deltas, {})], minute // 3600 * 3600, names)


@pytest.mark.parametrize("alias_name", ["locmem", "redis", "memcached"])
def test_invalidations_by_source_are_drawn_minute_by_minute(client_for: Any, servers: Any, alias_name: str) -> None:
    require(alias_name, servers)
    with jobs_paused():
        _fresh_stats(alias_name)
        minute = int(time.time() // 60 * 60)
        rule = "rule:shop.Producto"
        _plant_minute(alias_name, minute - 300, {"c|ruc|invalidations": 3, "s|admin": 2},
                      {"n|ruc", "s|admin"})  # and one by code, without a source
        _plant_minute(alias_name, minute - 120, {"c|ruc|invalidations": 4, f"s|{normalize_key(rule)}": 4},
                      {"n|ruc", f"s|{rule}"})
        cm = CacheManager(alias_name)
        cm.set("k", 1, namespace="ruc")
        cm.invalidate("k", namespace="ruc", source="command")
        cm.flush_stats()
        data = client_for("view").get(reverse("admin:cache_dashboard_overview_json"), {"alias": alias_name}).json()
    stamps = data["stats"]["series"]["timestamps"]
    chart = data["stats"]["source_chart"]
    assert chart["shown"]
    lines = {(line["kind"], line["source"]): line["data"] for line in chart["lines"]}
    assert set(lines) == {("admin", "admin"), ("rule", rule), ("command", "command"), ("code", "")}
    assert all(len(series) == len(stamps) == 60 for series in lines.values())
    five, two = stamps.index(minute - 300), stamps.index(minute - 120)
    assert lines[("admin", "admin")][five] == 2 and sum(lines[("admin", "admin")]) == 2
    assert lines[("rule", rule)][two] == 4 and sum(lines[("rule", rule)]) == 4
    assert lines[("code", "")][five] == 1 and sum(lines[("code", "")]) == 1  # 3 invalidated, 2 by the admin
    assert sum(lines[("command", "command")]) == 1 and lines[("command", "command")][-1] == 1  # this minute
    # The busiest first, code last; the table has the same counts over the span.
    assert [line["kind"] for line in chart["lines"]] == ["rule", "admin", "command", "code"]
    assert {row["source"]: row["count"] for row in data["invalidation_sources"]} == {rule: 4, "admin": 2,
                                                                                      "command": 1, "": 1}


def test_past_the_busiest_sources_the_rest_is_one_series(client_for: Any, monkeypatch: Any) -> None:
    with jobs_paused():
        _fresh_stats("locmem")
        minute = int(time.time() // 60 * 60) - 60
        names = [f"job-{i}" for i in range(overview.SOURCE_LINES + 3)]
        _plant_minute("locmem", minute, {"c||invalidations": sum(range(1, len(names) + 1)),
                                         **{f"s|{name}": i + 1 for i, name in enumerate(names)}},
                      {f"s|{name}" for name in names})
        url = reverse("admin:cache_dashboard_overview_json")
        lines = client_for("view").get(url, {"alias": "locmem"}).json()["stats"]["source_chart"]["lines"]
        assert [line["source"] for line in lines] == [*reversed(names[3:]), ""]  # the six busiest, then the rest
        assert lines[-1]["kind"] == "other" and sum(lines[-1]["data"]) == 1 + 2 + 3
        # Sources past those read bucket by bucket are in the remainder too, never lost.
        monkeypatch.setattr(stats, "SOURCE_SERIES_MAX", 4)
        stats.get_recorder("locmem")._shared = (0.0, {"namespaces": {}, "sources": {}})
        data = client_for("view").get(url, {"alias": "locmem"}).json()
    lines = data["stats"]["source_chart"]["lines"]
    assert sum(sum(line["data"]) for line in lines) == sum(range(1, len(names) + 1))
    assert lines[-1]["kind"] == "other" and all(line["source"] for line in lines[:-1])  # no "no source" series
    assert len(data["invalidation_sources"]) == len(names)  # the table still has every source


def test_without_invalidations_or_statistics_there_is_no_sources_chart(client_for: Any, servers: Any) -> None:
    with jobs_paused():
        _fresh_stats("locmem")
        client = client_for("view")
        data = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": "locmem"}).json()
        assert data["stats"]["source_chart"] == {"shown": False, "lines": []}
        page = client.get(reverse("admin:cache_dashboard_overview"), {"alias": "locmem"}).content.decode()
        assert "data-cd-sources-chart hidden" in page and "Nothing was invalidated in this span." in page
