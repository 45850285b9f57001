"""App configuration: registers the system checks, the TTL override store's signal receivers and
the receivers of declarative invalidation rules."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CacheDashboardConfig(AppConfig):
    name = "cache_dashboard"
    verbose_name = _("Cache")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import the app's models (ttl_store) or the
        # project's (invalidation rules), which exist only once the app registry is ready.
        from cache_dashboard import checks, invalidation, ttl_store  # noqa: F401  (registers checks, receivers)

        invalidation.connect_signals()
