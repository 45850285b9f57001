"""GET /api/ruc/<ruc>/ and /api/nubefact/<ruc>/: cache, negative cache with three reasons."""

from __future__ import annotations

import time

import pytest
from ruc.checkdigit import complete
from ruc.services import RucCacheService
from ruc.upstream import exists

pytestmark = pytest.mark.django_db


def unknown_ruc() -> str:
    """The first well-formed RUC the simulated SUNAT does not know (deterministic)."""
    return next(r for r in (complete(f"20{i:08d}") for i in range(1000, 100000)) if not exists(r))


def known_ruc() -> str:
    return next(r for r in (complete(f"20{i:08d}") for i in range(1000, 100000)) if exists(r))


def test_valid_ruc_is_fetched_once_then_cached(demo_settings, client) -> None:
    first = client.get("/api/ruc/20100038146/")
    second = client.get("/api/ruc/20100038146/")
    assert first.status_code == second.status_code == 200
    assert first.json()["source"] == "upstream"
    assert second.json()["source"] == "cache"
    body = second.json()
    assert body["valid"] is True
    assert body["data"]["nombre_o_razon_social"] == "CONTINENTAL S.A.C."
    assert body["data"] == first.json()["data"]
    assert RucCacheService().get_ruc("20100038146") == body["data"]


@pytest.mark.parametrize(
    ("ruc", "fragment"),
    [("20100038147", "verificador"), ("30100038146", "Prefijo"), ("2010003814", "11 dígitos")],
)
def test_malformed_ruc_is_answered_by_the_check_and_not_stored(demo_settings, client, ruc: str, fragment: str) -> None:
    # Free to recompute, and storing it would let any client fill the negative cache.
    for _ in range(2):
        response = client.get(f"/api/ruc/{ruc}/")
        assert response.status_code == 400
        assert response.json()["reason"] == "FORMATO_INVALIDO"
        assert fragment in response.json()["detail"]
        assert response.json()["source"] == "check"
    assert RucCacheService().get_invalid_ruc_info(ruc) is None
    assert RucCacheService().get_all_invalid_rucs() == {}


def test_garbage_is_rejected_without_being_stored(demo_settings, client) -> None:
    response = client.get("/api/ruc/" + "x" * 60 + "/")
    assert response.status_code == 400
    assert response.json()["reason"] == "FORMATO_INVALIDO"
    assert RucCacheService().get_all_invalid_rucs() == {}


def test_unknown_ruc_is_marked_no_existe_sunat(demo_settings, client) -> None:
    ruc = unknown_ruc()
    first = client.get(f"/api/ruc/{ruc}/")
    assert first.status_code == 404
    assert first.json()["reason"] == "NO_EXISTE_SUNAT"
    assert first.json()["source"] == "upstream"
    second = client.get(f"/api/ruc/{ruc}/")
    assert second.status_code == 404
    assert second.json()["source"] == "negative-cache"
    info = RucCacheService().get_invalid_ruc_info(ruc)
    assert info["expires_at"] - info["marked_at"] == pytest.approx(86400)


def test_upstream_failure_is_marked_error_api_briefly(demo_settings, client) -> None:
    demo_settings.DEMO_UPSTREAM = {**demo_settings.DEMO_UPSTREAM, "FAILURE_RATE": 1.0}
    ruc = known_ruc()
    response = client.get(f"/api/ruc/{ruc}/")
    assert response.status_code == 503
    assert response.json()["reason"] == "ERROR_API"
    assert 1 <= int(response["Retry-After"]) <= 60
    info = RucCacheService().get_invalid_ruc_info(ruc)
    assert info["expires_at"] - info["marked_at"] == pytest.approx(60)
    assert info["expires_at"] < time.time() + 61
    assert RucCacheService().get_ruc(ruc) is None  # nothing cached as valid


def test_error_api_mark_removed_lets_the_next_lookup_succeed(demo_settings, client) -> None:
    demo_settings.DEMO_UPSTREAM = {**demo_settings.DEMO_UPSTREAM, "FAILURE_RATE": 1.0}
    ruc = known_ruc()
    assert client.get(f"/api/ruc/{ruc}/").status_code == 503
    demo_settings.DEMO_UPSTREAM = {**demo_settings.DEMO_UPSTREAM, "FAILURE_RATE": 0.0}
    assert RucCacheService().remove_invalid_ruc(ruc)
    assert client.get(f"/api/ruc/{ruc}/").status_code == 200


def test_nubefact_is_its_own_namespace(demo_settings, client) -> None:
    response = client.get("/api/nubefact/20131312955/")
    assert response.status_code == 200
    assert response.json()["data"]["numero_documento"] == "20131312955"
    assert RucCacheService(namespace="nubefact").get_ruc("20131312955") is not None
    assert RucCacheService().get_ruc("20131312955") is None
    assert client.get("/api/nubefact/20131312955/").json()["source"] == "cache"

    unknown = unknown_ruc()
    assert client.get(f"/api/nubefact/{unknown}/").status_code == 404
    assert RucCacheService(namespace="nubefact").is_ruc_invalid(unknown)
    assert not RucCacheService().is_ruc_invalid(unknown)


def test_post_is_not_allowed(demo_settings, client) -> None:
    assert client.post("/api/ruc/20100038146/").status_code == 405


def test_cache_down_fails_open(demo_settings, client, settings) -> None:
    # A cache server that refuses connections: the lookup still answers from the provider.
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "ALIAS": "down"}
    response = client.get("/api/ruc/20100038146/")
    assert response.status_code == 200
    assert response.json()["source"] == "upstream"
