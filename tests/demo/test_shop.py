"""The shop's cached data (one namespace per data type) and the declarative rules that keep it fresh."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from shop.models import Pedido, Producto
from shop.simulation import ensure_catalogue, random_write
from shop.stats import GLOBAL, PAGE_SIZE

from cache_dashboard import CacheManager
from cache_dashboard.invalidation import rules_status
from tests.demo.conftest import DEMO_TTLS, SHOP_NAMESPACES

pytestmark = pytest.mark.django_db

#: The staff-only endpoints, by namespace (the profile's user id is filled in by the test).
STAFF_ENDPOINTS = {
    "estadisticas_ventas": "/api/estadisticas/ventas/",
    "estadisticas_usuarios": "/api/estadisticas/usuarios/",
    "productos_vendidos": "/api/estadisticas/productos-vendidos/",
    "metodos_pago": "/api/estadisticas/metodos-pago/",
    "perfil_usuario": "/api/usuarios/{pk}/perfil/",
}


@pytest.fixture
def staff_user():  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("staff", password="x", is_staff=True)


@pytest.fixture
def staff_client(client, staff_user):  # type: ignore[no-untyped-def]
    client.force_login(staff_user)
    return client


@pytest.fixture
def producto() -> Producto:
    return Producto.objects.create(nombre="Licuadora", precio=Decimal("100.00"), stock=5)


def _urls(pk: int) -> dict[str, str]:
    return {ns: url.format(pk=pk) for ns, url in STAFF_ENDPOINTS.items()} | {"lista_productos": "/api/productos/"}


def test_staff_data_needs_staff_or_the_demo_token(demo_settings, client, staff_user) -> None:
    for url in STAFF_ENDPOINTS.values():
        url = url.format(pk=staff_user.pk)
        assert client.get(url).status_code == 403, url
        assert client.get(url, HTTP_X_DEMO_TOKEN="wrong").status_code == 403, url
        assert client.get(url, HTTP_X_DEMO_TOKEN="test-token").status_code == 200, url
    assert client.get("/api/productos/").status_code == 200  # the catalogue is public


def test_empty_demo_token_never_matches(demo_settings, client) -> None:
    demo_settings.DEMO_TRAFFIC_TOKEN = ""
    assert client.get("/api/estadisticas/ventas/", HTTP_X_DEMO_TOKEN="").status_code == 403


def test_every_data_type_is_a_namespace(demo_settings, alias, staff_client, staff_user, producto) -> None:
    """Each endpoint stores its data in the namespace named like its TTL; the namespace rows of the
    stats then add up to the totals (nothing of the shop is a plain key)."""
    urls = _urls(staff_user.pk)
    for namespace, url in urls.items():
        first = staff_client.get(url).json()
        assert (first["namespace"], first["source"], first["ttl"]) == (namespace, "db", DEMO_TTLS[namespace])
        assert staff_client.get(url).json()["source"] == "cache", url

    cm = CacheManager(alias)
    keys = {ns: GLOBAL for ns in urls} | {"perfil_usuario": str(staff_user.pk), "lista_productos": "pagina_1"}
    for namespace, key in keys.items():
        assert cm.get(key, namespace=namespace) is not None, namespace
        assert cm.get(namespace) is None  # not a plain key any more
    assert set(SHOP_NAMESPACES) <= set(cm.known_namespaces())

    stats = cm.get_stats()
    for namespace in SHOP_NAMESPACES:
        row = stats["namespaces"][namespace]
        # one miss and one hit per endpoint, plus the test's own get() above: a hit
        assert (row["misses"], row["hits"], row["sets"]) == (1, 2, 1), namespace
    shop = [stats["namespaces"][ns] for ns in SHOP_NAMESPACES]
    assert stats["totals"]["hits"] == sum(row["hits"] for row in shop)
    assert stats["totals"]["misses"] == sum(row["misses"] for row in shop) + len(SHOP_NAMESPACES)  # cm.get(ns)


def test_namespaces_are_known_without_a_ttl_setting(demo_settings, alias, staff_client, staff_user) -> None:
    """The namespaces come from the traffic itself, not only from the TTLS setting."""
    demo_settings.CACHE_DASHBOARD = {**demo_settings.CACHE_DASHBOARD, "TTLS": {}}
    cm = CacheManager(alias)
    assert not set(SHOP_NAMESPACES) & set(cm.known_namespaces())
    for url in _urls(staff_user.pk).values():
        assert staff_client.get(url).status_code == 200
    assert set(SHOP_NAMESPACES) <= set(cm.known_namespaces())


def test_ventas_cached_with_its_ttl_and_invalidated_by_an_order(
    demo_settings, staff_client, producto, django_capture_on_commit_callbacks
) -> None:
    first = staff_client.get("/api/estadisticas/ventas/").json()
    assert (first["namespace"], first["clave"], first["source"]) == ("estadisticas_ventas", GLOBAL, "db")
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


def _fill(cm: CacheManager, *profile_pks: int) -> None:
    for namespace in ("estadisticas_ventas", "estadisticas_usuarios", "productos_vendidos", "metodos_pago"):
        cm.set(GLOBAL, "x", 300, namespace=namespace)
    cm.set("pagina_1", "x", 300, namespace="lista_productos")
    for pk in profile_pks:
        cm.set(str(pk), "x", 300, namespace="perfil_usuario")
    cm.set("otra", "x", 300)


def _left(cm: CacheManager, *profile_pks: int) -> set[str]:
    """What is still cached: the namespaces' keys (profiles as ``perfil_usuario:<pk>``) and ``otra``."""
    left = {ns for ns in SHOP_NAMESPACES[:4] if cm.get(GLOBAL, namespace=ns) == "x"}
    left |= {"lista_productos"} if cm.get("pagina_1", namespace="lista_productos") == "x" else set()
    left |= {f"perfil_usuario:{pk}" for pk in profile_pks if cm.get(str(pk), namespace="perfil_usuario") == "x"}
    return left | ({"otra"} if cm.get("otra") == "x" else set())


@pytest.mark.parametrize("write", ["save", "delete"])
def test_product_writes_invalidate_their_namespaces(
    demo_settings, alias, producto, staff_user, write, django_capture_on_commit_callbacks
) -> None:
    cm = CacheManager(alias)
    _fill(cm, staff_user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        if write == "save":
            producto.precio = Decimal("99.99")
            producto.save()
        else:
            producto.delete()

    kept = {"estadisticas_usuarios", "metodos_pago", f"perfil_usuario:{staff_user.pk}", "otra"}
    assert _left(cm, staff_user.pk) == kept
    # Three namespaces, counted once each, under the rule's name.
    assert cm.get_stats()["sources"] == {"rule:shop.Producto": 3}


def test_an_order_invalidates_its_customer_profile_only(
    demo_settings, alias, producto, django_capture_on_commit_callbacks
) -> None:
    User = get_user_model()
    ana, luis = User.objects.create_user("ana"), User.objects.create_user("luis")
    cm = CacheManager(alias)
    _fill(cm, ana.pk, luis.pk)

    with django_capture_on_commit_callbacks(execute=True):
        Pedido.objects.create(producto=producto, cliente=ana)

    assert _left(cm, ana.pk, luis.pk) == {"lista_productos", f"perfil_usuario:{luis.pk}", "otra"}
    # Four namespaces and the one profile key that existed.
    assert cm.get_stats()["sources"]["rule:shop.Pedido"] == 5


def test_a_profile_is_recomputed_after_its_customer_orders(
    demo_settings, staff_client, producto, django_capture_on_commit_callbacks
) -> None:
    ana = get_user_model().objects.create_user("ana")
    url = f"/api/usuarios/{ana.pk}/perfil/"
    first = staff_client.get(url).json()
    assert (first["namespace"], first["clave"], first["source"]) == ("perfil_usuario", str(ana.pk), "db")
    assert (first["usuario"], first["pedidos"], first["ttl"]) == ("ana", 0, 3600)
    assert staff_client.get(url).json()["source"] == "cache"

    with django_capture_on_commit_callbacks(execute=True):
        Pedido.objects.create(producto=producto, cliente=ana, cantidad=3)

    fresh = staff_client.get(url).json()
    assert (fresh["source"], fresh["pedidos"], fresh["total_gastado"]) == ("db", 1, 300.0)


def test_a_user_change_invalidates_its_profile(demo_settings, alias, django_capture_on_commit_callbacks) -> None:
    ana = get_user_model().objects.create_user("ana")
    cm = CacheManager(alias)
    _fill(cm, ana.pk)
    with django_capture_on_commit_callbacks(execute=True):
        ana.first_name = "Ana"
        ana.save()
    assert "perfil_usuario:" + str(ana.pk) not in _left(cm, ana.pk)
    assert "estadisticas_usuarios" not in _left(cm, ana.pk)
    assert "estadisticas_ventas" in _left(cm, ana.pk)


def test_unknown_profile_and_page_are_404_and_not_cached(demo_settings, alias, staff_client) -> None:
    assert staff_client.get("/api/usuarios/987654/perfil/").status_code == 404
    assert staff_client.get("/api/productos/", {"pagina": "99"}).status_code == 404
    for bad in ("0x1", "-1", "uno", "1" * 7, "１"):
        assert staff_client.get("/api/productos/", {"pagina": bad}).status_code in (400, 404), bad
    cm = CacheManager(alias)
    assert cm.get("987654", namespace="perfil_usuario") is None
    assert cm.get("pagina_99", namespace="lista_productos") is None
    assert cm.get_stats()["namespaces"].get("lista_productos", {}).get("sets", 0) == 0


def test_catalogue_pages(demo_settings, client) -> None:
    ensure_catalogue()  # 8 products
    first = client.get("/api/productos/").json()
    assert (first["namespace"], first["clave"]) == ("lista_productos", "pagina_1")
    assert (first["pagina"], first["paginas"]) == (1, 2)
    assert len(first["productos"]) == PAGE_SIZE
    second = client.get("/api/productos/", {"pagina": "2"}).json()
    assert len(second["productos"]) == 8 - PAGE_SIZE
    assert {p["id"] for p in first["productos"]}.isdisjoint(p["id"] for p in second["productos"])


def test_order_rollback_keeps_the_cache(demo_settings, alias, producto) -> None:
    from django.db import transaction

    cm = CacheManager(alias)
    cm.set(GLOBAL, "x", 300, namespace="estadisticas_ventas")
    with pytest.raises(RuntimeError), transaction.atomic():
        Pedido.objects.create(producto=producto)
        raise RuntimeError
    assert cm.get(GLOBAL, namespace="estadisticas_ventas") == "x"


def test_shop_rules_are_listed_for_the_dashboard(demo_settings) -> None:
    names = {row["name"]: row for row in rules_status()}
    producto, pedido, user = names["shop.Producto"], names["shop.Pedido"], names["auth.User"]
    assert producto["keys"] == []
    assert producto["namespaces"] == ["estadisticas_ventas", "productos_vendidos", "lista_productos"]
    assert pedido["namespaces"] == [
        "estadisticas_ventas",
        "estadisticas_usuarios",
        "productos_vendidos",
        "metodos_pago",
    ]
    assert (pedido["keys"], pedido["key_namespace"]) == (["<customer_pk>"], "perfil_usuario")
    assert user["namespaces"] == ["estadisticas_usuarios"]
    assert (user["keys"], user["key_namespace"]) == (["<user_pk>"], "perfil_usuario")
    # Every name a rule targets is one of the shop's namespaces, none a plain key.
    for row in (producto, pedido, user):
        assert set(row["namespaces"]) | {row["key_namespace"] or "perfil_usuario"} <= set(SHOP_NAMESPACES)


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
