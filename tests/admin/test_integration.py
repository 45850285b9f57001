"""What a newcomer integrating the app into their own project runs into (each test is a fixed bug)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from cache_dashboard.models import CacheAuditEntry
from tests.admin.test_inputs import DEAD_REDIS, XSS

pytestmark = pytest.mark.django_db

PAGES = ["overview", "invalid", "ttl", "invalidate", "clear"]
BREADCRUMBS = re.compile(r'<(ol|div) class="breadcrumbs">')


def _breadcrumbs_tag(html: str) -> str:
    found = BREADCRUMBS.findall(html)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("page", PAGES)
def test_breadcrumbs_use_the_admins_own_markup(client_for: Any, page: str) -> None:
    # Django 6.1 styles only <ol class="breadcrumbs"> (a <div> rendered as a bare line of links); older
    # releases use a <div>. The dashboard must match whatever the admin's own pages render.
    client = client_for("superuser")
    admin_page = client.get(reverse("admin:cache_dashboard_cacheauditentry_changelist")).content.decode()
    html = client.get(reverse(f"admin:cache_dashboard_{page}")).content.decode()
    assert _breadcrumbs_tag(html) == _breadcrumbs_tag(admin_page)
    assert f'href="{reverse("admin:app_list", kwargs={"app_label": "cache_dashboard"})}"' in html


@override_settings(ROOT_URLCONF="tests.admin.custom_site")
def test_breadcrumbs_stay_on_a_custom_admin_site(client_for: Any) -> None:
    html = client_for("view").get(reverse("ops:cache_dashboard_overview")).content.decode()
    crumbs = html[html.index('class="breadcrumbs"') :].split("</nav>")[0]
    assert 'href="/ops/"' in crumbs and 'href="/ops/cache_dashboard/"' in crumbs


def test_an_entry_whose_key_has_spaces_can_be_removed(client_for: Any, cm: Any) -> None:
    # The invalid-entries table offers "Remove" for every entry; the key form used to refuse any key
    # with a space, so the <img src=x onerror=alert(1)> entry could never be removed.
    cm.mark_invalid(XSS, "FORMATO_INVALIDO", namespace="ruc")
    client = client_for("key")
    page = client.get(reverse("admin:cache_dashboard_invalid")).content.decode()
    assert 'name="key" value="&lt;img src=x onerror=alert(1)&gt;"' in page
    response = client.post(
        reverse("admin:cache_dashboard_remove_invalid"),
        {"alias": "default", "key": XSS, "namespace": "ruc"},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert message == f"Invalid entry “{XSS}” removed from namespace “ruc”."
    assert XSS not in response.content.decode()  # the message is escaped
    assert not cm.is_invalid(XSS, namespace="ruc")
    entry = CacheAuditEntry.objects.get()
    assert (entry.action, entry.key, entry.count) == ("remove_invalid", XSS, 1)


def test_a_key_with_spaces_can_be_invalidated_exactly_as_typed(client_for: Any, cm: Any) -> None:
    cm.set("user 42", "v", namespace="ruc")
    cm.set("user 42 ", "other", namespace="ruc")
    response = client_for("key").post(
        reverse("admin:cache_dashboard_invalidate_key"), {"alias": "default", "key": "user 42", "namespace": "ruc"}
    )
    assert response.status_code == 302
    assert cm.get("user 42", namespace="ruc") is None
    assert cm.get("user 42 ", namespace="ruc") == "other"  # not stripped into another key
    assert CacheAuditEntry.objects.get().key == "user 42"


def test_a_row_button_with_bad_data_explains_with_the_field_label(client_for: Any, cm: Any) -> None:
    cm.mark_invalid("k1", "ERROR_API", namespace="ruc")
    response = client_for("key").post(
        reverse("admin:cache_dashboard_remove_invalid"),
        {"alias": "default", "key": "k\t1", "namespace": "ruc"},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Nothing removed: Key: Control characters are not allowed")
    assert response.redirect_chain[-1][0] == reverse("admin:cache_dashboard_invalid") + "?alias=default"
    assert cm.is_invalid("k1", namespace="ruc")
    assert not CacheAuditEntry.objects.exists()


@pytest.fixture
def dead(settings: Any) -> Any:
    with override_settings(CACHES={**settings.CACHES, "dead": DEAD_REDIS}):
        yield "dead"


def test_the_health_card_says_why_the_cache_is_unhealthy(client_for: Any, dead: str) -> None:
    client = client_for("view")
    data = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": dead}).json()
    assert data["health"]["status"] == "unhealthy"
    assert "Connection" in data["health_error"] or "refused" in data["health_error"], data["health_error"]
    assert "s3cret-pw" not in data["health_error"]
    html = client.get(reverse("admin:cache_dashboard_overview"), {"alias": dead}).content.decode()
    card = re.search(r'<p class="cd-error[^"]*" data-cd-bind="health_error">([^<]*)</p>', html)
    assert card and card.group(1).strip(), "the health card shows no error"
    # Statistics that could not be read are not described as "this process only" or "shared",
    # the cards say "—" (unknown), not 0, and the chart says why it is empty.
    assert "Statistics could not be read from the cache:" in html
    assert "This process only" not in html and "Shared by every process" not in html
    for field in ("hits", "misses", "sets", "invalidations", "errors"):
        cell = re.search(rf'data-cd-bind="stats.totals.{field}" data-cd-format="int">([^<]*)<', html)
        assert cell and cell.group(1) == "—", field
    assert data["stats"]["totals"]["hits"] is None and data["stats"]["error"]
    assert "No chart: the statistics could not be read" in html
    # The namespaces table: unknown counts, not 0, and no "no data yet" guesses; not kept cells.
    assert "these are only the namespaces this process saw" in html
    assert "(no data yet)" not in html
    assert data["namespace_table"]["total"]["hits"] is None
    poll_rows = data["html"]["namespaces"]
    assert "data-cd-keep" not in poll_rows
    assert not re.search(r'data-cd-col="hits">0<', poll_rows)
    assert re.search(r'<div class="cd-chart" data-cd-chart hidden>', html)


def test_a_healthy_cache_has_no_health_error(client_for: Any) -> None:
    data = client_for("view").get(reverse("admin:cache_dashboard_overview_json")).json()
    assert data["health"]["status"] == "healthy" and data["health_error"] == ""


def test_invalid_entry_details_render_as_json_and_are_searchable(client_for: Any, cm: Any) -> None:
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc", detail={"status": 404, "fuente": "SUNAT"})
    cm.mark_invalid("20111111111", "ERROR_API", namespace="ruc", detail="timeout")
    client = client_for("view")
    html = client.get(reverse("admin:cache_dashboard_invalid")).content.decode()
    assert "{&quot;fuente&quot;: &quot;SUNAT&quot;, &quot;status&quot;: 404}" in html  # not a Python repr
    assert "{&#x27;" not in html
    response = client.get(reverse("admin:cache_dashboard_invalid"), {"q": '"status": 404'})
    assert [row["key"] for row in response.context["rows"]] == ["20999999999"]


def test_ttl_rows_label_their_cells_for_narrow_screens(client_for: Any) -> None:
    html = client_for("ttl").get(reverse("admin:cache_dashboard_ttl")).content.decode()
    assert 'data-label="Settings default"' in html and 'data-label="Effective"' in html


@pytest.mark.parametrize("use_tz", [True, False])
def test_invalid_entry_times_are_shown_in_the_projects_time_zone(client_for: Any, cm: Any, use_tz: bool) -> None:
    import datetime
    import zoneinfo

    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    marked_at = cm.invalid_entries("ruc")[0]["marked_at"]
    from django.utils.formats import date_format

    lima = datetime.datetime.fromtimestamp(marked_at, tz=zoneinfo.ZoneInfo("America/Lima"))
    expected = date_format(lima.replace(tzinfo=None), "SHORT_DATETIME_FORMAT")  # Lima's wall clock, UTC-5
    with override_settings(USE_TZ=use_tz, TIME_ZONE="America/Lima"):
        html = client_for("view").get(reverse("admin:cache_dashboard_invalid")).content.decode()
    assert expected in html, (expected, use_tz)


def test_ttl_inputs_point_at_help_text_that_exists(client_for: Any) -> None:
    html = client_for("ttl").get(reverse("admin:cache_dashboard_ttl")).content.decode()
    import django

    described = re.findall(r'aria-describedby="([^"]+)"', html)
    assert described or django.VERSION < (5, 0)  # Django 5.0 started linking help texts
    for target in described:
        assert f'id="{target}"' in html, target
