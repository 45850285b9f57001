"""App configuration: loads the settings module and registers the system checks."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CacheDashboardConfig(AppConfig):
    name = "cache_dashboard"
    verbose_name = _("Cache")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cache_dashboard import checks, conf  # noqa: F401  (registers checks and the settings reset)
