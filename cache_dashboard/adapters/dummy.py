"""DummyCache stores nothing: every get is a miss; the manager keeps working (fail open)."""

from django.utils.translation import gettext as _

from cache_dashboard.adapters.base import Adapter, Capabilities


class DummyAdapter(Adapter):
    name = "dummy"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(shared_stats=False, stores_values=False)

    def incr(self, key: str, delta: int = 1, timeout: float | None = None, initial: int = 0) -> int:
        return initial + delta  # nothing is stored; DummyCache.incr would raise ValueError

    def location_display(self) -> str:
        return _("(stores nothing)")

    def health_notes(self) -> list[str]:
        return [_("DummyCache stores nothing: every read is a miss.")]

    def read_back_error(self) -> str:
        return _("DummyCache stores nothing")
