"""Template filters of the dashboard pages (formatting only; no data access)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

from django import template
from django.utils import formats, timezone
from django.utils.formats import number_format

from cache_dashboard.formatting import human_duration

register = template.Library()


@register.filter
def percent(ratio: Any) -> str:
    """``0.875`` → "87.5 %"; None → "—" (no traffic yet)."""
    if ratio is None or ratio == "":
        return "—"
    try:
        return f"{number_format(float(ratio) * 100, 1)} %"
    except (TypeError, ValueError):
        return "—"


@register.filter
def human_ttl(seconds: Any) -> str:
    """Seconds as "5 min", "1 h", "24 h"; None → "never expires"."""
    return human_duration(seconds)


@register.filter
def latency(ms: Any) -> str:
    """Milliseconds with two decimals; None → "—"."""
    if ms is None or ms == "":
        return "—"
    try:
        return f"{number_format(float(ms), 2)} ms"
    except (TypeError, ValueError):
        return "—"


@register.filter
def dash(value: Any) -> Any:
    """None or empty → "—", anything else unchanged (0 stays 0)."""
    return "—" if value is None or value == "" else value


@register.filter
def elapsed(seconds: Any) -> str:
    """Seconds of work, e.g. time saved: "4.2 s" under a minute, else "12 min 5 s"; None → "—"."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if value < 60:
        return f"{number_format(value, 1)} s"
    return human_duration(round(value))


@register.filter
def epoch_datetime(seconds: Any) -> Any:
    """Epoch seconds as a date and time in the server's zone; None → "—"."""
    try:
        moment = datetime.datetime.fromtimestamp(float(seconds), tz=datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


@register.filter
def query_value(value: Any) -> str:
    """A value for a URL's query string, as the dashboard's own URLs write it: a stored lone
    surrogate goes as its ``\\udXXX`` escape (``urlencode`` would fail the whole page)."""
    text = str(value).encode("utf-8", "backslashreplace").decode()
    return quote(text, safe="")
