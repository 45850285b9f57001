"""TTL overrides: one place to edit them (the TTL page; the model admin is read-only), one name
check, the optimistic check against stale pages, the audit in the change's transaction (an exact
old → new chain under concurrent saves, no "database is locked" 500) and the audit's display."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cache_dashboard import services
from cache_dashboard.models import CacheAuditEntry, TTLOverride

pytestmark = pytest.mark.django_db

TTL_PAGE = "admin:cache_dashboard_ttl"
TTL_RESET = "admin:cache_dashboard_ttl_reset"
CHANGELIST = "admin:cache_dashboard_ttloverride_changelist"


def row(response: Any, name: str) -> dict[str, Any]:
    """The TTL page's row of ``name``."""
    found = [r for r in response.context["rows"] if r["name"] == name]
    assert found, [r["name"] for r in response.context["rows"]]
    return found[0]


def loaded_version(client: Client, name: str = "ruc") -> str:
    """The version the TTL page's form of ``name`` carries, read from its HTML as a browser would."""
    page = client.get(reverse(TTL_PAGE)).content.decode()
    match = re.search(rf'<tr data-cd-ttl="{re.escape(name)}">.*?name="version" value="([^"]*)"', page, re.S)
    assert match, name
    return html.unescape(match.group(1))


def save(client: Client, seconds: int | str, version: str, name: str = "ruc") -> Any:
    return client.post(reverse(TTL_PAGE), {"alias": "default", "name": name, "seconds": str(seconds),
                                           "version": version})


def chain() -> list[tuple[str, int | None, int | None]]:
    return list(CacheAuditEntry.objects.order_by("pk").values_list("action", "previous_seconds", "seconds"))


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- one place to edit: the model admin is read-only and points to the TTL page ---------------------


# -- one name check ------------------------------------------------------------------------------


# -- the optimistic check --------------------------------------------------------------------------


# -- the audit: same transaction, structured old → new, shown as such -------------------------------


def test_the_audit_keeps_old_and_new_and_the_admin_shows_them(client_for: Any, make_user: Any) -> None:
    staff = make_user("ttl")
    services.set_ttl("ruc", 600, user=staff)
    services.set_ttl("ruc", 42, user=staff)
    services.reset_ttl("ruc", user=staff)
    assert chain() == [("ttl_change", None, 600), ("ttl_change", 600, 42), ("ttl_reset", 42, None)]
    with translation.override("en"):  # whatever an earlier request left active in this thread
        assert [e.change_display for e in CacheAuditEntry.objects.order_by("pk")] == [
            "— → 10 min", "10 min → 42 s", "42 s → default"]
        assert CacheAuditEntry(action="invalidate_key", key="k", count=1).change_display == ""
    assert CacheAuditEntry.objects.filter(count__isnull=False).count() == 0  # count is keys affected only
    client = client_for("superuser")
    page = client.get(reverse("admin:cache_dashboard_cacheauditentry_changelist")).content.decode()
    assert "TTL change" in page
    for shown in ("— → 10 min", "10 min → 42 s", "42 s → default"):
        assert shown in page
    entry = CacheAuditEntry.objects.order_by("pk").last()
    assert entry is not None
    detail = client.get(reverse("admin:cache_dashboard_cacheauditentry_change", args=[entry.pk]))
    assert "42 s → default" in detail.content.decode()


def test_change_display_in_spanish() -> None:
    with translation.override("es"):
        entry = CacheAuditEntry(action="ttl_reset", previous_seconds=600)
        assert entry.change_display == "10 min → por defecto"


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_previous_ttl_of_existing_audit_rows() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("cache_dashboard", "0002_cacheauditentry_seconds")])
    try:
        old = executor.loader.project_state([("cache_dashboard", "0002_cacheauditentry_seconds")]).apps
        entry = old.get_model("cache_dashboard", "CacheAuditEntry")
        rows = [
            entry.objects.create(action="ttl_change", namespace="ruc", seconds=600, detail="- -> 600"),
            entry.objects.create(action="ttl_change", namespace="ruc", seconds=300, detail="600 -> 300"),
            entry.objects.create(action="ttl_reset", namespace="ruc", detail="300 -> default"),
            entry.objects.create(action="invalidate_key", key="k", count=1, detail="9 -> 8"),
        ]
        old.get_model("cache_dashboard", "TTLOverride").objects.create(name="ruc", seconds=300)
        executor = MigrationExecutor(connection)
        executor.migrate([("cache_dashboard", "0003_ttl_versions_and_previous_seconds")])
        assert [CacheAuditEntry.objects.get(pk=r.pk).previous_seconds for r in rows] == [None, 600, 300, None]
        with translation.override("en"):  # whatever an earlier request left active in this thread
            assert [CacheAuditEntry.objects.get(pk=r.pk).change_display for r in rows[:3]] == [
                "— → 10 min", "10 min → 5 min", "5 min → default"]
        assert TTLOverride.objects.get().token.endswith(":1")
    finally:  # the later tests need the newest schema
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


# -- the TTL page's rows ---------------------------------------------------------------------------


# -- concurrent saves: an exact chain, no 500 -------------------------------------------------------


def run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads started together; each result, or the exception it raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:  # reported to the test, which fails on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def assert_exact_chain(name: str, first: int | None = None) -> None:
    """Each audit row of ``name`` replaced what the one before it set, from ``first``; the last is the row."""
    rows = list(CacheAuditEntry.objects.filter(namespace=name).order_by("pk"))
    previous = first
    for entry in rows:
        assert entry.previous_seconds == previous, [(e.previous_seconds, e.seconds) for e in rows]
        previous = entry.seconds
    assert TTLOverride.objects.get(name=name).seconds == previous


def hold_write_lock(seconds: float, held: threading.Event) -> threading.Thread:
    """Another connection writing the overrides' table for ``seconds`` (a real lock, as a second
    writer process would hold it)."""

    def hold() -> None:
        try:
            with transaction.atomic():
                TTLOverride.objects.create(name="estadisticas_ventas", seconds=30)
                held.set()
                time.sleep(seconds)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    return thread




