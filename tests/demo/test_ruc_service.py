"""Every RucCacheService method, on LocMem and on a real Redis server, with the seeds' meaning."""

from __future__ import annotations

import contextlib
import io
import time

import pytest
from ruc.services import ERROR_API, FORMATO_INVALIDO, NO_EXISTE_SUNAT, RucCacheService, is_service_name

from cache_dashboard.keys import MAX_NAMESPACE_LENGTH

#: The verification script of seeds/01-cambiar-backend-de-cache.md, with only the import changed.
SEEDS_VERIFICATION_SCRIPT = """
from ruc.services import RucCacheService as APICacheService

# Test 1: Inicialización
cache = APICacheService()
print(f"✅ Backend: {cache.backend}")

# Test 2: Health Check
health = cache.get_health()
print(f"✅ Health: {health['status']}")

# Test 3: SET/GET
cache.set('test_key', {'data': 'value'}, 60)
result = cache.get('test_key')
print(f"✅ Cache works: {result == {'data': 'value'}}")

# Test 4: RUC operations
cache.set_ruc('20100038146', {'ruc': '20100038146'})
cache.add_invalid_ruc('20999999999', 'TEST')
print(f"✅ RUC cache works: {cache.is_ruc_invalid('20999999999')}")
"""

CONTINENTAL = {"ruc": "20100038146", "nombre_o_razon_social": "CONTINENTAL S.A.C."}


@pytest.fixture
def service(demo_settings, alias: str) -> RucCacheService:
    return RucCacheService()


def test_seeds_verification_script_runs(service: RucCacheService, alias: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(SEEDS_VERIFICATION_SCRIPT, "seeds-01", "exec"), {})
    lines = out.getvalue().splitlines()
    expected_backend = {"locmem": "locmem", "redis": "redis"}[alias]
    assert lines == [
        f"✅ Backend: {expected_backend}",
        "✅ Health: healthy",
        "✅ Cache works: True",
        "✅ RUC cache works: True",
    ]
    assert service.get_ruc("20100038146") == {"ruc": "20100038146"}
    assert service.get_invalid_ruc_info("20999999999")["reason"] == "TEST"


def test_explicit_alias(demo_settings, alias: str) -> None:
    assert RucCacheService(alias).cm.alias == alias
    assert RucCacheService(alias).backend == alias


def test_generic_get_set_delete(service: RucCacheService) -> None:
    assert service.get("k") is None
    assert service.get("k", "fallback") == "fallback"
    assert service.set("k", [1, 2], 60) is True
    assert service.get("k") == [1, 2]
    assert service.delete("k") is True
    assert service.delete("k") is False
    assert service.get("k") is None


def test_set_get_delete_ruc(service: RucCacheService) -> None:
    assert service.get_ruc("20100038146") is None
    assert service.set_ruc("20100038146", CONTINENTAL) is True
    assert service.get_ruc("20100038146") == CONTINENTAL
    assert service.get("20100038146") is None  # RUCs live in their namespace, not as plain keys
    assert service.delete_ruc("20100038146") is True
    assert service.get_ruc("20100038146") is None
    assert service.delete_ruc("20100038146") is False


def test_set_ruc_follows_the_ruc_ttl(demo_settings, service: RucCacheService) -> None:
    demo_settings.CACHE_DASHBOARD = {
        **demo_settings.CACHE_DASHBOARD,
        "TTLS": {**demo_settings.CACHE_DASHBOARD["TTLS"], "ruc": 0},  # 0: expire at once
    }
    service.set_ruc("20100038146", CONTINENTAL)
    assert service.get_ruc("20100038146") is None


def test_add_invalid_ruc_uses_24h_and_error_api_uses_one_minute(service: RucCacheService) -> None:
    invalid = service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT, detail="no existe")
    failed = service.add_invalid_ruc("20100070970", ERROR_API)
    explicit = service.add_invalid_ruc("20100047218", FORMATO_INVALIDO, ttl=5)
    assert invalid["expires_at"] - invalid["marked_at"] == pytest.approx(86400)
    assert failed["expires_at"] - failed["marked_at"] == pytest.approx(60)
    assert explicit["expires_at"] - explicit["marked_at"] == pytest.approx(5)


def test_error_ttl_is_configurable(demo_settings, service: RucCacheService) -> None:
    demo_settings.CACHE_DASHBOARD = {
        **demo_settings.CACHE_DASHBOARD,
        "TTLS": {**demo_settings.CACHE_DASHBOARD["TTLS"], "ruc_error": 15},
    }
    info = service.add_invalid_ruc("20100070970", ERROR_API)
    assert info["expires_at"] - info["marked_at"] == pytest.approx(15)


def test_is_ruc_invalid_and_info(service: RucCacheService) -> None:
    assert service.is_ruc_invalid("20999999999") is False
    assert service.get_invalid_ruc_info("20999999999") is None
    service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT, detail="SUNAT no lo conoce")
    assert service.is_ruc_invalid("20999999999") is True
    info = service.get_invalid_ruc_info("20999999999")
    assert info is not None
    assert info["key"] == "20999999999"
    assert info["namespace"] == "ruc"
    assert info["reason"] == NO_EXISTE_SUNAT
    assert info["detail"] == "SUNAT no lo conoce"
    assert info["marked_at"] <= time.time() < info["expires_at"]


def test_remove_invalid_ruc(service: RucCacheService) -> None:
    service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT)
    assert service.remove_invalid_ruc("20999999999") is True
    assert service.is_ruc_invalid("20999999999") is False
    assert service.remove_invalid_ruc("20999999999") is False


def test_get_all_and_clear_invalid_rucs(service: RucCacheService) -> None:
    assert service.get_all_invalid_rucs() == {}
    service.add_invalid_ruc("20100038147", FORMATO_INVALIDO)
    service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT)
    service.add_invalid_ruc("20100070970", ERROR_API)
    service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT)  # re-marked: listed once
    everything = service.get_all_invalid_rucs()
    assert set(everything) == {"20100038147", "20999999999", "20100070970"}
    assert list(everything)[0] == "20999999999"  # newest first
    assert everything["20100070970"]["reason"] == ERROR_API
    # Another namespace is another registry.
    RucCacheService(namespace="nubefact").add_invalid_ruc("20100038147", FORMATO_INVALIDO)

    assert service.clear_invalid_rucs() == 3
    assert service.get_all_invalid_rucs() == {}
    assert RucCacheService(namespace="nubefact").is_ruc_invalid("20100038147")


def test_get_health(service: RucCacheService, alias: str) -> None:
    health = service.get_health()
    assert health["status"] == "healthy"
    assert health["alias"] == alias
    assert "timestamp" in health
    assert {check["name"] for check in health["checks"]} >= {"roundtrip"}


def test_get_cache_stats(service: RucCacheService, alias: str) -> None:
    service.set_ruc("20100038146", CONTINENTAL)
    service.get_ruc("20100038146")  # hit
    service.get_ruc("20131312955")  # miss
    service.add_invalid_ruc("20100038147", FORMATO_INVALIDO)
    service.add_invalid_ruc("20999999999", NO_EXISTE_SUNAT)
    service.add_invalid_ruc("20100070970", NO_EXISTE_SUNAT)

    stats = service.get_cache_stats()

    assert stats["status"] == "healthy"
    assert stats["backend"] == alias
    assert stats["invalid_rucs"] == {
        "total_count": 3,
        "breakdown_by_reason": {NO_EXISTE_SUNAT: 2, FORMATO_INVALIDO: 1},
    }
    assert stats["timeouts"] == {
        "default": "5min",
        "ruc_valid": "1h",
        "ruc_invalid": "24h",
        "ruc_error": "1min",
    }
    assert stats["stats"]["hits"] == 1
    assert stats["stats"]["misses"] == 1
    assert stats["stats"]["sets"] == 1


def test_get_service_cache_key_accepts_any_service_the_seeds_name(service: RucCacheService) -> None:
    # The seeds' own example (02-revision-apicacheservice.md) and their other services.
    assert service.get_service_cache_key("migo", "ruc_20100038146") == "migo:ruc_20100038146"
    assert service.get_service_cache_key("nubefact", "ruc_20100038146") == "nubefact:ruc_20100038146"
    assert service.get_service_cache_key("sunat", "padron") == "sunat:padron"
    assert service.get_service_cache_key("api-v2.migo_pe", "x") == "api-v2.migo_pe:x"
    assert service.get_service_cache_key("m" * MAX_NAMESPACE_LENGTH, "x") == "m" * MAX_NAMESPACE_LENGTH + ":x"


@pytest.mark.parametrize(
    "name",
    ["", "mi go", "migo:v2", "señal", "tab\there", "50%", "{migo}", "m" * (MAX_NAMESPACE_LENGTH + 1), None, 7],
)
def test_invalid_service_names_get_a_clear_error(service: RucCacheService, name: object) -> None:
    with pytest.raises(ValueError, match=r"invalid service name .*1-48 ASCII letters.*e\.g\. 'migo'"):
        service.get_service_cache_key(name, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid service name"):
        service.clear_service_cache(name)  # type: ignore[arg-type]
    assert not is_service_name(name)


def test_a_service_key_needs_a_key(service: RucCacheService) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        service.get_service_cache_key("migo", "")


def test_any_service_key_lives_in_its_namespace(service: RucCacheService, alias: str) -> None:
    """What the seeds' migo_service.py does: the key goes into the namespace ``migo``, so clearing
    the service drops it, and the dashboard lists ``migo`` as a namespace."""
    key = service.get_service_cache_key("migo", "ruc_20100038146")
    assert service.set(key, {"ruc": "20100038146"}, 300) is True
    assert service.get(key) == {"ruc": "20100038146"}
    assert service.cm.get("ruc_20100038146", namespace="migo") == {"ruc": "20100038146"}
    assert service.cm.get(key) is None  # not a plain key
    assert "migo" in service.cm.known_namespaces()
    assert service.cm.get_stats()["namespaces"]["migo"]["hits"] == 2

    assert service.clear_service_cache("migo") == {"namespaces_invalidated": 1}
    assert service.get(key) is None


def test_keys_without_a_valid_service_prefix_stay_plain(service: RucCacheService) -> None:
    for key in ("mi go:x", ":x", "x:", "señal:x", "plain"):
        assert service.set(key, key, 300) is True
        assert service.cm.get(key) == key, key
        assert service.get(key) == key


def test_clear_service_cache_drops_only_that_service(service: RucCacheService) -> None:
    nubefact_key = service.get_service_cache_key("nubefact", "ruc_20100038146")
    service.set(nubefact_key, {"emisor_electronico": True}, 300)
    service.set_ruc("20100038146", CONTINENTAL)
    service.set("plain", 1, 300)
    assert service.get(nubefact_key) == {"emisor_electronico": True}
    assert RucCacheService(namespace="nubefact").get_ruc("ruc_20100038146") == {"emisor_electronico": True}

    assert service.clear_service_cache("nubefact") == {"namespaces_invalidated": 1}

    assert service.get(nubefact_key) is None
    assert service.get_ruc("20100038146") == CONTINENTAL
    assert service.get("plain") == 1
    assert service.cm.get_stats()["sources"].get("RucCacheService") == 1
