"""The key browser's data: a page of what is really in a cache, and one key in detail.

Keys come from the alias's adapter raw (as the server holds them) and are read back here: the
key as the application wrote it (the cache's KEY_PREFIX and VERSION stripped), whose it is —
this site's, CacheManager's (entry, lock, namespace generation, negative cache, statistics), or
someone else's (another KEY_PREFIX, Celery, anything without the prefix) — and, for
CacheManager's entries, what the manager knows beyond the server (soft expiry, generation).

Values are decoded only for keys under this site's own prefix, by the cache's own decoder: a
value written by another tenant of the server is shown as bytes, never unpickled (a pickle is
code). Every page costs O(page): a listing walks the server by cursor within a time budget.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import pprint
import time
from dataclasses import dataclass
from typing import Any

from cache_dashboard.adapters import Adapter, get_adapter
from cache_dashboard.adapters.listing import DONE, ListedKey, RawValue
from cache_dashboard.adapters.listing import BadCursor as BadCursor  # raised by the pages' readers
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import describe_role, escape_glob, key_role
from cache_dashboard.manager import CacheManager

#: Keys per page of the listing.
PAGE_SIZE = 100
#: Seconds one page may spend walking the server before it is shown as it is.
PAGE_BUDGET = 0.25
#: Bytes of a value read for the detail page (the full size is shown beside it).
VALUE_LIMIT = 64 * 1024
#: Characters of a decoded value shown (pretty-printed), and bytes shown as hex.
TEXT_LIMIT = 20_000
HEX_LIMIT = 2048
#: Owners of a key.
SITE, MANAGER, FOREIGN = "site", "manager", "foreign"
SCOPES = ("site", "all")

_MARKER = "\x00cd-end"


@dataclass(frozen=True)
class SitePrefix:
    """How this alias's keys look on the server: ``raw`` starts every key the site writes with
    the current VERSION ("" when KEY_FUNCTION does not end keys with the key: not readable)."""

    raw: str
    version: int | None

    def strip(self, text: str) -> str | None:
        """The key as the application wrote it, or None for a key not of this prefix."""
        return text[len(self.raw):] if self.raw and text.startswith(self.raw) else None


def site_prefix(adapter: Adapter) -> SitePrefix:
    made = str(adapter.cache.make_key(_MARKER))
    if not made.endswith(_MARKER):
        return SitePrefix("", None)
    return SitePrefix(made[: -len(_MARKER)], adapter.cache.version)


def encode_token(raw: bytes) -> str:
    """A raw key as a URL parameter (any bytes)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("not a key of this page") from exc


def raw_text(raw: bytes) -> str:
    """A raw key as text: UTF-8, anything else escaped (``\\xNN``)."""
    return raw.decode("utf-8", "backslashreplace")


def _site_text(raw: bytes) -> str | None:
    """A raw key as the str the cache made it from (keys of this site are str), or None."""
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def match_for(adapter: Adapter, *, query: str, namespace: str | None, scope: str) -> str:
    """The glob on raw keys of a filter: ``query`` on the key as the application wrote it
    (this site's keys, or those of one namespace), or on raw keys (``scope`` "all")."""
    query = query or "*"
    if scope == "all":
        return query
    prefix = site_prefix(adapter)
    if not prefix.raw:
        return query
    if namespace:
        return escape_glob(prefix.raw + CacheManager(adapter.alias).namespace_key_prefix(namespace)) + query
    return escape_glob(prefix.raw) + query


def describe_row(adapter: Adapter, listed: ListedKey | RawValue, prefix: SitePrefix) -> dict[str, Any]:
    """One key of a page: the key as written, its owner, its role in CacheManager's layout."""
    text = _site_text(listed.raw)
    key = None if text is None else prefix.strip(text)
    if adapter.names_are_hashes:
        key = text  # a file of this alias's own directory, named by its key's hash: the site's
    row: dict[str, Any] = {
        "token": encode_token(listed.raw),
        "raw": raw_text(listed.raw),
        "key": key if key is not None else raw_text(listed.raw),
        "owner": FOREIGN if key is None else SITE,
        "kind": listed.kind,
        "ttl": None if listed.ttl is None or (isinstance(listed.ttl, float) and math.isnan(listed.ttl))
        else round(listed.ttl, 1),
        "ttl_known": not (isinstance(listed.ttl, float) and math.isnan(listed.ttl)),
        "size": listed.size,
        "server": getattr(listed, "server", ""),
        "last_access": getattr(listed, "last_access", None),
        "namespace": None,
        "part": "",
        "label": "",
    }
    if key is None:
        row["label"] = _foreign_label(row["raw"])
        return row
    if adapter.names_are_hashes:
        row["label"] = "hashed"
        return row
    found = key_role(key, get_setting("KEY_PREFIX"))
    if found is not None:
        role = describe_role(found)
        row["owner"] = MANAGER
        row["part"] = role["part"]
        row["namespace"] = role["namespace"]
        if role["key"] is not None:
            row["key"] = role["key"]
    elif key.startswith("django.contrib.sessions.cache"):
        row["label"] = "session"
    return row


def _foreign_label(text: str) -> str:
    """A guess at whose a foreign key is, for the listing."""
    if text.startswith(("celery-task-meta-", "_kombu.", "unacked", "celery")):
        return "celery"
    if ":" in text and text.split(":", 2)[1:2] and text.split(":", 2)[1].isdigit():
        return "other prefix"
    return ""


def list_page(alias: str, *, query: str = "*", namespace: str | None = None, scope: str = "site",
              cursor: str = DONE, count: int = PAGE_SIZE, budget: float = PAGE_BUDGET) -> dict[str, Any]:
    """One page of the alias's keys matching the filter, from ``cursor``; never raises because
    of the server (``error`` says what went wrong). ``supported`` False: the backend cannot list."""
    adapter = get_adapter(alias)
    out: dict[str, Any] = {"alias": alias, "rows": [], "cursor": DONE, "scanned": 0, "out_of_time": False,
                           "supported": adapter.capabilities.key_browsing, "problem": "", "error": "",
                           "hashed_names": adapter.names_are_hashes,
                           "took_ms": 0.0}
    if not out["supported"]:
        return out
    started = time.monotonic()
    try:
        problem = adapter.listing_problem()
        if problem:
            out["problem"] = problem
            return out
        match = match_for(adapter, query=query, namespace=namespace, scope=scope)
        page = CacheManager(alias).run_loudly("list_keys", adapter.list_keys, match, cursor, count, budget)
    except ValueError as exc:  # a cursor the backend cannot read (BadCursor, or its own parse error)
        if cursor:
            raise BadCursor(cursor) from exc
        raise
    except Exception as exc:
        out["error"] = adapter.describe(exc)
        return out
    prefix = site_prefix(adapter)
    out.update(rows=[describe_row(adapter, listed, prefix) for listed in page.keys], cursor=page.cursor,
               scanned=page.scanned, out_of_time=page.out_of_time,
               took_ms=round((time.monotonic() - started) * 1000, 1))
    return out


def key_detail(alias: str, raw: bytes, *, cursor: str = DONE) -> dict[str, Any] | None:
    """One key: its facts, its content (a container a page at a time from ``cursor``) and, for
    this site's keys, its decoded value and what CacheManager knows of it. None when it does not
    exist. Cache errors propagate."""
    adapter = get_adapter(alias)
    found = adapter.read_key(raw, VALUE_LIMIT, cursor)
    if found is None:
        return None
    prefix = site_prefix(adapter)
    row = describe_row(adapter, found, prefix)
    out: dict[str, Any] = {
        "row": row,
        "length": found.length,
        "truncated": found.truncated,
        "items": [[_show_bytes(part) for part in item] for item in found.items],
        "items_cursor": found.cursor,
        "text": "",
        "hex": "",
        "decoded": None,
        "decode_error": "",
        "manager": None,
    }
    if found.payload is not None:
        out["text"] = found.payload[:TEXT_LIMIT].decode("utf-8", "backslashreplace")
        out["hex"] = found.payload[:HEX_LIMIT].hex(" ")
    if row["owner"] == FOREIGN or found.kind != "string":
        return out
    # This site's own key: decoded by the cache's own decoder, as the application would read it.
    text = _site_text(raw)
    key = None if text is None else prefix.strip(text)
    if key is None:
        return out
    try:
        value = adapter.load_value(raw, key, prefix.version)
    except Exception as exc:  # a value the decoder refuses: shown as bytes, with the reason
        out["decode_error"] = adapter.describe(exc)
        return out
    cm = CacheManager(alias)
    facts = cm.describe_key(key, value) if row["owner"] == MANAGER else None
    if facts is not None:
        out["manager"] = {k: v for k, v in facts.items() if k != "value"}
        if "value" in facts:
            value = facts["value"]
    out["decoded"] = pretty(value)
    return out


def _show_bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return value[:TEXT_LIMIT].decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return pretty({_show_bytes(k): _show_bytes(v) for k, v in value.items()})
    return str(value)


def pretty(value: Any) -> str:
    """A decoded value for people: JSON-like data indented, anything else its repr; cut at
    :data:`TEXT_LIMIT` characters (the template escapes it)."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=repr, sort_keys=False)
    except (TypeError, ValueError, RecursionError):
        text = pprint.pformat(value, width=100)
    if len(text) > TEXT_LIMIT:
        return text[:TEXT_LIMIT] + "\n…"
    return text


# -- what the key browser may change ----------------------------------------------------------------
def writable(row: dict[str, Any]) -> bool:
    """Whether the key browser may delete the key of ``row`` or change its TTL: this site's keys,
    and foreign ones only when ``KEY_BROWSER_FOREIGN_WRITES`` allows."""
    return row["owner"] != FOREIGN or bool(get_setting("KEY_BROWSER_FOREIGN_WRITES"))


def key_row(alias: str, raw: bytes) -> dict[str, Any] | None:
    """The listing row of one raw key as it is now (None: it does not exist). Cache errors raise
    ``CacheUnavailable``."""
    adapter = get_adapter(alias)
    found = CacheManager(alias).run_loudly("read_key", adapter.read_key, raw, 1, key=raw_text(raw))
    return None if found is None else describe_row(adapter, found, site_prefix(adapter))


def delete_key(alias: str, raw: bytes) -> bool:
    """Delete one raw key; whether it existed. Cache errors raise ``CacheUnavailable``."""
    return bool(CacheManager(alias).run_loudly("delete_key", get_adapter(alias).delete_raw, raw, key=raw_text(raw)))


def delete_keys(alias: str, raws: list[bytes]) -> int:
    """Delete raw keys, in batches; how many existed. Cache errors raise ``CacheUnavailable``."""
    adapter, cm, deleted = get_adapter(alias), CacheManager(alias), 0
    for start in range(0, len(raws), 1000):
        deleted += int(cm.run_loudly("delete_key", adapter.delete_raw_many, raws[start:start + 1000],
                                     key=raw_text(raws[start])))
    return deleted


def expire_key(alias: str, raw: bytes, seconds: int | None) -> bool:
    """Give one raw key ``seconds`` to live (None: no expiry), value and type kept."""
    return bool(CacheManager(alias).run_loudly("expire_key", get_adapter(alias).expire_raw, raw, seconds,
                                               key=raw_text(raw)))


def matches(alias: str, *, query: str, namespace: str | None, scope: str,
            budget: float | None = None) -> tuple[list[bytes], bool]:
    """The writable raw keys a filter matches now, walking every page (within ``budget`` seconds
    when given), and whether the walk was complete. Cache errors raise ``CacheUnavailable``."""
    adapter = get_adapter(alias)
    if adapter.names_are_hashes and (query != "*" or namespace):
        return [], True  # a filter cannot apply to hashed names: it matches nothing, never everything
    cm = CacheManager(alias)
    match = match_for(adapter, query=query, namespace=namespace, scope=scope)
    prefix = site_prefix(adapter)
    found: list[bytes] = []
    cursor, deadline = DONE, None if budget is None else time.monotonic() + budget
    while True:
        page = cm.run_loudly("list_keys", adapter.list_keys, match, cursor, 1000, PAGE_BUDGET)
        found += [listed.raw for listed in page.keys if writable(describe_row(adapter, listed, prefix))]
        cursor = page.cursor
        if cursor == DONE:
            return list(dict.fromkeys(found)), True
        if deadline is not None and time.monotonic() >= deadline:
            return list(dict.fromkeys(found)), False
