"""JSON endpoints of the RUC lookup: thin wrappers over :func:`ruc.services.lookup`."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ruc.services import LookupResult, lookup


def _respond(result: LookupResult) -> JsonResponse:
    response = JsonResponse(result.body, status=result.status, json_dumps_params={"ensure_ascii": False})
    for name, value in result.headers.items():
        response[name] = value
    return response


@require_GET
def ruc_detail(request: HttpRequest, ruc: str) -> JsonResponse:
    """``GET /api/ruc/<ruc>/``: the APIMIGO-like record, cached in namespace ``ruc``.

    200 ``{"ruc", "valid": true, "source": "cache"|"upstream", "provider", "data"}``;
    400 / 404 / 503 ``{"ruc", "valid": false, "reason", "detail", "source", "expires_at"}`` for
    ``FORMATO_INVALIDO`` / ``NO_EXISTE_SUNAT`` / ``ERROR_API``.
    """
    return _respond(lookup(ruc, "ruc"))


@require_GET
def nubefact_detail(request: HttpRequest, ruc: str) -> JsonResponse:
    """``GET /api/nubefact/<ruc>/``: the same flow against the second provider, namespace ``nubefact``."""
    return _respond(lookup(ruc, "nubefact"))
