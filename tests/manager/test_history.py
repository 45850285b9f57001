"""The statistics history: closed hours rolled from the cache into the database once, whatever the
number of threads or processes rolling them, and read back for the hours the cache no longer has
(a flushed server, "Last 7 days"); a database without the table changes nothing but that."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.db import DatabaseError, connection, transaction
from django.db.utils import ConnectionHandler

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.history import database
from cache_dashboard.manager import stats, statstore
from cache_dashboard.models import StatsHour
from cache_dashboard.testing import jobs_paused
from tests.conftest import require
from tests.procs import run_processes
from tests.workers import roll_up

pytestmark = pytest.mark.django_db
ALIASES = ["locmem", "redis", "memcached"]
WEEK = 7 * 86400


@pytest.fixture
def quiet_flusher() -> Iterator[None]:
    """No background rollup in this test (the rows of earlier tests' background threads gone too)."""
    with jobs_paused():
        StatsHour.objects.all().delete()
        yield


def hour_now() -> int:
    return int(time.time() // 3600 * 3600)


def plant(alias: str, hour: int, deltas: dict[str, int], maxima: dict[str, int] | None = None,
          names: tuple[str, ...] = ()) -> None:
    """Write one hour's bucket as the flushers of every process would have by then."""
    adapter = get_adapter(alias)
    statstore.store_for(adapter).write(adapter, [(3600, hour, deltas, maxima or {})], hour, set(names))


def flush_cache_server(alias: str) -> None:
    """What a restart does to the statistics: the cache server forgets them all."""
    if alias == "locmem":
        statstore.forget()  # LocMem's statistics are this process's memory
        caches[alias].clear()
    elif alias == "redis":
        get_adapter(alias).client().flushall()
    else:
        caches["memcached_pool"]._cache.flush_all()


def two_hours(alias: str) -> tuple[int, int]:
    """Plant two closed hours (3 and 2 hours ago) and the open one; return the closed ones."""
    now = hour_now()
    older, old = now - 3 * 3600, now - 2 * 3600
    plant(alias, older, {"c|ruc|hits": 5, "c|ruc|misses": 2, "c||hits": 1, "c|ruc|fetches": 2,
                         "c|ruc|fetch_us": 3000, "s|admin": 3}, {"m|ruc": 2000}, names=("n|ruc", "s|admin"))
    plant(alias, old, {"c|ruc|hits": 7, "c|perfil|sets": 4}, names=("n|ruc", "n|perfil"))
    plant(alias, now, {"c|ruc|hits": 100})  # still counting: never rolled up
    return older, old


@pytest.mark.parametrize("alias_name", ALIASES)
def test_closed_hours_are_stored_once_with_every_counter(alias_name: str, servers: Any, quiet_flusher: None) -> None:
    require(alias_name, servers)
    older, old = two_hours(alias_name)
    assert stats.roll_up(alias_name) == [older, old]
    assert stats.roll_up(alias_name) == []  # stored already: nothing twice
    rows = {(r.namespace, r.hour): r for r in StatsHour.objects.filter(alias=alias_name)}
    assert set(rows) == {("", older), ("ruc", older), ("", old), ("ruc", old), ("perfil", old)}
    ruc = rows[("ruc", older)]
    assert (ruc.hits, ruc.misses, ruc.fetches, ruc.fetch_us, ruc.fetch_max_us, ruc.name) == (5, 2, 2, 3000, 2000, "ruc")
    assert rows[("", older)].hits == 1 and rows[("", older)].sources == {"admin": 3}
    assert rows[("perfil", old)].sets == 4 and rows[("", old)].hits == 0
    assert not StatsHour.objects.filter(hour=hour_now()).exists()


@pytest.mark.parametrize("alias_name", ALIASES)
def test_charts_survive_a_flush_of_the_cache_server(alias_name: str, servers: Any, quiet_flusher: None) -> None:
    require(alias_name, servers)
    older, old = two_hours(alias_name)
    stats.roll_up(alias_name)
    flush_cache_server(alias_name)
    cm = CacheManager(alias_name)
    for window in (86400, WEEK):
        found = cm.get_stats(window=window)
        assert found["history"] == "database"
        starts = found["series"]["timestamps"]
        assert found["series"]["hits"][starts.index(older)] == 6 and found["series"]["hits"][starts.index(old)] == 7
        assert found["series"]["hits"][-1] == 0  # the open hour was the cache's alone
        assert found["totals"]["hits"] == 13 and found["totals"]["sets"] == 4
        assert found["namespaces"]["ruc"]["hits"] == 12 and found["namespaces"]["ruc"]["fetch_time_max_ms"] == 2.0
        assert found["namespaces"]["perfil"]["sets"] == 4 and found["sources"] == {"admin": 3}
        assert found["source_series"]["admin"][starts.index(older)] == 3  # per hour, from the database
        assert sum(found["source_series"]["admin"]) == 3
    one = cm.get_stats("ruc", window=WEEK)
    assert one["totals"]["hits"] == 12 and one["totals"]["misses"] == 2 and one["sources"] == {}
    assert sum(one["series"]["hits"]) == 12


def test_the_week_has_168_hourly_points_and_reads_hours_the_cache_never_had(quiet_flusher: None) -> None:
    now = hour_now()
    five_days_ago = now - 5 * 86400
    assert database.save("redis", five_days_ago, {"c|ruc|hits": 40, "c|ruc|misses": 10}, {"ruc": "ruc"})
    plant("locmem", now, {"c|ruc|hits": 1})
    for alias in ("locmem", "redis"):
        found = CacheManager(alias).get_stats(window=WEEK)
        assert found["resolution"] == 3600 and found["window"] == WEEK
        assert len(found["series"]["timestamps"]) == 168 and len(found["series"]["hits"]) == 168
        assert found["series"]["timestamps"][-1] == now
    week = CacheManager("redis").get_stats(window=WEEK)
    assert week["series"]["hits"][week["series"]["timestamps"].index(five_days_ago)] == 40
    assert week["namespaces"]["ruc"]["hit_ratio"] == 0.8
    assert CacheManager("redis").get_stats(window=86400)["totals"]["hits"] == 0  # outside the day


def test_the_cache_wins_for_hours_not_rolled_up_yet(quiet_flusher: None) -> None:
    # A closed hour the cache still has and the database does not: read from the cache, once.
    older, old = two_hours("redis")
    found = CacheManager("redis").get_stats(window=86400)
    assert found["totals"]["hits"] == 113 and not StatsHour.objects.exists()
    stats.roll_up("redis")
    assert CacheManager("redis").get_stats(window=86400)["totals"]["hits"] == 113  # not 126: each hour once


def test_an_hour_the_cache_has_nothing_for_is_left_alone(quiet_flusher: None) -> None:
    # pymemcache answers every read with nothing for a while after its server died: that must
    # not be stored in place of the real hour, which a later rollup stores once the server is back.
    assert stats.roll_up("memcached") == []
    assert not StatsHour.objects.exists()
    older, old = two_hours("memcached")
    assert stats.roll_up("memcached") == [older, old]


def test_only_the_hours_the_cache_keeps_are_candidates() -> None:
    now = time.time()
    hours = stats.closed_hours(now)
    assert hours == sorted(hours) and hours[-1] + 3600 + stats.ROLLUP_GRACE <= now
    assert hours[0] > now - statstore.retention(3600) - 3600
    assert len(hours) in (24, 25)  # the default retention: 25 h of buckets, plus the one leaving


def test_old_rows_are_pruned_past_the_history_retention(quiet_flusher: None, settings: Any) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "STATS_HISTORY_RETENTION": 2 * 86400}
    ancient = hour_now() - 3 * 86400
    database.save("redis", ancient, {"c|ruc|hits": 1}, {})
    two_hours("redis")
    stats.roll_up("redis")
    assert not StatsHour.objects.filter(hour=ancient).exists()
    assert StatsHour.objects.filter(alias="redis").count() == 5


def test_history_off_reads_the_cache_only(quiet_flusher: None, settings: Any) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "STATS_HISTORY": None}
    two_hours("redis")
    assert stats.roll_up("redis") == []
    found = CacheManager("redis").get_stats(window=WEEK)
    assert found["history"] == "off" and found["totals"]["hits"] == 113
    assert CacheManager("redis").get_stats(window=3600)["history"] == ""


def test_the_flusher_rolls_up_every_dashboard_alias(settings: Any) -> None:
    StatsHour.objects.all().delete()
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "ALIASES": ["redis", "memcached"]}
    with jobs_paused():
        two_hours("redis")
        two_hours("memcached")
    stats._next_rollup = 0.0  # the rollup is due
    stats.run_jobs()
    assert set(StatsHour.objects.filter(namespace="").values_list("alias", flat=True)) == {"redis", "memcached"}


def test_names_any_str_is_stored_and_shown(quiet_flusher: None) -> None:
    from cache_dashboard.keys import normalize_namespace

    name = "x\ud800y\x00"
    nns = normalize_namespace(name)
    hour = hour_now() - 2 * 3600
    plant("redis", hour, {f"c|{nns}|hits": 3}, names=(f"n|{name}",))
    assert stats.roll_up("redis") == [hour]
    assert StatsHour.objects.get(namespace=nns).name == "x\\ud800y\\x00"
    assert CacheManager("redis").get_stats(window=86400)["namespaces"][name]["hits"] == 3  # the cache knows it
    flush_cache_server("redis")
    stats.forget()  # a process that never saw the name: the database's is all there is
    assert CacheManager("redis").get_stats(window=86400)["namespaces"]["x\\ud800y\\x00"]["hits"] == 3


# -- exactly once ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_in_threads_store_each_hour_once() -> None:
    with jobs_paused():
        StatsHour.objects.all().delete()
        older, old = two_hours("redis")
        barrier = threading.Barrier(6)
        results: list[list[int]] = []
        errors: list[BaseException] = []

        def work() -> None:
            barrier.wait()
            try:
                results.append(stats.roll_up("redis"))
            except Exception as exc:  # SQLite's shared in-memory test database locks tables
                errors.append(exc)
            finally:
                database.close()

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = [hour for found in results for hour in found]
        assert len(stored) == len(set(stored)) and set(stored) <= {older, old}  # no hour by two threads
        stats.roll_up("redis")  # what a lock made a thread give up (SQLite in memory), the next rollup stores
        hours = StatsHour.objects.filter(alias="redis", namespace="").values_list("hour", flat=True)
        assert sorted(hours) == [older, old], errors
        assert StatsHour.objects.filter(alias="redis").count() == 5
        assert sum(StatsHour.objects.values_list("hits", flat=True)) == 13  # each hour's counts once


@pytest.mark.slow
def test_concurrent_rollups_in_processes_store_each_hour_once(tmp_path: Path) -> None:
    # Two processes on one SQLite file (the test database lives in this process's memory): each
    # reads the same closed hours from Redis and tries to store them; the database says who may.
    path = tmp_path / "history.sqlite3"
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}})
    shared = handler["default"]
    try:
        with shared.schema_editor() as editor:
            editor.create_model(StatsHour)
        with jobs_paused():
            older, old = two_hours("redis")
            now = time.time()
            results = run_processes(roll_up, [("redis", now), ("redis", now)], env={"CD_TEST_DATABASE": str(path)})
        stored = [hour for found in results for hour in found]
        assert sorted(stored) == [older, old]  # each hour by one process
        with shared.cursor() as cursor:
            cursor.execute("SELECT namespace, hour, hits, misses, sets FROM cache_dashboard_statshour "
                           "WHERE alias = 'redis' ORDER BY hour, namespace")
            rows = cursor.fetchall()
        assert rows == [("", older, 1, 0, 0), ("ruc", older, 5, 2, 0),
                        ("", old, 0, 0, 0), ("perfil", old, 0, 0, 4), ("ruc", old, 7, 0, 0)]
    finally:
        handler.close_all()


# -- a database without the table -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_missing_table_changes_nothing_but_the_history() -> None:
    with jobs_paused():
        two_hours("redis")
        with connection.schema_editor() as editor:
            editor.delete_model(StatsHour)
        try:
            found = CacheManager("redis").get_stats(window=WEEK)
            assert found["history"] == "unavailable" and found["totals"]["hits"] == 113
            with pytest.raises(DatabaseError):  # the store's own error, for the job to take
                stats.roll_up("redis")
            stats._next_rollup = 0.0  # due
            stats._roll_up_due(time.time())  # the flusher's job: quiet
            with transaction.atomic():  # inside a caller's transaction the read is a savepoint
                assert CacheManager("redis").get_stats(window=86400)["history"] == "unavailable"
                with connection.cursor() as cursor:  # and the caller's transaction goes on
                    cursor.execute("SELECT 1")
                    assert cursor.fetchone() == (1,)
        finally:
            with connection.schema_editor() as editor:
                editor.create_model(StatsHour)
