"""The statistics the admin endpoints serve (the seeds' ``fetch_estadisticas_*`` functions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cache_dashboard import cache_manager
from shop.models import Pedido


def _money(value: Decimal | None) -> float:
    return float(round(value or Decimal("0"), 2))


def _month(value: Any) -> str | None:
    return value.strftime("%Y-%m") if value else None


def estadisticas_ventas() -> dict[str, Any]:
    """Sales per month (last 12), top 10 products, payment methods and average ticket."""
    desde = timezone.now() - timedelta(days=366)
    vigentes = Pedido.objects.exclude(estado=Pedido.Estado.CANCELADO)
    por_mes = (
        vigentes.filter(creado__gte=desde)
        .annotate(mes=TruncMonth("creado"))
        .values("mes")
        .annotate(pedidos=Count("id"), total=Sum("total"))
        .order_by("mes")
    )
    top = (
        vigentes.values("producto_id", "producto__nombre")
        .annotate(unidades=Sum("cantidad"), ingresos=Sum("total"))
        .order_by("-unidades", "producto__nombre")[:10]
    )
    metodos = (
        vigentes.values("metodo_pago")
        .annotate(pedidos=Count("id"), total=Sum("total"))
        .order_by("-pedidos", "metodo_pago")
    )
    resumen = vigentes.aggregate(pedidos=Count("id"), ingresos=Sum("total"), ticket=Avg("total"))
    return {
        "ventas_por_mes": [
            {"mes": _month(r["mes"]), "pedidos": r["pedidos"], "total": _money(r["total"])} for r in por_mes
        ],
        "productos_mas_vendidos": [
            {
                "producto_id": r["producto_id"],
                "nombre": r["producto__nombre"],
                "unidades": r["unidades"],
                "ingresos": _money(r["ingresos"]),
            }
            for r in top
        ],
        "metodos_pago": [
            {"metodo": r["metodo_pago"], "pedidos": r["pedidos"], "total": _money(r["total"])}
            for r in metodos
        ],
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


#: The cached statistics: cache key (also the TTLS name) -> function computing them.
STATISTICS: dict[str, Callable[[], dict[str, Any]]] = {
    "estadisticas_ventas": estadisticas_ventas,
    "estadisticas_usuarios": estadisticas_usuarios,
}


def get_cached(name: str) -> tuple[dict[str, Any], str]:
    """Cache-aside read of one statistic: ``(data, "cache" | "db")``.

    The TTL is ``ttl_for(name)`` (settings ``TTLS`` or the admin's override); the invalidation
    rules in ``shop.apps`` drop the key when a product, order or user changes.
    """
    fetched: list[bool] = []

    def fetch() -> dict[str, Any]:
        fetched.append(True)
        return STATISTICS[name]()

    data = cache_manager.get(name, fetch, cache_manager.ttl_for(name))
    return data, "db" if fetched else "cache"
