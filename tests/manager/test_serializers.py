"""Everything CacheManager stores round-trips through every serializer users run, on real Redis
and Valkey: django-redis's and django-valkey's default pickle, their JSONSerializer and their
MSGPackSerializer (Django's own RedisCache only pickles: the contract suite covers it). Users who
avoid pickle for safety must get the same caching: hits, namespaces, stampede locks, the negative
cache, stats, clear_all."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches

from cache_dashboard import CacheManager, testing
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require
from tests.procs import run_loop

#: (fork, serializer) -> its class; django-valkey's are django-redis's, renamed.
SERIALIZERS = {
    (fork, name): f"{fork}.serializers.{name}.{cls}"
    for fork in ("django_redis", "django_valkey")
    for name, cls in (("pickle", "PickleSerializer"), ("json", "JSONSerializer"), ("msgpack", "MSGPackSerializer"))
}
#: Only what JSON and msgpack can represent (lists, not tuples; str keys).
VALUE = {"ruc": "20100038146", "razon_social": "EMPRESA DEMO S.A.C.", "items": [1, 2.5, None, True],
         "nested": {"estado": "ACTIVO", "vacio": []}, "unicode": "año ñandú \u00e9"}


@pytest.fixture(params=list(SERIALIZERS), ids="-".join)
def cm(request: pytest.FixtureRequest, servers: Any, extra_alias: Any) -> CacheManager:
    fork, name = request.param
    require(fork, servers)
    base = settings.CACHES[fork]
    location = base["LOCATION"].rsplit("/", 1)[0] + "/4"
    extra_alias(serialized={**base, "LOCATION": location, "KEY_PREFIX": f"ser-{name}",
                            "OPTIONS": {**base["OPTIONS"], "SERIALIZER": SERIALIZERS[request.param]}})
    return CacheManager("serialized")


def _fetcher(value: Any) -> tuple[list[int], Any]:
    calls: list[int] = []

    def fetch() -> Any:
        calls.append(1)
        return value

    return calls, fetch


def test_hits_are_hits_with_and_without_namespace(cm: CacheManager) -> None:
    calls, fetch = _fetcher(VALUE)
    for _ in range(10):
        assert cm.get("ruc:20100038146", fetch, 60) == VALUE
        assert cm.get("ruc:20100038146", fetch, 60, namespace="ruc") == VALUE
    assert len(calls) == 2  # one miss each; the other 18 reads were hits
    cm.flush_stats()
    totals = cm.get_stats()["totals"]
    assert (totals["hits"], totals["misses"], totals["sets"]) == (18, 2, 2)
    assert get_breaker("serialized").state == "closed"


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False, 12, -3.5, "12"])
def test_falsy_and_numeric_values_are_cached_as_themselves(cm: CacheManager, value: Any) -> None:
    calls, fetch = _fetcher(value)
    assert cm.get("v", fetch, 60) == value and cm.get("v", fetch, 60) == value
    assert type(cm.get("v", fetch, 60)) is type(value)
    assert len(calls) == 1


def test_set_never_expiring_and_namespace_invalidation(cm: CacheManager) -> None:
    assert cm.set("forever", VALUE, None) and cm.set("page", VALUE, 60, namespace="lista")
    assert cm.get("forever") == VALUE and cm.get("page", namespace="lista") == VALUE
    cm.invalidate_namespace("lista")
    assert cm.get("page", namespace="lista") is None
    assert cm.set("page", "again", 60, namespace="lista") and cm.get("page", namespace="lista") == "again"
    assert cm.invalidate(["forever"]) == 1 and cm.get("forever") is None


def test_stampede_lock_is_taken_and_released(cm: CacheManager) -> None:
    # The lock holds a plain string, so the holder recognises its own lock and releases it.
    layout = testing.keys("serialized")
    lock = layout.lock(layout.entry("slow", None))
    seen: list[Any] = []

    def fetch() -> str:
        seen.append(caches["serialized"].get(lock))
        time.sleep(0.2)
        return "done"

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cm.get("slow", fetch, 60))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["done"] * 4 and len(seen) == 1  # one fetch, the others waited for it
    assert isinstance(seen[0], str)  # the lock was held during the fetch...
    assert caches["serialized"].get(lock) is None  # ...and released by its holder, not by its TTL


def test_negative_cache(cm: CacheManager) -> None:
    detail = {"status": 404, "fuente": "SUNAT", "intentos": [1, 2]}
    assert cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc", detail=detail) is not None
    cm.mark_invalid("123", "FORMATO_INVALIDO", namespace="ruc")
    cm.mark_invalid("123", "FORMATO_INVALIDO", namespace="ruc")  # re-marked: counted once
    assert cm.is_invalid("20999999999", namespace="ruc")
    assert cm.get_invalid_info("20999999999", namespace="ruc")["detail"] == detail
    assert [e["key"] for e in cm.invalid_entries("ruc")] == ["123", "20999999999"]
    assert cm.invalid_breakdown("ruc") == {"FORMATO_INVALIDO": 1, "NO_EXISTE_SUNAT": 1}
    assert cm.remove_invalid("123", namespace="ruc") and not cm.is_invalid("123", namespace="ruc")


def test_clear_all_and_health(cm: CacheManager) -> None:
    cm.set("a", VALUE, 60)
    cm.set("b", VALUE, 60, namespace="n")
    cm.clear_all()
    assert cm.get("a") is None and cm.get("b", namespace="n") is None
    report = cm.get_health()
    assert report["status"] == "healthy", report
    assert [c["ok"] for c in report["checks"]] == [True, True, True]


def test_the_async_api_reads_and_writes_the_same_entries(cm: CacheManager) -> None:
    calls, fetch = _fetcher(VALUE)

    async def main() -> list[Any]:
        first = await cm.aget("ruc:1", fetch, 60, namespace="ruc")
        await cm.aset("ruc:2", VALUE, 60, namespace="ruc")
        await cm.amark_invalid("2099", "ERROR_API", namespace="ruc", detail={"status": 503})
        return [first, await cm.aget("ruc:1", fetch, 60, namespace="ruc"),
                (await cm.aget_invalid_info("2099", namespace="ruc") or {}).get("detail")]

    assert run_loop(main) == [VALUE, VALUE, {"status": 503}]
    assert len(calls) == 1
    assert cm.get("ruc:2", namespace="ruc") == VALUE and cm.get("ruc:1", namespace="ruc") == VALUE
