"""The key browser in Chromium, on real Redis: filter, next page, a key in detail, a new TTL and
a delete, each leaving its audit row; with only the permission to browse, no button shows."""

from __future__ import annotations

from typing import Any

import pytest

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = "/admin/cache_dashboard/cachedashboard/keys/"


def test_filter_page_detail_ttl_and_delete(page: Any, live_server: Any, login: Any, servers: Any,
                                           screenshot: Any) -> None:
    require("redis", servers)
    client: Any = get_adapter("redis").client()  # type: ignore[attr-defined]
    client.flushdb()
    cm = CacheManager("redis")
    for i in range(150):
        cm.set(f"2010{i:07d}", {"razon_social": f"EMPRESA {i} <b>", "estado": "ACTIVO"}, 600, namespace="ruc")
    client.set("otherapp:1:x", b"\x80\x04foreign")
    login(page)
    page.goto(f"{live_server.url}{KEYS}?alias=redis")
    page.select_option("#id_namespace", "ruc")
    page.fill("#id_q", "2010000012*")
    page.click("[data-cd-keys-filter] button[type=submit]")
    rows = page.locator("[data-cd-keys-table] tbody tr[data-cd-key-row]")
    assert rows.count() == 10 and "2010000012" in rows.first.inner_text()
    assert page.locator("[data-cd-keys-table] tr[data-cd-key-row=foreign]").count() == 0

    # Every key of the namespace, a page at a time by cursor.
    page.goto(f"{live_server.url}{KEYS}?alias=redis&namespace=ruc")
    seen = set(page.locator("[data-cd-keys-table] tbody code").all_inner_texts())
    while page.locator("[data-cd-next]").count():
        page.click("[data-cd-next]")
        seen |= set(page.locator("[data-cd-keys-table] tbody code").all_inner_texts())
    assert len(seen) == 150
    screenshot(page, "keys")

    page.goto(f"{live_server.url}{KEYS}?alias=redis&namespace=ruc&q=20100000042")
    page.click("[data-cd-keys-table] tbody a")
    assert page.locator("[data-cd-state=fresh]").is_visible()
    assert "EMPRESA 42 <b>" in page.locator("[data-cd-decoded]").inner_text()  # escaped, shown as text
    page.fill("#id_seconds", "120")
    page.click("[data-cd-key-actions] button:has-text('Set TTL')")
    assert "now expires in" in page.locator(".messagelist").inner_text()
    assert "2 min" in page.locator("[data-cd-ttl]").inner_text()
    screenshot(page, "key-detail")
    page.click("[data-cd-key-actions] button:has-text('Delete this key')")
    assert "deleted" in page.locator(".messagelist").inner_text()
    assert cm.get("20100000042", namespace="ruc") is None
    actions = list(CacheAuditEntry.objects.order_by("pk").values_list("action", "seconds"))
    assert actions == [("key_ttl", 120), ("delete_key", None)]

    # A foreign key: bytes, no buttons.
    page.goto(f"{live_server.url}{KEYS}?alias=redis&scope=all&q=otherapp:*")
    page.click("[data-cd-keys-table] tbody a")
    assert page.locator("[data-cd-read-only]").is_visible() and page.locator("[data-cd-key-actions]").count() == 0


def test_browsing_alone_shows_no_buttons(page: Any, live_server: Any, login: Any, servers: Any) -> None:
    require("redis", servers)
    get_adapter("redis").client().flushdb()  # type: ignore[attr-defined]
    CacheManager("redis").set("k", 1, 600)
    login(page, "browser", superuser=False, perms=("view_dashboard", "view_keys"))
    page.goto(f"{live_server.url}{KEYS}?alias=redis")
    assert page.locator("button:has-text('Delete every matching key')").count() == 0
    page.click("[data-cd-keys-table] tbody a")
    assert page.locator("[data-cd-key-detail]").is_visible() and page.locator("[data-cd-key-actions]").count() == 0
