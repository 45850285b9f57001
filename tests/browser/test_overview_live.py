"""The overview's chart and live poll in Chromium: names from ``Object.prototype`` do not stop the
poll, the chart says what a point is, marks the unfinished one, and uses the server's time zone."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERVIEW = "/admin/cache_dashboard/cachedashboard/"


def test_prototype_names_do_not_stop_the_poll(page: Any, live_server: Any, login: Any, fast_poll: Any) -> None:
    from cache_dashboard import CacheManager

    cm = CacheManager("default")
    for name in ("__proto__", "constructor", "hasOwnProperty"):
        cm.set("k", 1, namespace=name)
        cm.get("k", namespace=name)
        cm.mark_invalid("20999999999", "ERROR_API", namespace=name)
    cm.flush_stats()
    login(page)
    page.goto(live_server.url + OVERVIEW)
    page.wait_for_selector("[data-cd-overview][data-cd-polls='2']")  # two polls applied, no page error
    for name in ("__proto__", "constructor", "hasOwnProperty"):
        row = page.locator(f'tr[data-cd-ns="{name}"]')
        assert row.locator('[data-cd-col="hits"]').inner_text() == "1"
        assert row.locator('[data-cd-col="invalid"]').inner_text() == "1"  # kept through the polls
    cm.get("k", namespace="__proto__")
    cm.flush_stats()
    page.wait_for_function("""() => document.querySelector('tr[data-cd-ns="__proto__"] [data-cd-col="hits"]')
                              .textContent.trim() === '2'""")


def test_chart_labels_units_partial_point_and_time_zone(
    browser: Any, live_server: Any, login: Any, fast_poll: Any, settings: Any
) -> None:
    from cache_dashboard import CacheManager

    settings.TIME_ZONE = "America/Lima"
    cm = CacheManager("default")
    cm.set("k", 1, namespace="ruc")
    cm.get("k", namespace="ruc")
    cm.flush_stats()
    # The browser is 14 hours away from the server: the page must still use the server's zone.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="Asia/Tokyo")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        login(page)
        page.goto(live_server.url + OVERVIEW)
        page.wait_for_selector("#cd-root[data-cd-ready=true]")
        note = page.locator("[data-cd-fragment=chart_note]").inner_text()
        assert "One point per minute" in note and "still counting" in note and "America/Lima" in note
        chart = "Chart.getChart('cd-hits-chart')"
        assert page.evaluate(f"{chart}.options.scales.y.title.text") == "Requests per minute"
        assert page.evaluate(f"{chart}.options.scales.x.title.text") == "Time (America/Lima)"
        assert page.evaluate(f"{chart}.data.datasets.map((d) => d.label)") == ["Hits", "Misses", "Hit ratio"]
        # The last segment (the current minute, still counting) is dashed, the one before is not.
        dash = page.evaluate(f"""() => {{ const c = {chart}; const n = c.data.labels.length;
            const seg = c.data.datasets[0].segment.borderDash;
            return [seg({{p1DataIndex: n - 1, chart: c}}), seg({{p1DataIndex: n - 2, chart: c}}) || null]; }}""")
        assert dash == [[4, 4], None]
        last = page.evaluate(f"{chart}.data.labels.at(-1)")
        now = datetime.datetime.now(zoneinfo.ZoneInfo("America/Lima"))
        expected = {now.strftime("%I:%M %p"), (now - datetime.timedelta(minutes=1)).strftime("%I:%M %p")}
        assert last in expected, (last, expected)
        assert "Totals over the last 1 h" in page.locator("[data-cd-span]").inner_text()
        # 24 h: one point per hour, and every caption follows.
        page.locator("[data-cd-window='86400']").click()
        page.wait_for_function(f"() => {chart}.options.scales.y.title.text === 'Requests per hour'")
        page.wait_for_function("""() => document.querySelector('[data-cd-fragment=chart_note]')
                                  .textContent.includes('One point per hour')""")
        assert "Totals over the last 24 h" in page.locator("[data-cd-span]").inner_text()
    finally:
        context.close()
    assert not errors, errors
