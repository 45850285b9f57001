"""demo_traffic drives every path; afterwards the dashboard's data shows hits, misses and all reasons."""

from __future__ import annotations

import io

import pytest
from demo_site.management.commands.demo_traffic import Traffic, malformed_ruc, random_ruc
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from ruc.checkdigit import is_valid_ruc
from shop.models import Pedido

from cache_dashboard import CacheManager


def test_generated_rucs_are_well_formed_and_malformed_ones_are_not() -> None:
    import random

    rng = random.Random(5)
    assert all(is_valid_ruc(random_ruc(rng)) for _ in range(500))
    assert not any(is_valid_ruc(malformed_ruc(rng)) for _ in range(500))


def test_mix_contains_every_kind() -> None:
    import random

    traffic = Traffic(random.Random(1))
    kinds = {traffic.next()[0] for _ in range(500)}
    assert kinds == {"repeat", "new", "malformed", "nubefact", "stats", "write"}


@pytest.mark.django_db(transaction=True)
def test_traffic_makes_the_dashboard_come_alive(demo_settings, alias, admin_client) -> None:
    out = io.StringIO()
    call_command(
        "demo_traffic",
        rate=0,
        requests=400,
        latency=0,
        failure_rate=0.3,
        seed=11,
        stdout=out,
    )
    summary = out.getvalue().strip().splitlines()[-1]
    assert "400 peticiones" in summary

    cm = CacheManager(alias)
    totals = cm.get_stats()["totals"]
    assert totals["hits"] > 0
    assert totals["misses"] > 0
    assert totals["sets"] > 0
    assert totals["invalidations"] > 0  # the shop writes fired the rules
    breakdown = cm.invalid_breakdown("ruc")
    assert set(breakdown) == {"NO_EXISTE_SUNAT", "ERROR_API"}  # malformed input is never stored
    assert all(count > 0 for count in breakdown.values())
    assert cm.invalid_breakdown("nubefact")
    assert Pedido.objects.exists()
    assert any(source.startswith("rule:shop.") for source in cm.get_stats()["sources"])

    # The admin's JSON endpoint, as the dashboard's live poll reads it.
    try:
        url = reverse("admin:cache_dashboard_overview_json")
    except NoReverseMatch:
        pytest.skip("the dashboard's JSON endpoint is not there yet")
    data = admin_client.get(url, {"alias": alias}).json()
    assert data["stats"]["totals"]["hits"] > 0
    assert data["stats"]["totals"]["misses"] > 0
    assert {"ruc", "nubefact"} <= {row["name"] for row in data["namespaces"]}


@pytest.mark.django_db(transaction=True)
def test_progress_line_and_duration_limit(demo_settings) -> None:
    out = io.StringIO()
    call_command("demo_traffic", rate=0, duration=0.3, latency=0, seed=2, stdout=out)
    line = out.getvalue().strip().splitlines()[-1]
    for label in ("peticiones", "hits", "misses", "FORMATO_INVALIDO", "NO_EXISTE_SUNAT", "ERROR_API"):
        assert label in line
