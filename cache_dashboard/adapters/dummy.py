"""DummyCache stores nothing: every get is a miss; the manager keeps working (fail open)."""

from django.utils.translation import gettext

from cache_dashboard.adapters.base import Adapter, Capabilities


class DummyAdapter(Adapter):
    name = "dummy"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(shared_stats=False, exact_counters=False)

    def incr(self, key: str, delta: int = 1, timeout: float | None = None) -> int:
        return delta  # nothing is stored; DummyCache.incr would raise ValueError

    def location_display(self) -> str:
        return gettext("(stores nothing)")
