"""Django's error reports with the cache passwords masked (``DEFAULT_EXCEPTION_REPORTER_FILTER``).

With ``DEMO_DEBUG=1`` Django's 500 page lists the settings, the request's ``META`` (which holds the
environment under ``runserver``) and each frame's local variables. Django hides only names that
look secret (``SECRET_KEY``, ``*_TOKEN``, ``*PASS*``...), so a password inside a URL — the
``LOCATION`` that ``CACHES`` builds from ``REDIS_URL``, or ``REDIS_URL`` itself — would be shown.
This filter also passes every string through ``cache_dashboard.formatting.mask_secrets``, the
function the dashboard masks with, so ``redis://:s3cret@host`` reads ``redis://:***@host``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

from cache_dashboard.formatting import mask_secrets


class MaskingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's safe filter, plus URL passwords and ``password=...`` pairs masked in every string."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        # Settings and request.META go through here; dicts, lists and tuples recurse into it.
        cleansed = super().cleanse_setting(key, value)
        return mask_secrets(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        # Not by the variable's name (a local called ``key`` is a cache key, not a secret): only
        # the strings, and the secret-looking keys of dicts, as in settings.
        return [
            (name, self.cleanse_setting("", value) if isinstance(value, (str, dict, list, tuple)) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
