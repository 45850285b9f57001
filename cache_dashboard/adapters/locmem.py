"""LocMemCache: per-process memory, so statistics and registries are per process too."""

from django.utils.translation import gettext as _

from cache_dashboard.adapters.base import Adapter, Capabilities


class LocMemAdapter(Adapter):
    name = "locmem"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(shared_stats=False, process_local=True)

    def location_display(self) -> str:
        return str(self.params.get("LOCATION", "")) or _("(process memory)")

    def health_notes(self) -> list[str]:
        return [_("LocMemCache is per process: each worker process has its own cache and statistics.")]
