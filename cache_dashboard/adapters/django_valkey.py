"""django-valkey (``django_valkey.cache.ValkeyCache``): django-redis's strategies through
django-valkey's own client, a fork of django-redis's on valkey-py, a fork of redis-py.

The client API is django-redis's (``cache.client.get_client(write=True)``, ``encode``,
``decode``, the same OPTIONS names), so everything is inherited; what differs is the library
(valkey-py's exceptions are not redis-py's, so ``client_library`` names it) and the hit path's
reader (django-valkey's ``decode`` and ``get_many`` are not django-redis's).

django-valkey's other backends are not ``ValkeyCache`` subclasses and get the generic adapter:
``AsyncValkeyCache``, whose methods are coroutines CacheManager cannot call (system check
E007), and ``ClusterValkeyCache``, whose keys Django's cache API alone reaches (no SCAN per node).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from cache_dashboard.adapters.django_redis import DjangoRedisAdapter
from cache_dashboard.adapters.fastread import FastReader
from cache_dashboard.adapters.fastread.django_valkey import DjangoValkeyReader, fast_decode


class DjangoValkeyAdapter(DjangoRedisAdapter):
    name = "django_valkey"
    client_library: ClassVar[str] = "valkey"
    fast_reader: ClassVar[FastReader | None] = DjangoValkeyReader()

    def hit_decoder(self) -> Callable[[bytes], Any]:
        return fast_decode(self._client_obj())
