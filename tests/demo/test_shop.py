"""The shop's cached statistics and the declarative rules that keep them fresh."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from shop.models import Pedido, Producto
from shop.simulation import ensure_catalogue, random_write

from cache_dashboard import CacheManager
from cache_dashboard.invalidation import rules_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("staff", password="x", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def producto() -> Producto:
    return Producto.objects.create(nombre="Licuadora", precio=Decimal("100.00"), stock=5)


def test_statistics_need_staff_or_the_demo_token(demo_settings, client) -> None:
    assert client.get("/api/estadisticas/ventas/").status_code == 403
    assert client.get("/api/estadisticas/usuarios/").status_code == 403
    assert client.get("/api/estadisticas/ventas/", HTTP_X_DEMO_TOKEN="wrong").status_code == 403
    assert client.get("/api/estadisticas/ventas/", HTTP_X_DEMO_TOKEN="test-token").status_code == 200


def test_empty_demo_token_never_matches(demo_settings, client) -> None:
    demo_settings.DEMO_TRAFFIC_TOKEN = ""
    assert client.get("/api/estadisticas/ventas/", HTTP_X_DEMO_TOKEN="").status_code == 403


def test_ventas_cached_with_its_ttl_and_invalidated_by_an_order(
    demo_settings, staff_client, producto, django_capture_on_commit_callbacks
) -> None:
    first = staff_client.get("/api/estadisticas/ventas/").json()
    assert first["source"] == "db"
    assert first["ttl"] == 300
    assert first["total_pedidos"] == 0
    assert staff_client.get("/api/estadisticas/ventas/").json()["source"] == "cache"

    with django_capture_on_commit_callbacks(execute=True):
        Pedido.objects.create(producto=producto, cantidad=2, metodo_pago="yape")

    fresh = staff_client.get("/api/estadisticas/ventas/").json()
    assert fresh["source"] == "db"
    assert fresh["total_pedidos"] == 1
    assert fresh["ingresos_totales"] == 200.0
    assert fresh["metodos_pago"] == [{"metodo": "yape", "pedidos": 1, "total": 200.0}]
    assert fresh["productos_mas_vendidos"][0]["nombre"] == "Licuadora"


def test_usuarios_cached_and_invalidated_by_a_new_user(
    demo_settings, staff_client, django_capture_on_commit_callbacks
) -> None:
    first = staff_client.get("/api/estadisticas/usuarios/").json()
    assert first["source"] == "db"
    assert first["ttl"] == 600
    assert first["usuarios_por_rol"]["staff"] == 1
    assert staff_client.get("/api/estadisticas/usuarios/").json()["source"] == "cache"

    with django_capture_on_commit_callbacks(execute=True):
        get_user_model().objects.create_user("nuevo")

    fresh = staff_client.get("/api/estadisticas/usuarios/").json()
    assert fresh["source"] == "db"
    assert fresh["usuarios_por_rol"]["clientes"] == 1


@pytest.mark.parametrize("write", ["save", "delete"])
def test_product_writes_invalidate_the_seeds_keys(
    demo_settings, alias, producto, write, django_capture_on_commit_callbacks
) -> None:
    cm = CacheManager(alias)
    pk = producto.pk  # delete() sets it to None afterwards; the rule reads it while it is still set
    for key in ("estadisticas_ventas", "productos_vendidos", f"producto_{pk}", "otra"):
        cm.set(key, "x", 300)
    cm.set("pagina_1", "x", 300, namespace="lista_productos")

    with django_capture_on_commit_callbacks(execute=True):
        if write == "save":
            producto.precio = Decimal("99.99")
            producto.save()
        else:
            producto.delete()

    assert cm.get("estadisticas_ventas") is None
    assert cm.get("productos_vendidos") is None
    assert cm.get(f"producto_{pk}") is None
    assert cm.get("pagina_1", namespace="lista_productos") is None
    assert cm.get("otra") == "x"
    # The three keys that existed, and the namespace: counted once each, under the rule's name.
    assert cm.get_stats()["sources"] == {"rule:shop.Producto": 4}


def test_order_rollback_keeps_the_cache(demo_settings, alias, producto) -> None:
    from django.db import transaction

    cm = CacheManager(alias)
    cm.set("estadisticas_ventas", "x", 300)
    with pytest.raises(RuntimeError), transaction.atomic():
        Pedido.objects.create(producto=producto)
        raise RuntimeError
    assert cm.get("estadisticas_ventas") == "x"


def test_shop_rules_are_listed_for_the_dashboard(demo_settings) -> None:
    names = {row["name"]: row for row in rules_status()}
    assert names["shop.Producto"]["keys"] == ["estadisticas_ventas", "productos_vendidos", "<per instance>"]
    assert names["shop.Producto"]["namespaces"] == ["lista_productos"]
    assert names["shop.Pedido"]["keys"] == ["estadisticas_ventas", "estadisticas_usuarios", "metodos_pago"]
    assert "auth.User" in names


def test_simulate_write_requires_the_token(demo_settings, client) -> None:
    assert client.post("/api/demo/escritura/").status_code == 403
    assert client.get("/api/demo/escritura/", HTTP_X_DEMO_TOKEN="test-token").status_code == 405
    response = client.post(
        "/api/demo/escritura/", {"seed": 1}, content_type="application/json", HTTP_X_DEMO_TOKEN="test-token"
    )
    assert response.status_code == 200
    assert response.json()["accion"] in {"pedido", "precio", "cancelacion", "borrado"}


def test_random_writes_cover_every_kind(demo_settings) -> None:
    import random

    ensure_catalogue()
    ensure_catalogue()  # idempotent
    assert Producto.objects.count() == 8
    rng = random.Random(7)
    kinds = {random_write(rng) for _ in range(120)}
    assert kinds == {"pedido", "precio", "cancelacion", "borrado"}
