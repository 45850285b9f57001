"""The shop's cached data (the seeds' ``fetch_*`` functions), one namespace per data type.

Each data type of the seeds' ``TTL_CONFIG`` is a namespace of its own, named like its TTL, so the
dashboard counts it, lists it and can invalidate it as a whole:

=========================  ==============================  ======================================
namespace (= TTL name)     key                              what
=========================  ==============================  ======================================
``estadisticas_ventas``    ``global``                       sales per month, top products, ...
``estadisticas_usuarios``  ``global``                       sign-ups, roles, most active, retention
``productos_vendidos``     ``global``                       the 10 best-selling products
``metodos_pago``           ``global``                       orders and revenue per payment method
``perfil_usuario``         the user's ``pk``                one customer's profile
``lista_productos``        ``pagina_<n>``                   one page of the active catalogue
=========================  ==============================  ======================================

The invalidation rules in ``shop.apps`` invalidate these namespaces (and one user's profile key)
when a product, an order or a user changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cache_dashboard import cache_manager
from shop.models import Pedido, Producto

#: The key of a whole-shop statistic inside its namespace.
GLOBAL = "global"
#: Products per page of ``lista_productos``.
PAGE_SIZE = 5


class NotFound(LookupError):
    """The user or the page asked for does not exist (nothing is cached)."""


def _money(value: Decimal | None) -> float:
    return float(round(value or Decimal("0"), 2))


def _month(value: Any) -> str | None:
    return value.strftime("%Y-%m") if value else None


def _vigentes() -> QuerySet[Pedido]:
    return Pedido.objects.exclude(estado=Pedido.Estado.CANCELADO)


def _top_products(vigentes: QuerySet[Pedido]) -> list[dict[str, Any]]:
    top = (
        vigentes.values("producto_id", "producto__nombre")
        .annotate(unidades=Sum("cantidad"), ingresos=Sum("total"))
        .order_by("-unidades", "producto__nombre")[:10]
    )
    return [
        {
            "producto_id": r["producto_id"],
            "nombre": r["producto__nombre"],
            "unidades": r["unidades"],
            "ingresos": _money(r["ingresos"]),
        }
        for r in top
    ]


def _payment_methods(vigentes: QuerySet[Pedido]) -> list[dict[str, Any]]:
    metodos = (
        vigentes.values("metodo_pago")
        .annotate(pedidos=Count("id"), total=Sum("total"))
        .order_by("-pedidos", "metodo_pago")
    )
    return [{"metodo": r["metodo_pago"], "pedidos": r["pedidos"], "total": _money(r["total"])} for r in metodos]


def estadisticas_ventas() -> dict[str, Any]:
    """Sales per month (last 12), top 10 products, payment methods and average ticket."""
    desde = timezone.now() - timedelta(days=366)
    vigentes = _vigentes()
    por_mes = (
        vigentes.filter(creado__gte=desde)
        .annotate(mes=TruncMonth("creado"))
        .values("mes")
        .annotate(pedidos=Count("id"), total=Sum("total"))
        .order_by("mes")
    )
    resumen = vigentes.aggregate(pedidos=Count("id"), ingresos=Sum("total"), ticket=Avg("total"))
    return {
        "ventas_por_mes": [
            {"mes": _month(r["mes"]), "pedidos": r["pedidos"], "total": _money(r["total"])} for r in por_mes
        ],
        "productos_mas_vendidos": _top_products(vigentes),
        "metodos_pago": _payment_methods(vigentes),
        "total_pedidos": resumen["pedidos"],
        "ingresos_totales": _money(resumen["ingresos"]),
        "ticket_promedio": _money(resumen["ticket"]),
        "generado_en": time.time(),
    }


def estadisticas_usuarios() -> dict[str, Any]:
    """Sign-ups per month (last 12), users by role, most active customers and retention."""
    User = get_user_model()
    desde = timezone.now() - timedelta(days=366)
    crecimiento = (
        User.objects.filter(date_joined__gte=desde)
        .annotate(mes=TruncMonth("date_joined"))
        .values("mes")
        .annotate(usuarios=Count("pk"))
        .order_by("mes")
    )
    roles = User.objects.aggregate(
        administradores=Count("pk", filter=Q(is_superuser=True)),
        staff=Count("pk", filter=Q(is_staff=True, is_superuser=False)),
        clientes=Count("pk", filter=Q(is_staff=False)),
    )
    activos = (
        User.objects.annotate(pedidos_count=Count("pedidos"))
        .filter(pedidos_count__gt=0)
        .order_by("-pedidos_count", "pk")[:10]
    )
    compradores = User.objects.annotate(n=Count("pedidos")).filter(n__gt=0)
    total_compradores = compradores.count()
    recurrentes = compradores.filter(n__gt=1).count()
    return {
        "crecimiento_por_mes": [{"mes": _month(r["mes"]), "usuarios": r["usuarios"]} for r in crecimiento],
        "usuarios_por_rol": roles,
        "usuarios_mas_activos": [{"usuario": u.get_username(), "pedidos": u.pedidos_count} for u in activos],
        "tasa_retencion": round(recurrentes / total_compradores, 4) if total_compradores else None,
        "generado_en": time.time(),
    }


def productos_vendidos() -> dict[str, Any]:
    """The 10 best-selling products (units and revenue, cancelled orders excluded)."""
    return {"productos": _top_products(_vigentes()), "generado_en": time.time()}


def metodos_pago() -> dict[str, Any]:
    """Orders and revenue per payment method (cancelled orders excluded)."""
    return {"metodos_pago": _payment_methods(_vigentes()), "generado_en": time.time()}


def perfil_usuario(user_id: int) -> dict[str, Any]:
    """One customer's profile: sign-up date, orders, money spent, last order.

    :raises NotFound: no such user.
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    pedidos = _vigentes().filter(cliente=user)
    resumen = pedidos.aggregate(pedidos=Count("id"), gastado=Sum("total"))
    ultimo = pedidos.order_by("-creado", "-pk").values_list("creado", flat=True).first()
    return {
        "usuario": user.get_username(),
        "fecha_registro": user.date_joined.isoformat(),
        "pedidos": resumen["pedidos"],
        "total_gastado": _money(resumen["gastado"]),
        "ultimo_pedido": ultimo.isoformat() if ultimo else None,
        "generado_en": time.time(),
    }


def lista_productos(pagina: int) -> dict[str, Any]:
    """Page ``pagina`` (from 1) of the active catalogue, ``PAGE_SIZE`` products per page.

    :raises NotFound: the page is past the last one (page 1 always exists, even if empty).
    """
    activos = Producto.objects.filter(activo=True).order_by("nombre", "pk")
    total = activos.count()
    paginas = max(1, -(-total // PAGE_SIZE))
    if not 1 <= pagina <= paginas:
        raise NotFound(f"page {pagina} does not exist (1-{paginas})")
    inicio = (pagina - 1) * PAGE_SIZE
    return {
        "pagina": pagina,
        "paginas": paginas,
        "productos": [
            {"id": p.pk, "nombre": p.nombre, "precio": _money(p.precio), "stock": p.stock}
            for p in activos[inicio : inicio + PAGE_SIZE]
        ],
        "generado_en": time.time(),
    }


#: The whole-shop statistics: namespace (also the TTLS name) -> function computing them.
STATISTICS: dict[str, Callable[[], dict[str, Any]]] = {
    "estadisticas_ventas": estadisticas_ventas,
    "estadisticas_usuarios": estadisticas_usuarios,
    "productos_vendidos": productos_vendidos,
    "metodos_pago": metodos_pago,
}


def cached(namespace: str, key: str, fetch: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Cache-aside read of ``key`` in ``namespace``: ``(data, "cache" | "db")``.

    No TTL is passed: the entry gets its namespace's (settings ``TTLS`` or the admin's override).
    An exception from ``fetch`` (e.g. :class:`NotFound`) propagates and nothing is cached.
    """
    fetched: list[bool] = []

    def fetch_and_note() -> dict[str, Any]:
        fetched.append(True)
        return fetch()

    data = cache_manager.get(key, fetch_and_note, namespace=namespace)
    return data, "db" if fetched else "cache"


def get_cached(name: str) -> tuple[dict[str, Any], str]:
    """One whole-shop statistic of :data:`STATISTICS`, cached under ``global`` in its namespace."""
    return cached(name, GLOBAL, STATISTICS[name])


def get_profile(user_id: int) -> tuple[dict[str, Any], str]:
    """A customer's profile, cached under its ``pk`` in namespace ``perfil_usuario``."""
    return cached("perfil_usuario", str(user_id), lambda: perfil_usuario(user_id))


def get_product_page(pagina: int) -> tuple[dict[str, Any], str]:
    """A page of the catalogue, cached under ``pagina_<n>`` in namespace ``lista_productos``."""
    return cached("lista_productos", f"pagina_{pagina}", lambda: lista_productos(pagina))
