"""The statistics history in the database: the default ``STATS_HISTORY`` store.

The flusher of any process rolls each closed hour of the cache's statistics into
:class:`~cache_dashboard.models.StatsHour` rows, one per namespace that moved (``manager.stats``
decides which hours, and reads them from the cache); the hourly windows read them back, in one
query of O(hours × namespaces) rows. An hour is written once whatever the number of processes:
its own row (namespace ``""``) goes first, in one transaction with the others, and the unique
constraint on (alias, namespace, hour) makes the second writer's transaction fail as a whole.

Every method may raise the database's errors (a table not migrated yet, a database that is
down): ``manager.stats`` turns them into "the cache's hours only", once logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connections, router, transaction

from cache_dashboard.manager.statstore import parse_cell
from cache_dashboard.models import StatsHour

#: Counter cells of a bucket (``c|<ns>|<field>``) and the column each goes to.
COUNTERS = ("hits", "misses", "sets", "invalidations", "errors", "stale", "fetches", "fetch_us")


def storable(text: str) -> str:
    """``text`` as any database keeps it: lone surrogates and NUL written as their escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


@contextmanager
def _savepoint(db: str) -> Iterator[None]:
    """A savepoint when the caller is in a transaction, so a failing query (a missing table on
    PostgreSQL) does not break the caller's transaction."""
    if connections[db].in_atomic_block:
        with transaction.atomic(using=db):
            yield
    else:
        yield


class DatabaseHistory:
    """Closed hours of statistics as :class:`~cache_dashboard.models.StatsHour` rows."""

    def rolled(self, alias: str, hours: list[int]) -> set[int]:
        if not hours:
            return set()
        db = router.db_for_read(StatsHour)
        with _savepoint(db):
            found = StatsHour.objects.using(db).filter(alias=alias, namespace="", hour__gte=hours[0],
                                                       hour__lte=hours[-1]).values_list("hour", flat=True)
            return set(found) & set(hours)

    def save(self, alias: str, hour: int, cells: dict[str, int], names: dict[str, str]) -> bool:
        rows: dict[str, StatsHour] = {"": StatsHour(alias=alias, namespace="", name="", hour=hour)}

        def row(ns: str) -> StatsHour:
            if ns not in rows:
                rows[ns] = StatsHour(alias=alias, namespace=ns, name=storable(names.get(ns, ns)), hour=hour)
            return rows[ns]

        sources: dict[str, int] = {}
        for cell, n in cells.items():
            kind, ns, name = parse_cell(cell)
            if kind == "c" and name in COUNTERS:
                target = row(ns)
                setattr(target, name, getattr(target, name) + n)
            elif kind == "m":
                target = row(ns)
                target.fetch_max_us = max(target.fetch_max_us, n)
            elif kind == "s":
                sources[name] = sources.get(name, 0) + n
        rows[""].sources = sources
        db = router.db_for_write(StatsHour)
        try:
            with transaction.atomic(using=db):
                rows[""].save(using=db, force_insert=True)  # the hour's own row: taken by one process only
                StatsHour.objects.using(db).bulk_create([r for ns, r in rows.items() if ns])
        except IntegrityError:  # another process stored this hour first
            return False
        return True

    def read(self, alias: str, first: int, last: int,
             nns: str | None) -> tuple[dict[int, dict[str, int]], dict[str, str]]:
        db = router.db_for_read(StatsHour)
        query = StatsHour.objects.using(db).filter(alias=alias, hour__gte=first, hour__lte=last)
        if nns is not None:
            query = query.filter(namespace__in=["", nns])
        columns = ("hour", "namespace", "name", *COUNTERS, "fetch_max_us", "sources")
        hours: dict[int, dict[str, int]] = {}
        names: dict[str, str] = {}
        with _savepoint(db):
            found = list(query.values_list(*columns))
        for hour, ns, name, *values in found:
            cells = hours.setdefault(hour, {})
            *counts, fetch_max, sources = values
            for field, n in zip(COUNTERS, counts, strict=True):
                if n:
                    cells[f"c|{ns}|{field}"] = n
            if fetch_max:
                cells[f"m|{ns}"] = fetch_max
            for source, n in _sources(sources).items():
                cells[f"s|{source}"] = cells.get(f"s|{source}", 0) + n
            if ns:
                names[ns] = name or ns
        return hours, names

    def prune(self, alias: str, before: int) -> int:
        db = router.db_for_write(StatsHour)
        deleted, _ = StatsHour.objects.using(db).filter(alias=alias, hour__lt=before).delete()
        return deleted

    def close(self) -> None:
        # The flusher thread's connections (it calls this after a rollup); never one inside a
        # transaction, whoever calls.
        for db in {router.db_for_read(StatsHour), router.db_for_write(StatsHour)}:
            connection = connections[db]
            if not connection.in_atomic_block:
                connection.close()


def _sources(value: Any) -> dict[str, int]:
    if isinstance(value, str):  # a database without a JSON type may hand back the text
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}


#: The default ``STATS_HISTORY`` store.
database = DatabaseHistory()
