"""A small app whose models exercise the invalidation rules (save, delete, m2m, inheritance)."""

from django.apps import AppConfig


class InvalidationTestAppConfig(AppConfig):
    name = "tests.invalidation.testapp"
    label = "invalidation_testapp"
    default_auto_field = "django.db.models.BigAutoField"
