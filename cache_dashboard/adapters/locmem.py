"""LocMemCache: per-process memory, so statistics and registries are per process too."""

from cache_dashboard.adapters.base import Adapter, Capabilities


class LocMemAdapter(Adapter):
    name = "locmem"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(shared_stats=False)

    def location_display(self) -> str:
        return self.params.get("LOCATION", "") or "(process memory)"
