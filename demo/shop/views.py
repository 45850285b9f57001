"""Cached statistics endpoints (cache-aside through CacheManager) and the demo's write hook."""

from __future__ import annotations

import hmac
import json
import random

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


def _cached(request: HttpRequest, name: str) -> JsonResponse:
    if not _allowed(request):
        return JsonResponse({"error": "Se requiere una cuenta de staff."}, status=403)
    data, source = stats.get_cached(name)
    body = {"clave": name, "source": source, "ttl": cache_manager.ttl_for(name), **data}
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


@require_GET
def estadisticas_ventas(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/ventas/`` (staff): cached under ``estadisticas_ventas`` (TTL 5 min)."""
    return _cached(request, "estadisticas_ventas")


@require_GET
def estadisticas_usuarios(request: HttpRequest) -> JsonResponse:
    """``GET /api/estadisticas/usuarios/`` (staff): cached under ``estadisticas_usuarios`` (10 min)."""
    return _cached(request, "estadisticas_usuarios")


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
