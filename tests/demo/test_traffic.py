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
from tests.demo.conftest import SHOP_NAMESPACES


def test_generated_rucs_are_well_formed_and_malformed_ones_are_not() -> None:
    import random

    rng = random.Random(5)
    assert all(is_valid_ruc(random_ruc(rng)) for _ in range(500))
    assert not any(is_valid_ruc(malformed_ruc(rng)) for _ in range(500))


def test_mix_contains_every_kind() -> None:
    import random

    traffic = Traffic(random.Random(1), customers=[7, 8])
    requests = [traffic.next() for _ in range(800)]
    assert {kind for kind, _ in requests} == {"repeat", "new", "malformed", "nubefact", "stats", "write"}
    reads = {arg for kind, arg in requests if kind == "stats"}
    assert {arg.partition(":")[0] for arg in reads} == set(SHOP_NAMESPACES)
    assert {arg for arg in reads if arg.startswith("perfil_usuario:")} == {"perfil_usuario:7", "perfil_usuario:8"}
    assert {arg for arg in reads if arg.startswith("lista_productos:")} == {"lista_productos:1", "lista_productos:2"}


def test_no_customers_no_profile_reads() -> None:
    import random

    traffic = Traffic(random.Random(1))
    assert not any(arg.startswith("perfil_usuario") for _, arg in (traffic.next() for _ in range(500)))


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
    assert "400 requests" in summary

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

    # The shop's data types are namespaces: read (hits and misses) and invalidated as such.
    stats = cm.get_stats()
    assert set(SHOP_NAMESPACES) <= set(cm.known_namespaces())
    for namespace in SHOP_NAMESPACES:
        row = stats["namespaces"][namespace]
        assert row["hits"] + row["misses"] > 0, namespace
    assert sum(stats["namespaces"][ns]["hits"] for ns in SHOP_NAMESPACES) > 0
    assert sum(stats["namespaces"][ns]["invalidations"] for ns in SHOP_NAMESPACES) > 0
    # Nothing of the shop (nor of the RUC lookups) is a plain key: the namespace rows are the totals.
    named = [row for name, row in stats["namespaces"].items() if name]
    assert sum(row["hits"] for row in named) == totals["hits"]
    assert sum(row["misses"] for row in named) == totals["misses"]

    # The admin's JSON endpoint, as the dashboard's live poll reads it.
    try:
        url = reverse("admin:cache_dashboard_overview_json")
    except NoReverseMatch:
        pytest.skip("the dashboard's JSON endpoint is not there yet")
    data = admin_client.get(url, {"alias": alias}).json()
    assert data["stats"]["totals"]["hits"] > 0
    assert data["stats"]["totals"]["misses"] > 0
    assert {"ruc", "nubefact", *SHOP_NAMESPACES} <= {row["name"] for row in data["namespaces"]}


@pytest.mark.django_db(transaction=True)
def test_progress_line_and_duration_limit(demo_settings) -> None:
    out = io.StringIO()
    call_command("demo_traffic", rate=0, duration=0.3, latency=0, seed=2, stdout=out)
    line = out.getvalue().strip().splitlines()[-1]
    for label in ("requests", "hits", "misses", "FORMATO_INVALIDO", "NO_EXISTE_SUNAT", "ERROR_API", "writes", "errors"):
        assert label in line


@pytest.mark.django_db(transaction=True)
def test_traffic_namespaces_need_no_ttl_setting(demo_settings, alias) -> None:
    """The shop's namespaces are known from the traffic alone (TTLS names only the RUC ones)."""
    demo_settings.CACHE_DASHBOARD = {**demo_settings.CACHE_DASHBOARD, "TTLS": {"ruc": 3600}}
    call_command("demo_traffic", rate=0, requests=300, latency=0, seed=3, stdout=io.StringIO())
    assert set(SHOP_NAMESPACES) <= set(CacheManager(alias).known_namespaces())


@pytest.mark.django_db(transaction=True)
def test_http_transport_reads_every_namespace_of_a_running_server(demo_settings, alias, live_server) -> None:
    """What ./demo/run does: requests to a server (here in this process, so LocMem is shared)."""
    from demo_site.management.commands.demo_traffic import STATISTIC_PATHS, Http, _customers

    pks = _customers()
    assert len(pks) == 5
    http = Http(live_server.url, "test-token")
    reads = [*STATISTIC_PATHS, f"perfil_usuario:{pks[0]}", "lista_productos:1"]
    assert [http("stats", arg) for arg in reads] == [("stats", "db")] * len(reads)
    assert [http("stats", arg) for arg in reads] == [("stats", "cache")] * len(reads)
    assert http("write", "5")[1] in {"pedido", "precio", "cancelacion", "borrado"}
    assert http("repeat", "20100038146")[1] in {"cache", "upstream"}

    stats = CacheManager(alias).get_stats()["namespaces"]
    for namespace in SHOP_NAMESPACES:
        assert (stats[namespace]["misses"], stats[namespace]["hits"]) == (1, 1), namespace

    tokenless = Http(live_server.url, "")
    assert tokenless("stats", "estadisticas_ventas") == ("stats", "skipped")
    assert tokenless("stats", "lista_productos:1") == ("stats", "cache")  # public
    assert tokenless("write", "5") == ("write", "skipped")
