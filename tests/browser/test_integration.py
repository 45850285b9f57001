"""A newcomer clicking through the dashboard: console errors, admin look, phone width, language."""

from __future__ import annotations

from typing import Any

import pytest

from cache_dashboard.models import CacheAuditEntry, TTLOverride
from tests.browser.test_dashboard import XSS_KEY, seeded  # noqa: F401  (seeded is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD = "/admin/cache_dashboard/cachedashboard/"


def record_console_errors(page: Any) -> list[str]:
    """Console errors of the page (a failed resource load is one), the favicon aside."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and "favicon" not in (message.location or {}).get("url", ""):
            errors.append(f"{message.text} ({(message.location or {}).get('url', '')})")

    page.on("console", on_console)
    return errors


def test_bad_input_shows_form_errors_without_console_errors(
    page: Any, live_server: Any, login: Any, seeded: Any  # noqa: F811
) -> None:
    # Form errors used to come back as HTTP 400, which Chromium logs as a failed resource load.
    errors = record_console_errors(page)
    login(page)
    page.goto(f"{live_server.url}{DASHBOARD}invalidate/")
    page.get_by_role("button", name="Invalidate key").click()
    page.wait_for_load_state()
    assert "This field is required." in page.locator("#id_key ~ .errorlist, .cd-field.errors").first.inner_text()

    page.goto(f"{live_server.url}{DASHBOARD}ttl/")
    row = page.locator('tr[data-cd-ttl="ruc"]')
    row.locator("input[name=seconds]").fill("-5")
    row.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "greater than or equal to 1" in page.locator('tr[data-cd-ttl="ruc"] .errorlist').inner_text()
    assert not TTLOverride.objects.exists()
    assert not CacheAuditEntry.objects.exists()
    assert errors == []


def test_removing_the_xss_entry_from_its_row(page: Any, live_server: Any, login: Any, seeded: Any) -> None:  # noqa: F811
    # Its key has spaces: the row's "Remove" button used to answer "spaces are not allowed".
    login(page, "operador", superuser=False, perms=("view_dashboard", "invalidate_key"))
    page.goto(f"{live_server.url}{DASHBOARD}invalid/?q=onerror")
    row = page.locator("[data-cd-invalid-table] tbody tr").filter(has_text=XSS_KEY)
    assert row.count() == 1
    with page.expect_navigation():
        row.get_by_role("button", name="Remove").click()
    message = page.locator("ul.messagelist li.success")
    assert message.inner_text() == f"Invalid entry “{XSS_KEY}” removed from namespace “ruc”."
    assert page.locator("img[src=x]").count() == 0
    assert not seeded.is_invalid(XSS_KEY, namespace="ruc")
    assert CacheAuditEntry.objects.get().key == XSS_KEY


def test_dashboard_pages_look_like_the_admin(page: Any, live_server: Any, login: Any, seeded: Any) -> None:  # noqa: F811
    login(page)
    page.goto(f"{live_server.url}/admin/cache_dashboard/cacheauditentry/")
    admin_crumbs = page.evaluate("getComputedStyle(document.querySelector('.breadcrumbs')).backgroundColor")
    assert admin_crumbs not in ("rgba(0, 0, 0, 0)", "transparent")
    for path in ("", "invalid/", "ttl/", "invalidate/", "clear/"):
        page.goto(f"{live_server.url}{DASHBOARD}{path}")
        crumbs = page.evaluate("getComputedStyle(document.querySelector('.breadcrumbs')).backgroundColor")
        assert crumbs == admin_crumbs, path  # the admin's breadcrumbs bar, not a bare line of links
    # Buttons have room to be clicked; button-links are not underlined like text links.
    clear = page.get_by_role("button", name="Clear everything", exact=True)
    assert clear.bounding_box()["height"] >= 26
    back = page.get_by_role("link", name="No, take me back")
    assert page.evaluate("(el) => getComputedStyle(el).textDecorationLine", back.element_handle()) == "none"


def test_phone_can_edit_a_ttl_without_scrolling_sideways(browser: Any, live_server: Any, login: Any) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        login(phone)
        phone.goto(f"{live_server.url}{DASHBOARD}ttl/")
        row = phone.locator('tr[data-cd-ttl="ruc"]')
        save = row.get_by_role("button", name="Save")
        box = save.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375, box
        row.locator("input[name=seconds]").fill("120")
        with phone.expect_navigation():
            save.tap()
        assert "2 min" in phone.locator("ul.messagelist li.success").inner_text()
    finally:
        context.close()


def test_live_numbers_keep_the_page_language(browser: Any, live_server: Any, login: Any, seeded: Any) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-ES")
    page = context.new_page()
    try:
        login(page)
        assert page.evaluate("document.documentElement.lang") == "es"
        page.locator("#content-main").get_by_role("link", name="Panel de caché", exact=True).click()
        page.wait_for_selector("#cd-root[data-cd-ready=true]")
        ratio = page.locator('[data-cd-bind="stats.totals.hit_ratio"]')
        assert ratio.inner_text() == "75,0 %"  # 3 hits, 1 miss, rendered by Django in Spanish
        page.wait_for_selector("[data-cd-overview][data-cd-polls]")
        assert ratio.inner_text() == "75,0 %"  # ... and still after the live poll rewrote it
        assert page.locator('tr[data-cd-ns="ruc"] [data-cd-col="hit_ratio"]').inner_text() == "75,0 %"
        assert "Actualizado" in page.locator("[data-cd-live]").inner_text()
    finally:
        context.close()
