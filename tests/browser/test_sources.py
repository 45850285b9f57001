"""Invalidations by source over time in Chromium, on real Redis: one stacked bar per minute, a part
per source with its own colour, kept as the live poll brings a new source in."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.keys import normalize_key
from cache_dashboard.manager import stats, statstore
from cache_dashboard.testing import jobs_paused
from tests.conftest import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERVIEW = "/admin/cache_dashboard/cachedashboard/"
SOURCES = "Chart.getChart('cd-sources-chart')"


def test_the_sources_chart_stacks_each_source_and_follows_the_poll(
    page: Any, live_server: Any, login: Any, fast_poll: None, servers: Any, screenshot: Any
) -> None:
    require("redis", servers)
    adapter = get_adapter("redis")
    minute = int(time.time() // 60 * 60)
    hostile = "__proto__<script>"
    with jobs_paused():
        adapter.client().flushall()
        stats.forget()
        stats.get_recorder("redis")._shared = (0.0, {"namespaces": {}, "sources": {}})
        store = statstore.store_for(adapter)
        for at, deltas, names in (
            (minute - 600, {"c|ruc|invalidations": 5, "s|admin": 3}, {"s|admin"}),
            (minute - 300, {"c|ruc|invalidations": 6, "s|rule:shop.Producto": 6}, {"s|rule:shop.Producto"}),
            (minute - 120, {"c|ruc|invalidations": 2, f"s|{normalize_key(hostile)}": 2}, {f"s|{hostile}"}),
        ):
            store.write(adapter, [(60, at, deltas, {})], at // 3600 * 3600, {"n|ruc", *names})
        login(page)
        page.goto(f"{live_server.url}{OVERVIEW}?alias=redis")
        page.wait_for_selector("#cd-root[data-cd-ready=true]")
        box = page.locator("[data-cd-sources-chart]")
        assert box.is_visible() and box.bounding_box()["height"] > 100
        labels = page.evaluate(f"{SOURCES}.data.datasets.map((d) => d.label)")
        assert labels == ["Rule shop.Producto", "The dashboard", hostile, "Code (no source given)"]
        assert page.evaluate(f"{SOURCES}.data.labels.length") == 60
        assert page.evaluate(f"{SOURCES}.options.scales.x.stacked && {SOURCES}.options.scales.y.stacked")
        data = page.evaluate(f"{SOURCES}.data.datasets.map((d) => d.data)")
        assert [sum(series) for series in data] == [6, 3, 2, 2]
        # Each in its own minute (wherever the clock's minute is by now): 10, 5 and 2 minutes ago.
        at = [next(i for i, n in enumerate(series) if n) for series in data]
        assert at[1] == at[3] and at[0] - at[1] == 5 and at[2] - at[0] == 3
        colours = page.evaluate(f"{SOURCES}.data.datasets.map((d) => d.backgroundColor)")
        assert len(set(colours)) == 4
        assert page.evaluate(f"{SOURCES}.options.scales.y.title.text") == "Keys invalidated per minute"
        screenshot(page, "sources-hour")

        # A new source arrives with the poll; the others keep their colours.
        cm = CacheManager("redis")
        cm.set("k", 1, namespace="ruc")
        cm.invalidate("k", namespace="ruc", source="command")
        cm.flush_stats()
        page.wait_for_function(f"() => {SOURCES}.data.datasets.some((d) => d.label === 'Management commands')")
        after = {d["label"]: d["backgroundColor"]
                 for d in page.evaluate(f"{SOURCES}.data.datasets.map((d) => ({{label: d.label, "
                                        f"backgroundColor: d.backgroundColor}}))")}
        assert [after[label] for label in labels] == colours
        assert page.locator("tr[data-cd-source='command']").is_visible()  # the table, from the same poll
        assert not page.locator("script:has-text('__proto__<script>')").count()
