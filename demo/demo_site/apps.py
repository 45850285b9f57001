"""The demo project itself as an app: it carries the demo's management commands."""

from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    name = "demo_site"
    verbose_name = "Demo"
