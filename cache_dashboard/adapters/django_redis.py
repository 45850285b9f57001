"""django-redis: the same Redis strategies, through django-redis's own client."""

from __future__ import annotations

from typing import Any

from cache_dashboard.adapters.redis import RedisAdapter


class DjangoRedisAdapter(RedisAdapter):
    name = "django_redis"

    def client(self) -> Any:
        return self.cache.client.get_client(write=True)

    def decode(self, raw: bytes) -> Any:
        return self.cache.client.decode(raw)

    def servers(self) -> list[str]:
        location = self.params.get("LOCATION", "")
        if isinstance(location, str):
            return [s for s in location.split(",") if s]
        return list(location or [])
