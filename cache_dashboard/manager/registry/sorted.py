"""The negative cache on Redis: sorted sets, every operation one Lua script (exact, one round trip).

Keys of one namespace (``KeyLayout.registry(nns, part)``; they share its hash tag, so the scripts
stay on one Redis Cluster slot):

===============  ==================================================================================
``t``            sorted set of marked keys by mark time: a page newest first is one ``ZREVRANGE``
``x:<R>``        per reason, sorted set of its keys by expiry (``+inf``: never): a count is
                 ``ZCOUNT (now +inf``; expired members are trimmed lazily, a bounded batch per call
``reasons``      hash reason -> the raw name of its ``x:<R>`` set
``d``            hash key -> the entry's extras (detail, and the key as given when it differs
                 from its normalised form), serialised by the cache's own serializer; absent when
                 there is none (most RUC marks), which keeps an entry at about 220 bytes
``dropped``      how many entries the cap dropped
===============  ==================================================================================

Every key lives as long as the namespace's longest-lived entry. A key's reason is the ``x:<R>``
set that holds it, so a re-mark under another reason moves it (counted once).
"""

from __future__ import annotations

from typing import Any

from cache_dashboard.adapters.redis import RedisAdapter
from cache_dashboard.keys import normalize_key
from cache_dashboard.manager.registry.base import Registry, Scope, entry

#: A script call: its source, its keys (CacheManager's, before ``make_key``) and its arguments.
Call = tuple[str, list[str], list[Any]]
#: Expired members trimmed per reason and call (amortised: each is trimmed once).
TRIM = 1000

_TRIM = """
local function trim(reasons, marks, extras, now)
  local r = redis.call('HGETALL', reasons)
  for i = 2, #r, 2 do
    local gone = redis.call('ZRANGEBYSCORE', r[i], '-inf', now, 'LIMIT', 0, TRIM)
    if #gone > 0 then
      redis.call('ZREM', r[i], unpack(gone))
      redis.call('ZREM', marks, unpack(gone))
      redis.call('HDEL', extras, unpack(gone))
    end
  end
  return r
end
local function live_reason(r, member, now)
  for i = 1, #r, 2 do
    local e = redis.call('ZSCORE', r[i + 1], member)
    if e then
      if e == 'inf' or tonumber(e) > tonumber(now) then return r[i], e end
      return false
    end
  end
  return false
end
""".replace("TRIM", str(TRIM))

# KEYS: t, reasons, d, dropped, x:<R>   ARGV: member, marked_at, expiry, reason, extras, cap, ttl_ms, now
_MARK = _TRIM + """
local member, reason, cap, ttl = ARGV[1], ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[7])
local fresh = {}
for i = 1, 5 do fresh[i] = redis.call('EXISTS', KEYS[i]) == 0 end
local r = redis.call('HGETALL', KEYS[2])
for i = 2, #r, 2 do
  if r[i] ~= KEYS[5] then redis.call('ZREM', r[i], member) end
end
redis.call('HSET', KEYS[2], reason, KEYS[5])
redis.call('ZADD', KEYS[5], ARGV[3], member)
redis.call('ZADD', KEYS[1], ARGV[2], member)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], member, ARGV[5]) else redis.call('HDEL', KEYS[3], member) end
if cap > 0 and redis.call('ZCARD', KEYS[1]) > cap then
  r = trim(KEYS[2], KEYS[1], KEYS[3], ARGV[8])  -- what expired anyway is not "dropped"
  local over = redis.call('ZCARD', KEYS[1]) - cap
  if over > 0 then
    local old = redis.call('ZPOPMIN', KEYS[1], over)
    for i = 1, #old, 2 do
      for j = 2, #r, 2 do redis.call('ZREM', r[j], old[i]) end
      redis.call('HDEL', KEYS[3], old[i])
    end
    redis.call('INCRBY', KEYS[4], #old / 2)
  end
end
for i = 1, 5 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if ttl < 0 then
      redis.call('PERSIST', KEYS[i])
    else
      local left = redis.call('PTTL', KEYS[i])
      if (fresh[i] and left == -1) or (left >= 0 and left < ttl) then redis.call('PEXPIRE', KEYS[i], ttl) end
    end
  end
end
return 1
"""

# KEYS: reasons, t, d   ARGV: member, now
_READ = _TRIM + """
local r = redis.call('HGETALL', KEYS[1])
local reason, expiry = live_reason(r, ARGV[1], ARGV[2])
if not reason then return false end
return {reason, expiry, redis.call('ZSCORE', KEYS[2], ARGV[1]), redis.call('HGET', KEYS[3], ARGV[1])}
"""

# KEYS: reasons, t, d   ARGV: member, now
_REMOVE = _TRIM + """
local r = redis.call('HGETALL', KEYS[1])
local reason = live_reason(r, ARGV[1], ARGV[2])
for i = 2, #r, 2 do redis.call('ZREM', r[i], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if reason then return 1 end
return 0
"""

# KEYS: reasons, t, d   ARGV: now
_COUNTS = _TRIM + """
local r = trim(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
local out = {}
for i = 1, #r, 2 do
  local n = redis.call('ZCOUNT', r[i + 1], '(' .. ARGV[1], '+inf')
  if n > 0 then
    out[#out + 1] = r[i]
    out[#out + 1] = n
  elseif redis.call('ZCARD', r[i + 1]) == 0 then
    redis.call('HDEL', KEYS[1], r[i])
  end
end
return out
"""

# KEYS: reasons, t, d   ARGV: now, offset, stop (-1: to the end)
_PAGE = _TRIM + """
local r = trim(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
local marks = redis.call('ZREVRANGE', KEYS[2], ARGV[2], ARGV[3], 'WITHSCORES')
local out = {}
for i = 1, #marks, 2 do
  local reason, expiry = live_reason(r, marks[i], ARGV[1])
  if reason then
    out[#out + 1] = marks[i]
    out[#out + 1] = marks[i + 1]
    out[#out + 1] = reason
    out[#out + 1] = expiry
    out[#out + 1] = redis.call('HGET', KEYS[3], marks[i]) or ''
  end
end
return out
"""

# KEYS: x:<R>, t, d   ARGV: now, offset, count. The live members of one reason, latest expiry
# first (entries of one namespace and reason share a TTL: newest mark first), with mark and extras.
_PAGE_REASON = """
local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', ARGV[2], ARGV[3])
local out = {}
for i = 1, #found, 2 do
  out[#out + 1] = found[i]
  out[#out + 1] = redis.call('ZSCORE', KEYS[2], found[i]) or ARGV[1]
  out[#out + 1] = found[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[3], found[i]) or ''
end
return out
"""

# KEYS: x:<R>, t, d, reasons   ARGV: batch, reason, now. Removes up to ``batch`` members of the
# reason (live or not yet trimmed); returns {removed, live among them}.
_REMOVE_REASON = """
local gone = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #gone == 0 then
  redis.call('HDEL', KEYS[4], ARGV[2])
  return {0, 0}
end
local members, live = {}, 0
for i = 1, #gone, 2 do
  members[#members + 1] = gone[i]
  if gone[i + 1] == 'inf' or tonumber(gone[i + 1]) > tonumber(ARGV[3]) then live = live + 1 end
end
redis.call('ZREM', KEYS[1], unpack(members))
redis.call('ZREM', KEYS[2], unpack(members))
redis.call('HDEL', KEYS[3], unpack(members))
return {#members, live}
"""
#: Members a batch of ``remove_reason`` takes (one script call each: Redis is not blocked long).
REMOVE_BATCH = 1000

_scripts: dict[tuple[str, str], Any] = {}


def _redis(scope: Scope) -> RedisAdapter:
    if not isinstance(scope.adapter, RedisAdapter):
        raise TypeError(f"{scope.adapter!r} has no sorted sets")
    return scope.adapter


def _run(scope: Scope, source: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA ``source`` (loaded once per server, again after a SCRIPT FLUSH or failover)."""
    adapter = _redis(scope)
    Script = adapter.lib("commands.core").Script  # noqa: N806  # redis-py's or valkey-py's class
    client = adapter.client()
    script = _scripts.get((adapter.client_library, source))
    if script is None:
        script = _scripts[(adapter.client_library, source)] = Script(client, source)
    return script(keys=[adapter.raw_key(key) for key in keys], args=args, client=client)


def native(scope: Scope) -> bool:
    """Whether ``scope``'s registry is this module's (its calls can then be sent natively async)."""
    return isinstance(scope.adapter, RedisAdapter)


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else str(value)


def _bytes(text: str) -> bytes:
    """Any ``str`` as the client sends it: a lone surrogate (what a JSON API can hand over) would
    make the client's strict UTF-8 encoding refuse the whole mark; ``_text`` reads it back."""
    return text.encode("utf-8", "surrogatepass")


def _expiry(value: Any) -> float | None:
    text = _text(value)
    return None if text in ("inf", "+inf") else float(text)


class SortedSetRegistry(Registry):
    """See the module docstring."""

    @staticmethod
    def _keys(scope: Scope) -> list[str]:
        keys, nns = scope.keys, scope.nns
        return [keys.registry(nns, "reasons"), keys.registry(nns, "t"), keys.registry(nns, "d")]

    def _entry(self, scope: Scope, nkey: str, marked: Any, reason: Any, expiry: Any, extras: Any) -> dict[str, Any]:
        detail, key = None, nkey
        if extras:
            decoded = _redis(scope).decode(extras)
            if isinstance(decoded, dict):
                detail, key = decoded.get("d"), decoded.get("k") or nkey
        return entry(key, scope.namespace, _text(reason), detail, float(_text(marked)), _expiry(expiry))

    def mark(self, scope: Scope, nkey: str, item: dict[str, Any], cap: int, now: float) -> dict[str, Any]:
        _run(scope, *self.mark_call(scope, nkey, item, cap, now))
        return dict(item)

    def mark_call(self, scope: Scope, nkey: str, item: dict[str, Any], cap: int, now: float) -> Call:
        """The script call that marks ``nkey`` (:meth:`mark` runs it; the async API too, natively)."""
        keys, nns, reason = scope.keys, scope.nns, item["reason"]
        extras = {}
        if item["detail"] is not None:
            extras["d"] = item["detail"]
        if item["key"] != nkey:
            extras["k"] = item["key"]
        expires = item["expires_at"]
        ttl_ms = -1 if expires is None else max(1000, int((expires - now) * 1000) + 1000)
        zset = keys.registry(nns, f"x:{normalize_key(reason)}")
        return (_MARK, [keys.registry(nns, "t"), keys.registry(nns, "reasons"), keys.registry(nns, "d"),
                        keys.registry(nns, "dropped"), zset],
                [nkey, repr(item["marked_at"]), "+inf" if expires is None else repr(expires), _bytes(reason),
                 _redis(scope).encode(extras) if extras else "", int(cap or 0), ttl_ms, repr(now)])

    def read(self, scope: Scope, nkey: str, now: float) -> dict[str, Any] | None:
        return self.read_result(scope, nkey, _run(scope, *self.read_call(scope, nkey, now)))

    def read_call(self, scope: Scope, nkey: str, now: float) -> Call:
        return _READ, self._keys(scope), [nkey, repr(now)]

    def read_result(self, scope: Scope, nkey: str, found: Any) -> dict[str, Any] | None:
        if not found:
            return None
        reason, expiry, marked, extras = found
        return self._entry(scope, nkey, marked, reason, expiry, extras)

    def remove(self, scope: Scope, nkey: str, now: float) -> bool:
        return bool(_run(scope, _REMOVE, self._keys(scope), [nkey, repr(now)]))

    def counts(self, scope: Scope, now: float) -> dict[str, int]:
        flat = _run(scope, _COUNTS, self._keys(scope), [repr(now)])
        return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def page(self, scope: Scope, now: float, offset: int, limit: int | None) -> list[dict[str, Any]]:
        stop = -1 if limit is None else offset + limit - 1
        flat = _run(scope, _PAGE, self._keys(scope), [repr(now), offset, stop])
        return [self._entry(scope, _text(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4])
                for i in range(0, len(flat), 5)]

    exact_reason_pages = True

    def page_reason(self, scope: Scope, reason: str, now: float, offset: int, limit: int,
                    budget: int = 5000) -> list[dict[str, Any]]:
        keys, nns = scope.keys, scope.nns
        zset = keys.registry(nns, f"x:{normalize_key(reason)}")
        flat = _run(scope, _PAGE_REASON, [zset, keys.registry(nns, "t"), keys.registry(nns, "d")],
                    [repr(now), offset, limit])
        return [self._entry(scope, _text(flat[i]), flat[i + 1], reason, flat[i + 2], flat[i + 3])
                for i in range(0, len(flat), 4)]

    def remove_reason(self, scope: Scope, reason: str, now: float) -> int:
        keys, nns = scope.keys, scope.nns
        zset = keys.registry(nns, f"x:{normalize_key(reason)}")
        removed = 0
        while True:
            taken, live = _run(scope, _REMOVE_REASON,
                               [zset, keys.registry(nns, "t"), keys.registry(nns, "d"), keys.registry(nns, "reasons")],
                               [REMOVE_BATCH, _bytes(reason), repr(now)])
            removed += int(live)
            if not int(taken):
                return removed

    def dropped(self, scope: Scope) -> int:
        adapter = _redis(scope)
        return int(adapter.client().get(adapter.raw_key(scope.keys.registry(scope.nns, "dropped"))) or 0)
