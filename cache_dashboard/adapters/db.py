"""DatabaseCache: shared by every process using the database; its incr is not atomic."""

from cache_dashboard.adapters.base import Adapter


class DatabaseAdapter(Adapter):
    name = "db"
    probe_in_thread = False  # the database connection has its own timeouts

    def location_display(self) -> str:
        return f"table {self.params.get('LOCATION', '')}"
