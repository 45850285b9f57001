"""DatabaseCache: shared by every process using the database; its incr is not atomic."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.db import connections, models, router

from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.listing import DONE, KeyPage, ListedKey, RawValue
from cache_dashboard.keys import glob_matcher

#: Rows read per query of a listing page.
ROWS_PER_QUERY = 500
_LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


class DatabaseAdapter(Adapter):
    name = "db"
    probe_in_thread = False  # the database connection has its own timeouts
    capabilities = Capabilities(key_browsing=True)

    def location_display(self) -> str:
        return f"table {self.params.get('LOCATION', '')}"

    # -- the key browser: the cache table by key, LIMIT per query --------------------------------
    def _table(self, write: bool = False) -> tuple[Any, str]:
        cache: Any = self.cache
        model = cache.cache_model_class
        connection = connections[router.db_for_write(model) if write else router.db_for_read(model)]
        return connection, connection.ops.quote_name(cache._table)

    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """Rows in key order after ``cursor`` (keyset paging: an index range, never OFFSET), the
        glob's literal start as a LIKE prefix, the rest of it tested here."""
        connection, table = self._table()
        test, literal = glob_matcher(match), _literal_start(match)
        where, params = "cache_key > %s", [cursor]
        if literal:
            where += " AND cache_key LIKE %s ESCAPE '\\'"
            params.append(literal.translate(_LIKE_SPECIAL) + "%")
        sql = (f"SELECT cache_key, expires, LENGTH(value) FROM {table} WHERE {where} "  # noqa: S608 - quoted name
               f"ORDER BY cache_key LIMIT {ROWS_PER_QUERY}")
        page, deadline, now = KeyPage(), time.monotonic() + budget, time.time()
        last = cursor
        with connection.cursor() as db:
            while True:
                db.execute(sql, [last, *params[1:]])
                rows = db.fetchall()
                page.scanned += len(rows)
                for key, expires, size in rows:
                    last = key
                    expires = _expiry(connection, expires)
                    if expires is not None and expires <= now or not test(key):
                        continue
                    page.keys.append(ListedKey(raw=key.encode("utf-8", "surrogatepass"),
                                               ttl=None if expires is None else expires - now, size=size))
                    if len(page.keys) >= count:
                        break
                if len(page.keys) >= count or len(rows) < ROWS_PER_QUERY:
                    break
                if time.monotonic() >= deadline:
                    page.out_of_time = True
                    break
        page.cursor = last if (len(page.keys) >= count or page.out_of_time) else DONE
        return page

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        connection, table = self._table()
        with connection.cursor() as db:
            db.execute(f"SELECT value, expires FROM {table} WHERE cache_key = %s",  # noqa: S608 - quoted name
                       [raw.decode("utf-8", "surrogatepass")])
            row = db.fetchone()
        if row is None:
            return None
        expires, now = _expiry(connection, row[1]), time.time()
        if expires is not None and expires <= now:
            return None
        # The column holds base64 of the pickle: shown as the pickle's bytes, never unpickled here.
        value = base64.b64decode(row[0])
        return RawValue(raw=raw, ttl=None if expires is None else expires - now, size=len(row[0]),
                        length=len(value), payload=value[:limit])

    def delete_raw(self, raw: bytes) -> bool:
        connection, table = self._table(write=True)
        with connection.cursor() as db:
            db.execute(f"DELETE FROM {table} WHERE cache_key = %s",  # noqa: S608 - quoted name
                       [raw.decode("utf-8", "surrogatepass")])
            return bool(db.rowcount)

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        connection, table = self._table(write=True)
        if seconds is None:
            expires = datetime.max  # what DatabaseCache stores for "never"
        else:
            expires = datetime.fromtimestamp(time.time() + seconds, tz=timezone.utc if settings.USE_TZ else None)
        adapted = connection.ops.adapt_datetimefield_value(expires.replace(microsecond=0))
        with connection.cursor() as db:
            db.execute(f"UPDATE {table} SET expires = %s WHERE cache_key = %s",  # noqa: S608 - quoted name
                       [adapted, raw.decode("utf-8", "surrogatepass")])
            return bool(db.rowcount)


def _literal_start(glob: str) -> str:
    """The part of a glob before its first metacharacter (escapes resolved)."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if char in "*?[":
            break
        if char == "\\" and i + 1 < len(glob):
            i += 1
            char = glob[i]
        out.append(char)
        i += 1
    return "".join(out)


def _expiry(connection: Any, value: Any) -> float | None:
    """The ``expires`` column as epoch seconds, converted as DatabaseCache converts it; None for
    "never" (``datetime.max``)."""
    expression = models.Expression(output_field=models.DateTimeField())
    for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
        value = converter(value, expression, connection)
    if not isinstance(value, datetime):
        return None
    if value.year == datetime.max.year:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc).timestamp() if settings.USE_TZ else value.timestamp()
    return value.timestamp()
