"""Item 8 (negative cache) and item 9 (shared statistics)."""

from __future__ import annotations

import threading
import time

import pytest

from cache_dashboard import CacheManager
from cache_dashboard.manager import stats
from cache_dashboard.testing import flusher_paused
from tests.conftest import require
from tests.procs import run_processes
from tests.workers import hits, mark_many


def test_mark_read_and_remove(cm: CacheManager) -> None:
    assert cm.is_invalid("20999999999", namespace="ruc") is False
    entry = cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc", detail={"upstream": 404})
    assert entry is not None and entry["reason"] == "NO_EXISTE_SUNAT"
    assert cm.is_invalid("20999999999", namespace="ruc") is True
    assert cm.is_invalid("20999999999", namespace="nubefact") is False
    info = cm.get_invalid_info("20999999999", namespace="ruc")
    assert info is not None
    assert info["reason"] == "NO_EXISTE_SUNAT" and info["detail"] == {"upstream": 404}
    assert info["expires_at"] == pytest.approx(info["marked_at"] + 86400)  # TTLS["ruc_invalid"]
    assert cm.remove_invalid("20999999999", namespace="ruc") is True
    assert cm.remove_invalid("20999999999", namespace="ruc") is False
    assert cm.is_invalid("20999999999", namespace="ruc") is False
    assert cm.invalid_entries("ruc") == []


def test_entries_newest_first_and_breakdown(cm: CacheManager) -> None:
    cm.mark_invalid("123", "FORMATO_INVALIDO", namespace="ruc")
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    cm.mark_invalid("20100038146", "ERROR_API", namespace="ruc", ttl=60)
    cm.mark_invalid("999", "FORMATO_INVALIDO", namespace="nubefact")
    entries = cm.invalid_entries("ruc")
    assert [e["key"] for e in entries] == ["20100038146", "20999999999", "123"]
    assert set(entries[0]) == {"key", "namespace", "reason", "detail", "marked_at", "expires_at"}
    assert cm.invalid_breakdown("ruc") == {"ERROR_API": 1, "FORMATO_INVALIDO": 1, "NO_EXISTE_SUNAT": 1}
    assert cm.invalid_breakdown() == {"FORMATO_INVALIDO": 2, "ERROR_API": 1, "NO_EXISTE_SUNAT": 1}


def test_re_marking_replaces_and_counts_once(cm: CacheManager) -> None:
    cm.mark_invalid("123", "ERROR_API", namespace="ruc")
    cm.mark_invalid("123", "FORMATO_INVALIDO", namespace="ruc")
    assert cm.invalid_breakdown("ruc") == {"FORMATO_INVALIDO": 1}
    assert len(cm.invalid_entries("ruc")) == 1


def test_expired_entries_drop_out(cm: CacheManager) -> None:
    cm.mark_invalid("short", "ERROR_API", namespace="ruc", ttl=1)
    cm.mark_invalid("long", "NO_EXISTE_SUNAT", namespace="ruc", ttl=600)
    assert cm.invalid_breakdown("ruc") == {"ERROR_API": 1, "NO_EXISTE_SUNAT": 1}
    time.sleep(1.3)
    assert cm.is_invalid("short", namespace="ruc") is False
    assert [e["key"] for e in cm.invalid_entries("ruc")] == ["long"]
    assert cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 1}


def test_bad_reason_is_rejected_and_changes_nothing(cm: CacheManager) -> None:
    with pytest.raises(ValueError):
        cm.mark_invalid("k", "", namespace="ruc")
    with pytest.raises(ValueError):
        cm.mark_invalid("k", "   ", namespace="ruc")
    assert cm.invalid_entries("ruc") == []


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", ["redis", "django_redis", "memcached"])
def test_registry_exact_under_four_processes(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    marked = run_processes(mark_many, [(alias_name, w, 2500) for w in range(4)])
    assert marked == [2500] * 4
    cm = CacheManager(alias_name)
    breakdown = cm.invalid_breakdown("ruc")
    assert sum(breakdown.values()) == 10_000
    assert breakdown == {"NO_EXISTE_SUNAT": 3336, "FORMATO_INVALIDO": 3332, "ERROR_API": 3332}
    assert sum(cm.invalid_breakdown().values()) == 10_000  # the namespace is known to this process too


# -- item 9: statistics ---------------------------------------------------------------------------------
def test_hits_misses_sets_fetches_per_namespace(cm: CacheManager) -> None:
    cm.get("a", lambda: 1, 60, namespace="ruc")  # miss + fetch + set
    cm.get("a", lambda: 1, 60, namespace="ruc")  # hit
    cm.get("a", namespace="ruc")  # hit
    cm.get("b", namespace="nubefact")  # miss
    cm.get("plain", lambda: 2, 60)  # miss + set, no namespace
    cm.invalidate("a", namespace="ruc", source="admin")
    stats = cm.get_stats()
    assert stats["totals"]["hits"] == 2
    assert stats["totals"]["misses"] == 3
    assert stats["totals"]["sets"] == 2
    assert stats["totals"]["fetches"] == 2
    assert stats["totals"]["invalidations"] == 1
    assert stats["totals"]["hit_ratio"] == pytest.approx(0.4)
    assert stats["namespaces"]["ruc"]["hits"] == 2
    assert stats["namespaces"]["nubefact"]["misses"] == 1
    assert stats["namespaces"][""]["misses"] == 1
    assert stats["sources"] == {"admin": 1}
    ruc = cm.get_stats("ruc")
    assert ruc["namespace"] == "ruc" and ruc["totals"]["hits"] == 2 and ruc["totals"]["misses"] == 1
    assert sum(ruc["series"]["hits"]) == 2
    assert len(ruc["series"]["timestamps"]) == 60 and ruc["resolution"] == 60
    day = cm.get_stats(window=86400)
    assert day["resolution"] == 3600 and len(day["series"]["timestamps"]) == 24
    assert day["totals"]["hits"] == 2
    assert stats["shared"] is (cm.backend != "locmem")


def test_hit_path_adds_no_round_trip_for_stats(servers: object) -> None:
    """Recording a hit touches only process memory: the server sees exactly one GET/MGET."""
    require("redis", servers)  # type: ignore[arg-type]
    cm = CacheManager("redis")
    cm.set("k", "v", 600)
    cm.set("k", "v", 600, namespace="ns")
    cm.get("k")
    cm.get("k", namespace="ns")
    cm.flush_stats()
    client = cm.adapter.client()

    def calls() -> dict[str, int]:
        return {k: v["calls"] for k, v in client.info("commandstats").items()}

    cm.flush_stats()
    # The background flusher's INCRBYs are off the hit path but would land in the server's command
    # counts if its 1 s tick fell inside the loop.
    with flusher_paused():
        before = calls()
        for _ in range(50):
            assert cm.get("k") == "v"
            assert cm.get("k", namespace="ns") == "v"
        after = calls()
    changed = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    changed.pop("cmdstat_info", None)
    # at most one epoch refresh (GET) happens in the loop, once a second
    assert changed.get("cmdstat_mget") == 50
    assert 50 <= changed.get("cmdstat_get", 0) <= 52
    assert not {"cmdstat_incrby", "cmdstat_incr", "cmdstat_set"} & set(changed)


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", ["redis", "memcached"])
def test_stats_are_shared_across_processes_and_exact(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    assert run_processes(hits, [(alias_name, 300)] * 4) == [300] * 4
    totals = CacheManager(alias_name).get_stats("stats")["totals"]
    assert totals["hits"] + totals["misses"] == 1200
    assert totals["misses"] >= 1 and totals["sets"] >= 1


def test_locmem_stats_say_per_process() -> None:
    stats = CacheManager("locmem").get_stats()
    assert stats["shared"] is False and stats["scope"] == "per-process"


def test_health_probes_are_not_counted(cm: CacheManager) -> None:
    cm.get_health()
    cm.get_health()
    totals = cm.get_stats()["totals"]
    assert totals["hits"] == totals["misses"] == totals["sets"] == 0


def test_flush_waits_for_a_background_flush_in_flight(cm: CacheManager, monkeypatch: pytest.MonkeyPatch) -> None:
    # The background flusher swaps the buffer out before writing. A flush_stats() that ran during
    # that write used to find an empty buffer and return at once, so get_stats() missed counts.
    recorder = stats.get_recorder(cm.alias)
    real_write = recorder._write
    writing, proceed = threading.Event(), threading.Event()

    def slow_write(*args: object) -> None:
        writing.set()
        proceed.wait(5)
        real_write(*args)

    for _ in range(5):
        cm.get("absent")  # 5 misses, buffered
    monkeypatch.setattr(recorder, "_write", slow_write)
    background = threading.Thread(target=recorder.flush)
    background.start()
    assert writing.wait(5)
    monkeypatch.setattr(recorder, "_write", real_write)
    threading.Timer(0.2, proceed.set).start()
    cm.flush_stats()  # must wait for the write in flight
    assert cm.get_stats()["totals"]["misses"] == 5
    background.join()


# -- issue 8: kept counts, pages, the cap ---------------------------------------------------------
HOSTILE_KEYS = ["__proto__", "\ud800lone", "key with spaces", "{tag}", "ñandú", "x" * 300, "20100038146"]


def test_a_page_is_a_slice_of_the_newest_first_listing(cm: CacheManager) -> None:
    for i in range(60):
        cm.mark_invalid(f"k{i:02d}", ("ERROR_API", "NO_EXISTE_SUNAT")[i % 2], namespace="ruc")
    everything = cm.invalid_entries("ruc")
    assert [e["key"] for e in everything] == [f"k{i:02d}" for i in range(59, -1, -1)]
    assert cm.invalid_entries("ruc", offset=10, limit=5) == everything[10:15]
    assert cm.invalid_entries("ruc", offset=55, limit=25) == everything[55:]
    cm.remove_invalid("k58", namespace="ruc")
    cm.mark_invalid("k00", "FORMATO_INVALIDO", namespace="ruc")  # a re-mark moves it to the top
    assert [e["key"] for e in cm.invalid_entries("ruc", limit=3)] == ["k00", "k59", "k57"]
    assert cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 30, "ERROR_API": 28, "FORMATO_INVALIDO": 1}


def test_the_cap_drops_the_oldest_and_counts_them(cm: CacheManager, settings: object) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "REGISTRY_MAX_ENTRIES": 20}  # type: ignore[attr-defined]
    for i in range(50):
        cm.mark_invalid(f"k{i:02d}", "ERROR_API", namespace="capped", ttl=600)
    assert [e["key"] for e in cm.invalid_entries("capped")] == [f"k{i:02d}" for i in range(49, 29, -1)]
    assert cm.invalid_breakdown("capped") == {"ERROR_API": 20}
    assert cm.invalid_dropped("capped") == 30
    assert cm.is_invalid("k49", namespace="capped") and not cm.is_invalid("k00", namespace="capped")
    assert cm.invalid_dropped("ruc") == 0


def test_expired_entries_are_not_counted_as_dropped(cm: CacheManager, settings: object) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "REGISTRY_MAX_ENTRIES": 3}  # type: ignore[attr-defined]
    for i in range(3):
        cm.mark_invalid(f"old{i}", "ERROR_API", namespace="cap2", ttl=1)
    time.sleep(1.3)
    for i in range(3):
        cm.mark_invalid(f"new{i}", "ERROR_API", namespace="cap2", ttl=600)
    assert cm.invalid_breakdown("cap2") == {"ERROR_API": 3}
    assert [e["key"] for e in cm.invalid_entries("cap2")] == ["new2", "new1", "new0"]
    # The log backends drop by position, expired or not.
    if cm.backend in ("locmem", "redis", "django_redis", "django_valkey"):
        assert cm.invalid_dropped("cap2") == 0


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_reasons_and_details_round_trip(cm: CacheManager, key: str) -> None:
    detail = {"__proto__": {"x": 1}, "texto": "\u0000\u202e<script>", "lista": [1, "dos"]}
    reason = "RAZÓN <b>rara</b> \u202e"
    assert cm.mark_invalid(key, reason, namespace="hostile", detail=detail) is not None
    info = cm.get_invalid_info(key, namespace="hostile")
    assert info is not None and (info["key"], info["reason"], info["detail"]) == (key, reason, detail)
    [listed] = cm.invalid_entries("hostile")
    assert listed == info
    assert cm.invalid_breakdown("hostile") == {reason: 1}
    assert cm.remove_invalid(key, namespace="hostile") and cm.invalid_breakdown("hostile") == {}


@pytest.mark.django_db
@pytest.mark.parametrize("alias_name", ["file", "db"])
def test_the_registry_works_on_file_and_database_caches(alias_name: str) -> None:
    cm = CacheManager(alias_name)
    cm.mark_invalid("a", "ERROR_API", namespace="ruc", ttl=1)
    cm.mark_invalid("b", "NO_EXISTE_SUNAT", namespace="ruc", detail={"status": 404})
    cm.mark_invalid("c", "NO_EXISTE_SUNAT", namespace="ruc")
    assert cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 2, "ERROR_API": 1}
    time.sleep(1.3)
    assert cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 2}
    assert [e["key"] for e in cm.invalid_entries("ruc", limit=1)] == ["c"]
    assert cm.get_invalid_info("b", namespace="ruc")["detail"] == {"status": 404}
    assert cm.remove_invalid("b", namespace="ruc") and cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 1}
