"""App configuration: loads the settings module, registers the system checks and connects the
signal receivers of declarative invalidation rules."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CacheDashboardConfig(AppConfig):
    name = "cache_dashboard"
    verbose_name = _("Cache")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cache_dashboard import checks, conf, invalidation  # noqa: F401  (registers checks, settings reset)

        invalidation.connect_signals()
