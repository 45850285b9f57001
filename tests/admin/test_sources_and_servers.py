"""Invalidations by source (the dashboard, the commands, each rule, code) over the chosen span,
the rules table with the keys each rule invalidated, and server rows labelled as servers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.invalidation import invalidate_on, unregister
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
        call_command("cache_dashboard_invalidate", "--alias", "default", "--key", "k1", "--namespace", "ruc",
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
