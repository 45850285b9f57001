"""The overview's history in Chromium, on real Redis: the servers' chart (memory and operations per
second from the once-a-minute samples) and "Last 7 days", whose hours rolled up into the
database still show after the server was flushed."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERVIEW = "/admin/cache_dashboard/cachedashboard/"
HITS, SERVER = "Chart.getChart('cd-hits-chart')", "Chart.getChart('cd-server-chart')"


def test_the_servers_chart_and_the_week_after_a_flush(
    page: Any, live_server: Any, login: Any, fast_poll: None, servers: Any, screenshot: Any
) -> None:
    from cache_dashboard.adapters import get_adapter
    from cache_dashboard.manager import sampler, stats, statstore
    from cache_dashboard.models import StatsHour
    from cache_dashboard.testing import jobs_paused

    if servers.redis is None:
        pytest.skip("redis-server is not installed")
    adapter = get_adapter("redis")
    now = time.time()
    hour = int(now // 3600 * 3600) - 5 * 3600
    minute = int(now // 60 * 60)
    with jobs_paused():
        StatsHour.objects.all().delete()
        statstore.store_for(adapter).write(adapter, [(3600, hour, {"c|ruc|hits": 42, "c|ruc|misses": 8}, {})],
                                           hour, {"n|ruc"})
        assert stats.roll_up("redis") == [hour]
        adapter.client().flushall()  # the server forgets every statistic
        assert sampler.sample("redis", minute - 175) and sampler.sample("redis", minute - 115)
        login(page)
        page.goto(f"{live_server.url}{OVERVIEW}?alias=redis")
        page.wait_for_selector("#cd-root[data-cd-ready=true]")
        assert page.locator("[data-cd-server-chart]").is_visible()
        assert page.evaluate(f"{SERVER}.data.datasets.map((d) => d.label)") == ["Memory", "Operations per second"]
        assert page.evaluate(f"{SERVER}.data.labels.length") == 60
        memory = page.evaluate(f"{SERVER}.data.datasets[0].data")
        ops = page.evaluate(f"{SERVER}.data.datasets[1].data")
        # The two samples, a minute apart (wherever the clock's minute is by now), and the
        # operations per second between them.
        sampled = [i for i, value in enumerate(memory) if value is not None]
        assert len(sampled) == 2 and sampled[1] == sampled[0] + 1 and all(memory[i] > 0 for i in sampled)
        assert ops[sampled[1]] is not None and ops[sampled[1]] >= 0 and ops[sampled[0]] is None
        ticks = page.evaluate(f"{SERVER}.scales.memory.ticks.map((t) => t.label)")
        assert any(label.endswith(("KB", "MB", "GB")) for label in ticks), ticks
        assert page.evaluate(f"{SERVER}.options.scales.x.title.text").startswith("Time (")
        assert "sampled once a minute" in page.locator("[data-cd-fragment=server_note]").inner_text()
        screenshot(page, "history-hour")

        # Last 7 days: 168 hourly points, named by day, the rolled-up hour among them.
        page.locator("[data-cd-window='604800']").click()
        page.wait_for_function(f"() => {HITS}.data.labels.length === 168 && {SERVER}.data.labels.length === 168")
        hits = page.evaluate(f"{HITS}.data.datasets[0].data")
        assert hits[-6] == 42 and sum(hits) == 42
        assert page.evaluate(f"{HITS}.data.datasets[1].data")[-6] == 8
        assert page.evaluate(f"{HITS}.options.scales.y.title.text") == "Requests per hour"
        first, last = page.evaluate(f"[{HITS}.data.labels[0], {HITS}.data.labels.at(-1)]")
        assert first != last and len(last.split()) >= 3, (first, last)  # weekday, day and time
        note = page.locator("[data-cd-fragment=chart_note]").inner_text()
        assert "statistics history in the database" in note
        assert "per hour" in page.locator("[data-cd-fragment=server_note]").inner_text()
        assert "window=604800" in page.url
        screenshot(page, "history-week")
