"""The shop's cached endpoints (cache-aside through CacheManager, one namespace per data type) and
the demo's write hook."""

from __future__ import annotations

import hmac
import json
import random
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cache_dashboard import cache_manager
from shop import stats
from shop.simulation import random_write


def has_demo_token(request: HttpRequest) -> bool:
    """True if the request carries ``X-Demo-Token`` equal to ``settings.DEMO_TRAFFIC_TOKEN``.

    The token lets the traffic generator (another process) reach staff-only endpoints; it is
    empty, and thus never matches, unless the demo's ``run`` script sets it.
    """
    expected = getattr(settings, "DEMO_TRAFFIC_TOKEN", "") or ""
    given = request.headers.get("X-Demo-Token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _allowed(request: HttpRequest) -> bool:
    user = request.user
    return (user.is_authenticated and user.is_staff) or has_demo_token(request)


def _forbidden() -> JsonResponse:
    return JsonResponse({"error": "Se requiere una cuenta de staff."}, status=403)


def _respond(namespace: str, key: str, data: dict[str, Any], source: str) -> JsonResponse:
    body = {"namespace": namespace, "clave": key, "source": source, "ttl": cache_manager.ttl_for(namespace), **data}
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _statistic(request: HttpRequest, name: str) -> JsonResponse:
    if not _allowed(request):
        return _forbidden()
    data, source = stats.get_cached(name)
    return _respond(name, stats.GLOBAL, data, source)


@require_GET
def estadisticas_ventas(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/ventas/`` (staff): namespace ``estadisticas_ventas`` (TTL 5 min)."""
    return _statistic(request, "estadisticas_ventas")


@require_GET
def estadisticas_usuarios(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/usuarios/`` (staff): namespace ``estadisticas_usuarios`` (10 min)."""
    return _statistic(request, "estadisticas_usuarios")


@require_GET
def productos_vendidos(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/productos-vendidos/`` (staff): namespace ``productos_vendidos`` (5 min)."""
    return _statistic(request, "productos_vendidos")


@require_GET
def metodos_pago(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/metodos-pago/`` (staff): namespace ``metodos_pago`` (10 min)."""
    return _statistic(request, "metodos_pago")


@require_GET
def perfil_usuario(request: HttpRequest, user_id: int) -> JsonResponse:
    """``GET /api/usuarios/<id>/perfil/`` (staff): key ``<id>`` in namespace ``perfil_usuario`` (1 h)."""
    if not _allowed(request):
        return _forbidden()
    try:
        data, source = stats.get_profile(user_id)
    except stats.NotFound:
        return JsonResponse({"error": "Usuario no encontrado."}, status=404)
    return _respond("perfil_usuario", str(user_id), data, source)


@require_GET
def lista_productos(request: HttpRequest) -> JsonResponse:
    """``GET /api/productos/?pagina=<n>`` (public): key ``pagina_<n>`` in namespace ``lista_productos`` (5 min)."""
    raw = request.GET.get("pagina", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        return JsonResponse({"error": "pagina debe ser un número entero positivo."}, status=400)
    pagina = int(raw)
    try:
        data, source = stats.get_product_page(pagina)
    except stats.NotFound:
        return JsonResponse({"error": "Página no encontrada."}, status=404)
    return _respond("lista_productos", f"pagina_{pagina}", data, source)


@csrf_exempt  # authenticated by the per-run token header, never by a cookie
@require_POST
def simulate_write(request: HttpRequest) -> JsonResponse:
    """``POST /api/demo/escritura/`` (demo token only): one random shop write, for demo_traffic."""
    if not has_demo_token(request):
        return JsonResponse({"error": "Token de demo inválido o ausente."}, status=403)
    try:
        seed = json.loads(request.body or b"{}").get("seed")
    except (ValueError, AttributeError):
        seed = None
    accion = random_write(random.Random(seed))
    return JsonResponse({"accion": accion})
