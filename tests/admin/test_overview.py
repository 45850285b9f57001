"""The overview page and its live poll: one renderer for both, the invalidation rules, honest checks."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.invalidation import invalidate_on, unregister
from tests.invalidation.testapp.models import Article


def _tbody(html: str, name: str) -> str:
    match = re.search(rf'data-cd-fragment="{name}">(.*?)</(?:tbody|ul)>', html, re.S)
    assert match, name
    return match.group(1)


def test_poll_carries_the_page_s_own_rows(client_for: Any, cm: CacheManager) -> None:
    cm.set("k", 1, 60, namespace="ruc")
    cm.get("k", namespace="ruc")
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    client = client_for("namespace")
    page = client.get(reverse("admin:cache_dashboard_overview")).content.decode()
    data = client.get(reverse("admin:cache_dashboard_overview_json")).json()
    assert set(data["html"]) == {"cards", "chart_note", "server_note", "checks", "warnings", "servers", "namespaces",
                                 "rules", "sources"}
    # The same template renders both: the rules and warnings fragments match the page exactly.
    assert data["html"]["rules"].strip() == _tbody(page, "rules").strip()
    assert data["html"]["warnings"].strip() == _tbody(page, "warnings").strip()
    rows = data["html"]["namespaces"]
    assert 'data-cd-ns="ruc"' in rows and "Invalidate namespace" in rows and 'name="csrfmiddlewaretoken"' in rows
    # The page shows the invalid count; the poll leaves that cell for the script to keep.
    assert re.search(r'data-cd-ns="ruc".*?data-cd-col="invalid">1<', _tbody(page, "namespaces"), re.S)
    assert re.search(r'data-cd-col="invalid" data-cd-keep>', rows)


def test_poll_rows_follow_the_viewer_s_permissions(client_for: Any, cm: CacheManager) -> None:
    cm.set("k", 1, 60, namespace="ruc")
    rows = client_for("view").get(reverse("admin:cache_dashboard_overview_json")).json()["html"]["namespaces"]
    assert 'data-cd-ns="ruc"' in rows and "Invalidate namespace" not in rows


@pytest.mark.django_db
def test_overview_lists_invalidation_rules_and_when_they_fired(
    client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule = invalidate_on(Article, keys=["articles_index"], namespaces=["article_lists"], name="overview-rule")
    try:
        client = client_for("view")
        url = reverse("admin:cache_dashboard_overview")
        rules = _tbody(client.get(url).content.decode(), "rules")
        row = re.search(r"<tr>\s*<th scope=\"row\"[^>]*><code>overview-rule</code>.*?</tr>", rules, re.S)
        assert row and "articles_index" in row.group(0) and "article_lists" in row.group(0)
        assert "never" in row.group(0)
        with django_capture_on_commit_callbacks(execute=True):
            Article.objects.create(title="a")
        rules = _tbody(client.get(url).content.decode(), "rules")
        row = re.search(r"<tr>\s*<th scope=\"row\"[^>]*><code>overview-rule</code>.*?</tr>", rules, re.S)
        assert row and "never" not in row.group(0) and "(save)" in row.group(0)
        data = client.get(reverse("admin:cache_dashboard_overview_json")).json()
        fired = next(r for r in data["rules"] if r["name"] == "overview-rule")
        assert fired["last_trigger"] == "save" and fired["last_fired"] is not None
    finally:
        unregister(rule)


def test_registry_check_exercises_what_the_registry_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    cm = CacheManager("default")
    assert [c["name"] for c in cm.get_health()["checks"]] == ["connection", "roundtrip", "registry"]
    assert cm.get_health()["status"] == "healthy"

    def no_counting(*args: object, **kwargs: object) -> int:
        raise ValueError("incr refused")

    monkeypatch.setattr(type(cm.adapter), "incr", no_counting)
    report = cm.get_health()
    assert [c["ok"] for c in report["checks"]] == [True, True, False]  # reachable, but cannot count
    assert "incr refused" in report["checks"][2]["error"]
    assert report["status"] == "unhealthy"


@pytest.mark.django_db(transaction=True)
def test_migration_moves_ttl_seconds_out_of_count() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("cache_dashboard", "0001_initial")])
    old = executor.loader.project_state([("cache_dashboard", "0001_initial")]).apps
    entry = old.get_model("cache_dashboard", "CacheAuditEntry")
    ttl_row = entry.objects.create(action="ttl_change", namespace="ruc", count=300, detail="- -> 300")
    key_row = entry.objects.create(action="invalidate_key", key="k", count=1)
    executor = MigrationExecutor(connection)
    executor.migrate([("cache_dashboard", "0002_cacheauditentry_seconds")])
    new = executor.loader.project_state([("cache_dashboard", "0002_cacheauditentry_seconds")]).apps
    entry = new.get_model("cache_dashboard", "CacheAuditEntry")
    try:
        assert entry.objects.values_list("count", "seconds").get(pk=ttl_row.pk) == (None, 300)
        assert entry.objects.values_list("count", "seconds").get(pk=key_row.pk) == (1, None)
    finally:  # the later tests need the newest schema
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_invalid_page_pages_by_kept_counts_and_says_what_the_cap_dropped(
    client_for: Any, cm: CacheManager, settings: Any
) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "REGISTRY_MAX_ENTRIES": 40}
    for i in range(60):
        cm.mark_invalid(f"2099999{i:04d}", ("ERROR_API", "NO_EXISTE_SUNAT")[i % 2], namespace="ruc")
    cm.mark_invalid("777", "FORMATO_INVALIDO", namespace="otro")
    client = client_for("view")
    url = reverse("admin:cache_dashboard_invalid")
    first = client.get(url, {"namespace": "ruc"})
    assert first.context["page"].paginator.count == 40
    assert [r["key"] for r in first.context["rows"]][:2] == ["20999990059", "20999990058"]
    second = client.get(url, {"namespace": "ruc", "page": 2})
    assert [r["key"] for r in second.context["rows"]] == [f"2099999{i:04d}" for i in range(34, 19, -1)]
    assert "20 entries were dropped" in second.content.decode()
    everything = client.get(url)  # all namespaces: merged newest first
    assert everything.context["page"].paginator.count == 41
    assert everything.context["rows"][0]["key"] == "777"
    found = client.get(url, {"q": "2099999005"})
    assert sorted(r["key"] for r in found.context["rows"]) == [f"2099999005{d}" for d in range(10)]
    assert "Filtered among the newest 5000 entries" in found.content.decode()
