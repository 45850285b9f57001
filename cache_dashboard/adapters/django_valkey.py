"""django-valkey (``django_valkey.cache.ValkeyCache``): django-redis's strategies through
django-valkey's own client, a fork of django-redis's on valkey-py, a fork of redis-py.

The client API is django-redis's (``cache.client.get_client(write=True)``, ``encode``,
``decode``, the same OPTIONS names), so everything is inherited; what differs is the library
(valkey-py's exceptions are not redis-py's, so ``client_library`` names it). No fast hit-path
reader: reads go through the backend's public ``get``/``get_many``.
"""

from __future__ import annotations

from typing import ClassVar

from cache_dashboard.adapters.django_redis import DjangoRedisAdapter
from cache_dashboard.adapters.fastread import FastReader


class DjangoValkeyAdapter(DjangoRedisAdapter):
    name = "django_valkey"
    client_library: ClassVar[str] = "valkey"
    fast_reader: ClassVar[FastReader | None] = None
