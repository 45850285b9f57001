"""django-redis: the same Redis strategies, through django-redis's own client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from cache_dashboard.adapters.fastread import FastReader
from cache_dashboard.adapters.fastread.django_redis import DjangoRedisReader, fast_decode
from cache_dashboard.adapters.redis import RedisAdapter


class DjangoRedisAdapter(RedisAdapter):
    name = "django_redis"
    timeout_options: ClassVar[tuple[str, ...]] = ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT")
    fast_reader: ClassVar[FastReader | None] = DjangoRedisReader()
    django_redis_options: ClassVar[bool] = True

    def client(self) -> Any:
        return self._client_obj().get_client(write=True)  # django-redis keeps its clients itself

    def _client_obj(self) -> Any:
        return self.cache.client  # type: ignore[attr-defined]  # django-redis's public client; BaseCache has none

    def decoder(self) -> Callable[[bytes], Any]:
        return self._client_obj().decode  # type: ignore[no-any-return]  # decompresses, then deserialises

    def hit_decoder(self) -> Callable[[bytes], Any]:
        return fast_decode(self._client_obj())

    def encode(self, value: Any) -> Any:
        return self._client_obj().encode(value)  # serialises, then compresses

    def _locations(self) -> list[str]:
        location = self.params.get("LOCATION", "")
        if isinstance(location, str):
            return [s for s in location.split(",") if s]
        return list(location or [])

    def connection_kwargs(self) -> dict[str, Any]:
        options = self.params.get("OPTIONS") or {}
        return {k.lower(): options[k] for k in ("USERNAME", "PASSWORD") if options.get(k)}
