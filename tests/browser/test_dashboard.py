"""The dashboard in a real browser: navigation, charts, invalidation, permissions, XSS, live poll."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cache_dashboard.models import CacheAuditEntry
from tests.browser.conftest import publish_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS_KEY = "<img src=x onerror=alert(1)>"
REASONS = {"NO_EXISTE_SUNAT": 3, "FORMATO_INVALIDO": 2, "ERROR_API": 1}

# JS run in the page: does the canvas hold any non-transparent pixel?
CANVAS_HAS_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) { return false; }
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { return true; } }
  return false;
}"""


@pytest.fixture
def seeded(settings: Any) -> Any:
    """Keys, traffic and invalid entries in the default (LocMem) cache; fast polling."""
    from cache_dashboard import CacheManager

    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "POLL_INTERVAL": 1}
    cm = CacheManager("default")
    cm.set("20100047218", {"razon_social": "ACME"}, namespace="ruc")
    for _ in range(3):
        cm.get("20100047218", namespace="ruc")
    cm.get("missing", namespace="ruc")
    n = 0
    for reason, count in REASONS.items():
        for _ in range(count):
            n += 1
            cm.mark_invalid(f"2099999{n:04d}", reason, namespace="ruc", detail={"source": "seed"})
    cm.mark_invalid(XSS_KEY, "FORMATO_INVALIDO", namespace="ruc", detail=XSS_KEY)
    cm.flush_stats()
    return cm


def goto_tab(page: Any, name: str) -> None:
    """Click one of the dashboard's section tabs (not the same-named sidebar link) and wait for it."""
    with page.expect_navigation():
        page.locator("nav.cd-tabs").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()
    assert page.locator("nav.cd-tabs [aria-current=page]").inner_text() == name


def open_dashboard(page: Any) -> None:
    """From the admin index, click through to the dashboard like a user would."""
    page.locator("#content-main").get_by_role("link", name="Cache dashboard", exact=True).click()
    page.wait_for_selector("#cd-root[data-cd-ready=true]")


def test_superuser_flow(page: Any, live_server: Any, login: Any, seeded: Any, screenshot: Any) -> None:
    login(page)
    assert page.locator("#content-main").get_by_role("link", name="Cache", exact=True).count() == 1
    open_dashboard(page)
    assert page.locator("[data-cd-status]").inner_text() == "healthy"
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-hits-chart")
    assert page.locator('tr[data-cd-ns="ruc"] [data-cd-col="hits"]').inner_text() == "3"
    light = screenshot(page, "overview-light")
    publish_screenshot(light)

    # The admin's own theme toggle switches to dark; the chart repaints from the CSS variables.
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
        page.click("button.theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-hits-chart")
    screenshot(page, "overview-dark")
    page.click("button.theme-toggle")  # leave dark mode for the next pages

    # Invalid entries: doughnut drawn, XSS key shown as text.
    goto_tab(page, "Invalid entries")
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-breakdown-chart")
    assert page.get_by_text(XSS_KEY, exact=True).first.is_visible()
    assert page.locator("img[src=x]").count() == 0
    screenshot(page, "invalid-entries")

    # Invalidate one key with the button: message, audit row, key gone.
    goto_tab(page, "Invalidate")
    page.fill("#id_key", "20100047218")
    page.select_option("#id_namespace", "ruc")
    page.get_by_role("button", name="Invalidate key").click()
    message = page.locator("ul.messagelist li.success")
    assert "20100047218" in message.inner_text()
    assert "1 key removed" in message.inner_text()
    entry = CacheAuditEntry.objects.get()
    assert (entry.action, entry.key, entry.namespace, entry.count, entry.username) == (
        "invalidate_key",
        "20100047218",
        "ruc",
        1,
        "admin",
    )
    assert seeded.get("20100047218", namespace="ruc") is None
    screenshot(page, "invalidate")

    # Change a TTL from its row: the effective TTL is shown human readable.
    goto_tab(page, "TTL configuration")
    row = page.locator('tr[data-cd-ttl="ruc"]')
    row.locator("input[name=seconds]").fill("300")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    assert "5 min" in page.locator("ul.messagelist li.success").inner_text()
    assert page.locator('tr[data-cd-ttl="ruc"] td').nth(2).inner_text() == "5 min"
    assert seeded.ttl_for("ruc") == 300
    screenshot(page, "ttl")

    # The audit rows show in the section's audit log, the TTL change as old -> new.
    goto_tab(page, "Audit log")
    audit = page.locator("[data-cd-audit-table]")
    assert audit.get_by_text("20100047218").count() == 1
    assert audit.get_by_text("— → 5 min").count() == 1
    screenshot(page, "audit")

    # Invalidating a namespace from its row asks first, saying what becomes a miss.
    seeded.set("20100047218", {"razon_social": "ACME"}, namespace="ruc")
    goto_tab(page, "Overview")
    with page.expect_navigation():
        page.locator('tr[data-cd-ns="ruc"]').get_by_role("button", name="Invalidate namespace").click()
    assert "becomes a miss" in page.locator(".cd-confirm").inner_text()
    assert seeded.get("20100047218", namespace="ruc") == {"razon_social": "ACME"}
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, invalidate the namespace").click()
    assert "invalidated" in page.locator("ul.messagelist li.success").inner_text()
    assert seeded.get("20100047218", namespace="ruc") is None


def test_live_poll_updates_numbers(page: Any, live_server: Any, login: Any, seeded: Any) -> None:
    login(page)
    open_dashboard(page)
    hits = page.locator('[data-cd-bind="stats.totals.hits"]')
    assert hits.inner_text() == "3"
    for _ in range(4):  # traffic after the page rendered
        seeded.get("20100047218", namespace="ruc")
    seeded.flush_stats()
    # Waits for the poll, not for a fixed time: fails (timeout) if the numbers never update.
    page.wait_for_function(
        "() => document.querySelector('[data-cd-bind=\"stats.totals.hits\"]').textContent.trim() === '7'"
    )
    assert page.locator('tr[data-cd-ns="ruc"] [data-cd-col="hits"]').inner_text() == "7"
    # The rows came from the poll's server-rendered fragment; the invalid count, which the poll
    # does not carry, kept what the page showed (not a dash).
    invalid = sum(REASONS.values()) + 1
    assert page.locator('tr[data-cd-ns="ruc"] [data-cd-col="invalid"]').inner_text() == str(invalid)
    assert page.locator('tr[data-cd-ns="ruc"]').get_by_role("button", name="Invalidate namespace").count() == 1
    assert "Updated" in page.locator("[data-cd-live]").inner_text()
    # The chart switches to 24 h in place (one point per hour), and the URL follows.
    assert page.evaluate("Chart.getChart('cd-hits-chart').data.labels.length") == 60
    page.locator("[data-cd-window='86400']").click()
    page.wait_for_function("() => Chart.getChart('cd-hits-chart').data.labels.length === 24")
    assert "window=86400" in page.url
    assert page.locator("[data-cd-window='86400']").get_attribute("aria-current") == "true"


def test_failed_poll_shows_stale(page: Any, live_server: Any, login: Any, seeded: Any) -> None:
    login(page)
    open_dashboard(page)
    page.route("**/overview.json*", lambda route: route.fulfill(status=500, body="boom"))
    page.wait_for_selector("[data-cd-overview][data-cd-stale=true]")
    live = page.locator("[data-cd-live]")
    assert "Stale since" in live.inner_text()
    assert page.locator("[data-cd-status]").inner_text() == "healthy"  # last numbers kept


def test_viewer_sees_no_buttons(page: Any, live_server: Any, login: Any, seeded: Any) -> None:
    login(page, "viewer", superuser=False, perms=("view_dashboard",))
    open_dashboard(page)
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-hits-chart")
    assert page.locator('tr[data-cd-ns="ruc"]').count() == 1
    assert page.get_by_role("button", name="Invalidate namespace").count() == 0
    goto_tab(page, "Invalid entries")
    assert page.locator("[data-cd-invalid-table] code").get_by_text(XSS_KEY, exact=True).count() == 1
    assert page.locator("img[src=x]").count() == 0
    assert page.get_by_role("button", name="Remove").count() == 0
    goto_tab(page, "Invalidate")
    assert page.locator("form button").filter(has_text=re.compile("Invalidate|Clear|Count")).count() == 0
    goto_tab(page, "TTL configuration")
    assert page.get_by_role("button", name="Save").count() == 0


STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


def test_pages_work_under_a_strict_csp(page: Any, live_server: Any, login: Any, seeded: Any) -> None:
    def add_csp(route: Any) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    login(page)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.route("**/admin/cache_dashboard/**", add_csp)
    open_dashboard(page)
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-hits-chart")
    page.wait_for_selector("[data-cd-overview][data-cd-polls]")  # one live poll went through
    assert page.evaluate("window.__cspViolations") == []
    goto_tab(page, "Invalid entries")
    page.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-breakdown-chart")
    assert page.evaluate("window.__cspViolations") == []
    # The header really was applied: an inline script is refused on the same page.
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.__ran = 1";
                             document.body.appendChild(s); }""")
    assert page.evaluate("window.__ran") is None
    assert page.evaluate("window.__cspViolations.length") == 1


# Elements sticking out of the viewport (for the failure message).
WIDE_ELEMENTS = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(p).overflowX)) { return true; }
    }
    return false;
  };
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !clipped(el))
    .slice(0, 5)
    .map((el) => `${el.tagName}.${el.className}#${el.id} ${Math.round(el.getBoundingClientRect().right)}`);
}"""


def test_phone_width_has_no_horizontal_page_scroll(
    browser: Any, live_server: Any, login: Any, seeded: Any, screenshot: Any
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        login(phone)
        for path in ("", "invalid/", "ttl/", "invalidate/", "clear/"):
            phone.goto(f"{live_server.url}/admin/cache_dashboard/cachedashboard/{path}")
            phone.wait_for_load_state()
            if not path:
                phone.wait_for_function(CANVAS_HAS_PIXELS, arg="#cd-hits-chart")
                screenshot(phone, "overview-phone")
            overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, phone.evaluate(WIDE_ELEMENTS))
    finally:
        context.close()


SET_VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_polling_pauses_while_the_tab_is_hidden(page: Any, live_server: Any, login: Any, seeded: Any) -> None:
    login(page)
    open_dashboard(page)
    page.wait_for_selector("[data-cd-overview][data-cd-polls]")  # polling runs (interval 1 s)
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "overview.json" in request.url else None)
    page.evaluate(SET_VISIBILITY, "hidden")
    before = len(polls)  # a request already in flight may still be counted
    page.wait_for_timeout(3000)  # three poll intervals: a running poller would have fired
    assert len(polls) == before
    # Shown again: it polls at once (the request is issued from the visibilitychange handler).
    with page.expect_request(lambda request: "overview.json" in request.url):
        page.evaluate(SET_VISIBILITY, "visible")
